// SPDX-License-Identifier: MIT
// The GPU kernels of src/kernels/cuda/device_kernels.h. The per-lane work is in
// kernel_bodies.h (shared with the host emulation test); this file holds the
// kernels' loops, the cross-lane steps (warp shuffles, the block's NaN sum)
// and the launchers. Design notes: docs/gpu-kernels.md.
#include "device_kernels.h"

#include <cuda_runtime.h>

#include <atomic>

#include "kernel_bodies.h"
#include "launch.h"
#include "tensor_list.h"

namespace sv {
namespace device {
namespace {

using kern::kBlockThreads;
using kern::kUnroll;
using kern::kWarp;
using kern::Slot;
using kern::ThreadIdx;

constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ ThreadIdx threadIdxNow() {
  return ThreadIdx{gridDim.x, blockIdx.x, threadIdx.x};
}

// OR across the L lanes of one word (L divides 32; partners stay in the group).
template <int L>
__device__ __forceinline__ uint64_t groupOr(uint64_t v) {
#pragma unroll
  for (int o = L / 2; o > 0; o >>= 1) v |= __shfl_xor_sync(kFullMask, v, o);
  return v;
}

// Sum of every thread's count, added to *total with one atomicAdd per block.
// Every thread of the block must call it.
__device__ __forceinline__ void blockAddNans(unsigned long long mine, unsigned long long* total) {
  __shared__ unsigned long long warpSums[kern::kWarpsPerBlock];
#pragma unroll
  for (int o = kWarp / 2; o > 0; o >>= 1) mine += __shfl_down_sync(kFullMask, mine, o);
  if (threadIdx.x % kWarp == 0) warpSums[threadIdx.x / kWarp] = mine;
  __syncthreads();
  if (threadIdx.x == 0) {
    unsigned long long s = 0;
#pragma unroll
    for (int i = 0; i < kern::kWarpsPerBlock; ++i) s += warpSums[i];
    if (s) atomicAdd(total, s);
  }
}

__device__ __forceinline__ bool gateClosed(const unsigned long long* skipIfNonzero) {
  return skipIfNonzero != nullptr && *skipIfNonzero != 0;
}

// ---- Kernels ---------------------------------------------------------------
// One warp iteration of the pack (chunks c .. c+kUnroll-1 of x); returns this
// lane's NaN count.
template <typename U, typename K, int Planes>
__device__ __forceinline__ unsigned long long packIteration(const U* __restrict__ x, size_t n,
                                                            uint64_t* __restrict__ out, size_t c, int lane, bool vec) {
  constexpr int L = Slot<U>::kLanes;
  unsigned long long nans = 0;
  uint64_t s[kUnroll], v[kUnroll];
  if (kern::packIterationFull<U>(c, n, vec)) {  // warp-uniform
    kern::Vec16<U> e[kUnroll];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) kern::packLoadFull<U>(x, (c + k) * kWarp + lane, &e[k]);
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) nans += kern::packBits<U, K>(e[k], (c + k) * kWarp + lane, &s[k], &v[k]);
  } else {
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) nans += kern::packSlot<U, K>(x, n, (c + k) * kWarp + lane, vec, &s[k], &v[k]);
  }
#pragma unroll
  for (int k = 0; k < kUnroll; ++k) {
    const uint64_t sw = groupOr<L>(s[k]);
    const uint64_t vw = Planes == 2 ? groupOr<L>(v[k]) : 0;
    kern::packStore<U>((c + k) * kWarp + lane, n, Planes, sw, vw, out);
  }
  return nans;
}

template <typename U, typename K, int Planes>
__global__ void __launch_bounds__(kBlockThreads)
    packKernel(const U* __restrict__ x, size_t n, uint64_t* __restrict__ out, unsigned long long* nanCount,
               bool vec) {
  const ThreadIdx t = threadIdxNow();
  const int lane = kern::laneOf(t);
  const size_t chunks = kern::chunksOf(kern::slotsOf<U>(n));
  unsigned long long nans = 0;
  for (size_t c = kern::chunkBegin(t); c < chunks; c += kern::chunkStep(t))
    nans += packIteration<U, K, Planes>(x, n, out, c, lane, vec);
  if (nanCount != nullptr) blockAddNans(nans, nanCount);
}

