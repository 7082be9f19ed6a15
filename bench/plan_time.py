"""How long Snakemake takes to plan (`snakemake -n`) an up-to-date collection of 13,000 images.

Every cluster job parses the Snakefile again, so planning must stay cheap. The collection: the first
13,000 ids of the library's images.csv, each a hard link to one of the 1,500 real thumbnails of
../shared/data/amnh-sample/sample.zip (so it costs no disk space), with the library's metadata CSVs.
Its vectors are brought in (`features.embeddings`: seeded clusters in 32-D) so the one real build
needs no CNN; the rest of the workflow runs as it would for a user. Then `snakemake -n` is timed
`--repeat` times on the finished build; each must say there is nothing to be done.

    python bench/plan_time.py [--workdir /tmp/plan-time] [--count 13000] [--repeat 5]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from machine import describe_machine  # bench/machine.py

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT.parent / "shared" / "data" / "amnh-sample"


def build_collection(work: Path, count: int) -> Path:
    """images/, vectors.npz and config.yaml of `count` real ids; returns the config's path."""
    images = work / "images"
    if not images.is_dir():
        thumbs = work / "thumbs"
        thumbs.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(SAMPLE / "sample.zip") as archive:
            names = sorted(n for n in archive.namelist() if n.lower().endswith(".jpg"))
            for name in names:
                (thumbs / Path(name).name).write_bytes(archive.read(name))
        pictures = sorted(thumbs.iterdir())
        ids = list(dict.fromkeys(pd.read_csv(SAMPLE / "images.csv", dtype=str)["id"]))[:count]
        temp = work / "images.tmp"
        temp.mkdir(exist_ok=True)
        for position, key in enumerate(ids):
            os.link(pictures[position % len(pictures)], temp / f"{key}.jpg")
        temp.rename(images)
    ids = sorted(path.stem for path in images.iterdir())
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, 32))
    vectors = centres[rng.integers(0, 40, len(ids))] + 0.3 * rng.normal(size=(len(ids), 32))
    np.savez(work / "vectors.npz", ids=np.array(ids), features=vectors.astype(np.float32))
    config = {
        "collection": {"name": "plan13k", "title": "Planning benchmark"},
        "images": "images/*.jpg",
        "metadata": {"items": str(SAMPLE / "images.csv"), "subjects": str(SAMPLE / "subjects.csv")},
        "features": {"embeddings": "vectors.npz", "pca": 32},
        "embedding": {"iterations": 250},
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    return work / "config.yaml"


def snakemake(work: Path, config: Path, *args, capture: bool = True) -> tuple[float, str]:
    """Run the workflow as a user does (the venv's snakemake, in the collection's folder, 2 cores); return its
    wall time and, with `capture`, its output (else it goes to the terminal, for long runs' progress).
    `args` (options or targets) come before --configfile, which would take targets as more config files."""
    command = [str(Path(sys.executable).parent / "snakemake"), "-s", str(ROOT / "Snakefile"), *args,
               "--cores", "2", "--configfile", str(config)]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # the rules' python
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=capture, text=True, env=env, cwd=work)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed" + (f":\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
                                                           if capture else ""))
    return seconds, (result.stdout + result.stderr) if capture else ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="/tmp/plan-time", help="where the collection is built (kept for reruns)")
    parser.add_argument("--count", type=int, default=13000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    config = build_collection(work, args.count)
    seconds, _ = snakemake(work, config)
    print(f"build (or check) of {args.count:,} images: {seconds:.1f} s", file=sys.stderr)
    times, startup = [], []
    for _ in range(args.repeat):  # alternated, as this VM's speed drifts within minutes
        seconds, output = snakemake(work, config, "-n")
        if "Nothing to be done" not in output:
            raise SystemExit(f"the build is not up to date:\n{output[-3000:]}")
        times.append(seconds)
        started = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "snakemake"), "--version"], capture_output=True, check=True)
        startup.append(time.perf_counter() - started)
    print(f"\nMachine: {describe_machine()}, no GPU. {args.count:,} images, {args.repeat} runs each, alternated:\n"
          f"| command | median | min | max |\n|---|---|---|---|\n"
          f"| `snakemake -n` on the up-to-date build | {statistics.median(times):.2f} s | {min(times):.2f} s | "
          f"{max(times):.2f} s |\n"
          f"| `snakemake --version` (Snakemake's own start-up) | {statistics.median(startup):.2f} s | "
          f"{min(startup):.2f} s | {max(startup):.2f} s |")


if __name__ == "__main__":
    main()
