"""Layout quality: how well the 2-D embedding and the grid keep similar images together.

Three measures, written to ``layout_quality.json`` in every build:
- DPQ16, the Distance Preservation Quality of the grid against the feature space (Barthel et al.,
  "Improved Evaluation and Generation of Grid Layouts using Distance Preservation Quality and Linear
  Assignment Sorting", Computer Graphics Forum 2023), with p = 16. It needs all pairwise distances: up
  to ``subset`` images (15,000) it is exact, above that it is estimated as the mean over random subsets
  of that size (said in the file).
- k-nearest-neighbour preservation (k = 10): the share of each image's 10 nearest neighbours in feature
  space that are also among its 10 nearest on the grid, and in the 2-D embedding. Above ``queries``
  images it is averaged over that many random images (their neighbours are still searched among all).
- Where the metadata has subjects: the share of each image's 10 nearest grid neighbours that share a
  subject with it, next to the same share for random arrangements of the same images.

On the grid many neighbours lie at equal distance; ties are broken at random with a fixed seed.
"""
from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from tqdm import tqdm

from common import PipelineError, atomic_path, run_cli
from neighbours import nearest_neighbours
from tables import load_features, read_embedding, read_grid, read_table

EXACT_DPQ_UP_TO = 15_000  # images; the exact DPQ16 takes about 12 s and 0.5 GB at 14,300 here


def _preservation_gain(mean_of_first_k: np.ndarray, mean_distance: float) -> np.ndarray:
    """DP_k for k = 1..N-1: how much closer the first k neighbours are than the average image."""
    return np.clip((mean_distance - mean_of_first_k) / mean_distance, 0, None)


def dpq(features: np.ndarray, positions: np.ndarray, p: float = 16, pairs_at_once: int = 10_000_000,
        progress: bool = False, threads: int = 1) -> float:
    """Distance Preservation Quality of an arrangement: 1 when, for every k, each image's k nearest
    places on the grid hold its k nearest images in feature space; lower the less they do (a random
    arrangement of clustered data still scores well above 0, since p = 16 weighs the largest gains).

    `positions` are grid (col, row) per image; neighbours on the grid are ordered by squared grid
    distance, ties by feature distance, as in the authors' reference implementation. All N^2 pairs are
    used, a block of rows at a time (about `pairs_at_once` distances each, `threads` blocks at once), so
    memory stays bounded; time grows with N^2 log N (14,300 images: about 11 s with one thread and 7 s with
    two here, 0.5 GB a thread).
    """
    features = np.asarray(features, dtype=np.float64)
    positions = np.asarray(positions, dtype=np.float64)
    count = len(features)
    if count < 2:
        return 0.0
    squares = (features ** 2).sum(axis=1)
    scale = 2.0001 * np.sqrt(squares.max()) or 1.0  # above every feature distance: orders grid ties only
    ranks = np.arange(1, count)
    step = max(1, pairs_at_once // count)

    def block(start: int) -> tuple[float, np.ndarray, np.ndarray]:
        rows = np.arange(start, min(count, start + step))
        distances = np.sqrt(np.maximum(squares[rows, None] + squares[None, :] - 2 * features[rows] @ features.T, 0))
        distances[np.arange(len(rows)), rows] = 0
        grid_distances = ((positions[rows, None, 0] - positions[None, :, 0]) ** 2
                          + (positions[rows, None, 1] - positions[None, :, 1]) ** 2)
        by_grid = np.sort(distances / scale + grid_distances, axis=1)
        by_grid -= np.floor(by_grid)  # the fraction (exact, as fmod(x, 1), and 5 times quicker): a feature distance
        distances.sort(axis=1)
        # Summed over the rows, the first k distances of each for every k: the prefix sums of the column sums.
        return (distances[:, 1:].sum(), np.cumsum(by_grid[:, 1:].sum(axis=0)) * scale / ranks,
                np.cumsum(distances[:, 1:].sum(axis=0)) / ranks)

    sum_by_grid, sum_by_features, total = np.zeros(count - 1), np.zeros(count - 1), 0.0
    bar = tqdm(total=count, unit="img", desc="DPQ16", disable=not progress, mininterval=1.0, file=sys.stderr)
    starts = range(0, count, step)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:  # numpy's sorts and arithmetic let go of the GIL
        for start, (block_total, grid_sums, feature_sums) in zip(starts, pool.map(block, starts), strict=True):
            total += block_total
            sum_by_grid += grid_sums
            sum_by_features += feature_sums
            bar.update(min(count, start + step) - start)
    bar.close()
    mean_distance = total / (count * (count - 1))
    if mean_distance == 0:
        return 0.0
    achieved = np.linalg.norm(_preservation_gain(sum_by_grid / count, mean_distance), ord=p)
    best = np.linalg.norm(_preservation_gain(sum_by_features / count, mean_distance), ord=p)
    return float(achieved / best) if best > 0 else 0.0


def _neighbours(points: np.ndarray, queries: np.ndarray, k: int, jitter: float = 0.0, seed: int = 0) -> np.ndarray:
    """The k nearest points of each query; jitter breaks the ties of points on a grid at random."""
    points = np.asarray(points, dtype=np.float64)
    if jitter:
        points = points + np.random.default_rng(seed).uniform(-jitter, jitter, points.shape)
    if points.shape[1] > 3:
        return nearest_neighbours(points, queries, k)
    # Places on the plane: a k-d tree answers exactly, in a fraction of a second where all distances took
    # seconds per call at 100,000 images. The query itself is dropped (or, where k + 1 points lie at the
    # same place without it, the last of them).
    from scipy.spatial import cKDTree

    queries = np.asarray(queries)
    k = min(k, len(points) - 1)
    _, found = cKDTree(points).query(points[queries], k + 1)
    found = found.reshape(len(queries), k + 1)
    is_self = found == queries[:, None]
    keep = np.ones(found.shape, dtype=bool)
    keep[np.arange(len(found)), np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)] = False
    return found[keep].reshape(len(found), k)


