// SPDX-License-Identifier: MIT
// SSE2 forms of bitlogic.h's full-word pack and unpack for the host: the
// same predicates (isNegative, isVoting, isNan) on 2, 4 or 8 lanes, with
// movemask gathering the bits the generic loop assembles one shift at a time.
// The baseline of every x86-64 CPU; the wider forms are in
// host_kernels_avx2.cc and host_kernels_avx512.cc (host_isa.h). Tested bit
// for bit against the generic form (tests/unit).
#pragma once

#include "bitlogic.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define SV_HAVE_SSE2 1

namespace sv {
namespace host {

// One step classifies kStep elements into bit masks (bit i = element i).
struct StepBits {
  uint32_t neg, nan, vote;
};

// 32-bit elements, 8 per step (two vectors of 4).
template <typename K>
struct Lanes32 {
  using U = uint32_t;
  static constexpr int kStep = 8;
  static __m128i set1(uint32_t v) { return _mm_set1_epi32(static_cast<int>(v)); }
  static __m128i ltU(__m128i a, __m128i b) {  // unsigned a < b
    const __m128i flip = set1(0x80000000u);
    return _mm_cmplt_epi32(_mm_xor_si128(a, flip), _mm_xor_si128(b, flip));
  }
  static uint32_t bits(__m128i a, __m128i b) {
    return static_cast<uint32_t>(_mm_movemask_ps(_mm_castsi128_ps(a)) | (_mm_movemask_ps(_mm_castsi128_ps(b)) << 4));
  }
  template <bool kVoting>
  static StepBits step(const U* x) {
    const __m128i signPlus1 = set1(K::kSign + 1), inf = set1(K::kInf), absMask = set1(~K::kSign), one = set1(1);
    const __m128i u0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x));
    const __m128i u1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + 4));
    const __m128i a0 = _mm_and_si128(u0, absMask), a1 = _mm_and_si128(u1, absMask);
    StepBits s;
    s.neg = bits(ltU(_mm_sub_epi32(u0, signPlus1), inf), ltU(_mm_sub_epi32(u1, signPlus1), inf));
    s.nan = bits(ltU(inf, a0), ltU(inf, a1));
    s.vote = kVoting ? bits(ltU(_mm_sub_epi32(a0, one), inf), ltU(_mm_sub_epi32(a1, one), inf)) : 0;
    return s;
  }
  // Lane masks from bits 0..3 of w: lane i = -1 iff bit i.
  static __m128i expand(uint64_t w) {
    const __m128i sel = _mm_set_epi32(8, 4, 2, 1);
    return _mm_cmpeq_epi32(_mm_and_si128(set1(static_cast<uint32_t>(w & 0xf)), sel), sel);
  }
  static constexpr int kLanes = 4;
};

// 16-bit elements (fp16, bf16), 16 per step (two vectors of 8).
template <typename K>
struct Lanes16 {
  using U = uint16_t;
  static constexpr int kStep = 16;
  static __m128i set1(uint16_t v) { return _mm_set1_epi16(static_cast<short>(v)); }
  static __m128i ltU(__m128i a, __m128i b) {
    const __m128i flip = set1(0x8000u);
    return _mm_cmplt_epi16(_mm_xor_si128(a, flip), _mm_xor_si128(b, flip));
  }
  static uint32_t bits(__m128i a, __m128i b) {  // saturating pack keeps 0 / -1: a byte per element
    return static_cast<uint32_t>(_mm_movemask_epi8(_mm_packs_epi16(a, b))) & 0xffffu;
  }
  template <bool kVoting>
  static StepBits step(const U* x) {
    const __m128i signPlus1 = set1(static_cast<U>(K::kSign + 1)), inf = set1(K::kInf),
                  absMask = set1(static_cast<U>(~K::kSign)), one = set1(1);
    const __m128i u0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x));
    const __m128i u1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + 8));
    const __m128i a0 = _mm_and_si128(u0, absMask), a1 = _mm_and_si128(u1, absMask);
    StepBits s;
    s.neg = bits(ltU(_mm_sub_epi16(u0, signPlus1), inf), ltU(_mm_sub_epi16(u1, signPlus1), inf));
    s.nan = bits(ltU(inf, a0), ltU(inf, a1));
    s.vote = kVoting ? bits(ltU(_mm_sub_epi16(a0, one), inf), ltU(_mm_sub_epi16(a1, one), inf)) : 0;
    return s;
  }
  static __m128i expand(uint64_t w) {
    const __m128i sel = _mm_set_epi16(128, 64, 32, 16, 8, 4, 2, 1);
    return _mm_cmpeq_epi16(_mm_and_si128(set1(static_cast<uint16_t>(w & 0xff)), sel), sel);
  }
  static constexpr int kLanes = 8;
};

