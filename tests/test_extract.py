"""The extract stage and its backbones: pinned weights, ids kept with vectors, the cache, keras models, runtimes."""
import numpy as np
import pytest
from PIL import Image

import backbones
import decoding
import extract
from common import PipelineError, in_order


@pytest.fixture(scope="module")
def lite0():
    return backbones.build_backbone("efficientnet-lite0", threads=2)


@pytest.mark.parametrize("name", ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"])
def test_lite_weights_are_the_pinned_trained_imagenet_ones(name):
    import skimage.data

    model = backbones.build_backbone(name, threads=2)
    photos = {"chelsea": (skimage.data.chelsea(), {281, 282, 283, 284, 285}),  # cats
              "coffee": (skimage.data.coffee(), {504, 967, 968}),  # coffee mug, espresso, cup
              "motorcycle": (skimage.data.stereo_motorcycle()[0], {665, 670})}  # moped, motor scooter
    batch = np.stack([np.asarray(Image.fromarray(p).resize(model.input_size, Image.BILINEAR)) for p,
                      _ in photos.values()])
    top = model.classify(batch).argmax(axis=1)
    for (photo, (_, allowed)), predicted in zip(photos.items(), top, strict=True):
        assert predicted in allowed, f"{name} on {photo}: ImageNet class {predicted}"
    assert model.description["weights_sha256"] == backbones.LITE_MODELS[name].sha256


def test_a_weights_file_with_the_wrong_hash_is_refused(monkeypatch):
    spec = backbones.LITE_MODELS["efficientnet-lite0"]
    monkeypatch.setitem(backbones.LITE_MODELS, "efficientnet-lite0", spec.__class__(
        spec.module, spec.locator, "0" * 64, spec.native_size))
    with pytest.raises(PipelineError, match="pinned SHA-256"):
        backbones.build_backbone("efficientnet-lite0")


def test_extract_keeps_ids_with_their_vectors_and_lists_rejects(tmp_path, picture_folder, lite0):
    folder, ids = picture_folder
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    images = {p.stem: str(p) for p in sorted(folder.iterdir())}
    got_ids, vectors, rejected, counts = extract.extract(images, lite0, batch_size=5, threads=2, progress=False)
    assert sorted(got_ids) == sorted(ids)
    assert vectors.shape == (len(ids), 1280)
    assert [r[0] for r in rejected] == ["broken"]
    # The vector of one image does not depend on which batch or order it came in.
    alone_ids, alone, _, _ = extract.extract({"K9045": images["K9045"]}, lite0, progress=False)
    np.testing.assert_allclose(alone[0], vectors[got_ids.index("K9045")], rtol=1e-4, atol=1e-4)


@pytest.mark.slow  # VGG16's 528 MB of weights written and read
def test_vgg16_loads_a_local_keras_weights_file(tmp_path, picture_folder):
    """The original's model through the same code path users take with a downloaded weights file."""
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    reference = keras.applications.VGG16(weights=None, include_top=True)
    weights = tmp_path / "vgg16.weights.h5"
    reference.save_weights(str(weights))
    model = backbones.build_backbone("vgg16", str(weights), threads=2)
    assert model.description["layer"] == "fc2"
    folder, ids = picture_folder
    images = {key: str(folder / f"{key}.jpg") for key in ids[:3]}
    got_ids, vectors, _, _ = extract.extract(images, model, batch_size=2, progress=False)
    assert vectors.shape == (3, 4096)
    pixels = np.stack([decoding.decode_rgb(open(images[key], "rb").read(), (224, 224))[0]
                       for key in got_ids]).astype("float32")
    fc2 = keras.Model(reference.input, reference.get_layer("fc2").output)
    expected = np.asarray(fc2.predict(keras.applications.vgg16.preprocess_input(pixels), verbose=0))
    np.testing.assert_allclose(vectors, expected, rtol=1e-3, atol=1e-4)
    with pytest.raises(PipelineError, match="no layer 'fc9'"):
        backbones.build_backbone("vgg16", str(weights), "fc9", threads=1)


def test_cache_computes_only_new_images_and_nothing_for_renamed_ones(tmp_path, picture_folder, lite0):
    folder, ids = picture_folder
    cache = extract.VectorCache(tmp_path / "cache", lite0.description)
    images = {p.stem: str(p) for p in folder.iterdir()}
    first_ids, first, _, counts = extract.extract(images, lite0, cache=cache, progress=False)
    assert counts == {"cached": 0, "computed": 12}
    from conftest import draw_picture

    for seed in (100, 101):
        draw_picture(seed).save(folder / f"new{seed}.jpg")
    (folder / "K9045.jpg").rename(folder / "renamed.jpg")
    images = {p.stem: str(p) for p in folder.iterdir()}
    again_ids, again, _, counts = extract.extract(images, lite0, cache=cache, progress=False)
    assert counts == {"cached": 12, "computed": 2}
    np.testing.assert_array_equal(again[again_ids.index("renamed")], first[first_ids.index("K9045")])
    other = extract.VectorCache(tmp_path / "cache", {**lite0.description, "input_size": 256})
    assert other.folder != cache.folder  # other model settings never reuse these vectors


def test_any_keras_application_and_a_convolutional_layer_pooled(tmp_path, picture_folder):
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    weights = tmp_path / "mobilenetv2.weights.h5"
    keras.applications.MobileNetV2(weights=None, include_top=True).save_weights(str(weights))
    folder, ids = picture_folder
    images = {key: str(folder / f"{key}.jpg") for key in ids[:2]}
    default = backbones.build_backbone("mobilenet_v2", str(weights))
    # The layer before the classifier (Keras numbers repeated layer names within a session: _1, _2...)
    assert default.description["layer"].startswith("global_average_pooling2d") and default.input_size == (224, 224)
    conv = backbones.build_backbone("MobileNetV2", str(weights), layer="Conv_1")
    assert conv.description["layer"] == "Conv_1 (global average pooled)"
    _, vectors, _, _ = extract.extract(images, conv, progress=False)
    assert vectors.shape == (2, 1280)
    with pytest.raises(PipelineError, match="unknown model 'resnet9000'"):
        backbones.build_backbone("resnet9000")


def test_centre_crop_views_are_averaged_with_the_whole_image(picture_folder, lite0):
    folder, ids = picture_folder
    path = str(folder / f"{ids[0]}.jpg")
    _, vectors, _, _ = extract.extract({ids[0]: path}, lite0, crops=(0.8,), progress=False)
    views = decoding.decode_rgb(open(path, "rb").read(), lite0.input_size, (0.8,))
    assert views.shape == (2, 224, 224, 3)
    np.testing.assert_allclose(vectors[0], lite0.predict(views).mean(axis=0), rtol=1e-4, atol=1e-5)
    whole = lite0.predict(views[:1])[0]
    assert not np.allclose(vectors[0], whole, atol=1e-3)  # the crop really contributes


def test_bfloat16_vectors_agree_with_float32(picture_folder, lite0):
    folder, ids = picture_folder
    images = {key: str(folder / f"{key}.jpg") for key in ids[:4]}
    fast = backbones.build_backbone("efficientnet-lite0", threads=2, precision="bfloat16")
    assert fast.description["precision"] == "bfloat16"
    _, exact, _, _ = extract.extract(images, lite0, progress=False)
    _, approx, _, _ = extract.extract(images, fast, progress=False)
    cosine = (exact * approx).sum(axis=1) / np.linalg.norm(exact, axis=1) / np.linalg.norm(approx, axis=1)
    assert cosine.min() > 0.99
    assert backbones.resolve_precision("auto", "cuda") == "bfloat16"
    with pytest.raises(PipelineError, match="precision"):
        backbones.resolve_precision("float8", "cpu")


def test_openvino_runs_the_same_network_as_pytorch(picture_folder, lite0):
    import skimage.data

    folder, ids = picture_folder
    images = {key: str(folder / f"{key}.jpg") for key in ids[:4]}
    converted = backbones.build_backbone("efficientnet-lite0", threads=2, runtime="openvino", precision="float32")
    assert converted.description["framework"].startswith("openvino ")
    assert converted.description["precision"] == "float32"
    _, exact, _, _ = extract.extract(images, lite0, progress=False)
    _, same, _, _ = extract.extract(images, converted, crops=(), progress=False)
    cosine = (exact * same).sum(axis=1) / np.linalg.norm(exact, axis=1) / np.linalg.norm(same, axis=1)
    assert cosine.min() > 0.9999
    cat = np.asarray(Image.fromarray(skimage.data.chelsea()).resize(converted.input_size, Image.BILINEAR))[None]
    assert converted.classify(cat).argmax() == lite0.classify(cat).argmax()


def test_runtime_choice(monkeypatch):
    assert backbones.resolve_runtime("auto", "cpu") == "openvino"
    assert backbones.resolve_runtime("auto", "cuda") == "torch"
    with pytest.raises(PipelineError, match="runs on the CPU"):
        backbones.resolve_runtime("openvino", "cuda")
    with pytest.raises(PipelineError, match="runtime must be"):
        backbones.resolve_runtime("onnx", "cpu")
    monkeypatch.setitem(__import__("sys").modules, "openvino", None)  # as if it were not installed
    assert backbones.resolve_runtime("auto", "cpu") == "torch"


def test_reading_stays_a_bounded_window_ahead_of_the_model(tmp_path, monkeypatch):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    items = []
    for index in range(40):
        (tmp_path / f"{index}.bin").write_bytes(b"x")
        items.append((str(index), str(tmp_path / f"{index}.bin")))
    started, lock, read = [], threading.Lock(), extract._read

    def counting_read(item):
        with lock:
            started.append(item[0])
        return read(item)

    monkeypatch.setattr(extract, "_read", counting_read)
    with ThreadPoolExecutor(2) as pool:
        reader = in_order(pool, lambda item: extract._read(item), items, ahead=5)
        assert next(reader)[0] == "0" and len(started) <= 5  # not all 40 files read into memory at once
        assert [entry[0] for entry in reader] == [str(index) for index in range(1, 40)]  # order kept


def test_a_damaged_cached_vector_is_computed_again(tmp_path, picture_folder, lite0, capsys):
    folder, ids = picture_folder
    images = {key: str(folder / f"{key}.jpg") for key in ids[:3]}
    cache = extract.VectorCache(tmp_path / "cache", lite0.description)
    _, first, _, _ = extract.extract(images, lite0, cache=cache, progress=False)
    stored = sorted(cache.folder.rglob("*.npy"))
    np.save(stored[0], np.full(1280, np.nan, np.float32))  # a faulty run's NaN
    stored[1].write_bytes(stored[1].read_bytes()[:50])  # a file cut short
    again_ids, again, _, counts = extract.extract(images, lite0, cache=cache, progress=False)
    assert counts == {"cached": 1, "computed": 2}
    np.testing.assert_allclose(again, first, rtol=1e-4, atol=1e-4)
    assert capsys.readouterr().err.count("damaged cached vector") == 2
    assert all(np.isfinite(np.load(path)).all() for path in stored)  # overwritten with good vectors
