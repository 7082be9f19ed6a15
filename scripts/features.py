"""Stage 1b, features: the extraction shards joined (or vectors made elsewhere), then PCA.

The gather joins the raw vectors of every shard written by the extract stage, sorted by id, so any
number of shards gives the same file as one. Vectors made elsewhere can be brought in instead
(``--embeddings``), matched to the image list by id. The output is an ``.npz`` (never a pickle) of
ids, source paths, PCA-reduced vectors and a JSON description of the model, weights, preprocessing
and PCA that made them; images that could not be used are listed with the reason in rejected.csv.

    features.py --gather raw-0-of-2.npz raw-1-of-2.npz --out features.npz
    features.py --images images.csv --embeddings mine.parquet --out features.npz
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from common import PipelineError, atomic_path, run_cli
from images import read_excluded, read_list
from tables import save_npz


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


def match_vectors(images: dict[str, str], embeddings: str):
    """Vectors made elsewhere for the listed images: (ids, paths, vectors, rejected, description).

    Listed images without a vector are rejected with the reason; vectors without an image are counted.
    """
    vector_ids, vectors = read_vectors(embeddings)
    row = {key: position for position, key in enumerate(vector_ids)}
    ids = [key for key in images if key in row]
    rejected = [(key, path, f"no vector in {embeddings}") for key, path in images.items() if key not in row]
    description = {"model": "embeddings file", "weights": str(embeddings),
                   "weights_sha256": hashlib.sha256(Path(embeddings).read_bytes()).hexdigest()}
    print(f"features: {len(ids)} vectors from {embeddings}; {len(vector_ids) - len(ids)} without an image",
          file=sys.stderr)
    return ids, [images[key] for key in ids], vectors[[row[key] for key in ids]], rejected, description


def drop_non_finite(ids, paths, raw, rejected):
    """Images whose vector holds NaN or infinite values are rejected with the reason, not passed to PCA
    (where one such row fails the whole collection with a traceback naming no image)."""
    if not len(ids):
        return ids, paths, raw, rejected
    finite = np.isfinite(raw).all(axis=1)
    if finite.all():
        return ids, paths, raw, rejected
    dropped = [(key, path, "its feature vector is not finite (NaN or infinite)")
               for key, path, good in zip(ids, paths, finite, strict=True) if not good]
    kept = [position for position, good in enumerate(finite) if good]
    return ([ids[i] for i in kept], [paths[i] for i in kept], raw[kept], sorted(rejected + dropped))


def write_rejected(path, rejected) -> None:
    with atomic_path(path) as temp:
        pd.DataFrame(rejected, columns=["id", "path", "reason"]).to_csv(temp, index=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--gather", "-gather", nargs="+", help="raw vector files of the extract stage to join")
    source.add_argument("--embeddings", "-embeddings",
                        help="vectors keyed by id to use instead of a model (with --images)")
    parser.add_argument("--images", help="image list of the images stage: which ids the embeddings must cover")
    parser.add_argument("--out", "-out", dest="output", required=True, help="features .npz to write")
    parser.add_argument("--rejected", "-rejected", default=None, help="CSV of skipped images (default: beside --out)")
    parser.add_argument("--pca", "-pca", type=int, default=256, help="PCA components (default 256)")
    parser.add_argument("--l2", "-l2", action="store_true", help="scale raw vectors to unit length before PCA")
    parser.add_argument("--seed", "-seed", type=int, default=0, help="random_state of the PCA")
    args = parser.parse_args(argv)

    if args.gather:
        ids, paths, raw, rejected, description = read_raw(args.gather)
    else:
        if not args.images:
            raise PipelineError("--embeddings needs --images, the image list whose ids the vectors are matched to")
        ids, paths, raw, rejected, description = match_vectors(read_list(args.images), args.embeddings)
        rejected = sorted(rejected + read_excluded(args.images))
    ids, paths, raw, rejected = drop_non_finite(ids, paths, raw, rejected)
    for _key, path, reason in rejected:
        print(f"features: skipped {path}: {reason}", file=sys.stderr)
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


if __name__ == "__main__":
    run_cli(main)
