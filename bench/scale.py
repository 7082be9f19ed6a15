"""The whole workflow at N images (13,000, 100,000, 1,000,000): each rule's time and memory, the site's size,
and the viewer in headless Chromium.

The collection is made from the 1,500 real thumbnails of ../shared/data/amnh-sample/sample.zip: image i is
a hard link to one of them (no disk space) under a new id, its metadata that photograph's record (title,
date, links, subjects) under the new id, and its vector that photograph's real feature vector (the
workflow's default model, computed once by a build of the 1,500) plus Gaussian noise as large as the
median distance from a photograph to its nearest other one, so the layout has the real photographs'
structure. Then `snakemake --cores 2` with `features.embeddings` runs every other stage for real.

Everything stays in --workdir (default /tmp/scale/<N>): rerunning continues a build that was stopped
(Snakemake redoes only what is missing), so a run of hours can be resumed.

    python bench/scale.py --count 100000 [--workdir /tmp/scale] [--loads 3] [--no-viewer] [--annotated-manifest]

`--annotated-manifest` builds the site with `site.annotated_manifest: true` (its iiif/manifest-cells.json
too, for bench/iiif_clients.py); a run without it builds it without again.

`--extract` instead measures feature extraction with the default model on the same N images (the feature
cache off, since the collection repeats 1,500 pictures): the extract job's time and images per second.
"""
import argparse
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from machine import describe_machine  # bench/machine.py
from neighbours import nearest_neighbours  # scripts/
from plan_time import snakemake  # bench/plan_time.py
from rule_resources import job_figures  # bench/rule_resources.py
from tables import load_features  # scripts/
from viewer_perf import measure_site  # bench/viewer_perf.py

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT.parent / "shared" / "data" / "amnh-sample"


def sample_vectors(root: Path) -> tuple[list[Path], np.ndarray]:
    """The sample's thumbnails and their real feature vectors (a build of the 1,500, once)."""
    sample = root / "sample"
    thumbs = sample / "images"
    if not thumbs.is_dir():
        temp = sample / "images.tmp"
        temp.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(SAMPLE / "sample.zip") as archive:
            for name in sorted(n for n in archive.namelist() if n.lower().endswith(".jpg")):
                (temp / Path(name).name).write_bytes(archive.read(name))
        temp.rename(thumbs)
    config = sample / "config.yaml"
    config.write_text(yaml.safe_dump({
        "collection": {"name": "sample", "title": "Sample"}, "images": "images/*.jpg",
        "metadata": {"items": str(SAMPLE / "images.csv"), "subjects": str(SAMPLE / "subjects.csv")}}))
    snakemake(sample, config, "results/sample/features.npz", "--quiet", "rules", capture=False)
    ids, vectors, _ = load_features(sample / "results" / "sample" / "features.npz")
    return [thumbs / f"{key}.jpg" for key in ids], vectors.astype(np.float32)


def build_collection(work: Path, count: int, pictures: list[Path], vectors: np.ndarray) -> Path:
    """images/, vectors.npz, items.csv, subjects.csv and config.yaml of `count` images; returns the config."""
    config = work / "config.yaml"
    if config.exists():
        return config
    rng = np.random.default_rng(count)
    source = rng.integers(0, len(pictures), count)
    ids = [f"s{i:07d}" for i in range(count)]
    images = work / "images"
    temp = work / "images.tmp"
    temp.mkdir(parents=True, exist_ok=True)
    for key, picture in zip(ids, source, strict=True):
        target = temp / f"{key}.jpg"
        if not target.exists():
            os.link(pictures[picture], target)
    temp.rename(images)
    nearest = nearest_neighbours(vectors, np.arange(len(vectors)), 1)[:, 0]
    spacing = float(np.median(np.linalg.norm(vectors - vectors[nearest], axis=1)))
    noise = rng.normal(size=(count, vectors.shape[1])).astype(np.float32) * (spacing / np.sqrt(vectors.shape[1]))
    np.savez(work / "vectors.npz", ids=np.array(ids), features=vectors[source] + noise)
    records = pd.read_csv(SAMPLE / "images.csv", dtype=str, keep_default_na=False).drop_duplicates("id")
    records = records.set_index("id").reindex([p.stem for p in pictures]).reset_index()
    items = records.iloc[source].assign(id=ids)
    items.to_csv(work / "items.csv", index=False)
    subjects = pd.read_csv(SAMPLE / "subjects.csv", dtype=str, keep_default_na=False)
    by_picture = subjects.groupby("id")["subject"].apply(list).to_dict()
    rows = [(key, subject) for key, picture in zip(ids, source, strict=True)
            for subject in by_picture.get(pictures[picture].stem, [])]
    pd.DataFrame(rows, columns=["id", "subject"]).to_csv(work / "subjects.csv", index=False)
    config.write_text(yaml.safe_dump({
        "collection": {"name": f"scale{count}", "title": f"Scale benchmark ({count:,} images)"},
        "images": "images/*.jpg",
        "metadata": {"items": "items.csv", "subjects": "subjects.csv"},
        "features": {"embeddings": "vectors.npz"},
    }))
    return config


