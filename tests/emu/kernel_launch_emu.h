// SPDX-License-Identifier: MIT
// Emulated launches of the GPU kernels of src/kernels/cuda/device_kernels.cu: every
// block, every warp, every lane and every grid-stride iteration, over the
// same per-lane bodies and index math (src/kernels/cuda/kernel_bodies.h) the device runs.
// Only the cross-lane steps are written here, modelled exactly: the
// shfl_xor butterfly, shfl broadcasts, the block's NaN sum and its one
// atomicAdd. Used by the unit test of the kernel bodies
// (tests/unit/test_device_kernel_bodies.cc) and by the emulated device
// runtime (tests/emu/kernels_emu.cc). The includer defines
// SV_EMU_REQUIRE(cond): what a broken launch invariant does (a test
// assertion; a context fault).
#pragma once

#include <stdint.h>
#include <string.h>

#include "bitlogic.h"
#include "kernels/cuda/kernel_bodies.h"

#ifndef SV_EMU_REQUIRE
#error "define SV_EMU_REQUIRE(cond) before including kernel_launch_emu.h"
#endif

namespace svemu {

using sv::VoteParams;
using namespace sv::kern;

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Every lane of a warp must agree on a loop bound (the kernels rely on it).
template <typename F>
size_t warpUniform(unsigned grid, unsigned block, int warp, F f) {
  const size_t v = f(ThreadIdx{grid, block, static_cast<unsigned>(warp * kWarp)});
  for (int lane = 1; lane < kWarp; ++lane)
    SV_EMU_REQUIRE(f(ThreadIdx{grid, block, static_cast<unsigned>(warp * kWarp + lane)}) == v);
  return v;
}

// __shfl_xor_sync butterfly of groupOr<L>, on the 32 lanes' values.
template <int L>
void groupOrEmu(uint64_t (&v)[kWarp]) {
  for (int o = L / 2; o > 0; o >>= 1) {
    uint64_t next[kWarp];
    for (int lane = 0; lane < kWarp; ++lane) next[lane] = v[lane] | v[lane ^ o];
    memcpy(v, next, sizeof(v));
  }
}

// ---- Emulated launches (mirror the kernels of src/kernels/cuda/device_kernels.cu) ------
// Iterations that took the pack kernel's all-full fast path (for coverage).
inline size_t gPackFastIterations = 0;

// One warp iteration of the pack kernel (chunks c .. c+kUnroll-1), every
// lane; adds each lane's NaNs to nans[lane].
template <typename U, typename K>
void emuPackIteration(const U* x, size_t n, int planes, uint64_t* out, size_t c, bool vec,
                      unsigned long long (&nans)[kWarp]) {
  constexpr int L = Slot<U>::kLanes;
  uint64_t s[kUnroll][kWarp], v[kUnroll][kWarp];
  if (packIterationFull<U>(c, n, vec)) {
    ++gPackFastIterations;
    for (int lane = 0; lane < kWarp; ++lane) {
      Vec16<U> e[kUnroll];
      for (int k = 0; k < kUnroll; ++k) packLoadFull<U>(x, (c + k) * kWarp + lane, &e[k]);
      for (int k = 0; k < kUnroll; ++k)
        nans[lane] += packBits<U, K>(e[k], (c + k) * kWarp + lane, &s[k][lane], &v[k][lane]);
    }
  } else {
    for (int lane = 0; lane < kWarp; ++lane)
      for (int k = 0; k < kUnroll; ++k)
        nans[lane] += packSlot<U, K>(x, n, (c + k) * kWarp + lane, vec, &s[k][lane], &v[k][lane]);
  }
  for (int k = 0; k < kUnroll; ++k) {
    groupOrEmu<L>(s[k]);
    if (planes == 2) groupOrEmu<L>(v[k]);
    for (int lane = 0; lane < kWarp; ++lane)
      packStore<U>((c + k) * kWarp + lane, n, planes, s[k][lane], planes == 2 ? v[k][lane] : 0, out);
  }
}

template <typename U, typename K>
void emuPack(const void* xv, size_t n, int planes, uint64_t* out, unsigned long long* nanCount, unsigned mb) {
  const U* x = static_cast<const U*>(xv);
  const bool vec = aligned16(xv);
  const unsigned grid = slotBlocks(slotsOf<U>(n), mb);
  SV_EMU_REQUIRE(grid <= mb);
  const size_t chunks = chunksOf(slotsOf<U>(n));
  for (unsigned b = 0; b < grid; ++b) {
    unsigned long long blockNans = 0;
    for (int wp = 0; wp < kWarpsPerBlock; ++wp) {
      const size_t begin = warpUniform(grid, b, wp, chunkBegin);
      const size_t step = warpUniform(grid, b, wp, chunkStep);
      unsigned long long nans[kWarp] = {0};
      for (size_t c = begin; c < chunks; c += step) emuPackIteration<U, K>(x, n, planes, out, c, vec, nans);
      for (int lane = 0; lane < kWarp; ++lane) blockNans += nans[lane];
    }
    if (nanCount != nullptr && blockNans) *nanCount += blockNans;  // the block's atomicAdd
  }
}

// packListKernel: the list's warp iterations end to end (kernel_bodies.h).
template <typename U, typename K>
void emuPackList(const KernelList& l, int planes, uint64_t* out, unsigned long long* nanCount, unsigned mb) {
  const unsigned grid = listBlocks(l, mb);
  SV_EMU_REQUIRE(grid <= mb);
  SV_EMU_REQUIRE((l.count >= 1 && l.count <= kListCap));
  const size_t iters = l.iterEnd[l.count - 1];
  for (unsigned b = 0; b < grid; ++b) {
    unsigned long long blockNans = 0;
    for (int wp = 0; wp < kWarpsPerBlock; ++wp) {
      const size_t begin = warpUniform(grid, b, wp, warpOf);
      const size_t step = warpUniform(grid, b, wp, warpsIn);
      unsigned long long nans[kWarp] = {0};
      int j = 0;
      for (size_t g = begin; g < iters; g += step) {
        j = listItemOf(l, g, j);
        SV_EMU_REQUIRE((g >= listItemBegin(l, j) && g < l.iterEnd[j]));
        const ListItem& it = l.item[j];
        emuPackIteration<U, K>(static_cast<const U*>(it.src), it.n, planes, out + it.word * planes,
                               (g - listItemBegin(l, j)) * kUnroll, (l.vecMask >> j) & 1, nans);
      }
      for (int lane = 0; lane < kWarp; ++lane) blockNans += nans[lane];
    }
    if (nanCount != nullptr && blockNans) *nanCount += blockNans;
  }
}

inline void emuVote(const uint64_t* in, size_t rankStride, size_t words, const VoteParams& p, uint64_t firstWord,
             uint64_t* out, unsigned mb) {
  const unsigned grid = voteBlocks(words, mb);
  SV_EMU_REQUIRE(grid <= mb);
  for (unsigned b = 0; b < grid; ++b)
    for (unsigned th = 0; th < static_cast<unsigned>(kBlockThreads); ++th) {
      const ThreadIdx t{grid, b, th};
      for (size_t w = threadOf(t); w < words; w += threadsIn(t)) voteOne(in, rankStride, p, firstWord, w, out);
    }
}

// One warp iteration of the unpack kernel: all loads before the stores.
template <typename U>
void emuUnpackIteration(const uint64_t* in, int planes, size_t n, U pos, U neg, U* out, size_t c, bool vec) {
  uint64_t s[kUnroll][kWarp], z[kUnroll][kWarp];
  for (int lane = 0; lane < kWarp; ++lane)
    for (int k = 0; k < kUnroll; ++k) unpackLoad<U>(in, planes, n, (c + k) * kWarp + lane, &s[k][lane], &z[k][lane]);
  for (int lane = 0; lane < kWarp; ++lane)
    for (int k = 0; k < kUnroll; ++k) unpackSlot<U>(s[k][lane], z[k][lane], pos, neg, n, (c + k) * kWarp + lane, vec, out);
}

template <typename U>
void emuUnpack(const uint64_t* in, int planes, size_t n, const sv::OutputBits& bits, void* outv,
               const unsigned long long* skipIfNonzero, unsigned mb) {
  U* out = static_cast<U*>(outv);
  const bool vec = aligned16(outv);
  const unsigned grid = slotBlocks(slotsOf<U>(n), mb);
  SV_EMU_REQUIRE(grid <= mb);
  if (skipIfNonzero != nullptr && *skipIfNonzero != 0) return;  // every thread's gate
  const U pos = static_cast<U>(bits.pos), neg = static_cast<U>(bits.neg);
  const size_t chunks = chunksOf(slotsOf<U>(n));
  for (unsigned b = 0; b < grid; ++b)
    for (int wp = 0; wp < kWarpsPerBlock; ++wp) {
      const size_t begin = warpUniform(grid, b, wp, chunkBegin);
      const size_t step = warpUniform(grid, b, wp, chunkStep);
      for (size_t c = begin; c < chunks; c += step) emuUnpackIteration<U>(in, planes, n, pos, neg, out, c, vec);
    }
}

// unpackListKernel.
template <typename U>
void emuUnpackList(const uint64_t* in, int planes, const KernelList& l, const sv::OutputBits& bits,
                   const unsigned long long* skipIfNonzero, unsigned mb) {
  const unsigned grid = listBlocks(l, mb);
  SV_EMU_REQUIRE(grid <= mb);
  SV_EMU_REQUIRE((l.count >= 1 && l.count <= kListCap));
  if (skipIfNonzero != nullptr && *skipIfNonzero != 0) return;
  const U pos = static_cast<U>(bits.pos), neg = static_cast<U>(bits.neg);
  const size_t iters = l.iterEnd[l.count - 1];
  for (unsigned b = 0; b < grid; ++b)
    for (int wp = 0; wp < kWarpsPerBlock; ++wp) {
      const size_t begin = warpUniform(grid, b, wp, warpOf);
      const size_t step = warpUniform(grid, b, wp, warpsIn);
      int j = 0;
      for (size_t g = begin; g < iters; g += step) {
        j = listItemOf(l, g, j);
        SV_EMU_REQUIRE((g >= listItemBegin(l, j) && g < l.iterEnd[j]));
        const ListItem& it = l.item[j];
        emuUnpackIteration<U>(in + it.word * planes, planes, it.n, pos, neg, static_cast<U*>(it.dst),
                              (g - listItemBegin(l, j)) * kUnroll, (l.vecMask >> j) & 1);
      }
    }
}

template <typename U>
void emuVoteUnpack(const uint64_t* in, size_t rankStride, size_t words, const VoteParams& p, uint64_t firstWord,
                   size_t n, const sv::OutputBits& bits, void* outv, const unsigned long long* skipIfNonzero,
                   unsigned mb) {
  constexpr int L = Slot<U>::kLanes;
  U* out = static_cast<U*>(outv);
  const bool vec = aligned16(outv);
  const unsigned grid = voteUnpackBlocks(words, mb);
  SV_EMU_REQUIRE(grid <= mb);
  if (skipIfNonzero != nullptr && *skipIfNonzero != 0) return;
  const U pos = static_cast<U>(bits.pos), neg = static_cast<U>(bits.neg);
  const size_t chunks = chunksOf(words);
  for (unsigned b = 0; b < grid; ++b)
    for (int wp = 0; wp < kWarpsPerBlock; ++wp) {
      const size_t begin = warpUniform(grid, b, wp, warpOf);
      const size_t step = warpUniform(grid, b, wp, warpsIn);
      for (size_t c = begin; c < chunks; c += step) {
        uint64_t sign[kWarp], nonzero[kWarp];
        for (int lane = 0; lane < kWarp; ++lane)
          voteUnpackVote(in, rankStride, words, p, firstWord, c, lane, &sign[lane], &nonzero[lane]);
        for (int q = 0; q < L; ++q)
          for (int lane = 0; lane < kWarp; ++lane) {
            const int src = voteUnpackSource<U>(q, lane);
            SV_EMU_REQUIRE((src >= 0 && src < kWarp));
            const size_t slot = voteUnpackSlot<U>(c, q, lane);
            const int shift = slotShift<U>(slot);
            unpackSlot<U>(sign[src] >> shift, nonzero[src] >> shift, pos, neg, n, slot, vec, out);
          }
      }
    }
}

// Datatype dispatch, as in the launchers.
inline void emuPackDt(const void* x, size_t n, svDataType_t dt, int planes, uint64_t* out, unsigned long long* nans,
               unsigned mb) {
  switch (dt) {
    case svFloat16: return emuPack<uint16_t, sv::FloatBits<uint16_t>>(x, n, planes, out, nans, mb);
    case svBfloat16: return emuPack<uint16_t, sv::Bf16Bits>(x, n, planes, out, nans, mb);
    case svFloat32: return emuPack<uint32_t, sv::FloatBits<uint32_t>>(x, n, planes, out, nans, mb);
    case svFloat64: return emuPack<uint64_t, sv::FloatBits<uint64_t>>(x, n, planes, out, nans, mb);
  }
}
inline void emuUnpackDt(const uint64_t* in, int planes, size_t n, svDataType_t dt, const sv::OutputBits& bits, void* out,
                 const unsigned long long* skip, unsigned mb) {
  switch (dt) {
    case svFloat16:
    case svBfloat16: return emuUnpack<uint16_t>(in, planes, n, bits, out, skip, mb);
    case svFloat32: return emuUnpack<uint32_t>(in, planes, n, bits, out, skip, mb);
    case svFloat64: return emuUnpack<uint64_t>(in, planes, n, bits, out, skip, mb);
  }
}
inline void emuVoteUnpackDt(const uint64_t* in, size_t stride, size_t words, const VoteParams& p, uint64_t firstWord,
                     size_t n, svDataType_t dt, const sv::OutputBits& bits, void* out, const unsigned long long* skip,
                     unsigned mb) {
  switch (dt) {
    case svFloat16:
    case svBfloat16: return emuVoteUnpack<uint16_t>(in, stride, words, p, firstWord, n, bits, out, skip, mb);
    case svFloat32: return emuVoteUnpack<uint32_t>(in, stride, words, p, firstWord, n, bits, out, skip, mb);
    case svFloat64: return emuVoteUnpack<uint64_t>(in, stride, words, p, firstWord, n, bits, out, skip, mb);
  }
}

inline void emuPackListDt(const KernelList& l, svDataType_t dt, int planes, uint64_t* out, unsigned long long* nans,
                          unsigned mb) {
  switch (dt) {
    case svFloat16: return emuPackList<uint16_t, sv::FloatBits<uint16_t>>(l, planes, out, nans, mb);
    case svBfloat16: return emuPackList<uint16_t, sv::Bf16Bits>(l, planes, out, nans, mb);
    case svFloat32: return emuPackList<uint32_t, sv::FloatBits<uint32_t>>(l, planes, out, nans, mb);
    case svFloat64: return emuPackList<uint64_t, sv::FloatBits<uint64_t>>(l, planes, out, nans, mb);
  }
}
inline void emuUnpackListDt(const uint64_t* in, int planes, const KernelList& l, svDataType_t dt,
                            const sv::OutputBits& bits, const unsigned long long* skip, unsigned mb) {
  switch (dt) {
    case svFloat16:
    case svBfloat16: return emuUnpackList<uint16_t>(in, planes, l, bits, skip, mb);
    case svFloat32: return emuUnpackList<uint32_t>(in, planes, l, bits, skip, mb);
    case svFloat64: return emuUnpackList<uint64_t>(in, planes, l, bits, skip, mb);
  }
}

}  // namespace svemu
