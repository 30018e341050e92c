#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the libFuzzer targets with clang-14 in build-fuzz and run each for
# a while (default 300 s; scripts/test.sh runs them 5 s each through ctest):
#   scripts/fuzz.sh [SECONDS] [TARGET...]      TARGET: fuzz_bitlogic fuzz_config
# New interesting inputs accumulate in build-fuzz/tests/fuzz/corpus_<t>.
# A crash leaves crash-<sha> in build-fuzz/; copy it into
# tests/fuzz/corpus/<t>/ (the regression inputs every ctest run replays)
# and fix the bug.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-fuzz}"
secs="${1:-300}"; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(fuzz_bitlogic fuzz_config)
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSIGNVOTE_WITH_CUDA=OFF -DSIGNVOTE_WITH_NCCL=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" $(printf -- '--target %s ' "${targets[@]}")
for t in "${targets[@]}"; do
  name="${t#fuzz_}"
  corpus="$build/tests/fuzz/corpus_$name"
  mkdir -p "$corpus"
  echo "== $t: ${secs}s"
  (cd "$build" && "$build/tests/fuzz/$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
     "$corpus" "$root/tests/fuzz/corpus/$name" 2>&1 | grep -E '^#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss|ERROR|crash-' || true)
done
