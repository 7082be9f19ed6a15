"""Stage 1, features: every image through a CNN (see backbones.py), then PCA.

Images are decoded and resized on a thread pool while the model runs the previous batch. Each
image's raw vector is cached under the file's content hash and the model settings, so adding 100
images to 13,000 computes 100 vectors and renaming a file computes none. For clusters, extraction
splits into shards (independent jobs, each writing raw vectors) that a gather step joins and reduces
with PCA, giving the same file as one unsharded run. Vectors made elsewhere can be brought in instead
(``-embeddings``). The output is an ``.npz`` (never a pickle) of ids, source paths, PCA-reduced
vectors and a JSON description of the model, weights, preprocessing and PCA that made them.

    features.py -in 'images/*.jpg' -out features.npz                 # everything in one go
    features.py -in 'images/*.jpg' -shard 0/4 -raw raw-0.npz          # one shard's raw vectors
    features.py -gather raw-0.npz ... raw-3.npz -out features.npz     # join shards, then PCA
    features.py -in 'images/*.jpg' -embeddings mine.parquet -out features.npz
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import io
import json
import math
import os
import sys
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageOps
from tqdm import tqdm

from backbones import build_backbone
from common import PipelineError, atomic_path, find_images, in_order, run_cli

# Refuse decompression bombs: Pillow warns above this many pixels; we treat the warning as an error.
Image.MAX_IMAGE_PIXELS = 178_956_970


class ImageRejected(Exception):
    """An image that cannot be read; it is skipped and listed in rejected.csv with this reason."""


def decode_rgb(data: bytes, size: tuple[int, int], crops: tuple[float, ...] = ()) -> np.ndarray:
    """Decode any image Pillow reads (EXIF-rotated, palette, alpha, CMYK, 16-bit) as RGB uint8 views.

    The first view is the whole image squashed to the model's input size, as the original did, so
    nothing is cropped away; each scale in `crops` adds a centred crop of that share of the width and
    height, squashed likewise. Returns an array of shape (views, height, width, 3).

    A large JPEG is decoded at the smallest DCT scale (1/2, 1/4, 1/8) that still gives every view at
    least the model's resolution: many times faster for full-size photographs, the same picture.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.seek(0)  # first frame of animations
                if image.format == "JPEG":
                    needed = math.ceil(max(size) / min((1.0, *crops)))
                    image.draft(image.mode, (needed, needed))
                image = ImageOps.exif_transpose(image)
                if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                    image = Image.fromarray((np.asarray(image, dtype=np.float64) / 257).clip(0, 255).astype(np.uint8))
                if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                    image = image.convert("RGBA")
                    image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image)
                pixels = np.array(image.convert("RGB"), dtype=np.uint8)  # writable, as torch wants
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageRejected(f"too large (decompression bomb guard): {error}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise ImageRejected(f"cannot decode: {error}") from None
    height, width = pixels.shape[:2]
    views = [resize_bilinear(pixels, size)]
    for scale in crops:
        crop_w, crop_h = max(1, round(width * scale)), max(1, round(height * scale))
        left, top = (width - crop_w) // 2, (height - crop_h) // 2
        views.append(resize_bilinear(pixels[top:top + crop_h, left:left + crop_w], size))
    return np.stack(views)


def resize_bilinear(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(height, width, 3) uint8 resized to `size` (width, height), bilinear and antialiased like Pillow's.

    PyTorch's vectorised uint8 kernel gives Pillow's BILINEAR to within rounding (mean difference 0.03
    of 255) in a third of Pillow's time, which on a CPU leaves more of the cores to the model.
    """
    channels_first = torch.from_numpy(pixels).permute(2, 0, 1)[None].contiguous(memory_format=torch.channels_last)
    resized = torch.nn.functional.interpolate(channels_first, size=(size[1], size[0]), mode="bilinear",
                                              antialias=True, align_corners=False)
    return resized[0].permute(1, 2, 0).numpy()


def load_rgb(path: str, size: tuple[int, int]) -> np.ndarray:
    """The whole image at `size` as (height, width, 3) uint8."""
    with open(path, "rb") as handle:
        return decode_rgb(handle.read(), size)[0]


class VectorCache:
    """Raw feature vectors on disk, one .npy per image, keyed by content hash within a settings folder.

    The folder name is a hash of everything that changes a vector (model, weights, layer, input size,
    preprocessing, framework), so changing any of them starts a fresh cache instead of mixing vectors.
    """

    def __init__(self, root: str | os.PathLike, settings: dict):
        key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        self.folder = Path(root) / key
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "settings.json").write_text(json.dumps(settings, indent=1, sort_keys=True))

    def _path(self, digest: str) -> Path:
        return self.folder / digest[:2] / f"{digest}.npy"

    def get(self, digest: str) -> np.ndarray | None:
        try:
            return np.load(self._path(digest), allow_pickle=False)
        except (FileNotFoundError, ValueError, OSError):
            return None

    def put(self, digest: str, vector: np.ndarray) -> None:
        target = self._path(digest)
        target.parent.mkdir(exist_ok=True)
        with atomic_path(target) as temp:
            np.save(temp, vector)


def _read(item):
    """Read one file and hash its bytes (both needed: the hash for the cache, the bytes to decode)."""
    key, path = item
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        return key, path, None, None, f"cannot read: {error}"
    return key, path, data, hashlib.sha256(data).hexdigest(), None


def extract(images: dict[str, str], model, batch_size: int = 8, threads: int = 2, cache: VectorCache | None = None,
            crops: tuple[float, ...] = (), flip: bool = False, progress: bool = True):
    """Raw vectors for every readable image, from the cache where possible, else from the model.

    `threads` read and decode images while the model runs; on a CPU the model's own threads need the
    cores, so fewer decoding threads are faster (one per four model threads was best measured here).

    Returns (ids, vectors, rejected, counts): rows of vectors follow ids; rejected lists
    (id, path, reason); counts says how many came from the cache and how many were computed.
    Each vector is the mean over the image's views: the whole image, a centred crop per scale in
    `crops`, and with `flip` the mirror image of each.
    """
    items = list(images.items())
    found: dict[str, np.ndarray] = {}
    rejected: list[tuple[str, str, str]] = []
    counts = {"cached": 0, "computed": 0}
    bar = tqdm(total=len(items), unit="img", desc="features", disable=not progress, mininterval=1.0, file=sys.stderr)

    def decode(entry):
        key, path, data, digest, problem = entry
        if problem is None:
            try:
                return key, path, digest, decode_rgb(data, model.input_size, crops), None
            except ImageRejected as error:
                problem = str(error)
        return key, path, digest, None, problem

    def run_batch(decoded):
        good = [entry for entry in decoded if entry[4] is None]
        rejected.extend((key, path, problem) for key, path, _, _, problem in decoded if problem is not None)
        if good:
            pixels = np.concatenate([entry[3] for entry in good])  # image-major: all views of one image, then the next
            if flip:
                pixels = np.concatenate([pixels, pixels[:, :, ::-1]])  # mirrored copies follow the originals
            predicted = model.predict(pixels)
            vectors = predicted.reshape(2 if flip else 1, len(good), -1, predicted.shape[-1]).mean(axis=(0, 2))
            for (key, _, digest, _, _), vector in zip(good, vectors.astype(np.float32)):
                found[key] = vector
                if cache is not None:
                    cache.put(digest, vector)
            counts["computed"] += len(good)
        bar.update(len(decoded))

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool, bar:
        pending: collections.deque = collections.deque()
        batch: list = []
        for entry in in_order(pool, _read, items, 4 * batch_size):
            key, path, data, digest, problem = entry
            cached = cache.get(digest) if cache is not None and digest else None
            if cached is not None:
                found[key] = cached
                counts["cached"] += 1
                bar.update(1)
                continue
            batch.append(pool.submit(decode, entry))
            if len(batch) == batch_size:
                pending.append(batch)
                batch = []
            if len(pending) > 1:  # keep one batch decoding ahead of the model
                run_batch([future.result() for future in pending.popleft()])
        if batch:
            pending.append(batch)
        while pending:
            run_batch([future.result() for future in pending.popleft()])
    ids = [key for key, _ in items if key in found]
    vectors = np.stack([found[key] for key in ids]) if ids else np.zeros((0, 0), np.float32)
    return ids, vectors, rejected, counts


def shard_of(key: str, count: int) -> int:
    """Stable shard number of an id: the same image stays in the same shard as the collection grows."""
    return zlib.crc32(key.encode("utf-8")) % count


def parse_shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise PipelineError(f"shard {text!r} must look like 0/4 (this shard / number of shards)") from None
    if not 0 <= index < count:
        raise PipelineError(f"shard {text!r}: the index must be 0 to {count - 1}")
    return index, count


def read_vectors(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Vectors made elsewhere, keyed by image id.

    Accepted: ``.npz`` with arrays ``ids`` and one of ``features``/``vectors``/``embeddings``; ``.parquet``
    or ``.csv`` with an ``id`` column and either one list-valued column or numeric columns; ``.npy`` of
    shape (N, D) with its ids, one per line, in a text file beside it named ``<same name>.ids.txt``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise PipelineError(f"embeddings file not found: {path}")
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            key = next((k for k in ("features", "vectors", "embeddings") if k in data.files), None)
            if "ids" not in data.files or key is None:
                raise PipelineError(f"{path} needs arrays 'ids' and 'features' (or 'vectors'/'embeddings'); "
                                    f"it has {data.files}")
            ids, vectors = [str(v) for v in data["ids"]], np.asarray(data[key], dtype=np.float32)
    elif suffix == ".npy":
        ids_path = path.with_suffix(".ids.txt")
        if not ids_path.is_file():
            raise PipelineError(f"{path} needs its ids, one per line, in {ids_path}")
        ids = ids_path.read_text(encoding="utf-8").splitlines()
        vectors = np.load(path, allow_pickle=False).astype(np.float32)
    elif suffix in (".parquet", ".csv"):
        table = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path, dtype={"id": str})
        if "id" not in table.columns:
            raise PipelineError(f"{path} needs an 'id' column; it has {list(table.columns)}")
        ids = table["id"].astype(str).tolist()
        rest = table.drop(columns="id")
        if rest.shape[1] == 1 and isinstance(rest.iloc[0, 0], (list, np.ndarray)):
            vectors = np.stack(rest.iloc[:, 0].to_numpy()).astype(np.float32)
        else:
            vectors = rest.to_numpy(dtype=np.float32)
    else:
        raise PipelineError(f"embeddings file {path} must be .npz, .npy, .parquet or .csv")
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise PipelineError(f"{path}: {len(ids)} ids but vectors of shape {vectors.shape}")
    if len(set(ids)) != len(ids):
        raise PipelineError(f"{path} has duplicate ids")
    if not np.isfinite(vectors).all():
        raise PipelineError(f"{path} has NaN or infinite values")
    return ids, vectors


def reduce_dimensions(features: np.ndarray, components: int, random_state: int = 0, normalize: bool = False):
    """PCA to at most `components` dimensions (fewer when there are fewer images or values).

    With `normalize`, each vector is first scaled to unit length, so PCA and t-SNE see directions only.
    """
    from sklearn.decomposition import PCA

    if normalize:
        features = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    n_components = min(components, features.shape[0], features.shape[1])
    pca = PCA(n_components=n_components, random_state=random_state)
    reduced = pca.fit_transform(features).astype(np.float32)
    info = {
        "l2_normalized": bool(normalize),
        "pca_components": int(n_components),
        "pca_requested": int(components),
        "pca_explained_variance": float(pca.explained_variance_ratio_.sum()),
    }
    return reduced, info


def save_npz(path, **arrays) -> None:
    """Write arrays (plus dicts as JSON strings) as one compressed .npz, atomically."""
    packed = {name: np.array(json.dumps(value)) if isinstance(value, dict) else np.asarray(value)
              for name, value in arrays.items()}
    with atomic_path(path) as temp:
        with open(temp, "wb") as handle:
            np.savez_compressed(handle, **packed)


def write_rejected(path, rejected) -> None:
    with atomic_path(path) as temp:
        pd.DataFrame(rejected, columns=["id", "path", "reason"]).to_csv(temp, index=False)


def read_raw(paths: list[str]):
    """Join raw shard files: (ids, image paths, vectors, rejected, description), sorted by id."""
    ids, image_paths, chunks, rejected, descriptions = [], [], [], [], []
    for path in paths:
        with np.load(path, allow_pickle=False) as data:
            ids += [str(v) for v in data["ids"]]
            image_paths += [str(v) for v in data["paths"]]
            chunks.append(data["vectors"])
            rejected += [tuple(map(str, row)) for row in data["rejected"].reshape(-1, 3)]
            descriptions.append(json.loads(str(data["description"])))
    if any(d != descriptions[0] for d in descriptions):
        raise PipelineError("the shards were made with different model settings; rerun them together")
    order = np.argsort(np.array(ids, dtype=str), kind="stable")
    vectors = np.concatenate([c for c in chunks if c.size]) if any(c.size for c in chunks) else np.zeros((0, 0))
    return ([ids[i] for i in order], [image_paths[i] for i in order], vectors[order] if len(ids) else vectors,
            sorted(rejected), descriptions[0])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("-in", dest="input", help="glob of the collection's images, quoted")
    parser.add_argument("-out", dest="output", help="features .npz to write (ids, PCA vectors, description)")
    parser.add_argument("-pca", type=int, default=256, help="PCA components (default 256)")
    parser.add_argument("-model", default="efficientnet-lite0",
                        help="efficientnet-lite0/1/2 or any keras.applications model, e.g. vgg16")
    parser.add_argument("-layer", default=None, help="layer to read (default: pooled; fc2 for vgg16)")
    parser.add_argument("-weights", default="imagenet", help="'imagenet' or a local weights file")
    parser.add_argument("-size", type=int, default=None, help="input size in pixels (default: the model's own)")
    parser.add_argument("-crops", type=float, nargs="*", default=[],
                        help="centred crop scales whose vectors are averaged with the whole image's, e.g. 0.8")
    parser.add_argument("-flip", action="store_true", help="average each image's vector with its mirror image's")
    parser.add_argument("-l2", action="store_true", help="scale raw vectors to unit length before PCA")
    parser.add_argument("-batch", type=int, default=8, help="images per inference batch")
    parser.add_argument("-jobs", type=int, default=2, help="threads for inference")
    parser.add_argument("-decoders", type=int, default=None,
                        help="threads reading and decoding images (default: a quarter of -jobs, at least 1; -jobs on a GPU)")
    parser.add_argument("-device", default="cpu", help="cpu, cuda or auto (PyTorch models)")
    parser.add_argument("-precision", default="float32", choices=("float32", "bfloat16", "auto"),
                        help="arithmetic of EfficientNet-Lite (auto: bfloat16 where the CPU or GPU has it natively)")
    parser.add_argument("-runtime", default="torch", choices=("openvino", "torch", "auto"),
                        help="what runs EfficientNet-Lite: openvino (CPU, fastest), torch, or auto (openvino on a CPU)")
    parser.add_argument("-cache", default=None, help="folder of cached raw vectors (default: no cache)")
    parser.add_argument("-shard", default=None, help="with -raw: extract only shard I of N, written as I/N")
    parser.add_argument("-raw", default=None, help="write raw vectors of a shard here instead of -out")
    parser.add_argument("-gather", nargs="+", default=None, help="raw shard files to join and reduce")
    parser.add_argument("-embeddings", default=None, help="vectors keyed by id to use instead of a model")
    parser.add_argument("-rejected", default=None, help="CSV of skipped images (default: beside -out)")
    parser.add_argument("-seed", type=int, default=0, help="random_state of the PCA")
    args = parser.parse_args(argv)

    if args.gather:
        ids, paths, raw, rejected, description = read_raw(args.gather)
    elif args.embeddings:
        images = _images(args.input)
        vector_ids, vectors = read_vectors(args.embeddings)
        row = {key: position for position, key in enumerate(vector_ids)}
        ids = [key for key in images if key in row]
        paths = [images[key] for key in ids]
        raw = vectors[[row[key] for key in ids]]
        rejected = [(key, path, f"no vector in {args.embeddings}") for key, path in images.items() if key not in row]
        description = {"model": "embeddings file", "weights": str(args.embeddings),
                       "weights_sha256": hashlib.sha256(Path(args.embeddings).read_bytes()).hexdigest()}
        print(f"features: {len(ids)} vectors from {args.embeddings}; {len(vector_ids) - len(ids)} without an image",
              file=sys.stderr)
    else:
        images = _images(args.input)
        if args.shard:
            index, count = parse_shard(args.shard)
            images = {key: path for key, path in images.items() if shard_of(key, count) == index}
        model = build_backbone(args.model, args.weights, args.layer, args.jobs, args.size, args.device, args.precision,
                               args.runtime)
        description = {**model.description, "centre_crops": list(args.crops), "flip_average": args.flip,
                       "jpeg_decoding": "reduced DCT scale where views keep full resolution",
                       "resize": "bilinear, antialiased (PyTorch uint8 kernel)"}
        cache = VectorCache(args.cache, {k: v for k, v in description.items() if k != "device"}) if args.cache else None
        print(f"features: {len(images)} images, model {description['model']}"
              + (f", shard {args.shard}" if args.shard else ""), file=sys.stderr)
        decoders = args.decoders or (args.jobs if str(description.get("device")).startswith("cuda") else max(1, args.jobs // 4))
        ids, raw, rejected, counts = extract(images, model, args.batch, decoders, cache, tuple(args.crops), args.flip)
        paths = [images[key] for key in ids]
        print(f"features: {counts['cached']} from cache, {counts['computed']} computed, {len(rejected)} rejected",
              file=sys.stderr)
        if args.raw:
            save_npz(args.raw, ids=np.array(ids, dtype=str), paths=np.array(paths, dtype=str), vectors=raw,
                     rejected=np.array(rejected, dtype=str).reshape(-1, 3), description=description)
            return
    for key, path, reason in rejected:
        print(f"features: skipped {path}: {reason}", file=sys.stderr)
    if not args.output:
        raise PipelineError("say where to write the features with -out (or -raw for a shard)")
    rejected_path = args.rejected or str(Path(args.output).with_name("rejected.csv"))
    write_rejected(rejected_path, rejected)
    if len(ids) < 2:
        raise PipelineError(f"only {len(ids)} usable image(s); need at least 2 (rejected ones: {rejected_path})")
    reduced, pca_info = reduce_dimensions(raw, args.pca, args.seed, args.l2)
    description = {**description, "raw_dimensions": int(raw.shape[1]), **pca_info}
    save_npz(args.output, ids=np.array(ids, dtype=str), paths=np.array(paths, dtype=str), features=reduced,
             description=description)
    print(f"features: wrote {len(ids)} x {reduced.shape[1]} to {args.output} ({len(rejected)} skipped, "
          f"listed in {rejected_path})", file=sys.stderr)


def _images(pattern: str | None) -> dict[str, str]:
    if not pattern:
        raise PipelineError("say which images to read with -in 'folder/*.jpg'")
    images = find_images(pattern)
    if not images:
        raise PipelineError(f"no images match {pattern}")
    return images


if __name__ == "__main__":
    run_cli(main)
