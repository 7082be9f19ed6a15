"""Feature extraction speed: the original's loop against the pipeline's, with the model's own ceiling.

- original loop: the 2019 script's way, one image at a time: decode, resize, predict a batch of one,
  in float32.
- pipeline: extract.extract as the workflow runs it (batches, decoding on a thread pool overlapped
  with inference), for each runtime and precision: PyTorch float32 and bfloat16, OpenVINO float32 and
  OpenVINO's own choice (the default, `precision: auto`).
- ceiling: the same model, runtime and precision on pixels already decoded in memory (no reading or
  decoding at all), the most any loader could reach.

All runs read the same views (the whole image plus a centred 0.8 crop, as the default config does)
so that they do the same work. For each run's vectors the subject-neighbour score is printed too
(share of each image's 10 nearest neighbours, after L2 and PCA-256, sharing a library subject), to
show that the faster arithmetic does not cost layout quality.

Then, because this shared machine's speed drifts by up to 20% within a minute, the default setting's
pipeline and ceiling are run again, alternating, `--rounds` times each, and the median of the rounds'
ratios is reported, so that a slow patch of the machine cannot fall on one side only.

Images: the first N thumbnails of ../shared/data/amnh-sample/sample.zip (sorted by id).

    python bench/features_speed.py [--count 512] [--model efficientnet-lite0] [--rounds 7]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

import decoding
import extract
import features
from backbones import build_backbone
from images import find_images

ROOT = Path(__file__).resolve().parent.parent


SAMPLE = ROOT.parent / "shared" / "data" / "amnh-sample"


def sample_images(count: int) -> dict[str, str]:
    target = Path(tempfile.mkdtemp(prefix="amnh-"))
    with zipfile.ZipFile(SAMPLE / "sample.zip") as archive:
        for name in sorted(n for n in archive.namelist() if n.endswith(".jpg"))[:count]:
            archive.extract(name, target)
    return find_images(str(target / "*.jpg"))


def subject_score(ids: list[str], vectors: np.ndarray, k: int = 10) -> float:
    """Mean share of each image's k nearest neighbours (L2-normalised, PCA-256) sharing a subject."""
    subjects = pd.read_csv(SAMPLE / "subjects.csv", dtype=str, keep_default_na=False).drop_duplicates()
    by_id = subjects.groupby("id")["subject"].apply(set).to_dict()
    reduced, _ = features.reduce_dimensions(vectors, 256, normalize=True)
    distances = ((reduced[:, None, :] - reduced[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(distances, np.inf)
    neighbours = np.argsort(distances, axis=1)[:, :k]
    shares = [np.mean([bool(by_id.get(ids[i], set()) & by_id.get(ids[j], set())) for j in row])
              for i, row in enumerate(neighbours) if by_id.get(ids[i])]
    return float(np.mean(shares))


def original_loop(images: dict[str, str], model, crops) -> tuple[float, list, np.ndarray]:
    """The original's loop: read one image, predict it (its views), next image."""
    started = time.perf_counter()
    vectors = [model.predict(decoding.decode_rgb(Path(p).read_bytes(), model.input_size, crops)).mean(axis=0)
               for p in images.values()]
    return time.perf_counter() - started, list(images), np.stack(vectors)


def pipeline(images: dict[str, str], model, crops, batch: int, threads: int):
    started = time.perf_counter()
    ids, vectors, _, _ = extract.extract(images, model, batch, threads, crops=crops, progress=False)
    return time.perf_counter() - started, ids, vectors


def ceiling(images: dict[str, str], model, crops, batch: int):
    """Inference alone on preloaded pixels, in the pipeline's batch size."""
    pixels = np.stack([decoding.decode_rgb(Path(p).read_bytes(), model.input_size, crops) for p in images.values()])
    views = pixels.shape[1]
    flat = pixels.reshape(-1, *pixels.shape[2:])
    started = time.perf_counter()
    out = np.concatenate([model.predict(flat[i:i + batch * views]) for i in range(0, len(flat), batch * views)])
    return time.perf_counter() - started, list(images), out.reshape(len(images), views, -1).mean(axis=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=512)
    parser.add_argument("--model", default="efficientnet-lite0")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--decoders", type=int, default=None, help="decoding threads (default: as the workflow picks)")
    parser.add_argument("--crops", type=float, nargs="*", default=[0.8])
    parser.add_argument("--rounds", type=int, default=7, help="alternating pipeline/ceiling rounds of the default")
    args = parser.parse_args()

    images = sample_images(args.count)
    decoders = args.decoders or max(1, args.threads // 4)
    crops = tuple(args.crops)
    settings = [("torch", "float32"), ("torch", "bfloat16"), ("openvino", "float32"), ("openvino", "auto")]
    models = {setting: build_backbone(args.model, threads=args.threads, runtime=setting[0], precision=setting[1])
              for setting in settings}
    for model in models.values():  # first calls allocate buffers and pick kernels
        model.predict(np.zeros((args.batch, *model.input_size[::-1], 3), np.uint8))
    runs = [("original loop: one image at a time, PyTorch float32", original_loop(images, models[settings[0]], crops))]
    for (runtime, precision), model in models.items():
        label = f"{runtime} {model.description['precision']}" + (" (auto, the default)" if precision == "auto" else "")
        runs.append((f"pipeline: batches of {args.batch}, {decoders} decoding thread(s), {label}",
                     pipeline(images, model, crops, args.batch, decoders)))
        runs.append((f"ceiling: {label} on preloaded pixels", ceiling(images, model, crops, args.batch)))
    count = len(images)
    print(f"{count} images, {args.model}, views: whole image + centre crops {list(crops)}, "
          f"{args.threads} model threads\n")
    print("| run | seconds | images/s | vs original loop | subject-neighbour score |\n|---|---|---|---|---|")
    original = runs[0][1][0]
    for name, (seconds, ids, vectors) in runs:
        print(f"| {name} | {seconds:.1f} | {count / seconds:.1f} | {original / seconds:.2f}x | "
              f"{subject_score(ids, vectors):.3f} |")
    print()
    for (name, (pipe, _, _)), (_, (top, _, _)) in zip(runs[1::2], runs[2::2], strict=True):
        print(f"{name.split(', ', 1)[1]}: pipeline at {100 * top / pipe:.0f}% of the ceiling")
    default = models[("openvino", "auto")]
    rounds = [(count / pipeline(images, default, crops, args.batch, decoders)[0], count / ceiling(images, default,
                                                                                                  crops, args.batch)[0])
              for _ in range(args.rounds)]
    piped, top = np.array(rounds).T
    print(f"\nDefault setting, {args.rounds} alternating rounds (images/s): pipeline "
          f"{' '.join(f'{v:.0f}' for v in piped)}; ceiling {' '.join(f'{v:.0f}' for v in top)}")
    ratios = 100 * piped / top
    print(f"pipeline at {np.median(ratios):.0f}% of the ceiling (median of the rounds; "
          f"{ratios.min():.0f}-{ratios.max():.0f}%)")

if __name__ == "__main__":
    main()