def knn_preservation(high: np.ndarray, low: np.ndarray, k: int = 10, queries: np.ndarray | None = None,
                     jitter: float = 0.0) -> float:
    """Mean share of each query's k nearest neighbours in `high` that are also k nearest in `low`."""
    queries = np.arange(len(high)) if queries is None else queries
    first, second = _neighbours(high, queries, k), _neighbours(low, queries, k, jitter)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(first, second, strict=True)]))


def subject_share(positions: np.ndarray, subject_sets: list[set], k: int = 10, queries: np.ndarray | None = None,
                  jitter: float = 0.0) -> float:
    """Mean share of each image's k nearest neighbours in `positions` that share a subject with it."""
    queries = np.arange(len(positions)) if queries is None else queries
    queries = np.array([q for q in queries if subject_sets[q]])
    found = _neighbours(positions, queries, k, jitter)
    return float(np.mean([np.mean([bool(subject_sets[q] & subject_sets[j]) for j in row])
                          for q, row in zip(queries, found, strict=True)]))


def collection_dpq(features: np.ndarray, cells: np.ndarray, subset: int = EXACT_DPQ_UP_TO, subsets: int = 3,
                   seed: int = 0, progress: bool = False, threads: int = 1) -> tuple[float, dict | None]:
    """DPQ16 of a whole arrangement over all pairs up to `subset` images; above, the mean over `subsets`
    random subsets of that size, and (second value) which subsets, so a report can say it is an estimate.

    A subset of a grid is a sparser grid, so its nearest places lie farther apart: small subsets score
    larger neighbourhoods than the whole does, which is why the exact figure is used as far as time allows.
    """
    count = len(features)
    if count <= subset:
        return dpq(features, cells, progress=progress, threads=threads), None
    rng = np.random.default_rng(seed)
    samples = [np.sort(rng.choice(count, subset, replace=False)) for _ in range(subsets)]
    values = [dpq(features[s], cells[s], progress=progress, threads=threads) for s in samples]
    return float(np.mean(values)), {"size": subset, "count": subsets}


def measure(ids, features, embedding, cells, subjects_by_id=None, k=10, subset=EXACT_DPQ_UP_TO, subsets=3,
            queries=5000, seed=0, progress=False, placed=None, threads=1) -> dict:
    """All layout measures for one build; arrays are aligned with `ids`. `embedding` may be None (a stable
    build computes none); `placed` (the grid's column: which stable addition placed each picture, 0 for
    the fresh layout) adds the figures of the latest addition's pictures and of all added ones. `threads`
    compute DPQ16's blocks of rows at once."""
    rng = np.random.default_rng(seed)
    count = len(ids)
    query_index = np.sort(rng.choice(count, queries, replace=False)) if count > queries else None
    tie_jitter = 0.01  # grid cells are 1 apart: this only orders equal distances
    dpq16, estimated_on = collection_dpq(features, cells, subset, subsets, seed, progress, threads)
    result = {
        "images": count,
        "dpq16": {"value": dpq16, "estimated_on_random_subsets": estimated_on},
        f"knn{k}_preservation": {
            "grid": knn_preservation(features, cells, k, query_index, tie_jitter),
            "embedding": None if embedding is None else knn_preservation(features, embedding, k, query_index),
            "averaged_over_random_images": int(queries) if query_index is not None else None,
        },
        "subjects": None,
    }
    sets = [subjects_by_id.get(key, set()) for key in ids] if subjects_by_id else None
    share_key = f"share_of_{k}_grid_neighbours_with_a_shared_subject"
    if sets and any(sets):
        shuffled = [subject_share(cells[rng.permutation(count)], sets, k, query_index,
                                  tie_jitter) for _ in range(3)]
        result["subjects"] = {
            share_key: subject_share(cells, sets, k, query_index, tie_jitter),
            "same_for_random_arrangements": float(np.mean(shuffled)),
            "same_in_the_embedding": None if embedding is None else subject_share(embedding, sets, k, query_index),
            "images_with_subjects": int(sum(bool(s) for s in sets)),
        }
    if placed is not None and placed.max() > 0:
        result["additions"] = _additions(features, cells, placed, sets, k, share_key, tie_jitter, queries, rng)
    return result


