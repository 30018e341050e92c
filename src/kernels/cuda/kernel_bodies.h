// SPDX-License-Identifier: MIT
// The per-lane bodies of the GPU kernels (src/kernels/cuda/device_kernels.cu), written as
// SV_HOST_DEVICE code free of CUDA intrinsics, so that a host unit test
// (tests/unit/test_device_kernel_bodies.cc) can run the kernels' exact index
// math and bit logic over an emulated launch. The only cross-lane steps, an
// OR across the lanes of one word, a broadcast from one lane and the NaN sum
// of a block, stay in the kernels (device: warp shuffles and shared memory;
// emulation: loops over the lanes' values). See docs/gpu-kernels.md.
//
// Work decomposition, shared by every kernel:
//  - A "slot" is 16 bytes of elements, E = 16 / sizeof(element) of them
//    (8 for fp16/bf16, 4 for fp32, 2 for fp64): one vector load or store of
//    one lane. Word w (64 elements) is slots w*L .. w*L+L-1, L = 64 / E.
//  - A "chunk" is 32 consecutive slots, one per lane of a warp, so every warp
//    memory instruction covers 512 contiguous bytes (fully coalesced).
//  - Warp g of the grid takes chunks g*kUnroll .. g*kUnroll+kUnroll-1, then
//    steps by (warps in the grid) * kUnroll (grid-stride loop). The loop
//    condition depends on the warp only, so all 32 lanes run every iteration
//    together and the shuffles may name the full warp.
#pragma once

#include <stddef.h>
#include <stdint.h>
#if !defined(__CUDA_ARCH__)
#include <string.h>
#endif

#include "bitlogic.h"

