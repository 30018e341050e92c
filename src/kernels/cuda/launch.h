// SPDX-License-Identifier: MIT
// Kernel launches through cudaLaunchKernelEx (nvcc only): its return code is
// this launch's, so a launcher needs no cudaGetLastError round trip per
// launch, and never picks up (and clears) an error some other launch left.
#pragma once

#include <cuda_runtime.h>

#include <utility>

namespace sv {

template <typename... Params, typename... Args>
cudaError_t launchKernel(void (*kernel)(Params...), unsigned blocks, unsigned threads, cudaStream_t stream,
                         Args&&... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(blocks);
  cfg.blockDim = dim3(threads);
  cfg.dynamicSmemBytes = 0;
  cfg.stream = stream;
  cfg.attrs = nullptr;
  cfg.numAttrs = 0;
  return cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
}

}  // namespace sv
