// SPDX-License-Identifier: MIT
// AVX-512 (F, BW, VL, DQ) forms of the host kernels' full-word pack and
// unpack (host_isa.h). The predicates of bitlogic.h, lane for lane:
//   negative (votes -1)   (u - (SIGN + 1)) <u INF      -0 and NaN excluded
//   NaN                   (u & ~SIGN) >u INF
//   voting (ABSTAIN)      ((u & ~SIGN) - 1) <u INF      nonzero, not NaN
// as unsigned compares that write a mask register, so the 64 bits of a word
// are 2 (16-bit), 4 (32-bit) or 8 (64-bit) compare results side by side; the
// unpack blends +scale/-scale under the sign mask (and zeroes under the
// nonzero mask). Integer only: exact under FTZ/DAZ. Compiled with a target
// attribute on each function, not with -mavx512*, so nothing else in the
// library is built for AVX-512 (the dispatcher calls this only on a CPU that
// has it).
#include "host_isa.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define SV_ISA_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,popcnt")))

namespace sv {
namespace host {
namespace avx512 {

// The pack reads its input once, front to back: a software prefetch 8 KiB
// ahead keeps enough lines in flight that it runs at the memory's read
// speed, which the hardware prefetcher alone did not reach (fp32: 0.97x
// memcpy without, 1.27x with, on a Xeon with AVX-512; docs/perf-host.md).
constexpr int kPrefetchBytes = 8192;
SV_ISA_TARGET inline void prefetch(const void* p) {
  _mm_prefetch(static_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0);
}

// 32-bit elements: 4 x 16 lanes.
template <typename K, bool kVoting>
SV_ISA_TARGET inline uint64_t packFull(const uint32_t* x, uint64_t* voting, uint64_t* nanBits) {
  const __m512i signPlus1 = _mm512_set1_epi32(static_cast<int>(K::kSign + 1u));
  const __m512i inf = _mm512_set1_epi32(static_cast<int>(K::kInf));
  const __m512i absMask = _mm512_set1_epi32(static_cast<int>(~K::kSign)), one = _mm512_set1_epi32(1);
  uint64_t neg = 0, nan = 0, vote = 0;
  for (int j = 0; j < 4; ++j) {
    prefetch(x + 16 * j);
    const __m512i u = _mm512_loadu_si512(x + 16 * j);
    const __m512i a = _mm512_and_si512(u, absMask);
    neg |= static_cast<uint64_t>(_mm512_cmplt_epu32_mask(_mm512_sub_epi32(u, signPlus1), inf)) << (16 * j);
    nan |= static_cast<uint64_t>(_mm512_cmpgt_epu32_mask(a, inf)) << (16 * j);
    if (kVoting) vote |= static_cast<uint64_t>(_mm512_cmplt_epu32_mask(_mm512_sub_epi32(a, one), inf)) << (16 * j);
  }
  if (kVoting) *voting = vote;
  *nanBits = nan;
  return ~neg;
}

// 16-bit elements (fp16, bf16): 2 x 32 lanes.
template <typename K, bool kVoting>
SV_ISA_TARGET inline uint64_t packFull(const uint16_t* x, uint64_t* voting, uint64_t* nanBits) {
  const __m512i signPlus1 = _mm512_set1_epi16(static_cast<short>(K::kSign + 1u));
  const __m512i inf = _mm512_set1_epi16(static_cast<short>(K::kInf));
  const __m512i absMask = _mm512_set1_epi16(static_cast<short>(~K::kSign)), one = _mm512_set1_epi16(1);
  uint64_t neg = 0, nan = 0, vote = 0;
  for (int j = 0; j < 2; ++j) {
    prefetch(x + 32 * j);
    const __m512i u = _mm512_loadu_si512(x + 32 * j);
    const __m512i a = _mm512_and_si512(u, absMask);
    neg |= static_cast<uint64_t>(_mm512_cmplt_epu16_mask(_mm512_sub_epi16(u, signPlus1), inf)) << (32 * j);
    nan |= static_cast<uint64_t>(_mm512_cmpgt_epu16_mask(a, inf)) << (32 * j);
    if (kVoting) vote |= static_cast<uint64_t>(_mm512_cmplt_epu16_mask(_mm512_sub_epi16(a, one), inf)) << (32 * j);
  }
  if (kVoting) *voting = vote;
  *nanBits = nan;
  return ~neg;
}

// 64-bit elements: 8 x 8 lanes.
template <typename K, bool kVoting>
SV_ISA_TARGET inline uint64_t packFull(const uint64_t* x, uint64_t* voting, uint64_t* nanBits) {
  const __m512i signPlus1 = _mm512_set1_epi64(static_cast<long long>(K::kSign + 1u));
  const __m512i inf = _mm512_set1_epi64(static_cast<long long>(K::kInf));
  const __m512i absMask = _mm512_set1_epi64(static_cast<long long>(~K::kSign)), one = _mm512_set1_epi64(1);
  uint64_t neg = 0, nan = 0, vote = 0;
  for (int j = 0; j < 8; ++j) {
    prefetch(x + 8 * j);
    const __m512i u = _mm512_loadu_si512(x + 8 * j);
    const __m512i a = _mm512_and_si512(u, absMask);
    neg |= static_cast<uint64_t>(_mm512_cmplt_epu64_mask(_mm512_sub_epi64(u, signPlus1), inf)) << (8 * j);
    nan |= static_cast<uint64_t>(_mm512_cmpgt_epu64_mask(a, inf)) << (8 * j);
    if (kVoting) vote |= static_cast<uint64_t>(_mm512_cmplt_epu64_mask(_mm512_sub_epi64(a, one), inf)) << (8 * j);
  }
  if (kVoting) *voting = vote;
  *nanBits = nan;
  return ~neg;
}

SV_ISA_TARGET inline void store(void* p, __m512i v, bool stream) {
  if (stream) _mm512_stream_si512(static_cast<__m512i*>(p), v);
  else _mm512_storeu_si512(p, v);
}

template <bool kZero, bool kStream>
SV_ISA_TARGET inline void unpackFull(uint64_t sign, uint64_t nonzero, uint32_t pos, uint32_t neg, uint32_t* out) {
  const __m512i vp = _mm512_set1_epi32(static_cast<int>(pos)), vn = _mm512_set1_epi32(static_cast<int>(neg));
  for (int j = 0; j < 4; ++j) {
    __m512i v = _mm512_mask_blend_epi32(static_cast<__mmask16>(sign >> (16 * j)), vn, vp);
    if (kZero) v = _mm512_maskz_mov_epi32(static_cast<__mmask16>(nonzero >> (16 * j)), v);
    store(out + 16 * j, v, kStream);
  }
}

template <bool kZero, bool kStream>
SV_ISA_TARGET inline void unpackFull(uint64_t sign, uint64_t nonzero, uint16_t pos, uint16_t neg, uint16_t* out) {
  const __m512i vp = _mm512_set1_epi16(static_cast<short>(pos)), vn = _mm512_set1_epi16(static_cast<short>(neg));
  for (int j = 0; j < 2; ++j) {
    __m512i v = _mm512_mask_blend_epi16(static_cast<__mmask32>(sign >> (32 * j)), vn, vp);
    if (kZero) v = _mm512_maskz_mov_epi16(static_cast<__mmask32>(nonzero >> (32 * j)), v);
    store(out + 32 * j, v, kStream);
  }
}

template <bool kZero, bool kStream>
SV_ISA_TARGET inline void unpackFull(uint64_t sign, uint64_t nonzero, uint64_t pos, uint64_t neg, uint64_t* out) {
  const __m512i vp = _mm512_set1_epi64(static_cast<long long>(pos)), vn = _mm512_set1_epi64(static_cast<long long>(neg));
  for (int j = 0; j < 8; ++j) {
    __m512i v = _mm512_mask_blend_epi64(static_cast<__mmask8>(sign >> (8 * j)), vn, vp);
    if (kZero) v = _mm512_maskz_mov_epi64(static_cast<__mmask8>(nonzero >> (8 * j)), v);
    store(out + 8 * j, v, kStream);
  }
}

constexpr bool kCanStream = true;
SV_ISA_TARGET inline void streamFence() { _mm_sfence(); }

}  // namespace avx512
}  // namespace host
}  // namespace sv

#define SV_ISA_NS avx512
#include "host_loops.h"
#undef SV_ISA_NS
#undef SV_ISA_TARGET

const sv::host::KernelTable* sv::host::avx512Kernels() { return &avx512::kTable; }

#else
const sv::host::KernelTable* sv::host::avx512Kernels() { return nullptr; }
#endif
