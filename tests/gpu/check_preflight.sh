#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest gpu_preflight_policy (label cuda, runs without a GPU): the GPU tests'
# run/skip/fail rule (gpu_preflight.h) as a GPU-less CI machine sees it.
# Without a device the binary must exit 77 (skipped), and 1 (failed) under
# SV_REQUIRE_GPU=1; with one, both must run the tests (--list-tests only).
#   check_preflight.sh <gpu test binary>
set -uo pipefail
bin=${1:?gpu test binary}
out=$(SV_REQUIRE_GPU= "$bin" --list-test-names-only 2>&1); rc=$?
echo "$out" | head -3
line=$(echo "$out" | grep -m1 'cudaGetDeviceCount')
[ -n "$line" ] || { echo "FAIL: no version line"; exit 1; }
if echo "$line" | grep -q ' 0 device(s)'; then
  [ "$rc" = 77 ] || { echo "FAIL: no device, exit $rc (want 77, skipped)"; exit 1; }
  out=$(SV_REQUIRE_GPU=1 "$bin" --list-test-names-only 2>&1); rc=$?
  echo "$out" | tail -1
  [ "$rc" = 1 ] || { echo "FAIL: no device under SV_REQUIRE_GPU=1, exit $rc (want 1, failed)"; exit 1; }
  echo "$out" | grep -q 'FAILED: SV_REQUIRE_GPU=1' || { echo "FAIL: no reason given"; exit 1; }
else
  [ "$rc" = 0 ] || { echo "FAIL: a device is visible, exit $rc"; exit 1; }
  SV_REQUIRE_GPU=1 "$bin" --list-test-names-only >/dev/null 2>&1 || { echo "FAIL: SV_REQUIRE_GPU=1 with a device"; exit 1; }
fi
echo "OK"
