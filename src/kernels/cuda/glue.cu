// SPDX-License-Identifier: MIT
#include "glue.h"
#include "glue_bodies.h"
#include "launch.h"

namespace sv {
namespace device {
namespace {

__global__ void nanPublishKernel(unsigned long long* cnt, const unsigned long long* counts, int n, bool flagError,
                                 DeviceNanRecord* host) {
  nanPublishBody(cnt, counts, n, flagError, host);
}

__global__ void advanceCallKernel(unsigned long long* cnt, DeviceNanRecord* host) { advanceCallBody(cnt, host); }

__global__ void copyBitsKernel(const uint32_t* src, uint32_t* dst, size_t n32, uint32_t lastMask,
                               const unsigned long long* skip) {
  if (skip != nullptr && *skip != 0) return;
  const size_t stride = static_cast<size_t>(blockDim.x) * gridDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n32; i += stride)
    copyBitsWord(src, dst, i, n32, lastMask);
}

}  // namespace

cudaError_t nanPublish(unsigned long long* cnt, const unsigned long long* counts, int n, bool flagError,
                       DeviceNanRecord* host, cudaStream_t stream) {
  return launchKernel(nanPublishKernel, 1, 1, stream, cnt, counts, n, flagError, host);
}

cudaError_t advanceCall(unsigned long long* cnt, DeviceNanRecord* host, cudaStream_t stream) {
  return launchKernel(advanceCallKernel, 1, 1, stream, cnt, host);
}

cudaError_t copyBits(const uint64_t* src, uint32_t* dst, size_t n32, uint32_t lastMask,
                     const unsigned long long* skipIfNonzero, cudaStream_t stream) {
  if (n32 == 0) return cudaSuccess;
  const int threads = 256;
  const size_t blocks = (n32 + threads - 1) / threads;
  const unsigned grid = static_cast<unsigned>(blocks < 4096 ? blocks : 4096);
  return launchKernel(copyBitsKernel, grid, threads, stream, reinterpret_cast<const uint32_t*>(src), dst, n32, lastMask,
                      skipIfNonzero);
}

}  // namespace device
}  // namespace sv
