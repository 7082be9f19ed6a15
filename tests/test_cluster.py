"""The workflow on a real SLURM cluster (one node on this machine), through Snakemake's SLURM executor and
profiles/slurm, against the same collection built on this machine with profiles/local.

`make slurm` installs Debian's SLURM packages; tests/slurm_cluster.py starts munged, slurmctld and slurmd
and stops them by their PIDs. Where SLURM cannot be installed the test is skipped with the reason, except
where REQUIRE_SLURM is set (CI), where that is a failure.
"""
import filecmp
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

import slurm_cluster
from test_workflow import ROOT, snakemake_command, write_config

pytestmark = [pytest.mark.workflow, pytest.mark.cluster]

# The tiny collection with extraction and the mosaic in two shards each, one thread per job (so two jobs
# share the node's two cores).
SHARDED = {"features": {"shards": 2}, "mosaic": {"shards": 2}, "jobs": 1}
# Jobs that must have run through SLURM: every rule but the local ones (demo_collection, image_shard, images,
# arrangement, manifest, site); metadata, quality, neighbours and hotspots share one job (group annotate).
CLUSTER_JOBS = {"extract": 2, "features": 1, "embedding": 1, "grid": 1, "mosaic": 2, "tiles": 1, "arrangement_tiles": 2,
                "annotate": 1}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = slurm_cluster.unavailable()
    if reason:
        if os.environ.get("REQUIRE_SLURM"):
            pytest.fail(f"REQUIRE_SLURM is set, but {reason}")
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("slurm")
    slurm_cluster.start(folder)
    try:
        yield folder
    finally:
        slurm_cluster.stop(folder)


def run(workdir: Path, *args, seconds: int = 900) -> str:
    command, env = snakemake_command(workdir, *args)
    # A stuck executor must not hang the suite: it is killed after `seconds`.
    result = subprocess.run(["timeout", "-k", "10", str(seconds), *command], capture_output=True, text=True, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"exit {result.returncode}:\n{output[-6000:]}"
    return output


# The profile as a user runs it, with test settings: the status checks start 1 s after a submission instead of
# 40 (then 11 s later, 21 s later... until a job ends); squeue answers them (no accounting database here);
# the executor's logs of successful jobs are kept, to be checked below.
ON_SLURM = ["--profile", str(ROOT / "profiles" / "slurm"), "--slurm-init-seconds-before-status-checks", "1",
            "--slurm-status-command", "squeue", "--slurm-keep-successful-logs"]


@pytest.fixture(scope="module")
def builds(cluster, tmp_path_factory, node_available):
    """The same collection built on this machine (profiles/local) and on SLURM (profiles/slurm)."""
    local = tmp_path_factory.mktemp("local")
    config = write_config(local / "c.yaml", SHARDED)
    run(local, "--profile", str(ROOT / "profiles" / "local"), "--configfile", str(config))
    remote = tmp_path_factory.mktemp("remote")
    output = run(remote, *ON_SLURM, "--configfile", str(write_config(remote / "c.yaml", SHARDED)))
    return local, remote, output


def test_every_cluster_job_ran_through_slurm(builds, cluster):
    _, remote, output = builds
    submitted = {int(job) for job in re.findall(r"submitted with SLURM jobid (\d+)", output)}
    logs = sorted((remote / ".snakemake" / "slurm_logs").rglob("*.log"))
    by_job = {int(log.stem): log.relative_to(remote / ".snakemake" / "slurm_logs").parts[0] for log in logs}
    # The executor's log folders are rule_<rule>/... or group_<group>_<its rules>/...
    counts = {}
    for name in by_job.values():
        kind, rest = name.split("_", 1)
        rule = rest.split("_")[0] if kind == "group" else rest
        counts[rule] = counts.get(rule, 0) + 1
    assert counts == CLUSTER_JOBS, output[-3000:]
    assert set(by_job) == submitted
    completed = {int(job["JobId"]): job for job in slurm_cluster.completed_jobs(cluster)}
    for job_id in submitted:
        assert completed.get(job_id, {}).get("JobState") == "COMPLETED", (job_id, completed.get(job_id))
    # The rules that take seconds ran on the submitting host.
    for rule in ("demo_collection", "image_shard", "images", "manifest", "site"):
        assert not any(name.endswith(f"_{rule}") for name in by_job.values())
        assert re.search(rf"localrule {rule}:", output), rule


def test_cluster_build_equals_the_local_one(builds):
    local, remote, _ = builds
    a, b = local / "results" / "tiny", remote / "results" / "tiny"
    for name in ("grid.csv", "items.json", "neighbours.json"):
        assert filecmp.cmp(a / name, b / name, shallow=False), name
    deepest = max((a / "tiles" / "mosaic_files").iterdir(), key=lambda level: int(level.name))
    tiles = sorted(path.name for path in deepest.iterdir())
    assert tiles and tiles == sorted(path.name for path in (b / "tiles" / "mosaic_files" / deepest.name).iterdir())
    match, mismatch, errors = filecmp.cmpfiles(deepest, b / "tiles" / "mosaic_files" / deepest.name, tiles,
                                               shallow=False)
    assert not mismatch and not errors
    assert (b / "site" / "index.html").is_file()
    assert len(list((b / "site" / "thumbs").iterdir())) == 42


def test_a_cancelled_cluster_job_fails_the_run_keeps_the_site_and_the_next_run_finishes(builds):
    _, remote, _ = builds
    out = remote / "results" / "tiny"
    receipt, page = (out / "site.json").read_text(), (out / "site" / "index.html").read_bytes()
    command, env = snakemake_command(remote, *ON_SLURM, "--forcerun", "tiles", "--configfile", str(remote / "c.yaml"))
    with open(remote / "cancelled-run.log", "w") as log:
        process = subprocess.Popen(["timeout", "-k", "10", "600", *command], stdout=log, stderr=subprocess.STDOUT,
                                   env=env)
        cancelled, deadline = None, time.monotonic() + 120
        while cancelled is None and process.poll() is None and time.monotonic() < deadline:
            queued = subprocess.run(["squeue", "--noheader", "--format=%i"], capture_output=True, text=True).stdout
            if queued.strip():  # the tiles job: the only one this run submits before it
                cancelled = queued.split()[0]
                subprocess.run(["scancel", cancelled], check=True)
            time.sleep(0.2)
        code = process.wait(timeout=600)
    output = (remote / "cancelled-run.log").read_text()
    assert cancelled and code != 0, output[-3000:]
    assert "CANCELLED" in output and "Error in rule tiles" in output, output[-3000:]
    # What was published stays as it was; the next run makes what is missing and publishes again.
    assert (out / "site.json").read_text() == receipt and (out / "site" / "index.html").read_bytes() == page
    output = run(remote, *ON_SLURM, "--configfile", str(remote / "c.yaml"))
    assert re.search(r"^rule tiles:", output, re.MULTILINE) and "localrule site:" in output, output[-3000:]
    assert (out / "tiles" / "mosaic.dzi").is_file() and (out / "site.json").read_text() != receipt