// The tensors of a list (kernel_bodies.h), their iterations end to end.
// __grid_constant__: the list is read in place from parameter space, not
// copied per thread (it is indexed at run time).
template <typename U, typename K, int Planes>
__global__ void __launch_bounds__(kBlockThreads)
    packListKernel(const __grid_constant__ kern::KernelList list, uint64_t* __restrict__ out,
                   unsigned long long* nanCount) {
  const ThreadIdx t = threadIdxNow();
  const int lane = kern::laneOf(t);
  const size_t iters = list.iterEnd[list.count - 1];
  unsigned long long nans = 0;
  int j = 0;
  for (size_t g = kern::warpOf(t); g < iters; g += kern::warpsIn(t)) {
    j = kern::listItemOf(list, g, j);
    const kern::ListItem& it = list.item[j];
    nans += packIteration<U, K, Planes>(static_cast<const U*>(it.src), it.n, out + it.word * Planes,
                                        (g - kern::listItemBegin(list, j)) * kUnroll, lane, (list.vecMask >> j) & 1);
  }
  if (nanCount != nullptr) blockAddNans(nans, nanCount);
}

// Kernels that vote come in versions for a fixed rank count P (0: any).
// voteWord sizes its counters by counterBits(p.nranks); with P a constant
// after inlining, those loops unroll and the counters live in registers
// instead of a 384-byte local-memory array.
// callDev (may be null): the call number, read when the kernel runs (graph
// replays draw the ties of their own call).
template <int P>
__device__ __forceinline__ VoteParams fixRanks(VoteParams p, const unsigned long long* callDev) {
  if (P > 0) p.nranks = P;
  if (callDev != nullptr) p.call = *callDev;
  return p;
}

template <int P>
__global__ void __launch_bounds__(kBlockThreads)
    voteKernel(const uint64_t* __restrict__ in, size_t rankStride, size_t words, VoteParams pv, uint64_t firstWord,
               uint64_t* __restrict__ out, const unsigned long long* callDev) {
  const VoteParams p = fixRanks<P>(pv, callDev);
  const ThreadIdx t = threadIdxNow();
  for (size_t w = kern::threadOf(t); w < words; w += kern::threadsIn(t))
    kern::voteOne(in, rankStride, p, firstWord, w, out);
}

// One warp iteration of the unpack: all loads before any store, so a warp
// has kUnroll loads in flight.
template <typename U, int Planes>
__device__ __forceinline__ void unpackIteration(const uint64_t* __restrict__ in, size_t n, U pos, U neg,
                                                U* __restrict__ out, size_t c, int lane, bool vec) {
  uint64_t s[kUnroll], z[kUnroll];
#pragma unroll
  for (int k = 0; k < kUnroll; ++k) kern::unpackLoad<U>(in, Planes, n, (c + k) * kWarp + lane, &s[k], &z[k]);
#pragma unroll
  for (int k = 0; k < kUnroll; ++k) kern::unpackSlot<U>(s[k], z[k], pos, neg, n, (c + k) * kWarp + lane, vec, out);
}

// The plane count is a template parameter, so with 1 plane the "nonzero"
// selects fold away.
template <typename U, int Planes>
__global__ void __launch_bounds__(kBlockThreads)
    unpackKernel(const uint64_t* __restrict__ in, size_t n, U pos, U neg, U* __restrict__ out, bool vec,
                 const unsigned long long* skipIfNonzero) {
  if (gateClosed(skipIfNonzero)) return;
  const ThreadIdx t = threadIdxNow();
  const int lane = kern::laneOf(t);
  const size_t chunks = kern::chunksOf(kern::slotsOf<U>(n));
  for (size_t c = kern::chunkBegin(t); c < chunks; c += kern::chunkStep(t))
    unpackIteration<U, Planes>(in, n, pos, neg, out, c, lane, vec);
}

