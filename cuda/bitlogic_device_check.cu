// SPDX-License-Identifier: MIT
// Instantiates every function of src/bitlogic.h in device code: a compile
// check of the shared header under nvcc, for each target architecture. The
// real kernels (pack, vote, unpack launchers) replace this with the GPU path.
#include "bitlogic.h"

namespace sv {

template <typename U, typename K>
__global__ void packCheck(const U* x, int n, uint64_t* out, int* nans) {
  uint64_t voting;
  int count = packWord<U, K>(x, n, &out[0], &voting);
  out[1] = voting;
  out[2] = packSignWord64<U, K>(x, &count);
  *nans = count;
}

__global__ void voteCheck(const uint64_t* in, size_t stride, VoteParams p, uint64_t* out) {
  voteWord(in, stride, p, 0, out);
}

template <typename U>
__global__ void unpackCheck(const uint64_t* in, U pos, U neg, U* out) {
  unpackWord<U>(in[0], in[1], pos, neg, out, 64);
  unpackSignWord64<U>(in[0], pos, neg, out + 64);
}

template __global__ void packCheck<uint16_t, FloatBits<uint16_t>>(const uint16_t*, int, uint64_t*, int*);
template __global__ void packCheck<uint16_t, Bf16Bits>(const uint16_t*, int, uint64_t*, int*);
template __global__ void packCheck<uint32_t, FloatBits<uint32_t>>(const uint32_t*, int, uint64_t*, int*);
template __global__ void packCheck<uint64_t, FloatBits<uint64_t>>(const uint64_t*, int, uint64_t*, int*);
template __global__ void unpackCheck<uint16_t>(const uint64_t*, uint16_t, uint16_t, uint16_t*);
template __global__ void unpackCheck<uint32_t>(const uint64_t*, uint32_t, uint32_t, uint32_t*);
template __global__ void unpackCheck<uint64_t>(const uint64_t*, uint64_t, uint64_t, uint64_t*);

}  // namespace sv
