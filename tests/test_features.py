import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import backbones
import features
from common import PipelineError, in_order, load_features


@pytest.fixture(scope="module")
def lite0():
    return backbones.build_backbone("efficientnet-lite0", threads=2)


def odd_images(folder):
    """One file per awkward case; returns {name: expected outcome ('ok' or 'rejected')}."""
    base = Image.new("RGB", (60, 40), (200, 30, 30))
    base.convert("RGBA").save(folder / "alpha.png")
    base.convert("P", palette=Image.ADAPTIVE).save(folder / "palette.png", transparency=0)
    base.convert("L").save(folder / "gray.jpg")
    base.convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(np.full((40, 60), 60000, dtype=np.uint16)).save(folder / "sixteen.png")
    frames = [Image.new("RGB", (30, 30), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("this is not a picture")
    data = (folder / "gray.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    return {"alpha": "ok", "palette": "ok", "gray": "ok", "cmyk": "ok", "sixteen": "ok", "animated": "ok",
            "empty": "rejected", "notes": "rejected", "truncated": "rejected"}


def test_load_rgb_reads_every_mode_as_rgb_or_rejects_clearly(tmp_path):
    expected = odd_images(tmp_path)
    for name, outcome in expected.items():
        path = next(tmp_path.glob(f"{name}.*"))
        if outcome == "ok":
            pixels = features.load_rgb(str(path), (32, 32))
            assert pixels.shape == (32, 32, 3) and pixels.dtype == np.uint8, name
        else:
            with pytest.raises(features.ImageRejected):
                features.load_rgb(str(path), (32, 32))
    sixteen = features.load_rgb(str(tmp_path / "sixteen.png"), (8, 8))
    assert 220 < sixteen.mean() < 240  # 60000/65535 of full scale, not clipped to white or black
    assert tuple(features.load_rgb(str(tmp_path / "alpha.png"), (8, 8))[4, 4]) == (200, 30, 30)


def test_load_rgb_honours_exif_orientation(tmp_path):
    stored = Image.new("RGB", (80, 40), (255, 0, 0))
    stored.paste((0, 0, 255), (40, 0, 80, 40))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise: left side ends on top
    stored.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    pixels = features.load_rgb(str(tmp_path / "rotated.jpg"), (40, 40))
    assert pixels[5, 20, 0] > 200 and pixels[5, 20, 2] < 60  # top is red
    assert pixels[35, 20, 2] > 200 and pixels[35, 20, 0] < 60  # bottom is blue


def test_decompression_bombs_are_rejected(tmp_path, monkeypatch):
    Image.new("RGB", (100, 100)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(features.ImageRejected, match="too large"):
        features.load_rgb(str(tmp_path / "big.png"), (8, 8))


@pytest.mark.parametrize("name", ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"])
def test_lite_weights_are_the_pinned_trained_imagenet_ones(name):
    import skimage.data

    model = backbones.build_backbone(name, threads=2)
    photos = {"chelsea": (skimage.data.chelsea(), {281, 282, 283, 284, 285}),  # cats
              "coffee": (skimage.data.coffee(), {504, 967, 968}),  # coffee mug, espresso, cup
              "motorcycle": (skimage.data.stereo_motorcycle()[0], {665, 670})}  # moped, motor scooter
    batch = np.stack([np.asarray(Image.fromarray(p).resize(model.input_size, Image.BILINEAR)) for p, _ in photos.values()])
    top = model.classify(batch).argmax(axis=1)
    for (photo, (_, allowed)), predicted in zip(photos.items(), top):
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
    got_ids, vectors, rejected, counts = features.extract(images, lite0, batch_size=5, threads=2, progress=False)
    assert sorted(got_ids) == sorted(ids)
    assert vectors.shape == (len(ids), 1280)
    assert [r[0] for r in rejected] == ["broken"]
    # The vector of one image does not depend on which batch or order it came in.
    alone_ids, alone, _, _ = features.extract({"K9045": images["K9045"]}, lite0, progress=False)
    np.testing.assert_allclose(alone[0], vectors[got_ids.index("K9045")], rtol=1e-4, atol=1e-4)


def test_pca_is_capped_by_the_data():
    rng = np.random.default_rng(0)
    reduced, info = features.reduce_dimensions(rng.normal(size=(10, 50)), 256)
    assert reduced.shape == (10, 10) and info["pca_components"] == 10 and info["pca_requested"] == 256


def test_cli_writes_ids_model_description_and_rejected_csv(tmp_path, picture_folder):
    folder, ids = picture_folder
    (folder / "zero.jpg").write_bytes(b"")
    out = tmp_path / "out" / "features.npz"
    features.main(["-in", str(folder / "*.jpg"), "-out", str(out), "-pca", "8", "-jobs", "2"])
    got_ids, vectors, description = load_features(out)
    assert sorted(got_ids) == sorted(ids) and vectors.shape == (len(ids), 8)
    assert description["model"] == "efficientnet-lite0" and description["raw_dimensions"] == 1280
    assert "127" in description["preprocessing"]
    rejected = pd.read_csv(out.with_name("rejected.csv"), dtype=str)
    assert rejected["id"].tolist() == ["zero"]
    with np.load(out, allow_pickle=False) as data:  # no pickles inside
        assert set(data.files) == {"ids", "paths", "features", "description"}
        json.loads(str(data["description"]))


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
    got_ids, vectors, _, _ = features.extract(images, model, batch_size=2, progress=False)
    assert vectors.shape == (3, 4096)
    pixels = np.stack([features.load_rgb(images[key], (224, 224)) for key in got_ids]).astype("float32")
    fc2 = keras.Model(reference.input, reference.get_layer("fc2").output)
    expected = np.asarray(fc2.predict(keras.applications.vgg16.preprocess_input(pixels), verbose=0))
    np.testing.assert_allclose(vectors, expected, rtol=1e-3, atol=1e-4)
    with pytest.raises(PipelineError, match="no layer 'fc9'"):
        backbones.build_backbone("vgg16", str(weights), "fc9", threads=1)


def test_cache_computes_only_new_images_and_nothing_for_renamed_ones(tmp_path, picture_folder, lite0):
    folder, ids = picture_folder
    cache = features.VectorCache(tmp_path / "cache", lite0.description)
    images = {p.stem: str(p) for p in folder.iterdir()}
    first_ids, first, _, counts = features.extract(images, lite0, cache=cache, progress=False)
    assert counts == {"cached": 0, "computed": 12}
    from conftest import draw_picture

    for seed in (100, 101):
        draw_picture(seed).save(folder / f"new{seed}.jpg")
    (folder / "K9045.jpg").rename(folder / "renamed.jpg")
    images = {p.stem: str(p) for p in folder.iterdir()}
    again_ids, again, _, counts = features.extract(images, lite0, cache=cache, progress=False)
    assert counts == {"cached": 12, "computed": 2}
    np.testing.assert_array_equal(again[again_ids.index("renamed")], first[first_ids.index("K9045")])
    other = features.VectorCache(tmp_path / "cache", {**lite0.description, "input_size": 256})
    assert other.folder != cache.folder  # other model settings never reuse these vectors


def test_shards_gather_into_the_same_file_as_one_run(tmp_path, picture_folder):
    folder, ids = picture_folder
    pattern = str(folder / "*.jpg")
    features.main(["-in", pattern, "-out", str(tmp_path / "whole.npz"), "-pca", "6", "-batch", "4"])
    raws = [str(tmp_path / f"raw-{i}.npz") for i in range(3)]
    for index, raw in enumerate(raws):
        features.main(["-in", pattern, "-shard", f"{index}/3", "-raw", raw, "-batch", "4"])
    features.main(["-gather", *raws, "-out", str(tmp_path / "sharded.npz"), "-pca", "6"])
    whole_ids, whole, whole_description = load_features(tmp_path / "whole.npz")
    shard_ids, sharded, shard_description = load_features(tmp_path / "sharded.npz")
    assert whole_ids == shard_ids == sorted(ids)
    # Equal up to float rounding: oneDNN's kernels round differently for different batch sizes.
    np.testing.assert_allclose(sharded, whole, rtol=1e-4, atol=1e-4)
    assert whole_description.pop("pca_explained_variance") == pytest.approx(
        shard_description.pop("pca_explained_variance"), rel=1e-5)
    assert whole_description == shard_description
    assert {features.shard_of(key, 3) for key in ids} == {0, 1, 2}


def test_bring_your_own_embeddings_in_every_format(tmp_path, picture_folder):
    folder, ids = picture_folder
    known = ids[:-1]  # the last image has no vector: it is rejected, not shifted
    vectors = np.random.default_rng(0).normal(size=(len(known) + 1, 5)).astype(np.float32)
    keys = known + ["not-an-image"]
    np.savez(tmp_path / "v.npz", ids=np.array(keys), features=vectors)
    np.save(tmp_path / "v.npy", vectors)
    (tmp_path / "v.ids.txt").write_text("\n".join(keys))
    pd.DataFrame({"id": keys, "vector": list(vectors)}).to_parquet(tmp_path / "v.parquet")
    pd.DataFrame(vectors, columns=[f"d{i}" for i in range(5)]).assign(id=keys).to_csv(tmp_path / "v.csv", index=False)
    results = []
    for name in ("v.npz", "v.npy", "v.parquet", "v.csv"):
        out = tmp_path / f"out-{name}.npz"
        features.main(["-in", str(folder / "*.jpg"), "-embeddings", str(tmp_path / name), "-out", str(out),
                       "-pca", "3"])
        got_ids, reduced, description = load_features(out)
        assert got_ids == sorted(known) and description["model"] == "embeddings file"
        rejected = pd.read_csv(out.with_name("rejected.csv"), dtype=str)
        assert rejected["id"].tolist() == [ids[-1]]
        results.append(reduced)
    for other in results[1:]:
        np.testing.assert_allclose(other, results[0], rtol=1e-5, atol=1e-5)
    np.savez(tmp_path / "dup.npz", ids=np.array(["a", "a"]), features=np.zeros((2, 3)))
    with pytest.raises(PipelineError, match="duplicate ids"):
        features.read_vectors(tmp_path / "dup.npz")
    with pytest.raises(PipelineError, match="must be .npz"):
        features.read_vectors(tmp_path / "v.ids.txt")


def test_any_keras_application_and_a_convolutional_layer_pooled(tmp_path, picture_folder):
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    weights = tmp_path / "mobilenetv2.weights.h5"
    keras.applications.MobileNetV2(weights=None, include_top=True).save_weights(str(weights))
    folder, ids = picture_folder
    images = {key: str(folder / f"{key}.jpg") for key in ids[:2]}
    default = backbones.build_backbone("mobilenet_v2", str(weights))
    assert default.description["layer"] == "global_average_pooling2d" or default.input_size == (224, 224)
    conv = backbones.build_backbone("MobileNetV2", str(weights), layer="Conv_1")
    assert conv.description["layer"] == "Conv_1 (global average pooled)"
    _, vectors, _, _ = features.extract(images, conv, progress=False)
    assert vectors.shape == (2, 1280)
    with pytest.raises(PipelineError, match="unknown model 'resnet9000'"):
        backbones.build_backbone("resnet9000")


def test_centre_crop_views_are_averaged_with_the_whole_image(picture_folder, lite0):
    folder, ids = picture_folder
    path = str(folder / f"{ids[0]}.jpg")
    _, vectors, _, _ = features.extract({ids[0]: path}, lite0, crops=(0.8,), progress=False)
    views = features.decode_rgb(open(path, "rb").read(), lite0.input_size, (0.8,))
    assert views.shape == (2, 224, 224, 3)
    np.testing.assert_allclose(vectors[0], lite0.predict(views).mean(axis=0), rtol=1e-4, atol=1e-5)
    whole = lite0.predict(views[:1])[0]
    assert not np.allclose(vectors[0], whole, atol=1e-3)  # the crop really contributes


def test_bfloat16_vectors_agree_with_float32(picture_folder, lite0):
    folder, ids = picture_folder
    images = {key: str(folder / f"{key}.jpg") for key in ids[:4]}
    fast = backbones.build_backbone("efficientnet-lite0", threads=2, precision="bfloat16")
    assert fast.description["precision"] == "bfloat16"
    _, exact, _, _ = features.extract(images, lite0, progress=False)
    _, approx, _, _ = features.extract(images, fast, progress=False)
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
    _, exact, _, _ = features.extract(images, lite0, progress=False)
    _, same, _, _ = features.extract(images, converted, crops=(), progress=False)
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
    started, lock, read = [], threading.Lock(), features._read

    def counting_read(item):
        with lock:
            started.append(item[0])
        return read(item)

    monkeypatch.setattr(features, "_read", counting_read)
    with ThreadPoolExecutor(2) as pool:
        reader = in_order(pool, lambda item: features._read(item), items, ahead=5)
        assert next(reader)[0] == "0" and len(started) <= 5  # not all 40 files read into memory at once
        assert [entry[0] for entry in reader] == [str(index) for index in range(1, 40)]  # order kept


def test_large_jpegs_decode_at_a_reduced_scale_to_the_same_picture(tmp_path):
    import skimage.data

    photo = Image.fromarray(skimage.data.astronaut()).resize((2048, 2048), Image.BICUBIC)
    photo.save(tmp_path / "large.jpg", quality=92)
    data = (tmp_path / "large.jpg").read_bytes()
    views = features.decode_rgb(data, (224, 224), (0.8,))
    with Image.open(tmp_path / "large.jpg") as full:  # decoded at full size, as without the reduced scale
        full = full.convert("RGB")
        whole = np.asarray(full.resize((224, 224), Image.BILINEAR), dtype=np.float64)
    assert views.shape == (2, 224, 224, 3)
    assert np.abs(views[0] - whole).mean() < 3  # of 255: the same picture
    with Image.open(tmp_path / "large.jpg") as image:
        image.draft("RGB", (280, 280))
        assert image.size == (512, 512)  # 1/4 scale still covers the 0.8 crop at 224 pixels


def test_resize_matches_pillows_bilinear_within_rounding():
    import skimage.data

    photo = skimage.data.astronaut()[::4, ::3].copy()  # 128 x 171, not square
    for size in ((224, 224), (60, 40)):  # up and down
        ours = features.resize_bilinear(photo, size).astype(int)
        pillow = np.asarray(Image.fromarray(photo).resize(size, Image.BILINEAR), dtype=int)
        assert ours.shape == pillow.shape == (size[1], size[0], 3)
        assert np.abs(ours - pillow).max() <= 2 and np.abs(ours - pillow).mean() < 0.1
