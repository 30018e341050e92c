#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What the GPU machine lacks for perf/gpu/bringup.sh, gathered here into
# .gpu-deps/ (git-ignored) so that a device run can carry it: Catch2's
# header and CMake package (the GPU machine has CMake, nvcc and PyTorch's
# NCCL wheel, but no Catch2, MPI or hwloc).
#   scripts/gpu_deps.sh        then: run ... carry [".gpu-deps"]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dst="$root/.gpu-deps"
rm -rf "$dst"
mkdir -p "$dst/include" "$dst/lib/cmake"
cp -r /usr/include/catch2 "$dst/include/"
cp -r /usr/lib/cmake/Catch2 "$dst/lib/cmake/"
cp /usr/lib/libCatch2WithMain.a "$dst/lib/"  # named by the package's targets file
du -sh "$dst"
