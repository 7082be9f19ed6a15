"""A one-node SLURM cluster on this machine, for the workflow's cluster test and for trying the cluster path.

It runs Debian's SLURM as a user's cluster would: munged with a key of its own, then slurmctld and slurmd
(as root, without systemd), all state and logs in one folder. Each daemon is stopped by the PID in its pid
file. The configuration has to be /etc/slurm/slurm.conf, because the SLURM executor's job step clears
`SLURM_CONF` before its nested `srun`; a slurm.conf this module did not write is never touched.

Accounting needs slurmdbd and a database; instead, completed jobs are written to `jobcomp.txt` in the
folder (one line per job, with its id, name and state), so a test can see which jobs SLURM ran, and
`MinJobAge` keeps finished jobs in `squeue` long enough for the executor's `--slurm-status-command squeue`.

    python tests/slurm_cluster.py start [--folder /tmp/slurm-cluster]    # `make slurm` installs the packages
    python tests/slurm_cluster.py stop [--folder ...]
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

CONFIG = Path("/etc/slurm/slurm.conf")
MARK = "# written by tests/slurm_cluster.py"
DAEMONS = ("munged", "slurmctld", "slurmd")
DEFAULT_FOLDER = Path("/tmp/slurm-cluster")
# Finished jobs stay in squeue this long; the executor checks status every few seconds to a few minutes.
MIN_JOB_AGE = 600


def unavailable() -> str | None:
    """Why a cluster cannot be started here, or None."""
    missing = [name for name in (*DAEMONS, "sbatch", "squeue", "mungekey") if not shutil.which(name, path=_path())]
    if missing:
        return f"SLURM is not installed ({', '.join(missing)} not found): `make slurm` installs Debian's packages"
    if os.geteuid() != 0:
        return "the one-node SLURM cluster runs its daemons as root; run the cluster test as root"
    if CONFIG.exists() and MARK not in CONFIG.read_text(errors="replace"):
        return f"{CONFIG} exists and was not written by tests/slurm_cluster.py; not touching a real cluster's"
    return None


def _path() -> str:
    return f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"


def _node() -> dict[str, str]:
    """This machine as `slurmd -C` sees it (CPUs, sockets, cores, memory)."""
    output = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True, env=_env()).stdout
    fields = dict(item.split("=", 1) for item in output.split() if "=" in item)
    return {key: fields[key] for key in ("CPUs", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory")}


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": _path()}


def slurm_conf(folder: Path, node: dict[str, str], host: str) -> str:
    """The cluster's slurm.conf: one node at 127.0.0.1 (no DNS needed), cores and memory as consumable."""
    memory = int(int(node["RealMemory"]) * 0.9)  # a little below what slurmd detects, or the node is drained
    cpus = int(node["CPUs"])
    return "\n".join(
        [
            MARK,
            "ClusterName=imagecollection",
            f"SlurmctldHost={host}(127.0.0.1)",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={folder}/munge/munge.socket",
            f"StateSaveLocation={folder}/state",
            f"SlurmdSpoolDir={folder}/spool",
            f"SlurmctldPidFile={folder}/slurmctld.pid",
            f"SlurmdPidFile={folder}/slurmd.pid",
            f"SlurmctldLogFile={folder}/slurmctld.log",
            f"SlurmdLogFile={folder}/slurmd.log",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            # Without a default a job asks for the whole node's memory, and jobs run one at a time.
            f"DefMemPerCPU={memory // cpus // 2}",
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
            "JobCompType=jobcomp/filetxt",
            f"JobCompLoc={folder}/jobcomp.txt",
            f"MinJobAge={MIN_JOB_AGE}",
            "ReturnToService=2",
            "MpiDefault=none",
            "SchedulerType=sched/backfill",
            f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} SocketsPerBoard={node['SocketsPerBoard']}"
            f" CoresPerSocket={node['CoresPerSocket']} ThreadsPerCore={node['ThreadsPerCore']}"
            f" RealMemory={memory} State=UNKNOWN",
            f"PartitionName=main Nodes={host} Default=YES MaxTime=INFINITE State=UP",
            "",
        ]
    )


