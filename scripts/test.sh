#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the dependencies if needed, build, and run the whole test suite
# (labels: unit, mpi, install, docs, examples, python; python pip-installs
# bindings/python into build/python-venv first, see docs/python.md). Arguments go to ctest, e.g.
#   scripts/test.sh -L unit        scripts/test.sh -R mpi_vote
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
bash "$root/scripts/setup.sh"
BUILD_DIR="$build" bash "$root/scripts/build.sh"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" "$@"
