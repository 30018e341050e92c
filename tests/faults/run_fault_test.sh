#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Driver of the fault tests: run_fault_test.sh MPIEXEC NP PROGRAM [ARGS...]
#
# Runs PROGRAM on NP ranks through scripts/mpirun.sh with
#   --enable-recovery   (orte_enable_recovery=1) so that mpirun does not kill
#                       the surviving ranks when one dies of a signal, and
#                       lets them finish through MPI_Finalize
# and passes when NP-1 ranks (--mode=mismatch: all NP) printed
# "SURVIVOR <rank> PASS". With recovery enabled, mpirun's own exit status is
# 0 whatever the ranks returned, so it is not used. Nothing else is passed
# to mpirun: the survivors leave through MPI_Finalize as docs/reliability.md
# says a job should. ctest's TIMEOUT is the backstop against a hang.
set -uo pipefail
if [ $# -lt 3 ]; then echo "usage: $0 MPIEXEC NP PROGRAM [ARGS...]" >&2; exit 2; fi
mpiexec="$1"; np="$2"; shift 2
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
SV_MPIEXEC="$mpiexec" bash "$root/scripts/mpirun.sh" --enable-recovery -np "$np" "$@" 2>&1 | tee "$log"
passed=$(grep -c '^SURVIVOR [0-9]* PASS' "$log")
# Under the sanitizers, a report after a rank printed PASS still fails.
if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$log"; then
  echo "run_fault_test: sanitizer report above" >&2
  exit 1
fi
want=$((np - 1))
for a in "$@"; do [ "$a" = --mode=mismatch ] && want=$np; done
if [ "$passed" -ne "$want" ]; then
  echo "run_fault_test: $passed of $want survivors passed" >&2
  exit 1
fi
echo "run_fault_test: all $passed survivors passed"