template <typename U, int Planes>
__global__ void __launch_bounds__(kBlockThreads)
    unpackListKernel(const uint64_t* __restrict__ in, const __grid_constant__ kern::KernelList list, U pos, U neg,
                     const unsigned long long* skipIfNonzero) {
  if (gateClosed(skipIfNonzero)) return;
  const ThreadIdx t = threadIdxNow();
  const int lane = kern::laneOf(t);
  const size_t iters = list.iterEnd[list.count - 1];
  int j = 0;
  for (size_t g = kern::warpOf(t); g < iters; g += kern::warpsIn(t)) {
    j = kern::listItemOf(list, g, j);
    const kern::ListItem& it = list.item[j];
    unpackIteration<U, Planes>(in + it.word * Planes, it.n, pos, neg, static_cast<U*>(it.dst),
                               (g - kern::listItemBegin(list, j)) * kUnroll, lane, (list.vecMask >> j) & 1);
  }
}

template <typename U, int P>
__global__ void __launch_bounds__(kBlockThreads)
    voteUnpackKernel(const uint64_t* __restrict__ in, size_t rankStride, size_t words, VoteParams pv,
                     uint64_t firstWord, size_t n, U pos, U neg, U* __restrict__ out, bool vec,
                     const unsigned long long* skipIfNonzero, const unsigned long long* callDev) {
  constexpr int L = Slot<U>::kLanes;
  if (gateClosed(skipIfNonzero)) return;
  const VoteParams p = fixRanks<P>(pv, callDev);
  const ThreadIdx t = threadIdxNow();
  const int lane = kern::laneOf(t);
  const size_t chunks = kern::chunksOf(words);
  for (size_t c = kern::warpOf(t); c < chunks; c += kern::warpsIn(t)) {
    uint64_t sign, nonzero;
    kern::voteUnpackVote(in, rankStride, words, p, firstWord, c, lane, &sign, &nonzero);
#pragma unroll 4
    for (int q = 0; q < L; ++q) {
      const int src = kern::voteUnpackSource<U>(q, lane);
      const size_t slot = kern::voteUnpackSlot<U>(c, q, lane);
      const int shift = kern::slotShift<U>(slot);
      const uint64_t s = __shfl_sync(kFullMask, sign, src) >> shift;
      const uint64_t z = __shfl_sync(kFullMask, nonzero, src) >> shift;
      kern::unpackSlot<U>(s, z, pos, neg, n, slot, vec, out);
    }
  }
}

// ---- Launch helpers --------------------------------------------------------
// Blocks that fill the current device: kBlocksPerSm per SM (cached per device).
cudaError_t maxBlocks(unsigned* blocks) {
  static std::atomic<int> smCount[64];
  int dev = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e != cudaSuccess) return e;
  int sms = dev >= 0 && dev < 64 ? smCount[dev].load(std::memory_order_relaxed) : 0;
  if (sms == 0) {
    e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    if (e != cudaSuccess) return e;
    if (sms <= 0) sms = 1;
    if (dev >= 0 && dev < 64) smCount[dev].store(sms, std::memory_order_relaxed);
  }
  *blocks = static_cast<unsigned>(sms) * kern::kBlocksPerSm;
  return cudaSuccess;
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

template <typename U, typename K>
cudaError_t packT(const void* x, size_t n, int planes, uint64_t* out, unsigned long long* nanCount,
                  cudaStream_t stream) {
  unsigned mb = 0;
  cudaError_t e = maxBlocks(&mb);
  if (e != cudaSuccess) return e;
  const unsigned blocks = kern::slotBlocks(kern::slotsOf<U>(n), mb);
  const U* xs = static_cast<const U*>(x);
  return launchKernel(planes == 1 ? packKernel<U, K, 1> : packKernel<U, K, 2>, blocks, kBlockThreads, stream, xs, n,
                      out, nanCount, aligned16(x));
}

template <typename U>
cudaError_t unpackT(const uint64_t* in, int planes, size_t n, const OutputBits& bits, void* out,
                    const unsigned long long* skipIfNonzero, cudaStream_t stream) {
  unsigned mb = 0;
  cudaError_t e = maxBlocks(&mb);
  if (e != cudaSuccess) return e;
  const unsigned blocks = kern::slotBlocks(kern::slotsOf<U>(n), mb);
  const U pos = static_cast<U>(bits.pos), neg = static_cast<U>(bits.neg);
  return launchKernel(planes == 1 ? unpackKernel<U, 1> : unpackKernel<U, 2>, blocks, kBlockThreads, stream, in, n,
                      pos, neg, static_cast<U*>(out), aligned16(out), skipIfNonzero);
}