def _additions(features, cells, placed, sets, k, share_key, tie_jitter, queries, rng) -> dict:
    """How the pictures placed by stable additions sit, next to the fresh layout's: the latest addition's
    own figures, and how much of the layout additions have placed since it was laid out fresh (the more,
    the further it drifts from what a fresh build would give; docs/layout.md says when to rebuild). A
    group of more than `queries` pictures is measured on that many at random, as the whole layout is."""
    def figures(members):
        members = np.flatnonzero(members)
        size = len(members)
        if size > queries:
            members = np.sort(rng.choice(members, queries, replace=False))
        out = {"images": int(size), "averaged_over_random_images": int(queries) if size > queries else None,
               f"knn{k}_preservation_grid": knn_preservation(features, cells, k, members, tie_jitter)
               if len(members) else None}
        if sets and any(sets[i] for i in members):
            out[share_key] = subject_share(cells, sets, k, members, tie_jitter)
        return out

    latest = int(placed.max())
    return {"since_fresh": latest,
            "share_of_images_placed_by_additions": float(np.mean(placed > 0)),
            "latest": figures(placed == latest),
            "all_added": figures(placed > 0),
            "fresh_layout": figures(placed == 0)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", "-features", required=True, help="features .npz")
    parser.add_argument("--embedding", "-embedding", default=None,
                        help="embedding CSV (id,x,y); left out by a stable build, which computes none")
    parser.add_argument("--grid", "-grid", required=True, help="grid CSV (id,col,row)")
    parser.add_argument("--subjects", "-sub", dest="subjects", default=None, help="subjects CSV (id,subject), optional")
    parser.add_argument("--out", "-out", dest="output", required=True, help="layout_quality.json to write")
    parser.add_argument("--subset", "-subset", type=int, default=EXACT_DPQ_UP_TO,
                        help="largest N for an exact DPQ16; above it, estimated on 3 random subsets of this size")
    parser.add_argument("--queries", "-queries", type=int, default=5000, help="largest N for exact neighbour measures")
    parser.add_argument("--seed", "-seed", type=int, default=0)
    parser.add_argument("--jobs", "-jobs", type=int, default=1, help="threads computing DPQ16")
    args = parser.parse_args(argv)
    if args.subset < 2:
        raise PipelineError(f"-subset must be at least 2 images, not {args.subset}")

    ids, features, _ = load_features(args.features)
    embedding = read_embedding(args.embedding).set_index("id") if args.embedding else None
    grid, cols, rows = read_grid(args.grid)
    grid = grid.set_index("id")
    missing = [key for key in ids if key not in grid.index or (embedding is not None and key not in embedding.index)]
    if missing:
        raise PipelineError(f"{len(missing)} ids of the features are missing from the grid or embedding, "
                            f"e.g. {missing[:3]}")
    subjects_by_id = None
    if args.subjects:
        table = read_table(args.subjects, ["id", "subject"])
        table = table[table["subject"].str.strip() != ""]
        subjects_by_id = {}
        for key, subject in zip(table["id"], table["subject"].str.strip(), strict=True):  # groupby.apply: 30 s
            subjects_by_id.setdefault(key, set()).add(subject)
    print(f"quality: measuring {len(ids)} images", file=sys.stderr)
    points = None if embedding is None else embedding.loc[ids, ["x", "y"]].to_numpy()
    placed = grid.loc[ids, "placed"].to_numpy() if "placed" in grid else None
    result = measure(ids, features, points, grid.loc[ids, ["col", "row"]].to_numpy(), subjects_by_id,
                     subset=args.subset, queries=args.queries, seed=args.seed, progress=True, placed=placed,
                     threads=args.jobs)
    result["grid_size"] = f"{cols}x{rows}"
    with atomic_path(args.output) as temp:
        temp.write_text(json.dumps(result, indent=1))
    by_embedding = result["knn10_preservation"]["embedding"]
    print(f"quality: DPQ16 {result['dpq16']['value']:.3f}, 10-NN kept by the grid "
          f"{result['knn10_preservation']['grid']:.3f}"
          + (f", by the embedding {by_embedding:.3f}" if by_embedding is not None else ""), file=sys.stderr)
    if "additions" in result:
        latest, fresh = result["additions"]["latest"], result["additions"]["fresh_layout"]
        share = "share_of_10_grid_neighbours_with_a_shared_subject"
        print(f"quality: the latest addition's {latest['images']} pictures keep 10-NN "
              f"{latest['knn10_preservation_grid']:.3f} (the fresh layout's {fresh['knn10_preservation_grid']:.3f})"
              + (f", share a subject with {latest[share]:.3f} of their neighbours ({fresh[share]:.3f})"
                 if share in latest and share in fresh else "")
              + f"; {result['additions']['share_of_images_placed_by_additions']:.1%} of the layout placed by "
              f"{result['additions']['since_fresh']} addition(s) since it was laid out fresh", file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
