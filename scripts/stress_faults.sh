#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Repeat the fault scenarios and count how each run ended (not CI: minutes).
#
#   scripts/stress_faults.sh [N]        (default N = 30 runs per scenario)
#
# Scenarios (sv_fault_test under `mpirun --enable-recovery`, 3 s timeout,
# victim rank 1, exactly as ctest -L faults runs them): kill and stop, at
# P = 4 and 6, small calls (direct messages at 4 ranks, the log-round
# all-gather at 6) and pipelined calls of 8-16 MB; then the other fault
# tests of ctest -L faults: kill and stop at P = 8, abort at P = 4 (mixed
# sizes), ranks that disagree on the count at P = 2 and 6. Then baselines
# that show what the launcher does by itself, in the same run: the kill at
# P = 4 with SV_MPI_FINALIZE_FENCE=keep (signvote leaves Open MPI's final
# fence alone: the behaviour before the fix), and without signvote
# (tests/faults/finalize_race.c, P = 4) with Open MPI's fence and with
# --mca async_mpi_finalize 1.
#
# A run is
#   clean  every survivor printed PASS (failed in time, named the victim,
#          destroyed its communicator, left MPI_Finalize) and mpirun exited
#   hung   still running after LIMIT s (default 60): killed
#   late   a survivor's failing call returned after 2 x the timeout
#   failed anything else (a wrong code, message or count of survivors)
# and the table gives the survivors' error times (min / median / max of the
# failing call) and the runs' wall time. Logs of runs that were not clean go
# to $LOGDIR (default build/stress-logs). Environment: BUILD_DIR, LIMIT,
# SCENARIOS (a space-separated subset of the names printed).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
n="${1:-30}"
limit="${LIMIT:-60}"
logdir="${LOGDIR:-$build/stress-logs}"
mkdir -p "$logdir"
cmake --build "$build" -j"$(nproc)" --target sv_fault_test sv_finalize_race >/dev/null || exit 1
ft="$build/tests/faults/sv_fault_test"
race="$build/tests/faults/sv_finalize_race"

all="kill-np4-small kill-np4-large kill-np6-small kill-np6-large stop-np4-small stop-np4-large stop-np6-small
     stop-np6-large kill-np8-small stop-np8-small abort-np4-mixed mismatch-np2-mixed mismatch-np6-mixed
     kill-np4-mixed-keepfence mpi-only-kill-np4 mpi-only-kill-np4-async"
scenarios="${SCENARIOS:-$all}"

echo "stress_faults: $n runs per scenario, limit ${limit} s; $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
echo "stress_faults: $(mpirun --version 2>&1 | head -1)"
printf '%-26s %5s %5s %5s %5s %6s   %-23s %s\n' scenario runs clean hung late failed "error after (s) min/med/max" "wall (s) med/max"

stats() {  # min/median/max of the numbers on stdin
  sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "-"; exit} printf "%.2f/%.2f/%.2f", a[1], a[int((NR+1)/2)], a[NR]}'
}

total_bad=0
for sc in $scenarios; do
  clean=0 hung=0 late=0 failed=0
  errtimes="$(mktemp)" walls="$(mktemp)"
  case "$sc" in
    mpi-only-*)
      np=4
      extra=()
      [[ "$sc" == *-async ]] && extra=(--mca async_mpi_finalize 1)
      cmd=(bash "$root/scripts/mpirun.sh" --enable-recovery "${extra[@]}" -np $np "$race")
      want=$((np - 1)) ;;
    *)
      IFS=- read -r mode npn size variant <<<"$sc"
      np="${npn#np}"
      sizes=()
      [ "$size" != mixed ] && sizes=("--$size")
      cmd=(bash "$root/tests/faults/run_fault_test.sh" mpirun "$np" "$ft" --mode="$mode" --victim=1 --timeout=3
           ${sizes[@]+"${sizes[@]}"})
      want=$((np - 1))
      [ "$mode" = mismatch ] && want=$np ;;
  esac
  if [[ "$sc" == *-keepfence ]]; then export SV_MPI_FINALIZE_FENCE=keep; else unset SV_MPI_FINALIZE_FENCE; fi
  for i in $(seq 1 "$n"); do
    log="$(mktemp)"
    t0=$(date +%s.%N)
    timeout -k 5 "$limit" "${cmd[@]}" >"$log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    awk "BEGIN {print $t1 - $t0}" >>"$walls"
    # The survivors' lines ("rank R: call C (count N) returned X after T s: ...").
    sed -n 's/^rank [0-9]*: call .* returned .* after \([0-9.]*\) s: .*/\1/p' "$log" >>"$errtimes"
    passed=$(grep -c '^SURVIVOR [0-9]* PASS' "$log")
    if [ $rc = 124 ] || [ $rc = 137 ]; then
      hung=$((hung + 1)); kind=hung
      # What was left of the job (mpirun and ranks of this scenario).
      pkill -9 -f "$ft" 2>/dev/null; pkill -9 -f "$race" 2>/dev/null; sleep 1
    elif grep -q 'the failing call took' "$log"; then
      late=$((late + 1)); kind=late
    elif [ $rc != 0 ] || [ "$passed" -ne "$want" ]; then
      failed=$((failed + 1)); kind=failed
    else
      clean=$((clean + 1)); kind=clean
    fi
    if [ $kind != clean ]; then cp "$log" "$logdir/$sc-$i-$kind.log"; fi
    rm -f "$log"
  done
  case "$sc" in mpi-only-* | *-keepfence) ;; *) total_bad=$((total_bad + hung + late + failed)) ;; esac
  printf '%-26s %5d %5d %5d %5d %6d   %-27s %s\n' "$sc" "$n" $clean $hung $late $failed "$(stats <"$errtimes")" \
    "$(stats <"$walls" | cut -d/ -f2,3)"
  rm -f "$errtimes" "$walls"
done
echo "stress_faults: logs of the runs that were not clean in $logdir"
# The signvote scenarios must all be clean; the baselines only inform.
unset SV_MPI_FINALIZE_FENCE
[ "$total_bad" -eq 0 ]