// 64-bit elements, 4 per step. SSE2 has no 64-bit compare, so the same
// predicates are built from 32-bit halves: zero = both halves of |x| zero,
// NaN = |x| > INF as (hi > INF_hi) or (hi == INF_hi and lo != 0), negative =
// sign bit and not zero and not NaN. All integer: exact under FTZ/DAZ.
struct Lanes64 {
  using U = uint64_t;
  static constexpr int kStep = 4;
  static __m128i pairAnd(__m128i m) {  // both 32-bit halves of each lane
    return _mm_and_si128(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
  }
  static __m128i hiToLane(__m128i m) { return _mm_shuffle_epi32(m, _MM_SHUFFLE(3, 3, 1, 1)); }
  static __m128i loToLane(__m128i m) { return _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 2, 0, 0)); }
  static uint32_t bits(__m128i m) { return static_cast<uint32_t>(_mm_movemask_pd(_mm_castsi128_pd(m))); }
  template <bool kVoting>
  static StepBits step(const U* x) {
    const __m128i absMask = _mm_set_epi32(0x7fffffff, -1, 0x7fffffff, -1);
    const __m128i infHi = _mm_set1_epi32(0x7ff00000), zero = _mm_setzero_si128();
    StepBits s{0, 0, 0};
    for (int h = 0; h < 2; ++h) {
      const __m128i u = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + 2 * h));
      const __m128i a = _mm_and_si128(u, absMask);
      const __m128i isZero = pairAnd(_mm_cmpeq_epi32(a, zero));
      // hi halves of |x| are < 2^31, so signed compares are safe.
      const __m128i hiGt = hiToLane(_mm_cmpgt_epi32(a, infHi));
      const __m128i hiEq = hiToLane(_mm_cmpeq_epi32(a, infHi));
      const __m128i loNonzero = loToLane(_mm_xor_si128(_mm_cmpeq_epi32(a, zero), _mm_set1_epi32(-1)));
      const __m128i isNan = _mm_or_si128(hiGt, _mm_and_si128(hiEq, loNonzero));
      const __m128i quiet = _mm_or_si128(isZero, isNan);  // neither +1 nor -1 by sign
      const uint32_t sign = static_cast<uint32_t>(_mm_movemask_pd(_mm_castsi128_pd(u)));
      s.neg |= (sign & ~bits(quiet) & 3u) << (2 * h);
      s.nan |= bits(isNan) << (2 * h);
      if (kVoting) s.vote |= (~bits(quiet) & 3u) << (2 * h);
    }
    return s;
  }
  static __m128i expand(uint64_t w) {  // lanes 0..1 from bits 0..1
    const __m128i sel = _mm_set_epi32(0, 2, 0, 1);
    const __m128i m = _mm_cmpeq_epi32(_mm_and_si128(_mm_set1_epi32(static_cast<int>(w & 3)), sel), sel);
    return loToLane(m);
  }
  static constexpr int kLanes = 2;
};

// 64 elements: sign plane returned; voting plane (if kVoting) and NaN bits out.
template <typename L, bool kVoting>
inline uint64_t packWord64Simd(const typename L::U* x, uint64_t* voting, uint64_t* nanBits) {
  uint64_t neg = 0, nan = 0, vote = 0;
  for (int j = 0; j < 64; j += L::kStep) {
    const StepBits s = L::template step<kVoting>(x + j);
    neg |= static_cast<uint64_t>(s.neg) << j;
    nan |= static_cast<uint64_t>(s.nan) << j;
    if (kVoting) vote |= static_cast<uint64_t>(s.vote) << j;
  }
  if (kVoting) *voting = vote;
  *nanBits = nan;
  return ~neg;
}

// 64 elements from a sign word: pos where 1, neg where 0; zero where the
// nonzero word is 0 (kZero).
template <typename L, bool kZero>
inline void unpackWord64Simd(uint64_t sign, uint64_t nonzero, typename L::U pos, typename L::U neg,
                             typename L::U* out) {
  using U = typename L::U;
  __m128i vneg, diff;
  if constexpr (sizeof(U) == 8) {
    vneg = _mm_set1_epi64x(static_cast<long long>(neg));
    diff = _mm_set1_epi64x(static_cast<long long>(pos ^ neg));
  } else {
    vneg = L::set1(neg);
    diff = L::set1(static_cast<U>(pos ^ neg));
  }
  for (int j = 0; j < 64; j += L::kLanes) {
    __m128i v = _mm_xor_si128(vneg, _mm_and_si128(diff, L::expand(sign >> j)));
    if (kZero) v = _mm_and_si128(v, L::expand(nonzero >> j));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + j), v);
  }
}

}  // namespace host
}  // namespace sv
#endif
