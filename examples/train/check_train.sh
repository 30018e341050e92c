#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The `train` ctest (examples/train/CMakeLists.txt): short real training runs
# of sv_train, asserting learning vs not learning with wide margins, fixed
# seeds. Usage: check_train.sh SV_TRAIN DATA_DIR WORK_DIR
#   1. 3 ranks, Signum-MV, 2 x 50 steps of 120 examples on a 6000-example subset, --debug
#      (params hash-compared on every rank each step): the loss goes down and
#      test accuracy is far above chance (10 %).
#   2. 5 ranks, one flip adversary (rank 4, sending -P x its gradient):
#      Signum-MV still learns; the fp32 mean is driven uphill and stays far
#      below Signum-MV.
#   3. Lion-MaVo (svLionStep) at P = 3 with --debug, fp32-mean AdamW at P = 3 and
#      plain Lion at P = 1: each learns (loss down, test accuracy > 0.6).
set -euo pipefail
train="$1"; data="$2"; work="$3"
here="$(cd "$(dirname "$0")" && pwd)"
mpirun=(bash "$here/../../scripts/mpirun.sh")
mkdir -p "$work"
common=(--data "$data" --train-subset 6000 --test-subset 2000 --steps-per-epoch 100 --epochs 2 --seed 3 --global-batch 120)

# col FILE EPOCH NAME: one CSV value
col() {
  awk -F, -v e="$2" -v name="$3" 'NR==1{for(i=1;i<=NF;i++) c[$i]=i; next} $7==e{print $c[name]}' "$1"
}
fail=0
check() {  # check DESCRIPTION AWK-CONDITION
  if awk "BEGIN{exit !($2)}"; then echo "ok: $1"; else echo "FAILED: $1 ($2)"; fail=1; fi
}

"${mpirun[@]}" -np 3 "$train" --method signum --debug --csv "$work/clean.csv" "${common[@]}"
l1=$(col "$work/clean.csv" 1 train_loss); l2=$(col "$work/clean.csv" 2 train_loss)
a2=$(col "$work/clean.csv" 2 test_acc)
check "Signum-MV P=3: loss goes down ($l1 -> $l2)" "$l2 < 0.9 * $l1"
check "Signum-MV P=3: test accuracy $a2 > 0.6" "$a2 > 0.6"

"${mpirun[@]}" -np 5 "$train" --method signum --adversaries 1 --attack flip --csv "$work/sv_flip.csv" "${common[@]}"
"${mpirun[@]}" -np 5 "$train" --method sgd --adversaries 1 --attack flip --csv "$work/sgd_flip.csv" "${common[@]}"
sv=$(col "$work/sv_flip.csv" 2 test_acc); sgd=$(col "$work/sgd_flip.csv" 2 test_acc)
check "Signum-MV P=5, 1 flip adversary: test accuracy $sv > 0.6" "$sv > 0.6"
check "fp32 mean P=5, 1 flip adversary: test accuracy $sgd < Signum-MV's $sv - 0.2" "$sgd < $sv - 0.2"
for run in "3 lion" "3 adamw" "1 lion-fp32"; do
  set -- $run
  extra=(); [ "$2" = lion ] && extra=(--debug)
  "${mpirun[@]}" -np "$1" "$train" --method "$2" ${extra[@]+"${extra[@]}"} --csv "$work/$2_P$1.csv" "${common[@]}"
  l1=$(col "$work/$2_P$1.csv" 1 train_loss); l2=$(col "$work/$2_P$1.csv" 2 train_loss)
  a2=$(col "$work/$2_P$1.csv" 2 test_acc)
  check "$2 P=$1: loss goes down ($l1 -> $l2), test accuracy $a2 > 0.6" "$l2 < 0.9 * $l1 && $a2 > 0.6"
done
exit $fail
