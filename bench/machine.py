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
    flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("flags")), [])
    # The same VM type lands on hosts with and without AVX-512; bfloat16 extraction needs avx512_bf16 or AMX.
    vector = ("AVX512-BF16" if "avx512_bf16" in flags else "AVX-512, no BF16" if "avx512f" in flags
              else "no AVX-512")
    return (f"{os.cpu_count()} vCPUs ({cpu}, {vector}), {memory / 2**20:.0f} GiB, "
            f"Python {platform.python_version()}")
