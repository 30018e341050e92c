// SPDX-License-Identifier: MIT
// Catch2 main of the GPU kernel tests: gpu_preflight.h decides whether they
// run, skip (exit 77, no CUDA device) or fail (a broken CUDA setup, or no
// device under SV_REQUIRE_GPU=1).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "gpu_preflight.h"

int main(int argc, char* argv[]) {
  int devices = 0;
  const svtest::GpuVerdict v = svtest::gpuPreflight("gpu_kernels", true, &devices);
  if (v != svtest::GpuVerdict::kRun) return svtest::exitCodeOf(v);
  return Catch::Session().run(argc, argv);
}
