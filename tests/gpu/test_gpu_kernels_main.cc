// SPDX-License-Identifier: MIT
// Catch2 main of the GPU kernel tests: without a usable CUDA device it says
// why in one line and exits 77, which ctest reports as skipped.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <stdio.h>

#include <cuda_runtime_api.h>

int main(int argc, char* argv[]) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    printf("SKIPPED: no CUDA device: cudaGetDeviceCount -> %s\n",
           e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
