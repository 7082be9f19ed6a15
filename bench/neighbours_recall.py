"""Recall of the approximate neighbour search (pynndescent) against the exact one, and both their times.

Two sets of N vectors (default 100,000): `real+noise`, the real PCA-256 features of the sample's 1,500
photographs (from a build's features.npz, e.g. bench/rule_resources.py's) each repeated with Gaussian
noise of the median distance between a photograph and its nearest other one, so that the set
keeps the photographs' structure; and `clusters`, a seeded mixture of 60 Gaussian clusters in 256-D.
Recall at k: the share of each image's exact k nearest that the approximate search also lists,
averaged over all images (and its 5th percentile). The approximate search is timed twice in one process:
the first includes numba's compilation of pynndescent (once per build), the second does not.

    python bench/neighbours_recall.py [--count 100000] [--features /tmp/plan-time/results/full13000/features.npz]
"""
import argparse
import time

import numpy as np

from machine import describe_machine  # bench/machine.py
from neighbours import approximate_neighbours, nearest_neighbours  # scripts/ (make setup puts it on the path)
from tables import load_features


def real_plus_noise(path: str, count: int, seed: int = 0) -> np.ndarray:
    _, vectors, _ = load_features(path)
    base = np.unique(vectors.astype(np.float32), axis=0)
    nearest = nearest_neighbours(base, np.arange(len(base)), 1)[:, 0]
    spacing = float(np.median(np.linalg.norm(base - base[nearest], axis=1)))
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(count, base.shape[1])).astype(np.float32)
    noise *= spacing / np.sqrt(base.shape[1])  # copies spread as far as a photograph's nearest other one
    return base[rng.integers(0, len(base), count)] + noise


def clusters(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(60, 256))
    return (centres[rng.integers(0, 60, count)] + 0.6 * rng.normal(size=(count, 256))).astype(np.float32)


def measure(name: str, points: np.ndarray, k: int, jobs: int) -> str:
    started = time.perf_counter()
    exact = nearest_neighbours(points, np.arange(len(points)), k)
    exact_s = time.perf_counter() - started
    times = []
    for _ in range(2):
        started = time.perf_counter()
        found = approximate_neighbours(points, k, seed=0, jobs=jobs)
        times.append(time.perf_counter() - started)
    hits = (found[:, :, None] == exact[:, None, :]).any(axis=2).sum(axis=1) / k
    return (f"| {name} | {len(points):,} | {exact_s:.1f} | {times[0]:.1f} | {times[1]:.1f} | {hits.mean():.4f} | "
            f"{np.percentile(hits, 5):.3f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--features", default="/tmp/plan-time/results/full13000/features.npz",
                        help="a build's features.npz with the sample's real vectors")
    args = parser.parse_args()
    rows = [measure("real+noise", real_plus_noise(args.features, args.count), args.k, args.jobs),
            measure("clusters", clusters(args.count), args.k, args.jobs)]
    print(f"\nMachine: {describe_machine()}, no GPU; k = {args.k}, {args.jobs} threads.\n")
    print("| vectors | N | exact s | approximate s (with compilation) | approximate s | recall at k | "
          "5th percentile |\n|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