def set_annotated_manifest(config: Path, annotated: bool) -> None:
    """Set site.annotated_manifest in the collection's config (only a change makes Snakemake redo the site)."""
    settings = yaml.safe_load(config.read_text())
    if settings.get("site", {}).get("annotated_manifest", False) != annotated:
        settings.setdefault("site", {})["annotated_manifest"] = annotated
        config.write_text(yaml.safe_dump(settings))


def measure_extraction(work: Path, count: int) -> None:
    """The workflow's extraction of the collection's `count` images with the default model, cache off."""
    config = work / "config-extract.yaml"
    name = f"scale{count}-extract"
    config.write_text(yaml.safe_dump({
        "collection": {"name": name, "title": f"Extraction at {count:,}"}, "images": "images/*.jpg",
        "metadata": {"items": "items.csv", "subjects": "subjects.csv"}, "features": {"cache": None}}))
    seconds, _ = snakemake(work, config, f"results/{name}/features.npz", "--quiet", "rules", capture=False)
    print(f"\nMachine: {describe_machine()}, no GPU. {count:,} images through the default model "
          f"(`snakemake --cores 2`, 1 shard, feature cache off): {seconds:.0f} s to features.npz.\n")
    print("| job | wall s | images/s | peak RSS MB |\n|---|---|---|---|")
    for job, wall, rss, _ in job_figures(work / "results" / name / "benchmarks"):
        rate = f"{count / wall:.1f}" if job.startswith("extract") else ""
        print(f"| {job} | {wall:.1f} | {rate} | {rss:.0f} |")


def folder_size(folder: Path) -> tuple[int, int]:
    """Files (names) and bytes (each hard-linked file once: IIIF's names of the Deep Zoom tiles are links)."""
    stats = [path.stat() for path in folder.rglob("*") if path.is_file()]
    return len(stats), sum({(stat.st_dev, stat.st_ino): stat.st_size for stat in stats}.values())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=13000)
    parser.add_argument("--workdir", default="/tmp/scale", help="kept: a second run continues the first")
    parser.add_argument("--loads", type=int, default=3, help="page loads in the viewer's measurement")
    parser.add_argument("--no-viewer", action="store_true", help="leave out the viewer's measurement")
    parser.add_argument("--extract", action="store_true", help="measure feature extraction instead (cache off)")
    parser.add_argument("--annotated-manifest", action="store_true",
                        help="also write iiif/manifest-cells.json (site.annotated_manifest: true)")
    args = parser.parse_args()
    root = Path(args.workdir)
    work = root / str(args.count)
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    pictures, vectors = sample_vectors(root)
    config = build_collection(work, args.count, pictures, vectors)
    prepared = time.perf_counter() - started
    if args.extract:
        return measure_extraction(work, args.count)
    set_annotated_manifest(config, args.annotated_manifest)
    seconds, _ = snakemake(work, config, "--quiet", "rules", capture=False)
    out = work / "results" / f"scale{args.count}"
    print(f"\nMachine: {describe_machine()}, no GPU. {args.count:,} images, `snakemake --cores 2` with the vectors "
          f"given: {seconds:.0f} s in this run (making the collection: {prepared:.0f} s).\n")
    print("| job | wall s | peak RSS MB | peak PSS MB |\n|---|---|---|---|")
    for job, wall, rss, pss in job_figures(out / "benchmarks"):
        print(f"| {job} | {wall:.1f} | {rss:.0f} | {pss:.0f} |")
    files, size = folder_size(out / "site")
    data = {path.name: path.stat().st_size for path in (out / "site" / "data").iterdir()}
    print(f"\nSite: {files:,} files, {size / 1e6:.0f} MB (hard links once); data: "
          + ", ".join(f"{name} {bytes_ / 1e6:.1f} MB" for name, bytes_ in sorted(data.items())))
    if not args.no_viewer:
        print("\n" + "\n".join(measure_site(out / "site", args.loads, work / "perf.json")))


if __name__ == "__main__":
    main()
