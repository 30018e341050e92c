#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Measure sv_allreduce_perf and its baselines under netem for several rank
# counts and link rates; append one CSV row per (scheme, P, rate, size) to
# OUT. Feeds perf/model.py and docs/perf.md.
#
#   perf/netem/sweep.sh -p "2 4 8" -r "1gbit 10gbit" -o perf-results.csv -- build/perf/sv_allreduce_perf
#
# A rate of "loopback" runs without netem (shared memory, scripts/mpirun.sh).
# Times are the baseline table's (sv_allreduce_perf prints it after the
# footer): the mean per -a, or with -I 1 in the args the median iteration,
# the same statistic for signvote and every baseline.
set -euo pipefail
ranks="2 4 8" rates="1gbit 10gbit" out=sweep.csv
small="-b 4 -e 256K -f 8 -n 20 -w 3" large="-b 2M -e 128M -f 4 -n 3 -w 1"
baselines="mpi,gloo,ps,allgather"
while getopts "p:r:o:s:l:B:" opt; do
  case $opt in
    p) ranks=$OPTARG ;; r) rates=$OPTARG ;; o) out=$OPTARG ;;
    s) small=$OPTARG ;; l) large=$OPTARG ;; B) baselines=$OPTARG ;;
    *) echo "usage: $0 [-p ranks] [-r rates] [-o out.csv] [-s small-args] [-l large-args] [-B baselines] -- perf-binary" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
perf=${1:?perf binary}
here=$(cd "$(dirname "$0")" && pwd)
[ -s "$out" ] || echo "scheme,P,rate,bytes,time_us,date,host" >"$out"
for rate in $rates; do
  for p in $ranks; do
    for args in "$small" "$large"; do
      echo "# P=$p rate=$rate $args" >&2
      if [ "$rate" = loopback ]; then  # shared memory, no emulated link
        launch=(bash "$here/../../scripts/mpirun.sh" -np "$p")
      else
        launch=("$here/netem.sh" -n "$p" -r "$rate" --)
      fi
      # shellcheck disable=SC2086
      "${launch[@]}" "$perf" $args -c 1 --baseline "$baselines" 2>/dev/null |
        awk -v P="$p" -v rate="$rate" -v base="$baselines" -v date="$(date -u +%F)" -v host="$(hostname)" '
          BEGIN { nb = split(base, names, ",") }
          /^#\+/ {  # the baseline table: "#+ size vote(us) b1(us) speedup b2(us) speedup ..."
            printf "sv,%s,%s,%s,%s,%s,%s\n", P, rate, $2, $3, date, host
            for (i = 1; i <= nb; i++) printf "%s,%s,%s,%s,%s,%s,%s\n", names[i], P, rate, $2, $(4 + 2 * (i - 1)), date, host
          }' >>"$out"
    done
  done
done
echo "# wrote $out" >&2
