#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Configure and build signvote (Release) into build/ (or $BUILD_DIR), with
# every core. Extra arguments go to the configure step, e.g.
#   scripts/build.sh -DSIGNVOTE_WITH_CUDA=OFF
# $BUILD_TARGETS (space separated) builds only those targets instead of all.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
targets=()
for t in ${BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build" -j"$(nproc)" ${targets[@]+"${targets[@]}"}
