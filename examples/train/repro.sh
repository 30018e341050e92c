#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The runs behind docs/reproduction.md. Usage:
#   examples/train/repro.sh BUILD_DIR OUT_DIR [a|b|b-ef]...
#   a     test accuracy vs epoch: sgd / signum / ef at P = 4 and 8
#   b     final accuracy vs adversaries K = 0..4 at P = 5 (global batch 120), every attack,
#         Signum-MV and the fp32 mean
#   b-ef  the same for EF-signSGD
#   flip1 the fp32 mean against the plain flip (--flip-scale 1), K = 1, 2
#   d     one epoch per method at P = 4 on emulated 1 Gbit/s links
#         (perf/netem/netem.sh: root, network namespaces)
# One CSV per run in OUT_DIR (skipped when it exists, so a killed sweep
# resumes). Seeds fixed (--seed 1).
set -euo pipefail
build="$1"; out="$2"; shift 2
here="$(cd "$(dirname "$0")" && pwd)"
train="$build/examples/train/sv_train"
mkdir -p "$out"
EPOCHS_A="${EPOCHS_A:-5}"
EPOCHS_B="${EPOCHS_B:-2}"
lr_of() { case "$1" in sgd) echo 0.05 ;; signum) echo 0.0001 ;; ef) echo 0.05 ;; esac; }

run() {  # run NAME NP ARGS...
  local name="$1" np="$2"; shift 2
  [ -s "$out/$name.csv" ] && return 0
  echo "== $name: mpirun -np $np sv_train $*"
  bash "$here/../../scripts/mpirun.sh" -np "$np" "$train" --seed 1 --tag "$name" --csv "$out/$name.tmp" "$@" \
    | tee "$out/$name.log"
  mv "$out/$name.tmp" "$out/$name.csv"
}

for phase in "$@"; do
  case "$phase" in
    a)
      for P in 4 8; do
        for m in sgd signum ef; do
          run "a_${m}_P${P}" "$P" --method "$m" --lr "$(lr_of "$m")" --epochs "$EPOCHS_A"
        done
      done ;;
    b|b-ef)
      methods=(signum sgd); [ "$phase" = b-ef ] && methods=(ef)
      for m in "${methods[@]}"; do
        run "b_${m}_K0" 5 --method "$m" --lr "$(lr_of "$m")" --epochs "$EPOCHS_B" --global-batch 120
        for attack in flip ipm alie random labelflip; do
          for K in 1 2 3 4; do
            run "b_${m}_${attack}_K${K}" 5 --method "$m" --lr "$(lr_of "$m")" --epochs "$EPOCHS_B" --global-batch 120 \
              --adversaries "$K" --attack "$attack"
          done
        done
      done ;;
    flip1)
      for K in 1 2; do
        run "flip1_sgd_K${K}" 5 --method sgd --lr "$(lr_of sgd)" --epochs "$EPOCHS_B" --global-batch 120 \
          --adversaries "$K" --attack flip --flip-scale 1
      done ;;
    d)
      for m in sgd signum ef; do
        [ -s "$out/d_${m}_P4.csv" ] && continue
        echo "== d_${m}_P4: netem.sh -n 4 -r 1gbit -- sv_train --method $m --epochs 1"
        bash "$here/../../perf/netem/netem.sh" -n 4 -r 1gbit -- "$(cd "$(dirname "$train")" && pwd)/sv_train" \
          --seed 1 --method "$m" --lr "$(lr_of "$m")" --epochs 1 --tag "d_${m}_P4" \
          --csv "$(cd "$out" && pwd)/d_${m}_P4.tmp" | tee "$out/d_${m}_P4.log"
        mv "$out/d_${m}_P4.tmp" "$out/d_${m}_P4.csv"
      done ;;
    *) echo "unknown phase $phase" >&2; exit 2 ;;
  esac
done
