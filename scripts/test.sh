#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the dependencies if needed, build, and run the whole test suite
# (labels: unit, mpi, install, docs, examples, faults, optimizer, train, python,
# cuda, gpu, device-emulated; python pip-installs bindings/python into build/python-venv first,
# see docs/python.md). Arguments go to ctest, e.g.
#   scripts/test.sh -L unit        scripts/test.sh -R mpi_vote
# Without arguments it then runs the unit, multi-rank and fault tests again
# under ASan+UBSan (build-asan), each fuzz target briefly (build-fuzz), and
# the unit tier built for aarch64 under qemu (build-aarch64,
# scripts/cross_aarch64.sh; 4-6 min from scratch on 2 cores;
# SV_TEST_CROSS=0 skips it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
bash "$root/scripts/setup.sh"
BUILD_DIR="$build" bash "$root/scripts/build.sh"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" "$@"

# With no arguments (CI, the README's command): the sanitizer and fuzz
# smoke runs of docs/reliability.md, each in its own build dir with only the
# targets it needs. SV_TEST_SANITIZE=0 skips them.
if [ $# -eq 0 ] && [ "${SV_TEST_SANITIZE:-1}" != 0 ]; then
  export LSAN_OPTIONS="suppressions=$root/scripts/sanitize/lsan.supp:print_suppressions=0"
  # Full (slow) unwinding on malloc, and MCA components kept loaded, so that
  # leaks inside Open MPI have stacks the suppressions can match.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0"
  export OMPI_MCA_mca_base_component_disable_dlclose=1 PMIX_MCA_mca_base_component_disable_dlclose=1
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  asan="${BUILD_DIR_ASAN:-$root/build-asan}"
  cmake -S "$root" -B "$asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIGNVOTE_SANITIZE=address,undefined \
    -DSIGNVOTE_WITH_CUDA=OFF -DSIGNVOTE_WITH_NCCL=OFF >/dev/null
  cmake --build "$asan" -j"$(nproc)" --target signvote_unit_tests sv_mpi_vote_test sv_fault_test
  ctest --test-dir "$asan" --output-on-failure -j"$(nproc)" -L unit -E '^perf_' 
  ctest --test-dir "$asan" --output-on-failure -R '^(mpi_vote_np(2|3)|faults_.*)$'
  if command -v clang++-14 >/dev/null; then
    fuzz="${BUILD_DIR_FUZZ:-$root/build-fuzz}"
    CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSIGNVOTE_WITH_CUDA=OFF -DSIGNVOTE_WITH_NCCL=OFF >/dev/null
    cmake --build "$fuzz" -j"$(nproc)" --target fuzz_bitlogic fuzz_config
    ctest --test-dir "$fuzz" --output-on-failure -L fuzz
  fi
fi

# The aarch64 unit tier (cross-compiled, run under qemu-aarch64).
if [ $# -eq 0 ] && [ "${SV_TEST_CROSS:-1}" != 0 ]; then
  bash "$root/scripts/cross_aarch64.sh"
fi
