#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what signvote needs to build and test, from the Debian/Ubuntu
# archive. Idempotent: when every package is already installed it does
# nothing (no apt-get update). Run as root, or as a user with sudo.
#
#   cmake g++ make pkg-config    the build (pkg-config for the install tests)
#   openmpi-bin libopenmpi-dev   MPI: the transport, mpirun, the mpi tests
#   libhwloc-dev                 what Open MPI's pkg-config/CMake files expect;
#                                signvote's topology (src/topology.cc) links it
#   catch2                       the unit tests (Catch2 v2)
#   libgloo-dev                  the Gloo fp32 ring baseline of perf/sv_allreduce_perf
#   python3-dev python3-venv     the Python package (bindings/python): headers for the
#   python3-pip python3-numpy    extension, a venv to pip-install it into (ctest -L python),
#   python3-mpi4py python3-pytest  its runtime (numpy, mpi4py) and its tests (pytest,
#   python3-torch                PyTorch for signvote.torch); all for Debian's /usr/bin/python3
#   libtorch-dev zlib1g-dev      examples/train (the libtorch trainer; reads gzipped IDX)
#   dataset-fashion-mnist        its data, and the `train` ctest
#   libopenblas0-serial          a BLAS for libtorch ~10x faster than the reference
#                                libblas it otherwise gets (serial: one thread a rank)
#   clang-14 libfuzzer-14-dev    the fuzz targets (tests/fuzz; -fsanitize=fuzzer)
#   libclang-rt-14-dev           clang's sanitizer runtimes (fuzz, tsan preset)
#   valgrind                     scripts/sanitize.sh valgrind (memcheck)
#   g++-aarch64-linux-gnu        scripts/cross_aarch64.sh: the library and unit tier
#   qemu-user                    built for aarch64, run under qemu-aarch64
#
# CUDA and NCCL are optional and not installed here: with nvcc present the
# build also compiles the CUDA part (SIGNVOTE_WITH_CUDA=AUTO).
set -euo pipefail

packages=(cmake g++ make pkg-config openmpi-bin libopenmpi-dev libhwloc-dev catch2 libgloo-dev
          clang-14 libfuzzer-14-dev libclang-rt-14-dev valgrind)
# The aarch64 cross build and its emulator (scripts/cross_aarch64.sh).
packages+=(g++-aarch64-linux-gnu qemu-user)
# The Python package and its tests (see the list above).
packages+=(python3-dev python3-venv python3-pip python3-numpy python3-mpi4py python3-pytest python3-torch)
# examples/train and its `train` ctest (see the list above).
packages+=(libtorch-dev zlib1g-dev dataset-fashion-mnist libopenblas0-serial)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: no apt-get/dpkg here; install by hand: ${packages[*]}" >&2
  for tool in cmake c++ make mpirun; do
    command -v "$tool" >/dev/null 2>&1 || { echo "setup: $tool not found" >&2; exit 1; }
  done
  exit 0
fi

# cuobjdump lists the GPU code in libsignvote.so (ctest cuda_fatbin_archs).
# Where nvcc is but cuobjdump is not (CUDA toolkits without it), install
# NVIDIA's build from PyPI into /opt/nvidia-cuobjdump; without it that test
# skips. Best effort: never fails the setup.
if { command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; } &&
   ! command -v cuobjdump >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/cuobjdump ] &&
   [ ! -x /opt/nvidia-cuobjdump/nvidia/cu13/bin/cuobjdump ] && [ "$(id -u)" = 0 ]; then
  echo "setup: installing cuobjdump (PyPI nvidia-cuda-cuobjdump) into /opt/nvidia-cuobjdump"
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --target /opt/nvidia-cuobjdump \
    nvidia-cuda-cuobjdump==13.2.86 || echo "setup: cuobjdump not installed (ctest cuda_fatbin_archs will skip)" >&2
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
