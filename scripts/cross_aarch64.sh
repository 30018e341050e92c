#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The library and its unit tier for aarch64 (Grace-Hopper hosts are Arm):
# cross-compiled with Debian's toolchain, run under qemu-user.
#
#   scripts/cross_aarch64.sh              configure + build build-aarch64, ctest -L unit
#   scripts/cross_aarch64.sh -R host      extra arguments go to ctest
#
# Installs nothing: it checks the tools and says what to install
# (scripts/setup.sh installs them: g++-aarch64-linux-gnu qemu-user).
# The build has no MPI, CUDA, NCCL or hwloc (Debian's arm64 hwloc would
# need multiarch, dpkg --add-architecture arm64); the toolchain file
# cmake/toolchains/aarch64-linux-gnu.cmake sets CMAKE_CROSSCOMPILING_EMULATOR
# so that ctest runs every test through qemu-aarch64. See docs/perf-host.md
# (aarch64) for what is built there.
#
# Environment: BUILD_DIR_AARCH64 (default build-aarch64), SV_CROSS_JOBS
# (build and ctest parallelism, default nproc).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR_AARCH64:-$root/build-aarch64}"
jobs="${SV_CROSS_JOBS:-$(nproc)}"
triple=aarch64-linux-gnu
sysroot="/usr/$triple"

missing=()
for tool in cmake ctest "$triple-gcc" "$triple-g++" qemu-aarch64; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ -e "$sysroot/lib/ld-linux-aarch64.so.1" ] || missing+=("$sysroot/lib/ld-linux-aarch64.so.1")
[ -e /usr/include/catch2/catch.hpp ] || missing+=("/usr/include/catch2/catch.hpp")
if [ ${#missing[@]} -ne 0 ]; then
  echo "cross_aarch64: missing ${missing[*]}" >&2
  echo "cross_aarch64: install with: apt-get install g++-aarch64-linux-gnu qemu-user catch2 cmake" >&2
  echo "cross_aarch64: (or run scripts/setup.sh, which installs them)" >&2
  exit 2
fi

start=$(date +%s)
cmake -S "$root" -B "$build" --toolchain "$root/cmake/toolchains/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DSIGNVOTE_WITH_MPI=OFF -DSIGNVOTE_WITH_CUDA=OFF -DSIGNVOTE_WITH_NCCL=OFF \
  -DSIGNVOTE_WITH_HWLOC=OFF -DSIGNVOTE_WITH_DEVICE_EMULATION=OFF >/dev/null
# Everything this configuration has: the library (shared and the static
# one the tests link), the unit tests, and the benchmark the unit tier
# smoke-runs.
cmake --build "$build" -j"$jobs"
built=$(date +%s)

# The unit tier under qemu, nothing excluded; each test's 300 s TIMEOUT is
# the backstop. The loopback fault tests (test_faults.cc) have sub-second
# windows (SV_TIMEOUT 0.2-0.5 s, probe answers within 0.1 s): they held in
# every emulated run, failing only with emulation slowed ~3x further
# (docs/perf-host.md#aarch64). On a much slower machine, SV_CROSS_JOBS=1
# runs every test alone.
ctest --test-dir "$build" --output-on-failure -j"$jobs" -L unit "$@"
end=$(date +%s)
echo "cross_aarch64: configure+build $((built - start)) s, ctest -L unit $((end - built)) s (qemu-aarch64)"
