#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The hierarchical vote against the flat vote and fp32 MPI_Allreduce in the
# same run, on emulated nodes (netem.sh -L: a namespace per node, several
# ranks each, shaped links between nodes only):
#
#   perf/netem/hierarchy_sweep.sh [-l "4 2"] [-r "200mbit 1gbit"] [-s "16777216 102228128"] [-n ranks (8)] [-i iters (3)]
#
# -l: ranks per node; -s: bytes of fp32 per rank. Prints the machine, then
# each run's baseline table ('#+' rows: vote = hierarchical, flat, mpi).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
perf=${SV_PERF:-$root/build/perf/sv_allreduce_perf}
layouts="4 2" rates="200mbit 1gbit" sizes="16777216 102228128" nranks=8 iters=3
while getopts "l:r:s:n:i:h" opt; do
  case $opt in
    l) layouts=$OPTARG ;;
    r) rates=$OPTARG ;;
    s) sizes=$OPTARG ;;
    n) nranks=$OPTARG ;;
    i) iters=$OPTARG ;;
    *) sed -n 3,10p "$0" >&2; exit 2 ;;
  esac
done
echo "# $(date -u +%FT%TZ) $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
for L in $layouts; do
  for rate in $rates; do
    for b in $sizes; do
      echo "## $((nranks / L)) nodes x $L ranks, node links $rate, $b bytes fp32 per rank"
      # Open MPI now and then fails to connect the namespaces' daemons
      # ("unable to complete a TCP connection"): one retry, the failure shown.
      for try in 1 2; do
        out=$(bash "$here/netem.sh" -n "$nranks" -L "$L" -r "$rate" -- "$perf" -b "$b" -e "$b" -n "$iters" -w 1 -c 1 \
          --hierarchy on --baseline flat,mpi < /dev/null 2>&1 || true)
        if grep -q '^#+' <<< "$out"; then
          grep -E '^#\+|^# +size\(B\)|netem:|FAILED' <<< "$out"
          break
        fi
        echo "# try $try failed:"; tail -n 5 <<< "$out" | sed 's/^/#   /'
      done
    done
  done
done
