#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The GPU bring-up in one batch (issue 13, item 8), for the lent GPU machine:
# one H200, CUDA 13, PyTorch with its own NCCL wheel, CMake, compute-sanitizer;
# no MPI, no hwloc, no Catch2 (carried in .gpu-deps/, scripts/gpu_deps.sh),
# nothing to download. In under 10 minutes, every step bounded by `timeout`
# and logged under OUT:
#   1. the machine (nvidia-smi, nvcc, the NCCL found)
#   2. build: -DSIGNVOTE_WITH_MPI=OFF -DSIGNVOTE_WITH_HWLOC=OFF, sm_90, NCCL
#      from the wheel
#   3. SV_REQUIRE_GPU=1 ctest -L gpu (kernels bit for bit against the host,
#      device communicators over NCCL at P = 1, 2, 3, 4, 8 forked ranks)
#   4. compute-sanitizer memcheck and racecheck on the kernel tests, memcheck
#      on a P = 2 forked run
#   5. sv_gpu_kernels_bench (the kernels against a device-to-device copy)
#   6. sv_gpu_vote_bench: svAllReduceSign against ncclAllReduce fp32 at
#      P = 1, 2, 4, 8 (ranks share the one GPU through NCCL's sockets above 1)
#   7. sv_gpu_vote_bench -g: ResNet-50's 161 tensors separate / grouped /
#      as one call, beside NCCL the same three ways, at P = 1, 4
#
#   perf/gpu/bringup.sh OUT            (on the device: OUT=$OUT)
set -uo pipefail
out="${1:?usage: $0 OUTDIR}"
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="${SV_BRINGUP_BUILD:-$src/build-gpu}"
mkdir -p "$out"
exec > >(tee -a "$out/bringup.log") 2>&1
step() {  # step NAME SECONDS COMMAND...: OUT/NAME.txt, keeps going on failure
  local name="$1" secs="$2"
  shift 2
  local t0=$SECONDS
  { echo "# $*"; timeout "$secs" "$@"; echo "# exit $?"; } >"$out/$name.txt" 2>&1
  echo "== $name ($((SECONDS - t0)) s): $(tail -n 1 "$out/$name.txt")"
}

# 1. The machine, and NCCL from PyTorch's wheel (no libnccl.so link there).
nccl_wheel="$(python3 -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__))' 2>/dev/null ||
              python3 -c 'import nvidia.nccl, os; print(list(nvidia.nccl.__path__)[0])' 2>/dev/null || true)"
nccl_home="$build/nccl"
nccl_args=()  # none: CMake looks in the usual places (NCCL_HOME, /usr/local/cuda)
if [ -n "$nccl_wheel" ] && [ -d "$nccl_wheel/include" ]; then
  mkdir -p "$nccl_home/lib"
  ln -sfn "$nccl_wheel/include" "$nccl_home/include"
  lib="$(ls "$nccl_wheel"/lib/libnccl.so* 2>/dev/null | head -n 1)"
  [ -n "$lib" ] && ln -sf "$lib" "$nccl_home/lib/libnccl.so"
  export LD_LIBRARY_PATH="$nccl_wheel/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  nccl_args=(-DNCCL_INCLUDE_DIR="$nccl_home/include" -DNCCL_LIBRARY="$nccl_home/lib/libnccl.so")
fi
{
  date -u
  nvidia-smi || true
  nvidia-smi topo -m || true
  nvcc --version || true
  echo "NCCL wheel: ${nccl_wheel:-none}"
  ls -la "$nccl_home" "$nccl_home/lib" 2>&1
  lscpu | head -n 20
  git -C "$src" log --oneline -1 2>/dev/null || true
} >"$out/system.txt" 2>&1
echo "== system: $(grep -m1 'NVIDIA H\|NVIDIA A\|NVIDIA' "$out/system.txt" || echo 'no nvidia-smi')"

# 2. Build.
step configure 120 cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSIGNVOTE_WITH_MPI=OFF \
  -DSIGNVOTE_WITH_HWLOC=OFF -DSIGNVOTE_WITH_DEVICE_EMULATION=OFF -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DCMAKE_PREFIX_PATH="$src/.gpu-deps" ${nccl_args[@]+"${nccl_args[@]}"}
step build 300 cmake --build "$build" -j"$(nproc)" --target signvote signvote_gpu_kernel_tests sv_gpu_fork_test \
  sv_gpu_kernels_bench sv_gpu_vote_bench

# 3. The GPU tests, which must not skip here.
step ctest_gpu 360 env SV_REQUIRE_GPU=1 ctest --test-dir "$build" -L gpu --output-on-failure

# 4. compute-sanitizer.
kt="$build/tests/gpu/signvote_gpu_kernel_tests"
step memcheck_kernels 120 compute-sanitizer --tool memcheck --error-exitcode 9 "$kt"
step racecheck_kernels 120 compute-sanitizer --tool racecheck --error-exitcode 9 "$kt"
step memcheck_fork_p2 120 compute-sanitizer --tool memcheck --target-processes all --error-exitcode 9 \
  "$build/tests/gpu/sv_gpu_fork_test" 2 quick

# 5, 6. Benchmarks.
step kernels_bench 120 "$build/perf/sv_gpu_kernels_bench"
for p in 1 2 4 8; do
  step "vote_bench_p$p" 90 "$build/perf/sv_gpu_vote_bench" -p "$p" -b 4K -e 256M -f 4 -n 20 -w 5
done
for p in 1 4; do  # issue 13's group figure: ResNet-50's 161 tensors
  step "group_bench_p$p" 90 "$build/perf/sv_gpu_vote_bench" -p "$p" -g -e 128M -n 10 -w 3
done
echo "bring-up done in $SECONDS s; logs in $out"
