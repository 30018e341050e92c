// SPDX-License-Identifier: MIT
// What every GPU test does first: print the driver, runtime and NCCL
// versions and the devices it sees, then run, skip or fail.
//
// A GPU test skips (exit 77, which ctest reports as skipped) only when the
// machine has no CUDA device: cudaErrorNoDevice, zero devices, or no driver
// installed at all (cudaErrorInsufficientDriver with driver version 0, what
// a GPU-less CI machine with the toolkit reports). Every other CUDA error,
// a driver older than the runtime included, fails: a broken GPU setup must
// not report green. SV_REQUIRE_GPU=1 turns the skip into a failure too, for
// machines that are meant to have a GPU.
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#if defined(SV_TEST_WITH_NCCL)
#include <nccl.h>
#endif

namespace svtest {

constexpr int kExitSkip = 77;

inline bool gpuRequired() {
  const char* v = getenv("SV_REQUIRE_GPU");
  return v != nullptr && *v != '\0' && strcmp(v, "0") != 0;
}

enum class GpuVerdict { kRun, kSkip, kFail };

// Decides for this process; *devices is the count seen. `print`: say the
// versions and the verdict (one rank of an MPI test prints).
inline GpuVerdict gpuPreflight(const char* test, bool print, int* devices) {
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  char nccl[32] = "not linked";
#if defined(SV_TEST_WITH_NCCL)
  int nv = 0;
  if (ncclGetVersion(&nv) == ncclSuccess)
    snprintf(nccl, sizeof nccl, "%d.%d.%d", nv / 10000, nv / 100 % 100, nv % 100);
#endif
  *devices = 0;
  const cudaError_t e = cudaGetDeviceCount(devices);
  if (e != cudaSuccess) *devices = 0;
  cudaGetLastError();  // the error is not sticky; leave nothing behind
  if (print)
    printf("%s: CUDA driver %d.%d, runtime %d.%d, NCCL %s; cudaGetDeviceCount: %s, %d device(s)\n", test,
           driver / 1000, driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10, nccl,
           e == cudaSuccess ? "ok" : cudaGetErrorName(e), *devices);
  const bool noDevice = e == cudaErrorNoDevice || (e == cudaSuccess && *devices == 0) ||
                        (e == cudaErrorInsufficientDriver && driver == 0);
  if (e != cudaSuccess && !noDevice) {
    if (print) printf("FAILED: the CUDA setup is broken (%s: %s)\n", cudaGetErrorName(e), cudaGetErrorString(e));
    return GpuVerdict::kFail;
  }
  if (noDevice) {
    if (gpuRequired()) {
      if (print) printf("FAILED: SV_REQUIRE_GPU=1 but this machine has no CUDA device\n");
      return GpuVerdict::kFail;
    }
    if (print) printf("SKIPPED: no CUDA device on this machine (SV_REQUIRE_GPU=1 makes this a failure)\n");
    return GpuVerdict::kSkip;
  }
  return GpuVerdict::kRun;
}

inline int exitCodeOf(GpuVerdict v) { return v == GpuVerdict::kSkip ? kExitSkip : 1; }

}  // namespace svtest
