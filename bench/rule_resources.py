"""Time and peak memory of every rule on a real 13,000-image build: the figures behind profiles/slurm.

The collection is bench/plan_time.py's (the first 13,000 ids of the library's images.csv, each a hard link
to one of the 1,500 real thumbnails in ../shared/data/amnh-sample), built here with the default settings
from nothing: the real CNN (EfficientNet-Lite0) in 2 extraction shards, the mosaic in 2 shards, an empty
feature cache. Per rule: wall time and peak memory from Snakemake's `benchmark:` files (max_rss and
max_pss of the job's process tree), and the memory a cluster job should ask for (peak x 1.5, rounded up
to 250 MB, at least 500 MB), printed as the profile's `set-resources` lines.

    python bench/rule_resources.py [--workdir /tmp/plan-time] [--count 13000]
"""
import argparse
import math
import shutil
from pathlib import Path

import pandas as pd
import yaml

from machine import describe_machine  # bench/machine.py
from plan_time import SAMPLE, build_collection, snakemake  # bench/plan_time.py

ROOT = Path(__file__).resolve().parent.parent


def ask_for(peak_mb: float) -> int:
    """Memory to request for a job that peaked at `peak_mb`: half again, in steps of 250 MB."""
    return max(500, math.ceil(peak_mb * 1.5 / 250) * 250)


def job_figures(benchmarks: Path) -> list[tuple[str, float, float, float]]:
    """(job, wall s, peak RSS MB, peak PSS MB) of each of a build's benchmark files, in the order they ran."""
    figures = []
    for path in sorted(benchmarks.glob("*.tsv"), key=lambda p: p.stat().st_mtime):
        row = pd.read_csv(path, sep="\t").iloc[0]
        figures.append((path.stem, float(row["s"]), float(row["max_rss"]), float(row["max_pss"])))
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="/tmp/plan-time", help="where the collection is built (kept)")
    parser.add_argument("--count", type=int, default=13000)
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    build_collection(work, args.count)  # the images (and the planning benchmark's own config)
    name = f"full{args.count}"
    config = {
        "collection": {"name": name, "title": "Resources benchmark"},
        "images": "images/*.jpg",
        "metadata": {"items": str(SAMPLE / "images.csv"), "subjects": str(SAMPLE / "subjects.csv")},
        "features": {"shards": 2, "cache": str(work / f"cache-{name}")},
        "mosaic": {"shards": 2},
    }
    (work / f"{name}.yaml").write_text(yaml.safe_dump(config))
    shutil.rmtree(work / "results" / name, ignore_errors=True)
    shutil.rmtree(work / f"cache-{name}", ignore_errors=True)
    total, _ = snakemake(work, work / f"{name}.yaml", "--quiet", "rules", capture=False)
    rows, resources = [], {}
    for job, seconds, rss, pss in job_figures(work / "results" / name / "benchmarks"):
        rule = job.split("-")[0]
        resources[rule] = max(resources.get(rule, 0), ask_for(max(rss, pss)))
        rows.append(f"| {job} | {seconds:.1f} | {rss:.0f} | {pss:.0f} |")
    print(f"\nMachine: {describe_machine()}, no GPU. `snakemake --cores 2` from nothing on {args.count:,} "
          f"images, in {total:.0f} s:\n")
    print("| job | wall s | peak RSS MB | peak PSS MB |\n|---|---|---|---|")
    print("\n".join(rows))
    print("\nset-resources for a cluster profile (peak x 1.5, in steps of 250 MB):")
    for rule, mem_mb in resources.items():
        print(f"  {rule}:\n    mem_mb: {mem_mb}")


if __name__ == "__main__":
    main()
