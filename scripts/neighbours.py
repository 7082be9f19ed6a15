"""Stage 6b, neighbours: each image's most similar images, for the viewer's "more like this".

The k nearest images of each one in the features' PCA space (Euclidean; on L2-normalised features
that ranks like cosine similarity), computed once by the workflow so the viewer only looks them up.
Output, in the grid's cell order like the viewer's items.json: ``{"k", "id": [...], "neighbours":
[[positions into id, nearest first], ...]}``.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from common import PipelineError, atomic_path, run_cli
from tables import in_cell_order, load_features, read_grid


def nearest_neighbours(points: np.ndarray, queries: np.ndarray, k: int, ordered: bool = False) -> np.ndarray:
    """Indices of the k nearest points (Euclidean, the query itself excluded) of each query index.

    Distances come in blocks of 256 queries by |a|^2 + |b|^2 - 2ab, so memory stays at 256 x N.
    With `ordered` each row runs from the nearest out; otherwise the k are in no particular order.
    """
    points = np.asarray(points, dtype=np.float64)
    k = min(k, len(points) - 1)
    squares = (points ** 2).sum(axis=1)
    found = []
    for start in range(0, len(queries), 256):
        chunk = queries[start:start + 256]
        distances = squares[chunk, None] + squares[None, :] - 2 * points[chunk] @ points.T
        distances[np.arange(len(chunk)), chunk] = np.inf
        nearest = np.argpartition(distances, k, axis=1)[:, :k]
        if ordered:
            order = np.argsort(np.take_along_axis(distances, nearest, axis=1), axis=1, kind="stable")
            nearest = np.take_along_axis(nearest, order, axis=1)
        found.append(nearest)
    return np.concatenate(found) if found else np.zeros((0, max(k, 0)), dtype=int)


def similar_images(ids: list[str], vectors: np.ndarray, order: list[str], k: int = 12) -> dict:
    """The k nearest images of each id in `order`, as positions in `order`."""
    row = {key: position for position, key in enumerate(ids)}
    missing = [key for key in order if key not in row]
    if missing:
        raise PipelineError(f"{len(missing)} gridded id(s) have no feature vector, e.g. {missing[:3]}")
    ordered = vectors[[row[key] for key in order]]
    nearest = nearest_neighbours(ordered, np.arange(len(order)), k, ordered=True)
    return {"k": int(nearest.shape[1]), "id": list(order), "neighbours": nearest.tolist()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", "-features", required=True, help="features .npz from the features stage")
    parser.add_argument("--grid", "-grid", required=True, help="grid CSV (id,col,row): gives the output's order")
    parser.add_argument("--out", "-out", dest="output", required=True, help="neighbours JSON to write")
    parser.add_argument("--count", "-k", dest="k", type=int, default=12, help="neighbours per image (default 12)")
    args = parser.parse_args(argv)

    if args.k < 1:
        raise PipelineError("-k must be at least 1")
    ids, vectors, _ = load_features(args.features)
    grid, cols, _ = read_grid(args.grid)
    order = in_cell_order(grid, cols)["id"].tolist()
    result = similar_images(ids, vectors, order, args.k)
    with atomic_path(args.output) as temp:
        temp.write_text(json.dumps(result, separators=(",", ":")), encoding="utf-8")
    print(f"neighbours: {result['k']} per image for {len(order)} images", file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