template <typename U>
cudaError_t voteUnpackT(const uint64_t* in, size_t rankStride, size_t words, const VoteParams& p,
                        uint64_t firstWord, size_t n, const OutputBits& bits, void* out,
                        const unsigned long long* skipIfNonzero, cudaStream_t stream,
                        const unsigned long long* callDev) {
  unsigned mb = 0;
  cudaError_t e = maxBlocks(&mb);
  if (e != cudaSuccess) return e;
  const unsigned blocks = kern::voteUnpackBlocks(words, mb);
  const U pos = static_cast<U>(bits.pos), neg = static_cast<U>(bits.neg);
  U* o = static_cast<U*>(out);
  const bool vec = aligned16(out);
  auto kernel = voteUnpackKernel<U, 0>;  // the rank counts with a register-only version (see fixRanks)
  switch (p.nranks) {
    case 2: kernel = voteUnpackKernel<U, 2>; break;
    case 3: kernel = voteUnpackKernel<U, 3>; break;
    case 4: kernel = voteUnpackKernel<U, 4>; break;
    case 8: kernel = voteUnpackKernel<U, 8>; break;
    case 16: kernel = voteUnpackKernel<U, 16>; break;
    default: break;
  }
  return launchKernel(kernel, blocks, kBlockThreads, stream, in, rankStride, words, p, firstWord, n, pos, neg, o, vec,
                      skipIfNonzero, callDev);
}

template <typename U, typename K>
cudaError_t packListT(const TensorSlice* ts, size_t count, int planes, uint64_t* out, unsigned long long* nanCount,
                      cudaStream_t stream) {
  unsigned mb = 0;
  cudaError_t e = maxBlocks(&mb);
  if (e != cudaSuccess) return e;
  return forEachList<U>(ts, count, true, [&](const kern::KernelList& l) {
    return launchKernel(planes == 1 ? packListKernel<U, K, 1> : packListKernel<U, K, 2>, kern::listBlocks(l, mb),
                        kBlockThreads, stream, l, out, nanCount);
  });
}

template <typename U>
cudaError_t unpackListT(const uint64_t* in, int planes, const TensorSlice* ts, size_t count, const OutputBits& bits,
                        const unsigned long long* skipIfNonzero, cudaStream_t stream) {
  unsigned mb = 0;
  cudaError_t e = maxBlocks(&mb);
  if (e != cudaSuccess) return e;
  const U pos = static_cast<U>(bits.pos), neg = static_cast<U>(bits.neg);
  return forEachList<U>(ts, count, false, [&](const kern::KernelList& l) {
    return launchKernel(planes == 1 ? unpackListKernel<U, 1> : unpackListKernel<U, 2>, kern::listBlocks(l, mb),
                        kBlockThreads, stream, in, l, pos, neg, skipIfNonzero);
  });
}

}  // namespace

