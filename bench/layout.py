"""Layout benchmark: t-SNE and each grid method on realistic and on large clustered data.

For each data set: openTSNE (the embedding stage) and each grid method (lap and rasterfairy on the
t-SNE points, flas on the features), each in its own process for a clean peak-memory figure (max RSS), then the
layout measures of scripts/quality.py (DPQ16, exact over all pairs up to 15,000 images and the mean over 3
random subsets of 15,000 above; 10-NN kept by the grid and of the t-SNE neighbours).

Data sets:
- ``amnh``: the pipeline's own features of the 1,500 AMNH sample thumbnails (real photographs),
  computed with the default feature settings (cached under /tmp between runs).
- ``clustered-N``: N points in 256-D drawn around 60 centres of random spread (a stand-in for a large
  collection's PCA features), seed 0 (``--data-seed``: another draw of centres, spreads and points).

    python bench/layout.py [--sizes 13000 50000] [--no-amnh] [--methods default exact] [--data-seed 1]
"""
from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

import embedding
import grid
import quality
from common import auto_grid_size
from images import find_images

ROOT = Path(__file__).resolve().parent.parent


SAMPLE = ROOT.parent / "shared" / "data" / "amnh-sample" / "sample.zip"
CACHE = Path(tempfile.gettempdir()) / "bench-layout-amnh.npy"


def amnh_features() -> np.ndarray:
    if CACHE.exists():
        return np.load(CACHE)
    folder = Path(tempfile.mkdtemp(prefix="amnh-"))
    with zipfile.ZipFile(SAMPLE) as archive:
        archive.extractall(folder)
    # Imported here, not at the top: every timed child process imports this module, and the
    # extractor's PyTorch would add to each one's memory.
    import extract
    import features
    from backbones import build_backbone

    model = build_backbone("efficientnet-lite0", threads=2, precision="auto")
    _, raw, _, _ = extract.extract(find_images(str(folder / "*.jpg")), model, crops=(0.8,))
    reduced, _ = features.reduce_dimensions(raw, 256, normalize=True)
    np.save(CACHE, reduced)
    return reduced


def clustered(count: int, dims: int = 256, centres: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    middles = rng.normal(0, 1, (centres, dims))
    spreads = rng.uniform(0.2, 0.6, centres)
    labels = rng.integers(0, centres, count)
    return (middles[labels] + rng.normal(0, 1, (count, dims)) * spreads[labels, None]).astype(np.float32)


def exact_assignment(points: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """One optimal assignment of all points to all cells (scipy; lap.lapjv stalls on 13,000 cells)."""
    from scipy.optimize import linear_sum_assignment

    scaled = grid.scale_to_grid(np.asarray(points, dtype=float), cols, rows)
    centres = np.stack(np.meshgrid(np.arange(cols) + 0.5, np.arange(rows) + 0.5), axis=-1).reshape(-1, 2)
    cost = ((scaled[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    _, cell = linear_sum_assignment(cost)
    return np.column_stack([cell % cols, cell // cols])


def lap_with_swaps(points: np.ndarray, vectors: np.ndarray, cols: int, rows: int, block: int) -> np.ndarray:
    """The grid stage's default: the partitioned assignment, then the swap refinement on the features."""
    return grid.swap_refine(vectors, grid.assign_to_grid(points, cols, rows, block), cols, rows)


def _peak_rss_mb() -> float:
    """This process's own high-water resident memory (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _child(queue, function, args):
    started = time.perf_counter()
    result = function(*args)
    queue.put((result, time.perf_counter() - started, _peak_rss_mb()))


def timed(function, *args):
    """Run function(*args) in a fresh process; return (result, seconds, peak RSS in MB).

    A spawned (not forked) process: forking after OpenMP threads have started can hang the child.
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, function, args))
    process.start()
    outcome = queue.get()
    process.join()
    return outcome


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[13000])
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the clustered data sets")
    parser.add_argument("--no-amnh", action="store_true")
    parser.add_argument("--engines", nargs="*", default=[], choices=["umap", "multicore-tsne"],
                        help="embedding engines to time beside openTSNE (grids are made from openTSNE's layout)")
    parser.add_argument("--block", type=int, default=grid.DEFAULT_BLOCK)
    parser.add_argument("--methods", nargs="*", default=[],
                        help="only the grid rows whose name contains one of these words (e.g. default flas)")
    parser.add_argument("--exact-max", type=int, default=2000,
                        help="also time one exact (unsplit) assignment up to this many images")
    args = parser.parse_args()
    sets = ([] if args.no_amnh else [("amnh (1,500 real)", amnh_features())])
    sets += [(f"clustered-{n}" + (f" (data seed {args.data_seed})" if args.data_seed else ""),
              clustered(n, seed=args.data_seed)) for n in args.sizes]
    print("| data | step | seconds | peak RSS MB | DPQ16 | 10-NN kept | 10 t-SNE neighbours kept |\n"
          "|---|---|---|---|---|---|---|")
    for name, vectors in sets:
        cols, rows = auto_grid_size(len(vectors))
        points, seconds, peak = timed(embedding.embed, vectors, 30.0, "auto", 750, 2, 42)
        queries = np.sort(np.random.default_rng(0).choice(len(vectors), min(len(vectors), 5000), replace=False))
        print(f"| {name} | openTSNE | {seconds:.1f} | {peak:.0f} | | "
              f"{quality.knn_preservation(vectors, points, 10, queries):.3f} | |", flush=True)
        for engine in args.engines:
            if engine == "umap":
                other, seconds, peak = timed(embedding.embed_umap, vectors, 15, 0.1, 42)
            else:  # the original's settings: angle 0.1, learning rate 150, 1,000 iterations
                other, seconds, peak = timed(embedding.embed_multicore, vectors, 30.0, 150.0, 0.1, 1000, 2, 42)
            print(f"| {name} | {engine} | {seconds:.1f} | {peak:.0f} | | "
                  f"{quality.knn_preservation(vectors, other, 10, queries):.3f} | |", flush=True)
        methods = [("grid lap + swaps (the default)", lap_with_swaps, (points, vectors, cols, rows, args.block)),
                   ("grid lap without swaps (swap_radius 0)", grid.assign_to_grid, (points, cols, rows, args.block)),
                   ("grid flas", grid.sort_with_flas, (vectors, cols, rows, 0)),
                   ("grid rasterfairy", grid.sort_with_rasterfairy, (points, cols, rows))]
        if len(vectors) <= args.exact_max:
            methods.append(("grid exact assignment (unsplit, scipy)", exact_assignment, (points, cols, rows)))
        for method, function, arguments in methods:
            if args.methods and not any(word in method for word in args.methods):
                continue
            cells, seconds, peak = timed(function, *arguments)
            dpq16, _ = quality.collection_dpq(vectors, cells)
            kept = quality.knn_preservation(vectors, cells, 10, queries, jitter=0.01)
            kept_tsne = quality.knn_preservation(points, cells, 10, queries, jitter=0.01)
            print(f"| {name} ({cols}x{rows}) | {method} | {seconds:.1f} | {peak:.0f} | {dpq16:.4f} | {kept:.3f} | "
                  f"{kept_tsne:.3f} |", flush=True)


if __name__ == "__main__":
    main()
