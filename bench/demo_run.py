"""Time one full, clean run of the workflow on the demo collection and print a table per rule.

Wall time and peak memory (max RSS) come from each rule's Snakemake `benchmark:` file; the total is
the wall time of the whole `snakemake --cores N` call, Snakemake's own start-up included. The run uses
config.yaml with an empty, temporary feature cache, so every vector is computed.

    python bench/demo_run.py [--cores 2] [--keep-demo]
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from machine import describe_machine  # bench/machine.py

ROOT = Path(__file__).resolve().parent.parent
RULES = ["demo_collection", "extract-0", "features", "embedding", "grid", "mosaic-0", "tiles", "metadata", "site"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep-demo", action="store_true", help="reuse data/demo instead of regenerating it")
    args = parser.parse_args()
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    out = ROOT / "results" / config["collection"]["name"]
    shutil.rmtree(out, ignore_errors=True)
    if not args.keep_demo:
        shutil.rmtree(ROOT / config["demo"]["folder"], ignore_errors=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-"))
    config["features"] = {**config.get("features", {}), "cache": str(scratch / "cache")}
    (scratch / "config.yaml").write_text(yaml.safe_dump(config))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(args.cores), "--quiet", "all",
                    "--configfile", str(scratch / "config.yaml")], cwd=ROOT, check=True)
    total = time.perf_counter() - started
    rows = []
    for rule in RULES:
        path = out / "benchmarks" / f"{rule}.tsv"
        if not path.exists():
            continue
        figures = pd.read_csv(path, sep="\t").iloc[0]
        rows.append(f"| {rule} | {figures['s']:.1f} | {figures['max_rss']:.0f} |")
    print(f"Machine: {describe_machine()}; `snakemake --cores {args.cores}` on the demo collection "
          f"({len(list((ROOT / config['demo']['folder'] / 'images').glob('*.jpg')))} images)\n")
    print("| rule | wall s | peak RSS MB |\n|---|---|---|")
    print("\n".join(rows))
    print(f"| **whole run** (incl. demo generation and Snakemake start-up) | {total:.1f} | |")


if __name__ == "__main__":
    main()
