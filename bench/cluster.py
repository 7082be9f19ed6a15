"""The small test collection built on this machine and on a one-node SLURM cluster, side by side.

Starts the cluster of tests/slurm_cluster.py (Debian's SLURM; `make slurm` installs it; root), builds the
tests' 42-image collection (extraction and mosaic in 2 shards each, one thread per job) once with
`--profile profiles/local` and once with `--profile profiles/slurm`, and reports
- the wall time of each build;
- per SLURM job: submission to start, and the job's time beyond its rule's own (from SLURM's job-completion
  log, whole seconds, and the rules' benchmark files): two Snakemake start-ups (the job script and its
  `srun` step), each parsing the Snakefile, plus the executor's status checks do not count here;
- the Snakefile's parse inside a job: a job's own command (`--mode remote`, as the executor runs it,
  dry) timed whole and against `snakemake --version`, and the workflow's part (`Workflow.include`) alone.

    python bench/cluster.py [--init-seconds 1] [--repeat 5]
"""
import argparse
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

from machine import describe_machine  # bench/machine.py

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import slurm_cluster  # noqa: E402  (tests/slurm_cluster.py)
from test_cluster import SHARDED  # noqa: E402
from test_workflow import write_config  # noqa: E402

SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def build(workdir: Path, *args) -> float:
    config = write_config(workdir / "c.yaml", SHARDED)
    started = time.perf_counter()
    subprocess.run([*SNAKEMAKE, "-d", str(workdir), *args, "--configfile", str(config)], env=ENV, check=True,
                   capture_output=True)
    return time.perf_counter() - started


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def job_table(workdir: Path, cluster: Path) -> list[str]:
    logs = {int(log.stem): log.relative_to(workdir / ".snakemake" / "slurm_logs")
            for log in (workdir / ".snakemake" / "slurm_logs").rglob("*.log")}
    benchmarks = workdir / "results" / "tiny" / "benchmarks"
    rows = []
    for job in slurm_cluster.completed_jobs(cluster):
        log = logs[int(job["JobId"])]
        kind, name = log.parts[0].split("_", 1)
        rules = name.split("_")[1:] if kind == "group" else [name]
        shard = log.parts[1] if len(log.parts) > 2 else None
        own = sum(pd.read_csv(benchmarks / f"{rule}{'-' + shard if shard else ''}.tsv", sep="\t")["s"].iloc[0]
                  for rule in rules)
        wait = seconds(job["StartTime"]) - seconds(job["SubmitTime"])
        ran = seconds(job["EndTime"]) - seconds(job["StartTime"])
        rows.append((log.parts[0] + (f" {shard}" if shard else ""), wait, ran, own, ran - own))
    lines = [f"| {name} | {wait:.0f} | {ran:.0f} | {own:.1f} | {ran - own:.1f} |" for name, wait, ran, own, _ in rows]
    overhead = [row[4] for row in rows]
    lines.append(f"| **median of {len(rows)} jobs** | {statistics.median(r[1] for r in rows):.0f} | | | "
                 f"**{statistics.median(overhead):.1f}** |")
    return lines


def parse_in_job(workdir: Path, repeat: int) -> tuple[list[float], list[float], float]:
    """A job's own command (grid's, dry), its Snakemake's start-up alone, and the Snakefile's include."""
    command = [*SNAKEMAKE, "--target-jobs", "grid:", "--allowed-rules", "grid", "--cores", "1", "--force",
               "--target-files-omit-workdir-adjustment", "--nolock", "--configfiles", "c.yaml", "--mode", "remote",
               "--dry-run"]
    whole, startup = [], []
    for _ in range(repeat):  # alternated: this VM's speed drifts
        started = time.perf_counter()
        subprocess.run(command, cwd=workdir, env=ENV, check=True, capture_output=True)
        whole.append(time.perf_counter() - started)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "snakemake", "--version"], env=ENV, check=True, capture_output=True)
        startup.append(time.perf_counter() - started)
    with tempfile.NamedTemporaryFile(suffix=".prof") as profile:
        subprocess.run([sys.executable, "-m", "cProfile", "-o", profile.name, "-m", "snakemake", *command[3:]],
                       cwd=workdir, env=ENV, check=True, capture_output=True)
        stats = pstats.Stats(profile.name)
        include = max(cumulative for (file, _, function), (_, _, _, cumulative, _) in stats.stats.items()
                      if file.endswith("workflow.py") and function == "include")
    return whole, startup, include


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init-seconds", type=int, default=1,
                        help="the executor's wait before its first status check (its default: 40)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    reason = slurm_cluster.unavailable()
    if reason:
        raise SystemExit(reason)
    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    cluster = work / "slurm"
    slurm_cluster.start(cluster)
    try:
        (work / "local").mkdir()
        local = build(work / "local", "--profile", str(ROOT / "profiles" / "local"))
        (work / "slurm-run").mkdir()
        remote = build(work / "slurm-run", "--profile", str(ROOT / "profiles" / "slurm"),
                       "--slurm-init-seconds-before-status-checks", str(args.init_seconds),
                       "--slurm-status-command", "squeue", "--slurm-keep-successful-logs")
        jobs = job_table(work / "slurm-run", cluster)
        whole, startup, include = parse_in_job(work / "slurm-run", args.repeat)
        version = subprocess.run(["sinfo", "--version"], capture_output=True, text=True).stdout.strip()
    finally:
        slurm_cluster.stop(cluster)
    print(f"\nMachine: {describe_machine()}, no GPU; {version} on one node (this machine).\n"
          f"42 images, extraction and mosaic in 2 shards, one thread per job; status checks from "
          f"{args.init_seconds} s after submission.\n\n"
          f"| build | wall time |\n|---|---|\n| `--profile profiles/local` | {local:.1f} s |\n"
          f"| `--profile profiles/slurm` | {remote:.1f} s |\n")
    print("| SLURM job | submission to start s | ran s | its rules' own s | beyond the rules s |\n"
          "|---|---|---|---|---|")
    print("\n".join(jobs))
    print(f"\nA job's Snakemake (grid's own command, `--mode remote`, dry), {args.repeat} runs alternated: median "
          f"{statistics.median(whole):.2f} s ({min(whole):.2f}-{max(whole):.2f}); `snakemake --version` median "
          f"{statistics.median(startup):.2f} s; the Snakefile's include (parse and its imports) {include:.2f} s.")


if __name__ == "__main__":
    main()
