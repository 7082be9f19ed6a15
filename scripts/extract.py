"""Stage 1a, extract: every image of one shard through a CNN (see backbones.py), as raw vectors.

Images are read and decoded on a thread pool while the model runs the previous batch. Each image's
raw vector is cached under the file's content hash and the model settings, so adding 100 images to
13,000 computes 100 vectors and renaming a file computes none. For clusters, extraction splits into
shards (independent jobs over a stable split of the ids); the features stage joins them and reduces
them with PCA. The output is an ``.npz`` (never a pickle) of ids, paths, raw vectors, the images that
could not be read with the reason, and a JSON description of the model and preprocessing.

    extract.py --images results/demo/images.csv --shard 0/4 --out raw-0-of-4.npz
    extract.py --in 'photos/*.jpg' --out raw.npz                   # without an image list, one shard
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from backbones import build_backbone
from common import PipelineError, atomic_path, in_order, run_cli, settings_folder
from decoding import ImageRejected, decode_rgb
from images import DEFAULT_FORMATS, READABLE_FORMATS, find_images, parse_shard, read_excluded, read_list, shard_of
from tables import save_npz


class VectorCache:
    """Raw feature vectors on disk, one .npy per image, keyed by content hash within a settings folder.

    The folder name is a hash of everything that changes a vector (model, weights, layer, input size,
    preprocessing, framework), so changing any of them starts a fresh cache instead of mixing vectors.
    """

    def __init__(self, root: str | os.PathLike, settings: dict):
        self.folder = settings_folder(root, settings)

    def _path(self, digest: str) -> Path:
        return self.folder / digest[:2] / f"{digest}.npy"

    def get(self, digest: str) -> np.ndarray | None:
        """The cached vector, or None when there is none or it is damaged (not one row of finite numbers,
        e.g. a file cut short or written by a faulty run): then it is computed again and overwritten."""
        path = self._path(digest)
        try:
            vector = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (ValueError, OSError, EOFError):
            vector = None
        if vector is None or vector.ndim != 1 or not vector.size or not np.isfinite(vector).all():
            print(f"extract: damaged cached vector {path}; computing it again", file=sys.stderr)
            return None
        return vector

    def put(self, digest: str, vector: np.ndarray) -> None:
        target = self._path(digest)
        target.parent.mkdir(exist_ok=True)
        with atomic_path(target, tidy=False) as temp:
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
            crops: tuple[float, ...] = (), flip: bool = False, progress: bool = True, formats: set[str] | None = None):
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
                return key, path, digest, decode_rgb(data, model.input_size, crops, formats), None
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
            for (key, _, digest, _, _), vector in zip(good, vectors.astype(np.float32), strict=True):
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


def pillow_formats(extensions) -> set[str]:
    """Pillow's names of the formats with these extensions; a multi-picture JPEG (MPO) is a JPEG to libvips."""
    names = {READABLE_FORMATS[extension] for extension in extensions}
    return names | {"MPO"} if "JPEG" in names else names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", help="image list written by the images stage (images.csv)")
    source.add_argument("--in", "-in", dest="input", help="glob of the collection's images, quoted")
    parser.add_argument("--shard", "-shard", default="0/1", help="extract only shard I of N, written as I/N")
    parser.add_argument("--out", "-out", "-raw", dest="output", required=True, help="raw vectors (.npz) to write")
    parser.add_argument("--model", "-model", default="efficientnet-lite0",
                        help="efficientnet-lite0/1/2 or any keras.applications model, e.g. vgg16")
    parser.add_argument("--layer", "-layer", default=None, help="layer to read (default: pooled; fc2 for vgg16)")
    parser.add_argument("--weights", "-weights", default="imagenet", help="'imagenet' or a local weights file")
    parser.add_argument("--size", "-size", type=int, default=None,
                        help="input size in pixels (default: the model's own)")
    parser.add_argument("--crops", "-crops", type=float, nargs="*", default=[],
                        help="centred crop scales whose vectors are averaged with the whole image's, e.g. 0.8")
    parser.add_argument("--flip", "-flip", action="store_true",
                        help="average each image's vector with its mirror image's")
    parser.add_argument("--batch", "-batch", type=int, default=8, help="images per inference batch")
    parser.add_argument("--jobs", "-jobs", type=int, default=2, help="threads for inference")
    parser.add_argument("--decoders", "-decoders", type=int, default=None,
                        help="threads reading and decoding images "
                             "(default: a quarter of --jobs, at least 1; --jobs on a GPU)")
    parser.add_argument("--device", "-device", default="cpu", help="cpu, cuda or auto (PyTorch models)")
    parser.add_argument("--precision", "-precision", default="float32", choices=("float32", "bfloat16", "auto"),
                        help="arithmetic of EfficientNet-Lite (auto: bfloat16 where the CPU or GPU has it natively)")
    parser.add_argument("--runtime", "-runtime", default="torch", choices=("openvino", "torch", "auto"),
                        help="what runs EfficientNet-Lite: openvino (CPU, fastest), torch, or auto (openvino on a CPU)")
    parser.add_argument("--cache", "-cache", default=None, help="folder of cached raw vectors (default: no cache)")
    parser.add_argument("--formats", nargs="+", default=list(DEFAULT_FORMATS), choices=sorted(READABLE_FORMATS),
                        help="image formats the mosaic stage reads too; files of other formats are rejected")
    args = parser.parse_args(argv)

    shard = parse_shard(args.shard)
    excluded = []  # files the image list leaves out, reported with the unreadable ones
    if args.images:
        images = read_list(args.images, shard)
        excluded = [row for row in read_excluded(args.images) if shard_of(row[0], shard[1]) == shard[0]]
    else:
        images = find_images(args.input)
        if not images:
            raise PipelineError(f"no images match {args.input}")
        images = {key: path for key, path in images.items() if shard_of(key, shard[1]) == shard[0]}
    model = build_backbone(args.model, args.weights, args.layer, args.jobs, args.size, args.device, args.precision,
                           args.runtime)
    description = {**model.description, "centre_crops": list(args.crops), "flip_average": args.flip,
                   "jpeg_decoding": "reduced DCT scale where views keep full resolution",
                   "resize": "bilinear, antialiased (PyTorch uint8 kernel)"}
    cache = VectorCache(args.cache, {k: v for k, v in description.items() if k != "device"}) if args.cache else None
    part = f", shard {args.shard}" if shard[1] > 1 else ""
    print(f"extract: {len(images)} images of {args.images or args.input}, model {description['model']}{part}",
          file=sys.stderr)
    on_gpu = str(description.get("device")).startswith("cuda")
    decoders = args.decoders or (args.jobs if on_gpu else max(1, args.jobs // 4))
    ids, raw, rejected, counts = extract(images, model, args.batch, decoders, cache, tuple(args.crops), args.flip,
                                         formats=pillow_formats(args.formats))
    rejected = sorted(rejected + excluded)
    for _key, path, reason in rejected:
        print(f"extract: skipped {path}: {reason}", file=sys.stderr)
    print(f"extract: {counts['cached']} from cache, {counts['computed']} computed, {len(rejected)} rejected",
          file=sys.stderr)
    save_npz(args.output, ids=np.array(ids, dtype=str), paths=np.array([images[key] for key in ids], dtype=str),
             vectors=raw, rejected=np.array(rejected, dtype=str).reshape(-1, 3), description=description)


if __name__ == "__main__":
    run_cli(main)
