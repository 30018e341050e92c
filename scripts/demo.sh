#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the dependencies if needed, build, and run the 4-rank demo on this
# machine: examples/01_allreduce_sign votes on 4M floats and prints the vote
# and each rank's bytes sent against an fp32 ring all-reduce. Arguments go to
# the example (an element count): scripts/demo.sh 1000
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
bash "$root/scripts/setup.sh"
BUILD_DIR="$build" BUILD_TARGETS=sv_example_01_allreduce_sign bash "$root/scripts/build.sh"
echo
echo "\$ mpirun -np 4 ${build#"$root"/}/examples/sv_example_01_allreduce_sign${*:+ $*}"
bash "$root/scripts/mpirun.sh" -np 4 "$build/examples/sv_example_01_allreduce_sign" "$@"
