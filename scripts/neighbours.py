"""Stage 6b, neighbours: each image's most similar images, for the viewer's "more like this".

The k nearest images of each one in the features' PCA space (Euclidean; on L2-normalised features
that ranks like cosine similarity), computed once by the workflow so the viewer only looks them up.
Output, in the grid's cell order like the viewer's items.json: ``{"k", "id": [...], "neighbours":
[[positions into id, nearest first], ...]}``.

The exact search compares every pair (N^2 distances: a minute at 100,000 images here, hours at a
million); above ``APPROXIMATE_FROM`` images (or with ``--method approximate``) a nearest-neighbour
descent graph (pynndescent, the index openTSNE and UMAP use) finds them in about N log N, seeded so the
same features give the same neighbours. Its recall against the exact search is in bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from common import PipelineError, atomic_path, run_cli
from tables import in_cell_order, load_features, read_grid

APPROXIMATE_FROM = 50_000  # images; method auto searches exactly below this
GRAPH_NEIGHBOURS = 30  # neighbours per point of the approximate search's graph


def nearest_neighbours(points: np.ndarray, queries: np.ndarray, k: int, ordered: bool = False) -> np.ndarray:
    """Indices of the k nearest points (Euclidean, the query itself excluded) of each query index.

    Distances come in blocks of queries by |a|^2 + |b|^2 - 2ab: 256 queries at a time, fewer from 131,072
    points on, so that a block of distances stays at 256 MB (33 queries at a million points).
    With `ordered` each row runs from the nearest out; otherwise the k are in no particular order.
    """
    return _nearest(np.asarray(points, dtype=np.float64), np.asarray(queries), k, ordered, exclude_self=True)


def nearest_among(points: np.ndarray, others: np.ndarray, k: int, ordered: bool = False) -> np.ndarray:
    """Indices into `points` of the k nearest of each row of `others` (vectors not among the points)."""
    points = np.asarray(points, dtype=np.float64)
    others = np.asarray(others, dtype=np.float64)
    return _nearest(np.concatenate([points, others]), np.arange(len(points), len(points) + len(others)), k, ordered,
                    exclude_self=False, searched=len(points))


def _nearest(points, queries, k, ordered, exclude_self, searched=None):
    """The block loop of nearest_neighbours and nearest_among: queries are indices into points, and only
    the first `searched` points (all by default) are candidates."""
    searched = len(points) if searched is None else searched
    k = min(k, searched - 1 if exclude_self else searched)
    if k < 1:
        return np.zeros((len(queries), 0), dtype=int)
    squares = (points ** 2).sum(axis=1)
    candidates = points[:searched]
    block = max(1, min(256, 2 ** 25 // max(1, searched)))
    found = []
    for start in range(0, len(queries), block):
        chunk = queries[start:start + block]
        distances = squares[chunk, None] + squares[None, :searched] - 2 * points[chunk] @ candidates.T
        if exclude_self:
            distances[np.arange(len(chunk)), chunk] = np.inf
        # A copy: the slice would keep the whole block of indices alive (N/256 blocks of 256 x N at the end).
        nearest = np.argpartition(distances, k - 1, axis=1)[:, :k].copy()
        if ordered:
            order = np.argsort(np.take_along_axis(distances, nearest, axis=1), axis=1, kind="stable")
            nearest = np.take_along_axis(nearest, order, axis=1)
        found.append(nearest)
    return np.concatenate(found) if found else np.zeros((0, max(k, 0)), dtype=int)


def approximate_neighbours(points: np.ndarray, k: int, seed: int = 0, jobs: int = 1) -> np.ndarray:
    """Indices of about the k nearest other points of every point, nearest first (pynndescent's NN-descent).

    The graph is built with at least GRAPH_NEIGHBOURS neighbours per point, of which the k nearest
    other than the point itself are kept: a wider graph is what lifts recall (at 5,000 points, 0.90 with
    13 neighbours, 0.97 with 30; bench/RESULTS.md).
    """
    from pynndescent import NNDescent

    points = np.ascontiguousarray(points, dtype=np.float32)
    k = min(k, len(points) - 1)
    width = min(max(k + 1, GRAPH_NEIGHBOURS), len(points) - 1)
    index = NNDescent(points, n_neighbors=width, metric="euclidean", random_state=seed, n_jobs=jobs,
                      low_memory=True)
    graph, _ = index.neighbor_graph
    others = graph != np.arange(len(points))[:, None]
    first = np.argsort(~others, axis=1, kind="stable")[:, :k]  # the others, in their order, nearest first
    return np.take_along_axis(graph, first, axis=1)


def similar_images(ids: list[str], vectors: np.ndarray, order: list[str], k: int = 12, method: str = "auto",
                   seed: int = 0, jobs: int = 1) -> dict:
    """The k nearest images of each id in `order`, as positions in `order`: exactly, or approximately
    (`method` approximate, or auto from APPROXIMATE_FROM images)."""
    row = {key: position for position, key in enumerate(ids)}
    missing = [key for key in order if key not in row]
    if missing:
        raise PipelineError(f"{len(missing)} gridded id(s) have no feature vector, e.g. {missing[:3]}")
    ordered = vectors[[row[key] for key in order]]
    if method == "auto":
        method = "approximate" if len(order) >= APPROXIMATE_FROM else "exact"
    if method == "approximate" and len(order) > k + 1:
        nearest = approximate_neighbours(ordered, k, seed, jobs)
    else:
        nearest = nearest_neighbours(ordered, np.arange(len(order)), k, ordered=True)
    return {"k": int(nearest.shape[1]), "id": list(order), "neighbours": nearest.tolist(), "method": method}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", "-features", required=True, help="features .npz from the features stage")
    parser.add_argument("--grid", "-grid", required=True, help="grid CSV (id,col,row): gives the output's order")
    parser.add_argument("--out", "-out", dest="output", required=True, help="neighbours JSON to write")
    parser.add_argument("--count", "-k", dest="k", type=int, default=12, help="neighbours per image (default 12)")
    parser.add_argument("--method", choices=("auto", "exact", "approximate"), default="auto",
                        help=f"exact (all pairs), approximate (NN-descent), or auto: approximate from "
                             f"{APPROXIMATE_FROM:,} images")
    parser.add_argument("--seed", type=int, default=0, help="seed of the approximate search")
    parser.add_argument("--jobs", type=int, default=1, help="threads of the approximate search")
    args = parser.parse_args(argv)

    if args.k < 1:
        raise PipelineError("-k must be at least 1")
    ids, vectors, _ = load_features(args.features)
    grid, cols, _ = read_grid(args.grid)
    order = in_cell_order(grid, cols)["id"].tolist()
    result = similar_images(ids, vectors, order, args.k, args.method, args.seed, args.jobs)
    with atomic_path(args.output) as temp:
        temp.write_text(json.dumps(result, separators=(",", ":")), encoding="utf-8")
    print(f"neighbours: {result['k']} per image for {len(order)} images ({result['method']})", file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
