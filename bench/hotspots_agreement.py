"""Hotspots on the sample photographs: how well each clustering agrees with the library's subjects.

The 1,500 photographs of ../shared/data/amnh-sample are built by the workflow up to the grid (features,
t-SNE, grid, metadata; kept in --workdir). Then each method makes clusters and is scored by the share of
each cluster's members that share its most common subject (weighted by size; the issue's measure), the
share of pictures in a cluster at all (HDBSCAN leaves "noise" out), and how often a picture's grid
neighbour is in its cluster (1: every cluster one patch of the mosaic). k-means and Ward get the number
of clusters the hotspots stage uses; HDBSCAN finds its own number.

    python bench/hotspots_agreement.py [--workdir /tmp/hotspots-bench] [--counts 12 24 36]
"""
import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots import grid_clusters, read_subjects  # scripts/
from machine import describe_machine  # bench/machine.py
from plan_time import snakemake  # bench/plan_time.py
from scale import SAMPLE, sample_vectors  # bench/scale.py
from tables import load_features, read_embedding, read_grid


def build(work: Path) -> Path:
    """The sample built up to its grid and metadata; returns its results folder."""
    sample_vectors(work)  # unpacks the thumbnails and writes the config
    results = work / "sample" / "results" / "sample"
    snakemake(work / "sample", work / "sample" / "config.yaml", str(results.relative_to(work / "sample") / "grid.csv"),
              str(results.relative_to(work / "sample") / "subjects.csv"), "--quiet", "rules", capture=False)
    return results


def scores(labels: np.ndarray, ids: list[str], cols_rows: np.ndarray, subjects: dict) -> tuple:
    """(clusters, subject agreement, coverage, grid contiguity) of cluster labels (-1: in no cluster)."""
    shares, sizes = [], []
    for number in sorted(set(labels.tolist()) - {-1}):
        members = np.flatnonzero(labels == number)
        counts = pd.Series([s for i in members for s in subjects.get(ids[i], ())]).value_counts()
        shares.append(counts.iloc[0] / len(members) if len(counts) else 0.0)
        sizes.append(len(members))
    shares, sizes = np.array(shares), np.array(sizes)
    cell = {(int(c), int(r)): i for i, (c, r) in enumerate(cols_rows)}
    same = total = 0
    for (c, r), i in cell.items():
        for neighbour in ((c + 1, r), (c, r + 1), (c - 1, r), (c, r - 1)):
            j = cell.get(neighbour)
            if j is not None and labels[i] != -1:
                total += 1
                same += labels[i] == labels[j]
    return len(sizes), float((shares * sizes).sum() / sizes.sum()), float((labels != -1).mean()), same / total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hotspots-bench"))
    parser.add_argument("--counts", type=int, nargs="+", default=[12, 24, 36])
    args = parser.parse_args()
    if not (SAMPLE / "sample.zip").is_file():
        raise SystemExit(f"the sample is needed: {SAMPLE / 'sample.zip'}")
    results = build(args.workdir)
    ids, vectors, _ = load_features(results / "features.npz")
    grid = read_grid(results / "grid.csv")[0].set_index("id").loc[ids]
    cols_rows = grid[["col", "row"]].to_numpy()
    embedding = read_embedding(results / "embedding.csv").set_index("id").loc[ids][["x", "y"]].to_numpy()
    subjects = read_subjects(results / "subjects.csv")
    from sklearn.cluster import HDBSCAN, KMeans

    print(f"{describe_machine()}; {len(ids)} sample photographs on a {cols_rows[:, 0].max() + 1}x"
          f"{cols_rows[:, 1].max() + 1} grid")
    print("| method | clusters | subject agreement | pictures in a cluster | grid contiguity | time |")
    print("|---|---|---|---|---|---|")
    for count in args.counts:
        for name, cluster in (
                ("Ward on the features, grid-connected (the stage)",
                 lambda k=count: grid_clusters(vectors, cols_rows, k)),
                ("k-means on the features", lambda k=count: KMeans(k, n_init=4, random_state=0).fit_predict(vectors)),
                ("k-means on the t-SNE map",
                 lambda k=count: KMeans(k, n_init=4, random_state=0).fit_predict(embedding))):
            started = time.perf_counter()
            labels = cluster()
            seconds = time.perf_counter() - started
            found, agreement, coverage, contiguity = scores(labels, ids, cols_rows, subjects)
            print(f"| {name}, k={count} | {found} | {agreement:.3f} | {coverage:.2f} | {contiguity:.2f} | "
                  f"{seconds:.2f} s |")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for data_name, data in (("the features", vectors), ("the t-SNE map", embedding)):
            for size in (10, 20):
                started = time.perf_counter()
                labels = HDBSCAN(min_cluster_size=size).fit_predict(data)
                seconds = time.perf_counter() - started
                found, agreement, coverage, contiguity = scores(labels, ids, cols_rows, subjects)
                print(f"| HDBSCAN on {data_name}, min_cluster_size={size} | {found} | {agreement:.3f} | "
                      f"{coverage:.2f} | {contiguity:.2f} | {seconds:.2f} s |")


if __name__ == "__main__":
    main()
