#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what signvote needs to build and test, from the Debian/Ubuntu
# archive. Idempotent: when every package is already installed it does
# nothing (no apt-get update). Run as root, or as a user with sudo.
#
#   cmake g++ make pkg-config    the build (pkg-config for the install tests)
#   openmpi-bin libopenmpi-dev   MPI: the transport, mpirun, the mpi tests
#   libhwloc-dev                 what Open MPI's pkg-config/CMake files expect
#   catch2                       the unit tests (Catch2 v2)
#   libgloo-dev                  the Gloo fp32 ring baseline of perf/sv_allreduce_perf
#   clang-14 libfuzzer-14-dev    the fuzz targets (tests/fuzz; -fsanitize=fuzzer)
#   libclang-rt-14-dev           clang's sanitizer runtimes (fuzz, tsan preset)
#   valgrind                     scripts/sanitize.sh valgrind (memcheck)
#
# CUDA and NCCL are optional and not installed here: with nvcc present the
# build also compiles the CUDA part (SIGNVOTE_WITH_CUDA=AUTO).
set -euo pipefail

packages=(cmake g++ make pkg-config openmpi-bin libopenmpi-dev libhwloc-dev catch2 libgloo-dev
          clang-14 libfuzzer-14-dev libclang-rt-14-dev valgrind)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: no apt-get/dpkg here; install by hand: ${packages[*]}" >&2
  for tool in cmake c++ make mpirun; do
    command -v "$tool" >/dev/null 2>&1 || { echo "setup: $tool not found" >&2; exit 1; }
  done
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present (${packages[*]})"
  exit 0
fi

sudo=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y "${missing[@]}"