namespace sv {
namespace kern {

constexpr int kWarp = 32;
constexpr int kBlockThreads = 256;  // 8 warps a block
constexpr int kWarpsPerBlock = kBlockThreads / kWarp;
constexpr int kUnroll = 4;          // chunks a warp has in flight per iteration
constexpr int kBlocksPerSm = 8;     // 2048 threads: a full SM on sm_80 / sm_90

// Slot geometry of an element type.
template <typename U>
struct Slot {
  static constexpr int kElems = 16 / static_cast<int>(sizeof(U));  // E
  static constexpr int kLanes = kWordBits / kElems;                 // L: lanes per word
};

// Sixteen bytes of elements, the unit of one vector access.
template <typename U>
struct alignas(16) Vec16 {
  U e[Slot<U>::kElems];
};

#if defined(SV_DEVICE_EMULATED)
// tests/emu: faults the emulated context on a misaligned vector access, as
// the GPU does (cudaErrorMisalignedAddress).
extern "C" void svemu_check_vector_access(const void* p, size_t bytes);
#endif
SV_HOST_DEVICE void load16(const void* src, void* dst) {
#if defined(__CUDA_ARCH__)
  *static_cast<uint4*>(dst) = __ldg(static_cast<const uint4*>(src));
#else
#if defined(SV_DEVICE_EMULATED)
  svemu_check_vector_access(src, 16);
#endif
  memcpy(dst, src, 16);
#endif
}
SV_HOST_DEVICE void store16(void* dst, const void* src) {
#if defined(__CUDA_ARCH__)
  *static_cast<uint4*>(dst) = *static_cast<const uint4*>(src);
#else
#if defined(SV_DEVICE_EMULATED)
  svemu_check_vector_access(dst, 16);
#endif
  memcpy(dst, src, 16);
#endif
}

// ---- Launch geometry (used by the launchers and the emulation alike) ------
struct ThreadIdx {
  unsigned grid;   // gridDim.x
  unsigned block;  // blockIdx.x
  unsigned thread; // threadIdx.x (blockDim.x == kBlockThreads)
};
SV_HOST_DEVICE int laneOf(const ThreadIdx& t) { return static_cast<int>(t.thread % kWarp); }
SV_HOST_DEVICE size_t warpOf(const ThreadIdx& t) {
  return (static_cast<size_t>(t.block) * kBlockThreads + t.thread) / kWarp;
}
SV_HOST_DEVICE size_t warpsIn(const ThreadIdx& t) { return static_cast<size_t>(t.grid) * kWarpsPerBlock; }
SV_HOST_DEVICE size_t threadOf(const ThreadIdx& t) {
  return static_cast<size_t>(t.block) * kBlockThreads + t.thread;
}
SV_HOST_DEVICE size_t threadsIn(const ThreadIdx& t) { return static_cast<size_t>(t.grid) * kBlockThreads; }

// Chunks (of 32 slots) covering `slots` slots.
SV_HOST_DEVICE size_t chunksOf(size_t slots) { return divUp(slots, kWarp); }
// First chunk of warp iteration 0, and the step between iterations.
SV_HOST_DEVICE size_t chunkBegin(const ThreadIdx& t) { return warpOf(t) * kUnroll; }
SV_HOST_DEVICE size_t chunkStep(const ThreadIdx& t) { return warpsIn(t) * kUnroll; }

// Blocks to launch for `units` units of work of `perBlock` each, capped at
// maxBlocks (enough to fill the device; the grid-stride loops do the rest).
SV_HOST_DEVICE unsigned blocksFor(size_t units, size_t perBlock, unsigned maxBlocks) {
  size_t b = divUp(units, perBlock);
  if (b > maxBlocks) b = maxBlocks;
  return b == 0 ? 1u : static_cast<unsigned>(b);
}
// Pack and unpack: slots of 16 bytes, kUnroll chunks per warp iteration.
template <typename U>
SV_HOST_DEVICE size_t slotsOf(size_t n) {
  return divUp(n, static_cast<size_t>(Slot<U>::kElems));
}
SV_HOST_DEVICE unsigned slotBlocks(size_t slots, unsigned maxBlocks) {
  return blocksFor(chunksOf(slots), static_cast<size_t>(kWarpsPerBlock) * kUnroll, maxBlocks);
}

// ---- Pack ------------------------------------------------------------------
// The fast path of a warp iteration (chunks c .. c+kUnroll-1): x is 16-byte
// aligned and every slot of the iteration lies wholly inside n, so each lane
// issues its kUnroll vector loads back to back (packLoadFull) before any
// bit work (packBits). Otherwise every slot goes through packSlot, whose
// bounds checks are branches the compiler cannot hoist loads across.
template <typename U>
SV_HOST_DEVICE bool packIterationFull(size_t chunk, size_t n, bool vec) {
  return vec && (chunk + kUnroll) * kWarp * static_cast<size_t>(Slot<U>::kElems) <= n;
}
template <typename U>
SV_HOST_DEVICE void packLoadFull(const U* x, size_t slot, Vec16<U>* e) {
  load16(x + slot * Slot<U>::kElems, e);
}
// packWord for the 8 elements of a 16-bit slot, two elements per 32-bit
// operation (SWAR), as the host's SSE2 kernels do with lanes: the per-element
// form costs ~10 instructions an element, which at 16-bit would make the
// pack kernel instruction bound rather than memory bound. Same predicates
// as bitlogic.h on a = bits & ~SIGN of each half (no carry crosses halves:
// a <= 0x7fff, so a + 0x7fff <= 0xfffe):
//   votes   a in [1, INF]   bit 15 of (a + 0x7fff) and not of (a + 0x7fff - INF)
//   NaN     a > INF         bit 15 of (a + 0x7fff - INF)
//   sign    !(votes && sign bit)       (NaN, +-0 and x > 0 give 1)
// Checked bit for bit against packWord for every 16-bit pattern at every
// position (tests/unit/test_device_kernel_bodies.cc).
template <typename K>
SV_HOST_DEVICE int packWord16x8(const uint16_t* e, uint64_t* sign, uint64_t* voting) {
  constexpr uint32_t kHi = 0x80008000u;
  constexpr uint32_t kOne = 0x7fff7fffu;
  constexpr uint32_t kNan = static_cast<uint32_t>(0x7fffu - K::kInf) * 0x00010001u;
  uint32_t s = 0, v = 0, nan = 0;
#if defined(__CUDACC__)
#pragma unroll
#endif
  for (int i = 0; i < 4; ++i) {
    const uint32_t w = static_cast<uint32_t>(e[2 * i]) | (static_cast<uint32_t>(e[2 * i + 1]) << 16);
    const uint32_t a = w & kOne;
    const uint32_t big = a + kNan;                 // bit 15/31: NaN
    const uint32_t votes = (a + kOne) & ~big & kHi;  // bit 15/31: votes
    const uint32_t pos = ~(votes & w) & kHi;         // bit 15/31: sign plane
    // Bits 15 and 31 of word i are elements 2i and 2i+1: move them to bits
    // 2i and 2i+1.
    s |= ((pos >> (15 - 2 * i)) | (pos >> (30 - 2 * i))) & (3u << (2 * i));
    v |= ((votes >> (15 - 2 * i)) | (votes >> (30 - 2 * i))) & (3u << (2 * i));
    nan |= (big & kHi) >> i;  // distinct bits 15-i and 31-i: one popcount
  }
  *sign = s;
  *voting = v;
  return popcount64(nan);
}

// The bits of one whole slot, shifted to their place in the word (bit
// E x (slot mod L)); returns its NaN count.
template <typename U, typename K>
SV_HOST_DEVICE int packBits(const Vec16<U>& e, size_t slot, uint64_t* sign, uint64_t* voting) {
  constexpr int E = Slot<U>::kElems, L = Slot<U>::kLanes;
  uint64_t s, v;
  int nans;
  if constexpr (sizeof(U) == 2) {
    nans = packWord16x8<K>(e.e, &s, &v);
  } else {
    nans = packWord<U, K>(e.e, E, &s, &v);
  }
  const int shift = static_cast<int>(slot % L) * E;
  *sign = s << shift;
  *voting = v << shift;
  return nans;
}

// Lane part of pack for one slot, any slot: the sign and voting bits of its
// (up to) E elements, shifted to their place in the word, and its NaN count.
// Reads nothing at or past n. vec: x is 16-byte aligned (then every full
// slot is, since slots start at multiples of 16 bytes from x).
template <typename U, typename K>
SV_HOST_DEVICE int packSlot(const U* x, size_t n, size_t slot, bool vec, uint64_t* sign, uint64_t* voting) {
  constexpr int E = Slot<U>::kElems, L = Slot<U>::kLanes;
  const size_t first = slot * E;
  if (first < n && n - first >= static_cast<size_t>(E)) {
    Vec16<U> e;
    if (vec) {
      load16(x + first, &e);
    } else {
      for (int j = 0; j < E; ++j) e.e[j] = x[first + j];
    }
    return packBits<U, K>(e, slot, sign, voting);
  }
  uint64_t s = 0, v = 0;
  int nans = 0;
  if (first < n)  // the last, partial slot: bits past n stay 0
    nans = packWord<U, K>(x + first, static_cast<int>(n - first), &s, &v);
  const int shift = static_cast<int>(slot % L) * E;
  *sign = s << shift;
  *voting = v << shift;
  return nans;
}

// After the OR across the word's L lanes: the word's first lane stores it.
template <typename U>
SV_HOST_DEVICE void packStore(size_t slot, size_t n, int planes, uint64_t sign, uint64_t voting, uint64_t* out) {
  constexpr int E = Slot<U>::kElems, L = Slot<U>::kLanes;
  if (slot % L != 0 || slot * E >= n) return;
  const size_t w = slot / L;
  out[w * planes] = sign;
  if (planes == 2) out[w * planes + 1] = voting;
}

// ---- Unpack ----------------------------------------------------------------
// Lane part of unpack: the bits of slot's word that its elements use (shifted
// down to bit 0), read before any store so a warp has kUnroll loads in flight.
template <typename U>
SV_HOST_DEVICE void unpackLoad(const uint64_t* in, int planes, size_t n, size_t slot, uint64_t* sign,
                               uint64_t* nonzero) {
  constexpr int E = Slot<U>::kElems, L = Slot<U>::kLanes;
  *sign = 0;
  *nonzero = 0;
  if (slot * E >= n) return;
  const size_t w = slot / L;
  const int shift = static_cast<int>(slot % L) * E;
  *sign = in[w * planes] >> shift;
  *nonzero = planes == 2 ? in[w * 2 + 1] >> shift : ~0ull;
}

// Write slot's (up to) E elements from its bits; nothing at or past n.
template <typename U>
SV_HOST_DEVICE void unpackSlot(uint64_t sign, uint64_t nonzero, U pos, U neg, size_t n, size_t slot, bool vec,
                               U* out) {
  constexpr int E = Slot<U>::kElems;
  const size_t first = slot * E;
  if (first >= n) return;
  if (n - first >= static_cast<size_t>(E)) {
    Vec16<U> e;
    unpackWord<U>(sign, nonzero, pos, neg, e.e, E);
    if (vec) {
      store16(out + first, &e);
    } else {
      for (int j = 0; j < E; ++j) out[first + j] = e.e[j];
    }
  } else {
    unpackWord<U>(sign, nonzero, pos, neg, out + first, static_cast<int>(n - first));
  }
}

// ---- Vote ------------------------------------------------------------------
// The vote parameters a launcher accepts (the counters hold up to
// 2^kMaxCounterBits - 1 ranks).
SV_HOST_DEVICE bool voteParamsValid(const VoteParams& p) {
  return p.nranks >= 1 && p.nranks < (1 << kMaxCounterBits) && (p.inPlanes == 1 || p.inPlanes == 2) &&
         (p.outPlanes == 1 || p.outPlanes == 2) && p.tie >= kTiePositive && p.tie <= kTieRandom;
}

// One thread a word, grid-stride: adjacent lanes read adjacent words of every
// rank (coalesced), and the counters live in the thread's registers.
SV_HOST_DEVICE unsigned voteBlocks(size_t words, unsigned maxBlocks) {
  return blocksFor(words, kBlockThreads, maxBlocks);
}
SV_HOST_DEVICE void voteOne(const uint64_t* in, size_t rankStride, const VoteParams& p, uint64_t firstWord,
                            size_t w, uint64_t* out) {
  voteWord(in + w * p.inPlanes, rankStride, p, firstWord + w, out + w * p.outPlanes);
}

// ---- Fused vote + unpack ---------------------------------------------------
// A warp iteration takes 32 words (one chunk of words): lane i votes word
// c*32+i into registers; then the warp writes the 32*L slots of those words
// in L passes, pass q covering slots q*32 .. q*32+31 of the chunk, each lane
// fetching its word's bits from the lane that voted it (a shuffle).
SV_HOST_DEVICE unsigned voteUnpackBlocks(size_t words, unsigned maxBlocks) {
  return blocksFor(chunksOf(words), kWarpsPerBlock, maxBlocks);
}
// The lane's vote: word c*32+lane, or nothing past `words`.
SV_HOST_DEVICE void voteUnpackVote(const uint64_t* in, size_t rankStride, size_t words, const VoteParams& p,
                                   uint64_t firstWord, size_t chunk, int lane, uint64_t* sign,
                                   uint64_t* nonzero) {
  const size_t w = chunk * kWarp + static_cast<size_t>(lane);
  *sign = 0;
  *nonzero = 0;
  if (w >= words) return;
  uint64_t o[2];
  voteWord(in + w * p.inPlanes, rankStride, p, firstWord + w, o);
  *sign = o[0];
  *nonzero = p.outPlanes == 2 ? o[1] : ~0ull;
}
// Pass q: the lane whose vote this lane's slot needs, and the slot.
template <typename U>
SV_HOST_DEVICE int voteUnpackSource(int q, int lane) {
  return (q * kWarp + lane) / Slot<U>::kLanes;
}
template <typename U>
SV_HOST_DEVICE size_t voteUnpackSlot(size_t chunk, int q, int lane) {
  return chunk * kWarp * Slot<U>::kLanes + static_cast<size_t>(q * kWarp + lane);
}
template <typename U>
SV_HOST_DEVICE int slotShift(size_t slot) {
  return static_cast<int>(slot % Slot<U>::kLanes) * Slot<U>::kElems;
}

// ---- Tensor lists (a group of calls on a device communicator) --------------
// One pack or unpack launch covers up to kListCap tensors of one datatype,
// the list passed by value as a kernel parameter (so a captured graph holds
// its own copy). The grid-stride loop runs over the tensors' warp
// iterations laid end to end (iterEnd: cumulative), so an iteration never
// straddles two tensors and is exactly an iteration of the one-tensor
// kernel over that tensor. 48 items keep the parameter under 2 KB.
constexpr int kListCap = 48;
struct ListItem {
  const void* src;  // pack: the tensor's elements
  void* dst;        // unpack: the tensor's elements
  size_t n;         // elements
  size_t word;      // its first word in the packed layout
};
struct KernelList {
  ListItem item[kListCap];
  size_t iterEnd[kListCap];  // warp iterations of items 0..j together
  uint64_t vecMask;          // bit j: item j's elements are 16-byte aligned
  int count;                 // 1..kListCap
};
// Warp iterations (kUnroll chunks) over n elements of U.
template <typename U>
SV_HOST_DEVICE size_t itersOf(size_t n) {
  return divUp(chunksOf(slotsOf<U>(n)), kUnroll);
}
// The item iteration `iter` belongs to, searching on from item `from` (a
// warp's iterations only grow, so the search moves forward only).
SV_HOST_DEVICE int listItemOf(const KernelList& l, size_t iter, int from) {
  while (from + 1 < l.count && iter >= l.iterEnd[from]) ++from;
  return from;
}
SV_HOST_DEVICE size_t listItemBegin(const KernelList& l, int j) { return j == 0 ? 0 : l.iterEnd[j - 1]; }
// Host side: appends a non-empty tensor to l (l.count == 0 starts a new
// list); true when l is then full. `aligned`: the buffer the kernel
// accesses with vectors (pack: src, unpack: dst) is 16-byte aligned.
template <typename U>
inline bool listAppend(KernelList& l, const void* src, void* dst, size_t n, size_t word, bool aligned) {
  if (l.count == 0) l.vecMask = 0;
  ListItem& it = l.item[l.count];
  it.src = src;
  it.dst = dst;
  it.n = n;
  it.word = word;
  if (aligned) l.vecMask |= 1ull << l.count;
  l.iterEnd[l.count] = (l.count == 0 ? 0 : l.iterEnd[l.count - 1]) + itersOf<U>(n);
  return ++l.count == kListCap;
}
SV_HOST_DEVICE unsigned listBlocks(const KernelList& l, unsigned maxBlocks) {
  return blocksFor(l.iterEnd[l.count - 1], kWarpsPerBlock, maxBlocks);
}

}  // namespace kern
}  // namespace sv
