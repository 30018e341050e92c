#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mpirun with what a workstation or CI container needs, then "$@":
#   scripts/mpirun.sh -np 4 ./program [args...]
# For Open MPI it adds
#   --oversubscribe              more ranks than cores (refused otherwise)
#   --bind-to none               oversubscribed ranks must be free to move
#   --mca mpi_yield_when_idle 1  a waiting rank yields its core instead of
#                                spinning, so oversubscribed ranks progress
#   --allow-run-as-root          when running as root (refused otherwise)
# The launcher is $SV_MPIEXEC if set (ctest sets it to CMake's
# MPIEXEC_EXECUTABLE), else mpirun from PATH. Other MPIs get no extra flags.
# (tests/mpi/run_mpi.sh.in, the test tier's configured launcher, calls this.)
set -euo pipefail
launcher="${SV_MPIEXEC:-mpirun}"
flags=()
if "$launcher" --version 2>&1 | grep -qi 'open mpi\|open-mpi\|openrte'; then
  flags+=(--oversubscribe --bind-to none --mca mpi_yield_when_idle 1)
  if [ "$(id -u)" = 0 ]; then flags+=(--allow-run-as-root); fi
fi
exec "$launcher" ${flags[@]+"${flags[@]}"} "$@"
