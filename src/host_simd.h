// SPDX-License-Identifier: MIT
// SSE2 forms of bitlogic.h's full-word pack and unpack for the host, for 16-
// and 32-bit elements: the same predicates (isNegative, isVoting, isNan) on 4
// or 8 lanes, with movemask gathering the bits the generic loop assembles one
// shift at a time. Tested bit for bit against the generic form (tests/unit).
// 64-bit elements use the generic form (SSE2 has no 64-bit compare).
#pragma once

#include "bitlogic.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define SV_HAVE_SSE2 1

namespace sv {
namespace host {

struct Lanes32 {
  using U = uint32_t;
  static constexpr int kLanes = 4;
  static __m128i set1(uint32_t v) { return _mm_set1_epi32(static_cast<int>(v)); }
  static __m128i sub(__m128i a, __m128i b) { return _mm_sub_epi32(a, b); }
  static __m128i ltU(__m128i a, __m128i b) {  // unsigned a < b
    const __m128i flip = set1(0x80000000u);
    return _mm_cmplt_epi32(_mm_xor_si128(a, flip), _mm_xor_si128(b, flip));
  }
  // 4 lanes of 0/-1 -> 4 bits
  static uint64_t bits(__m128i m) { return static_cast<uint64_t>(_mm_movemask_ps(_mm_castsi128_ps(m))); }
  // Lane mask from 4 bits of w: lane i = -1 iff bit i.
  static __m128i expand(uint64_t w) {
    const __m128i sel = _mm_set_epi32(8, 4, 2, 1);
    return _mm_cmpeq_epi32(_mm_and_si128(set1(static_cast<uint32_t>(w & 0xf)), sel), sel);
  }
};

struct Lanes16 {
  using U = uint16_t;
  static constexpr int kLanes = 8;
  static __m128i set1(uint16_t v) { return _mm_set1_epi16(static_cast<short>(v)); }
  static __m128i sub(__m128i a, __m128i b) { return _mm_sub_epi16(a, b); }
  static __m128i ltU(__m128i a, __m128i b) {
    const __m128i flip = set1(0x8000u);
    return _mm_cmplt_epi16(_mm_xor_si128(a, flip), _mm_xor_si128(b, flip));
  }
  static uint64_t bits(__m128i m) {  // 8 lanes of 0/-1 -> 8 bits
    return static_cast<uint64_t>(_mm_movemask_epi8(_mm_packs_epi16(m, m)) & 0xff);
  }
  static __m128i expand(uint64_t w) {
    const __m128i sel = _mm_set_epi16(128, 64, 32, 16, 8, 4, 2, 1);
    return _mm_cmpeq_epi16(_mm_and_si128(set1(static_cast<uint16_t>(w & 0xff)), sel), sel);
  }
};

// 64 elements: sign plane returned; voting plane (if kVoting) and NaN count out.
template <typename L, typename K, bool kVoting>
inline uint64_t packWord64Sse2(const typename L::U* x, uint64_t* voting, int* nanCount) {
  using U = typename L::U;
  const __m128i signPlus1 = L::set1(static_cast<U>(K::kSign + 1));
  const __m128i inf = L::set1(K::kInf);
  const __m128i absMask = L::set1(static_cast<U>(~K::kSign));
  const __m128i one = L::set1(1);
  uint64_t neg = 0, nan = 0, vote = 0;
  for (int j = 0; j < 64; j += L::kLanes) {
    const __m128i u = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + j));
    const __m128i a = _mm_and_si128(u, absMask);
    neg |= L::bits(L::ltU(L::sub(u, signPlus1), inf)) << j;
    nan |= L::bits(L::ltU(inf, a)) << j;
    if (kVoting) vote |= L::bits(L::ltU(L::sub(a, one), inf)) << j;
  }
  if (kVoting) *voting = vote;
  *nanCount += popcount64(nan);
  return ~neg;
}

// 64 elements from a sign word: pos where 1, neg where 0; zero where the
// nonzero word is 0 (kZero).
template <typename L, bool kZero>
inline void unpackWord64Sse2(uint64_t sign, uint64_t nonzero, typename L::U pos, typename L::U neg,
                             typename L::U* out) {
  const __m128i vneg = L::set1(neg);
  const __m128i diff = L::set1(static_cast<typename L::U>(pos ^ neg));
  for (int j = 0; j < 64; j += L::kLanes) {
    __m128i v = _mm_xor_si128(vneg, _mm_and_si128(diff, L::expand(sign >> j)));
    if (kZero) v = _mm_and_si128(v, L::expand(nonzero >> j));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + j), v);
  }
}

}  // namespace host
}  // namespace sv
#endif
