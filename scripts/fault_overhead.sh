#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Cost of the failure handling, measured in one run (docs/reliability.md):
#   scripts/fault_overhead.sh OLD_PERF NEW_PERF [NP] [ROUNDS]
# OLD_PERF: sv_allreduce_perf built from a commit before the timeouts (e.g.
# `git archive 3c8bcf3` built in /tmp), NEW_PERF: this tree's. Alternates
#   old | new (SV_CHECK=0) | new (SV_CHECK=1)
# ROUNDS times at NP ranks, small and large sizes, and prints the median
# out-of-place time per size and the ratios new/old and check/nocheck.
set -euo pipefail
old="$1"; new="$2"; np="${3:-2}"; rounds="${4:-5}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
run() {  # label binary check minbytes maxbytes iters
  SV_CHECK="$3" bash "$root/scripts/mpirun.sh" -x SV_CHECK -np "$np" "$2" -b "$4" -e "$5" -f 8 -n "$6" -w 50 2>/dev/null |
    awk -v l="$1" '/^ +[0-9]/ {print l, $1, $6}' >> "$tmp/times"
}
for ((i = 0; i < rounds; i++)); do
  for cfg in "old $old 0" "new $new 0" "check $new 1"; do
    set -- $cfg
    run "$1" "$2" "$3" 8 32768 2000
    run "$1" "$2" "$3" 4194304 33554432 20
  done
done
python3 - "$tmp/times" <<'PY'
import sys, statistics, collections
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    label, size, us = line.split()
    t[(label, int(size))].append(float(us))
sizes = sorted({s for (_, s) in t})
print(f"{'bytes':>10} {'old us':>9} {'new us':>9} {'check us':>9} {'new/old':>8} {'check/new':>9}")
for s in sizes:
    o, n, c = (statistics.median(t[(l, s)]) for l in ("old", "new", "check"))
    print(f"{s:>10} {o:>9.2f} {n:>9.2f} {c:>9.2f} {n/o:>8.3f} {c/n:>9.3f}")
PY
