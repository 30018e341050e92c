#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Soak run (not CI): scripts/soak.sh [CALLS] [NP]   (default 100000 calls, 4 ranks)
# Mixed sizes (1 .. 1M elements), float32/float64, in and out of place, four
# policy communicators; every result checked; RSS and open descriptors of
# each rank sampled 20 times and required flat. Prints the samples of rank
# 0 and PASS/FAIL. Figures of a run are in docs/reliability.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
cmake --build "$build" -j"$(nproc)" --target sv_soak >/dev/null
out="$(bash "$root/scripts/mpirun.sh" -np "${2:-4}" "$build/tests/faults/sv_soak" --calls="${1:-100000}")"
echo "$out"
grep -q '^soak: PASS' <<<"$out"
