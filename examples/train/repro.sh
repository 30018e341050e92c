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
#   lion-a  Lion-MaVo (svLionStep), data-parallel fp32 Lion and AdamW at P = 4
#         and 8, single-process Lion and AdamW (P = 1), seeds 1..3 (SEEDS)
#   b-lion  phase b for Lion-MaVo
#   e     examples/python/ddp_compare.py at P = 4 on emulated 1 Gbit/s links, a
#         small CNN in torch DDP: fp32 all-reduce, fp16, PowerSGD rank 1 and 4,
#         the Signum and Lion vote hooks, and the same steps with no
#         communication; EPOCHS_E (2) epochs, rounds ROUNDS_E ("1")
#         (BUILD_DIR/python-venv: scripts/test.sh python or install_venv.sh)
# One CSV per run in OUT_DIR (skipped when it exists, so a killed sweep
# resumes). Seeds fixed (--seed 1, or the loop's seed in lion-a).
set -euo pipefail
build="$1"; out="$2"; shift 2
here="$(cd "$(dirname "$0")" && pwd)"
train="$build/examples/train/sv_train"
mkdir -p "$out"
EPOCHS_A="${EPOCHS_A:-5}"
EPOCHS_B="${EPOCHS_B:-2}"
SEEDS="${SEEDS:-1 2 3}"
# lion and adamw: picked by 3-epoch runs at P = 4 (lion 5e-5..1e-3, adamw 3e-4..3e-3)
lr_of() { case "$1" in sgd) echo 0.05 ;; signum) echo 0.0001 ;; ef) echo 0.05 ;; lion|lion-fp32) echo 0.0003 ;;
  adamw) echo 0.001 ;; esac; }

run() {  # run NAME NP ARGS...
  local name="$1" np="$2"; shift 2
  [ -s "$out/$name.csv" ] && return 0
  echo "== $name: mpirun -np $np sv_train $*"
  bash "$here/../../scripts/mpirun.sh" -np "$np" "$train" --seed "${seed:-1}" --tag "$name" --csv "$out/$name.tmp" "$@" \
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
    lion-a)
      for seed in $SEEDS; do
        for m in lion-fp32 adamw; do
          run "la_${m}_P1_s${seed}" 1 --method "$m" --lr "$(lr_of "$m")" --epochs "$EPOCHS_A"
        done
        for P in 4 8; do
          for m in lion lion-fp32 adamw; do
            run "la_${m}_P${P}_s${seed}" "$P" --method "$m" --lr "$(lr_of "$m")" --epochs "$EPOCHS_A"
          done
        done
      done
      unset seed ;;
    b|b-ef|b-lion)
      methods=(signum sgd); [ "$phase" = b-ef ] && methods=(ef); [ "$phase" = b-lion ] && methods=(lion)
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
    e)
      py="$(cd "$build" && pwd)/python-venv/bin/python"
      script="$(cd "$here/../python" && pwd)/ddp_compare.py"
      for r in ${ROUNDS_E:-1}; do
        for m in local-sgd allreduce fp16 powersgd1 powersgd4 local-signum signum local-lion lion; do
          name="e_${m}_P4_r$r"
          [ -s "$out/$name.csv" ] && continue
          echo "== $name: netem.sh -n 4 -r 1gbit -- ddp_compare.py --method $m --epochs ${EPOCHS_E:-2}"
          bash "$here/../../perf/netem/netem.sh" -n 4 -r 1gbit -- "$py" "$script" --method "$m" \
            --epochs "${EPOCHS_E:-2}" --tag "$name" --csv "$(cd "$out" && pwd)/$name.tmp" < /dev/null | tee "$out/$name.log"
          mv "$out/$name.tmp" "$out/$name.csv"
        done
      done ;;
    *) echo "unknown phase $phase" >&2; exit 2 ;;
  esac
done
