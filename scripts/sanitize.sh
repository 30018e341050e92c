#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The sanitizer runs of docs/reliability.md, each in its own build dir:
#   scripts/sanitize.sh [asan|tsan|valgrind|all]       (default all)
# asan      asan-ubsan preset (build-asan): every unit test, and the
#           multi-rank and fault tests of scripts/test.sh's CI subset
# tsan      tsan preset (build-tsan, clang-14): the threaded paths: unit
#           tests on loopback worlds (ranks as threads, pipelining) and
#           svCommAbort from another thread ([faults])
# valgrind  memcheck on the host unit tests (Release build in build/),
#           leak check full, errors fail the run
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
what="${1:-all}"
export LSAN_OPTIONS="suppressions=$root/scripts/sanitize/lsan.supp:print_suppressions=0"
# Full (slow) unwinding on malloc, and MCA components kept loaded, so that
# leaks inside Open MPI have stacks the suppressions can match.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0"
export OMPI_MCA_mca_base_component_disable_dlclose=1 PMIX_MCA_mca_base_component_disable_dlclose=1
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
jobs="$(nproc)"

if [ "$what" = asan ] || [ "$what" = all ]; then
  cmake --preset asan-ubsan >/dev/null
  cmake --build "$root/build-asan" -j"$jobs" --target signvote_unit_tests sv_mpi_vote_test sv_fault_test
  ctest --test-dir "$root/build-asan" --output-on-failure -j"$jobs" -L unit -E '^perf_' 
  ctest --test-dir "$root/build-asan" --output-on-failure -R '^(mpi_vote_np(2|3)|faults_.*)$'
fi
if [ "$what" = tsan ] || [ "$what" = all ]; then
  cmake --preset tsan >/dev/null
  cmake --build "$root/build-tsan" -j"$jobs" --target signvote_unit_tests
  # Loopback worlds run every rank as a thread of one process: the engine's
  # pipelining and the mailbox are exercised concurrently.
  "$root/build-tsan/tests/unit/signvote_unit_tests" '[faults],[loopback],[api]'
fi
if [ "$what" = valgrind ] || [ "$what" = all ]; then
  command -v valgrind >/dev/null || { echo "sanitize: valgrind not installed (scripts/setup.sh installs it)" >&2; exit 1; }
  cmake --build "$root/build" -j"$jobs" --target signvote_unit_tests
  # Large cases are slow under memcheck: the loopback all-reduce tests with
  # millions of elements are left out ([.big] is not a tag; list by name).
  valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --track-origins=no --quiet \
    "$root/build/tests/unit/signvote_unit_tests" "${VALGRIND_TESTS:-~[loopback]}"
fi
