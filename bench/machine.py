"""What machine a benchmark ran on, in one line for bench/RESULTS.md."""
import os
import platform
from pathlib import Path


def describe_machine() -> str:
    """CPU model and count, memory and Python version, read from /proc where Linux has it."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return f"{os.cpu_count()} vCPUs ({cpu}), {memory / 2**20:.0f} GiB, Python {platform.python_version()}"
