#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The GPU benchmark in one go, for a session that has a GPU (none was
# available when this was written). Raw output only; nothing is parsed here.
#
#   perf/gpu/run_gpu_bench.sh OUTDIR [BUILD_DIR] [NCCL_TESTS_ALL_REDUCE_PERF]
#
#   OUTDIR       where the raw logs go (created)
#   BUILD_DIR    a configured and built signvote build (default: build)
#   NCCL_TESTS_ALL_REDUCE_PERF
#                path of a built nccl-tests all_reduce_perf (optional)
#
# Environment: SV_BENCH_MAXP (default: 8 ranks at most), SV_BENCH_MAX (largest
# size, default 1G), SV_BENCH_ITERS (default 20), SV_BENCH_TIMEOUT (seconds
# per run, default 600).
#
# Runs, each into its own file:
#   1. sv_gpu_kernels_bench (the GPU kernels alone), when built
#   2. sv_allreduce_perf --device 1 at P = 1..N ranks on the GPU(s) (several
#      ranks per GPU when P > GPUs: each gets its own NCCL_HOSTID, see
#      tests/gpu/per_rank_env.sh), 4 KB .. 1 GB, against --baseline nccl
#      (ncclAllReduce fp32 sum on the same ranks): NCCL transport, then the
#      MPI device transport, then NCCL with -G 1 (CUDA graph launches)
#   3. nccl-tests all_reduce_perf at the same P and sizes, when given
#   plus nvidia-smi topology and the environment.
set -uo pipefail
out="${1:?usage: $0 OUTDIR [BUILD_DIR] [all_reduce_perf]}"
build="${2:-build}"
nccltests="${3:-}"
src="$(cd "$(dirname "$0")/../.." && pwd)"
maxp="${SV_BENCH_MAXP:-8}"
max="${SV_BENCH_MAX:-1G}"
iters="${SV_BENCH_ITERS:-20}"
tmo="${SV_BENCH_TIMEOUT:-600}"
mkdir -p "$out"

run() {  # run NAME COMMAND...: log to OUTDIR/NAME.txt, keep going on failure
  local name="$1"
  shift
  echo "== $name: $*" | tee -a "$out/index.txt"
  { echo "# $*"; date -u; timeout "$tmo" "$@"; echo "# exit $?"; } >"$out/$name.txt" 2>&1
  tail -n 3 "$out/$name.txt" | sed 's/^/   /'
}

{
  date -u
  hostname
  nvidia-smi || true
  nvidia-smi topo -m || true
  nvcc --version || true
  git -C "$src" log --oneline -1 || true
  env | grep -E '^(SV_|NCCL_|CUDA_)' || true
} >"$out/system.txt" 2>&1

if [ -x "$build/perf/sv_gpu_kernels_bench" ]; then
  run kernels "$build/perf/sv_gpu_kernels_bench"
else
  echo "== kernels: $build/perf/sv_gpu_kernels_bench not built, skipped" | tee -a "$out/index.txt"
fi

perf="$build/perf/sv_allreduce_perf"
[ -x "$perf" ] || { echo "no $perf: build with CUDA and NCCL first" >&2; exit 1; }
mpirun_() { bash "$src/scripts/mpirun.sh" -np "$1" bash "$src/tests/gpu/per_rank_env.sh" "${@:2}"; }
for p in $(seq 1 "$maxp"); do
  run "sv_nccl_p$p" mpirun_ "$p" "$perf" --device 1 -b 4K -e "$max" -f 2 -n "$iters" -w 5 -c 1 --baseline nccl
  run "sv_mpi_p$p" mpirun_ "$p" "$perf" --device 1 --transport mpi -b 4K -e "$max" -f 4 -n "$iters" -w 2 -c 1
  run "sv_nccl_graph_p$p" mpirun_ "$p" "$perf" -G 1 -b 4K -e "$max" -f 4 -n "$iters" -w 5 -c 1 --baseline nccl
  if [ -n "$nccltests" ]; then
    run "nccl_tests_p$p" mpirun_ "$p" "$nccltests" -b 4K -e "$max" -f 2 -n "$iters" -w 5 -c 1 -g 1
  fi
done
echo "raw logs in $out (index.txt lists the runs)"
