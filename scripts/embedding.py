"""Stage 2, embedding: the PCA features laid out in 2-D.

Engines (``--method``):
- ``opentsne`` (default): t-SNE by openTSNE. It replaces the original's MulticoreTSNE: it is maintained,
  installs from wheels and its FFT-accelerated gradients are several times faster at collection sizes.
- ``umap``: UMAP (umap-learn), which keeps more of the global structure; single-threaded when seeded,
  so that a fixed seed gives the same layout.
- ``multicore-tsne``: the original's engine, MulticoreTSNE (built by envs/install-multicoretsne.sh),
  with its options (angle 0.1 and learning rate 150 in the original). Two fixes make it dependable:
  libgomp is loaded before it (without that it can crash at interpreter exit with 2+ jobs, after
  returning correct results), and the C library's random generator is seeded, which its tree
  construction uses unseeded, so that a fixed seed gives the same layout.

Output: ``id,x,y``.

Large collections (``--sample``, openTSNE only): t-SNE runs on a random sample of the images and every other
image is placed at the mean of its 10 nearest sampled images' positions, weighted by the inverse squared
distance (``place_among``, in chunks with a progress bar). ``auto`` embeds every image below
``SAMPLE_FROM`` and a tenth of them from there (25,000 to 100,000): at 100,000 images the sample of 25,000
took half the CPU time of the whole t-SNE (334 s against 725 s) and the grid made from it had a higher DPQ16
(0.815 against 0.790) and subject share (0.894 against 0.870), with a slightly lower 10-NN kept (0.244 against
0.266): the grid's swaps sort near pictures by their features; at a million the whole t-SNE takes hours on 2 cores.

Iterations ``auto`` pick themselves by collection size (``iterations_for``): 750 below
``FEWER_ITERATIONS_FROM`` images, openTSNE's own default of 500 from there. Each iteration's cost grows
with N (about 3 s at a million on 2 cores), and the clusters form in the early-exaggeration phase
that comes first either way; the last 250 only sharpen them.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
from tqdm import tqdm

from common import PipelineError, atomic_path, run_cli
from tables import load_features

FEWER_ITERATIONS_FROM = 200_000  # images; iterations "auto" drops from 750 to 500 here
SAMPLE_FROM = 50_000  # images; sample "auto" embeds a sample from here and places the rest
SAMPLE_SHARE, SAMPLE_MIN, SAMPLE_MAX = 0.1, 25_000, 100_000  # "auto": a tenth, within these bounds
PLACE_NEIGHBOURS = 10  # sampled images that place each other image
PLACE_CHUNK = 50_000  # images placed at once (bounds the affinities held in memory)


def iterations_for(count: int, iterations="auto") -> int:
    """The t-SNE iterations to run for `count` images: a number as given, or "auto" by size."""
    if iterations != "auto":
        return int(iterations)
    return 750 if count < FEWER_ITERATIONS_FROM else 500


def sample_size_for(count: int, sample="auto") -> int:
    """How many of `count` images t-SNE embeds: a number as given (all when larger), "all", or "auto" by size."""
    if sample == "all":
        return count
    if sample != "auto":
        return min(count, int(sample))
    if count < SAMPLE_FROM:
        return count
    return min(count, max(SAMPLE_MIN, min(SAMPLE_MAX, int(count * SAMPLE_SHARE))))


def parse_sample(text: str):
    """--sample: auto, all, or a whole number of images (at least 11)."""
    if text in ("auto", "all"):
        return text
    if not text.isdigit() or int(text) <= PLACE_NEIGHBOURS:
        raise argparse.ArgumentTypeError(f"expected auto, all or a number of images above {PLACE_NEIGHBOURS}, "
                                         f"not {text!r}")
    return int(text)


def embed_umap(features: np.ndarray, neighbours: int = 15, min_dist: float = 0.1, random_state: int = 42,
               verbose: bool = False) -> np.ndarray:
    """2-D UMAP of `features`; the same random_state gives the same layout on every run."""
    import umap

    count = len(features)
    if count < 4:
        raise PipelineError(f"UMAP needs at least 4 images, got {count}")
    reducer = umap.UMAP(n_components=2, n_neighbors=min(neighbours, count - 1), min_dist=min_dist,
                        random_state=random_state, n_jobs=1, verbose=verbose)
    return np.asarray(reducer.fit_transform(features.astype(np.float32)), dtype=np.float64)


def embed_multicore(features: np.ndarray, perplexity: float = 30.0, learning_rate: float = 200.0, angle: float = 0.5,
                    n_iter: int = 1000, jobs: int = 2, random_state: int = 42, verbose: bool = False) -> np.ndarray:
    """2-D t-SNE by MulticoreTSNE, made reproducible; see the module docstring for the two fixes."""
    import ctypes
    import ctypes.util

    for library in ("libgomp.so.1", ctypes.util.find_library("gomp")):
        if library:
            try:
                ctypes.CDLL(library, mode=ctypes.RTLD_GLOBAL)
                break
            except OSError:
                continue
    try:
        from MulticoreTSNE import MulticoreTSNE
    except ImportError:
        raise PipelineError("embedding method multicore-tsne needs MulticoreTSNE: "
                            "run `bash envs/install-multicoretsne.sh .venv/bin/python` (make setup does)") from None
    count = len(features)
    if count < 4:
        raise PipelineError(f"t-SNE needs at least 4 images, got {count}")
    ctypes.CDLL(None).srand(random_state)
    tsne = MulticoreTSNE(n_components=2, perplexity=min(perplexity, (count - 1) / 3), learning_rate=learning_rate,
                         angle=angle, n_iter=n_iter, n_jobs=jobs, random_state=random_state, verbose=int(verbose))
    return np.asarray(tsne.fit_transform(np.ascontiguousarray(features, dtype=np.float64)))


def embed(features: np.ndarray, perplexity: float = 30.0, learning_rate="auto", n_iter: int = 750,
          jobs: int = 2, random_state: int = 42, verbose: bool = False, sample: int | None = None) -> np.ndarray:
    """2-D t-SNE of `features`; the same random_state gives the same layout on every run.

    Perplexity is capped below a third of the number of points, which t-SNE needs to be defined. With
    `sample` smaller than the number of points, t-SNE embeds that many, drawn with random_state, and the
    others are placed among them (see the module docstring).
    """
    from openTSNE import TSNE

    count = len(features)
    if count < 4:
        raise PipelineError(f"t-SNE needs at least 4 images, got {count}")
    sample = count if sample is None or sample >= count else sample
    if sample < count and sample <= PLACE_NEIGHBOURS:  # the others are placed among this many
        raise PipelineError(f"a t-SNE sample needs at least {PLACE_NEIGHBOURS + 1} images, got {sample}")
    chosen = np.sort(np.random.default_rng(random_state).choice(count, sample, replace=False)) \
        if sample < count else np.arange(count)
    tsne = TSNE(
        n_components=2,
        perplexity=min(perplexity, (sample - 1) / 3),
        learning_rate=learning_rate,
        n_iter=n_iter,
        n_jobs=jobs,
        random_state=random_state,
        verbose=verbose,
    )
    embedded = tsne.fit(features[chosen].astype(np.float64))
    points = np.empty((count, 2))
    points[chosen] = np.asarray(embedded)
    rest = np.setdiff1d(np.arange(count), chosen)
    with tqdm(total=len(rest), unit="img", desc="placing", disable=not verbose or not len(rest),
              mininterval=1.0, file=sys.stderr) as progress:
        for start in range(0, len(rest), PLACE_CHUNK):
            part = rest[start:start + PLACE_CHUNK]
            points[part] = place_among(embedded, features[part])
            progress.update(len(part))
    return points


def place_among(embedded, features: np.ndarray) -> np.ndarray:
    """Positions for `features` among the embedded points: the mean of their PLACE_NEIGHBOURS nearest embedded
    points' positions (openTSNE's own index of them), weighted by the inverse squared feature distance, so a
    picture nearly the same as one embedded sits on it. (openTSNE's "weighted" initialisation weighs the
    neighbours by their distance itself, the farthest most; its "median" puts many pictures on one spot.)"""
    neighbours, distances = embedded.affinities.knn_index.query(features.astype(np.float64), PLACE_NEIGHBOURS)
    weights = 1.0 / np.maximum(np.asarray(distances, dtype=np.float64) ** 2, 1e-12)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("nk,nkd->nd", weights, np.asarray(embedded)[neighbours])


def save_embedding(path, ids: list[str], points: np.ndarray) -> None:
    with atomic_path(path) as temp:
        pd.DataFrame({"id": ids, "x": points[:, 0], "y": points[:, 1]}).to_csv(temp, index=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in", "-in", dest="input", required=True, help="features .npz")
    parser.add_argument("--out", "-out", dest="output", required=True, help="embedding CSV (id,x,y) to write")
    parser.add_argument("--method", "-method", choices=("opentsne", "umap", "multicore-tsne"), default="opentsne")
    parser.add_argument("--angle", "-angle", type=float, default=0.5,
                        help="Barnes-Hut angle of multicore-tsne (original: 0.1)")
    parser.add_argument("--perplexity", "-perplexity", type=float, default=30.0, help="t-SNE perplexity")
    parser.add_argument("--neighbours", "-neighbours", type=int, default=15, help="UMAP n_neighbors")
    parser.add_argument("--min-dist", "-min-dist", dest="min_dist", type=float, default=0.1, help="UMAP min_dist")
    parser.add_argument("--learning-rate", "-rate", dest="rate", default="auto",
                        help="learning rate: a number or 'auto' (N/12)")
    parser.add_argument("--iterations", "-iter", dest="n_iter", default="auto",
                        help=f"optimisation iterations, or auto (750; 500 from {FEWER_ITERATIONS_FROM:,} images)")
    parser.add_argument("--sample", type=parse_sample, default="auto",
                        help=f"opentsne: images t-SNE embeds (the rest are placed among them), all, or auto "
                             f"(all below {SAMPLE_FROM:,}, then a tenth within {SAMPLE_MIN:,}-{SAMPLE_MAX:,})")
    parser.add_argument("--jobs", "-jobs", type=int, default=2, help="threads")
    parser.add_argument("--seed", "-seed", type=int, default=42, help="random_state")
    args = parser.parse_args(argv)

    ids, features, _ = load_features(args.input)
    rate = args.rate if args.rate == "auto" else float(args.rate)
    sample = sample_size_for(len(ids), args.sample) if args.method == "opentsne" else len(ids)
    n_iter = iterations_for(sample, args.n_iter)
    print(f"embedding: {args.method} of {len(ids)} x {features.shape[1]} with {args.jobs} jobs"
          + ("" if args.method == "umap" else f", {n_iter} iterations")
          + (f"; t-SNE of a sample of {sample}, the other {len(ids) - sample} placed among them"
             if sample < len(ids) else ""), file=sys.stderr)
    if args.method == "umap":
        points = embed_umap(features, args.neighbours, args.min_dist, args.seed, verbose=True)
    elif args.method == "multicore-tsne":
        points = embed_multicore(features, args.perplexity, 200.0 if rate == "auto" else rate, args.angle,
                                 n_iter, args.jobs, args.seed, verbose=True)
    else:
        points = embed(features, args.perplexity, rate, n_iter, args.jobs, args.seed, verbose=True, sample=sample)
    save_embedding(args.output, ids, points)
    print(f"embedding: wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