def _wait_for(path: Path, what: str, seconds: float = 15) -> None:
    """Daemons write their pid files after the command that starts them returns."""
    deadline = time.monotonic() + seconds
    while not (path.exists() and path.read_text().strip()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start: no {path} after {seconds:.0f} s")
        time.sleep(0.1)


def _run(command: list[str], folder: Path, what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=_env())
    if result.returncode != 0:
        logs = "".join(f"\n--- {log.name}:\n{log.read_text()[-2000:]}" for log in sorted(folder.glob("*.log")))
        raise RuntimeError(f"{what} failed ({' '.join(command)}): {result.stderr.strip()}{logs}")


def start(folder: Path = DEFAULT_FOLDER) -> None:
    """Start munged, slurmctld and slurmd, and wait until the node takes jobs."""
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    running = _running_elsewhere(folder)
    if running:
        raise RuntimeError(f"a cluster of tests/slurm_cluster.py is already running (state in {running}): "
                           f"stop it first with `python tests/slurm_cluster.py stop --folder {running}`")
    stop(folder)
    if folder.exists():
        shutil.rmtree(folder)
    for part in ("munge", "state", "spool"):
        (folder / part).mkdir(parents=True)
    folder.chmod(0o755)  # munge clients (every job) reach the socket through it
    (folder / "munge").chmod(0o755)
    key = folder / "munge" / "munge.key"
    _run(["mungekey", "--create", f"--keyfile={key}"], folder, "mungekey")
    key.chmod(0o600)
    _run(
        [
            "munged",
            "--force",
            f"--socket={folder}/munge/munge.socket",
            f"--key-file={key}",
            f"--pid-file={folder}/munged.pid",
            f"--log-file={folder}/munged.log",
            f"--seed-file={folder}/munge/munged.seed",
        ],
        folder,
        "munged",
    )
    _wait_for(folder / "munged.pid", "munged")
    host = socket.gethostname().split(".")[0]
    CONFIG.parent.mkdir(parents=True, exist_ok=True)
    CONFIG.write_text(slurm_conf(folder, _node(), host))
    _run(["slurmctld", "-i"], folder, "slurmctld")  # -i: ignore state left by an earlier cluster
    _wait_for(folder / "slurmctld.pid", "slurmctld")
    _run(["slurmd"], folder, "slurmd")
    _wait_for(folder / "slurmd.pid", "slurmd")
    _wait_until_idle(folder)


def _running_elsewhere(folder: Path) -> Path | None:
    """The folder of another cluster this module started whose slurmctld still runs, or None."""
    if not CONFIG.exists():
        return None
    for line in CONFIG.read_text(errors="replace").splitlines():
        if line.startswith("SlurmctldPidFile="):
            pid_file = Path(line.split("=", 1)[1])
            if pid_file.parent != folder and pid_file.exists() and _alive(pid_file):
                return pid_file.parent
    return None


def _alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text().strip()), 0)
        return True
    except (ValueError, ProcessLookupError):
        return False


def _wait_until_idle(folder: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    state = ""
    while time.monotonic() < deadline:
        # sinfo against a controller that is not up yet blocks for about 10 s: give it a short timeout.
        result = subprocess.run(
            ["timeout", "5", "sinfo", "--noheader", "--format=%T"], capture_output=True, text=True, env=_env()
        )
        state = result.stdout.strip()
        if state == "idle":
            return
        time.sleep(0.3)
    raise RuntimeError(f"the SLURM node is not idle after {seconds:.0f} s (state {state!r}); logs in {folder}")


def stop(folder: Path = DEFAULT_FOLDER) -> None:
    """Stop each daemon by the PID in its pid file, then remove the slurm.conf this module wrote."""
    for daemon in reversed(DAEMONS):
        pid_file = folder / f"{daemon}.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            continue
        _terminate(pid)
        pid_file.unlink(missing_ok=True)
    if CONFIG.exists() and MARK in CONFIG.read_text(errors="replace"):
        CONFIG.unlink()


def _terminate(pid: int, seconds: float = 10) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def completed_jobs(folder: Path = DEFAULT_FOLDER) -> list[dict[str, str]]:
    """The jobs SLURM finished, from its job-completion log: JobId, Name, JobState, NodeList, ..."""
    log = folder / "jobcomp.txt"
    if not log.exists():
        return []
    return [dict(item.split("=", 1) for item in line.split() if "=" in item) for line in log.read_text().splitlines()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="state, logs and pid files")
    args = parser.parse_args()
    if args.action == "start":
        start(args.folder)
        print(f"SLURM is running (one node; state and logs in {args.folder}); stop it with: {parser.prog} stop")
    else:
        stop(args.folder)


if __name__ == "__main__":
    main()
