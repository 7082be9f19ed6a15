#!/usr/bin/env bash
# Build and install MulticoreTSNE (the original's t-SNE engine) into the Python environment given as
# $1 (default: python3). Its only release on PyPI (0.1) does not build with current tooling: setup.py
# passes a stray "--" to cmake and CMakeLists.txt asks for CMake 2.8 policies. This script fetches that
# release from PyPI, makes those two changes, and builds it with the machine's cmake and C++ compiler.
set -euo pipefail
python=${1:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" -m pip download --quiet --no-deps --no-binary :all: --dest "$work" MulticoreTSNE==0.1
tar -xzf "$work"/MulticoreTSNE-0.1.tar.gz -C "$work"
source_dir="$work/MulticoreTSNE-0.1"
sed -i 's/                         self.cmake_args or "--",/                         *([self.cmake_args] if self.cmake_args else []),/' "$source_dir/setup.py"
sed -i 's/CMAKE_MINIMUM_REQUIRED(VERSION 2.8 FATAL_ERROR)/CMAKE_MINIMUM_REQUIRED(VERSION 3.5)/; s/CMAKE_POLICY(VERSION 2.8)/CMAKE_POLICY(VERSION 3.5)/' \
    "$source_dir/multicore_tsne/CMakeLists.txt"
"$python" -m pip install --quiet --no-build-isolation --no-deps "$source_dir"
"$python" -c "import MulticoreTSNE; print('MulticoreTSNE installed')"
