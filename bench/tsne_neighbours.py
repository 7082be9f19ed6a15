"""t-SNE's neighbour search at scale: what fewer dimensions or another index would save, and what it costs.

openTSNE's affinities need each point's 3 x perplexity (90) nearest neighbours; at a million points that
search is the longest part of t-SNE on 2 cores. This times openTSNE's own affinity computation
(PerplexityBasedNN, perplexity 30, 2 threads) on the features of a scale-benchmark collection with
Annoy (openTSNE's choice) on all 256 principal components, Annoy on the first 50, and pynndescent on
all 256, and reports for 2,000 random points the share of their exact 90 nearest neighbours (all 256
dimensions) among the 90 that t-SNE then uses.

    python bench/tsne_neighbours.py [--features /tmp/scale/100000/results/scale100000/features.npz]
"""
import argparse
import time

import numpy as np

from neighbours import nearest_neighbours  # scripts/
from tables import load_features  # scripts/

K = 90  # 3 x perplexity 30


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", default="/tmp/scale/100000/results/scale100000/features.npz",
                        help="features.npz of a build (bench/scale.py makes one)")
    parser.add_argument("--probes", type=int, default=2000)
    args = parser.parse_args()
    from openTSNE.affinity import PerplexityBasedNN

    _, vectors, _ = load_features(args.features)
    vectors = vectors.astype(np.float64)
    probes = np.random.default_rng(0).choice(len(vectors), args.probes, replace=False)
    exact = nearest_neighbours(vectors.astype(np.float32), probes, K)
    print(f"{len(vectors):,} points x {vectors.shape[1]}; {args.probes} probes\n")
    print("| neighbour search | dimensions | seconds | exact 90 nearest among those used |\n|---|---|---|---|")
    for method, dimensions in (("annoy", vectors.shape[1]), ("annoy", 50), ("pynndescent", vectors.shape[1])):
        started = time.perf_counter()
        affinities = PerplexityBasedNN(np.ascontiguousarray(vectors[:, :dimensions]), perplexity=30, method=method,
                                       n_jobs=2, random_state=42)
        seconds = time.perf_counter() - started
        used = affinities.P.tocsr()
        share = np.mean([len(set(used[point].indices) & set(exact[k])) / K for k, point in enumerate(probes)])
        print(f"| {method} | {dimensions} | {seconds:.1f} | {share:.3f} |", flush=True)


if __name__ == "__main__":
    main()