cudaError_t pack(const void* x, size_t n, svDataType_t dt, int planes, uint64_t* out,
                 unsigned long long* nanCount, cudaStream_t stream) {
  if (!dtValid(dt) || (planes != 1 && planes != 2)) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (x == nullptr || out == nullptr) return cudaErrorInvalidValue;
  switch (dt) {
    case svFloat16: return packT<uint16_t, FloatBits<uint16_t>>(x, n, planes, out, nanCount, stream);
    case svBfloat16: return packT<uint16_t, Bf16Bits>(x, n, planes, out, nanCount, stream);
    case svFloat32: return packT<uint32_t, FloatBits<uint32_t>>(x, n, planes, out, nanCount, stream);
    case svFloat64: return packT<uint64_t, FloatBits<uint64_t>>(x, n, planes, out, nanCount, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t vote(const uint64_t* in, size_t rankStride, size_t words, const VoteParams& p, uint64_t firstWord,
                 uint64_t* out, cudaStream_t stream, const unsigned long long* callDev) {
  if (!kern::voteParamsValid(p)) return cudaErrorInvalidValue;
  if (words == 0) return cudaSuccess;
  if (in == nullptr || out == nullptr) return cudaErrorInvalidValue;
  unsigned mb = 0;
  cudaError_t e = maxBlocks(&mb);
  if (e != cudaSuccess) return e;
  const unsigned blocks = kern::voteBlocks(words, mb);
  auto kernel = voteKernel<0>;
  switch (p.nranks) {  // the rank counts with a register-only version (see fixRanks)
    case 2: kernel = voteKernel<2>; break;
    case 3: kernel = voteKernel<3>; break;
    case 4: kernel = voteKernel<4>; break;
    case 8: kernel = voteKernel<8>; break;
    case 16: kernel = voteKernel<16>; break;
    default: break;
  }
  return launchKernel(kernel, blocks, kBlockThreads, stream, in, rankStride, words, p, firstWord, out, callDev);
}

cudaError_t unpack(const uint64_t* in, int planes, size_t n, svDataType_t dt, const OutputBits& bits, void* out,
                   const unsigned long long* skipIfNonzero, cudaStream_t stream) {
  if (!dtValid(dt) || (planes != 1 && planes != 2)) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (in == nullptr || out == nullptr) return cudaErrorInvalidValue;
  switch (dt) {
    case svFloat16:
    case svBfloat16: return unpackT<uint16_t>(in, planes, n, bits, out, skipIfNonzero, stream);
    case svFloat32: return unpackT<uint32_t>(in, planes, n, bits, out, skipIfNonzero, stream);
    case svFloat64: return unpackT<uint64_t>(in, planes, n, bits, out, skipIfNonzero, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t voteUnpack(const uint64_t* in, size_t rankStride, size_t words, const VoteParams& p, uint64_t firstWord,
                       size_t n, svDataType_t dt, const OutputBits& bits, void* out,
                       const unsigned long long* skipIfNonzero, cudaStream_t stream,
                       const unsigned long long* callDev) {
  if (!dtValid(dt) || !kern::voteParamsValid(p) || n > words * static_cast<size_t>(kWordBits)) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (in == nullptr || out == nullptr) return cudaErrorInvalidValue;
  switch (dt) {
    case svFloat16:
    case svBfloat16: return voteUnpackT<uint16_t>(in, rankStride, words, p, firstWord, n, bits, out, skipIfNonzero, stream, callDev);
    case svFloat32: return voteUnpackT<uint32_t>(in, rankStride, words, p, firstWord, n, bits, out, skipIfNonzero, stream, callDev);
    case svFloat64: return voteUnpackT<uint64_t>(in, rankStride, words, p, firstWord, n, bits, out, skipIfNonzero, stream, callDev);
  }
  return cudaErrorInvalidValue;
}

cudaError_t packList(const TensorSlice* ts, size_t count, svDataType_t dt, int planes, uint64_t* out,
                     unsigned long long* nanCount, cudaStream_t stream) {
  if (!tensorListValid(ts, count, dt, planes, true) || out == nullptr) return cudaErrorInvalidValue;
  switch (dt) {
    case svFloat16: return packListT<uint16_t, FloatBits<uint16_t>>(ts, count, planes, out, nanCount, stream);
    case svBfloat16: return packListT<uint16_t, Bf16Bits>(ts, count, planes, out, nanCount, stream);
    case svFloat32: return packListT<uint32_t, FloatBits<uint32_t>>(ts, count, planes, out, nanCount, stream);
    case svFloat64: return packListT<uint64_t, FloatBits<uint64_t>>(ts, count, planes, out, nanCount, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t unpackList(const uint64_t* in, int planes, const TensorSlice* ts, size_t count, svDataType_t dt,
                       const OutputBits& bits, const unsigned long long* skipIfNonzero, cudaStream_t stream) {
  if (!tensorListValid(ts, count, dt, planes, false) || in == nullptr) return cudaErrorInvalidValue;
  switch (dt) {
    case svFloat16:
    case svBfloat16: return unpackListT<uint16_t>(in, planes, ts, count, bits, skipIfNonzero, stream);
    case svFloat32: return unpackListT<uint32_t>(in, planes, ts, count, bits, skipIfNonzero, stream);
    case svFloat64: return unpackListT<uint64_t>(in, planes, ts, count, bits, skipIfNonzero, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace device
}  // namespace sv
