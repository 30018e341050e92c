// SPDX-License-Identifier: MIT
// AVX2 forms of the host kernels' full-word pack and unpack (host_isa.h):
// the predicates of bitlogic.h (see host_kernels_avx512.cc) on 4, 8 or 16
// lanes of 256 bits. AVX2 compares are signed, so an unsigned a < b is
// (b ^ SIGN) > (a ^ SIGN); movemask gathers one bit per lane (16-bit lanes:
// packed to bytes first, and put back in order across the two halves).
// Target attributes per function, as for AVX-512.
#include "host_isa.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define SV_ISA_TARGET __attribute__((target("avx2,popcnt")))

namespace sv {
namespace host {
namespace avx2 {

// One prefetch per 64-byte line, 8 KiB ahead (see host_kernels_avx512.cc).
constexpr int kPrefetchBytes = 8192;
SV_ISA_TARGET inline void prefetch(const void* p) {
  _mm_prefetch(static_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0);
}

SV_ISA_TARGET inline uint64_t bits32(__m256i m) {
  return static_cast<uint64_t>(_mm256_movemask_ps(_mm256_castsi256_ps(m)));
}
SV_ISA_TARGET inline uint64_t bits64(__m256i m) {
  return static_cast<uint64_t>(_mm256_movemask_pd(_mm256_castsi256_pd(m)));
}
// Two compares of 16-bit lanes -> 32 bits in element order (packs works per
// 128-bit half: m0 0-7, m1 0-7 | m0 8-15, m1 8-15; the permute restores it).
SV_ISA_TARGET inline uint64_t bits16(__m256i m0, __m256i m1) {
  const __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi16(m0, m1), 0xD8);
  return static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(p)));
}

// 32-bit elements: 8 x 8 lanes.
template <typename K, bool kVoting>
SV_ISA_TARGET inline uint64_t packFull(const uint32_t* x, uint64_t* voting, uint64_t* nanBits) {
  const __m256i flip = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  const __m256i signPlus1 = _mm256_set1_epi32(static_cast<int>(K::kSign + 1u));
  const __m256i infF = _mm256_xor_si256(_mm256_set1_epi32(static_cast<int>(K::kInf)), flip);
  const __m256i absMask = _mm256_set1_epi32(static_cast<int>(~K::kSign)), one = _mm256_set1_epi32(1);
  uint64_t neg = 0, nan = 0, vote = 0;
  for (int j = 0; j < 8; ++j) {
    if (j % 2 == 0) prefetch(x + 8 * j);
    const __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 8 * j));
    const __m256i a = _mm256_and_si256(u, absMask);
    // a <u INF  <=>  INF^flip > a^flip (signed)
    neg |= bits32(_mm256_cmpgt_epi32(infF, _mm256_xor_si256(_mm256_sub_epi32(u, signPlus1), flip))) << (8 * j);
    nan |= bits32(_mm256_cmpgt_epi32(_mm256_xor_si256(a, flip), infF)) << (8 * j);
    if (kVoting) vote |= bits32(_mm256_cmpgt_epi32(infF, _mm256_xor_si256(_mm256_sub_epi32(a, one), flip))) << (8 * j);
  }
  if (kVoting) *voting = vote;
  *nanBits = nan;
  return ~neg;
}

// 16-bit elements: 4 x 16 lanes, two compares packed into one byte mask.
template <typename K, bool kVoting>
SV_ISA_TARGET inline uint64_t packFull(const uint16_t* x, uint64_t* voting, uint64_t* nanBits) {
  const __m256i flip = _mm256_set1_epi16(static_cast<short>(0x8000u));
  const __m256i signPlus1 = _mm256_set1_epi16(static_cast<short>(K::kSign + 1u));
  const __m256i infF = _mm256_xor_si256(_mm256_set1_epi16(static_cast<short>(K::kInf)), flip);
  const __m256i absMask = _mm256_set1_epi16(static_cast<short>(~K::kSign)), one = _mm256_set1_epi16(1);
  uint64_t neg = 0, nan = 0, vote = 0;
  for (int j = 0; j < 2; ++j) {
    prefetch(x + 32 * j);
    const __m256i u0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32 * j));
    const __m256i u1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32 * j + 16));
    const __m256i a0 = _mm256_and_si256(u0, absMask), a1 = _mm256_and_si256(u1, absMask);
    // v <u INF  <=>  INF^flip > v^flip (signed)
    const __m256i n0 = _mm256_cmpgt_epi16(infF, _mm256_xor_si256(_mm256_sub_epi16(u0, signPlus1), flip));
    const __m256i n1 = _mm256_cmpgt_epi16(infF, _mm256_xor_si256(_mm256_sub_epi16(u1, signPlus1), flip));
    neg |= bits16(n0, n1) << (32 * j);
    nan |= bits16(_mm256_cmpgt_epi16(_mm256_xor_si256(a0, flip), infF), _mm256_cmpgt_epi16(_mm256_xor_si256(a1, flip), infF))
           << (32 * j);
    if (kVoting) {
      const __m256i v0 = _mm256_cmpgt_epi16(infF, _mm256_xor_si256(_mm256_sub_epi16(a0, one), flip));
      const __m256i v1 = _mm256_cmpgt_epi16(infF, _mm256_xor_si256(_mm256_sub_epi16(a1, one), flip));
      vote |= bits16(v0, v1) << (32 * j);
    }
  }
  if (kVoting) *voting = vote;
  *nanBits = nan;
  return ~neg;
}

// 64-bit elements: 16 x 4 lanes.
template <typename K, bool kVoting>
SV_ISA_TARGET inline uint64_t packFull(const uint64_t* x, uint64_t* voting, uint64_t* nanBits) {
  const __m256i flip = _mm256_set1_epi64x(static_cast<long long>(0x8000000000000000ull));
  const __m256i signPlus1 = _mm256_set1_epi64x(static_cast<long long>(K::kSign + 1u));
  const __m256i infF = _mm256_xor_si256(_mm256_set1_epi64x(static_cast<long long>(K::kInf)), flip);
  const __m256i absMask = _mm256_set1_epi64x(static_cast<long long>(~K::kSign)), one = _mm256_set1_epi64x(1);
  uint64_t neg = 0, nan = 0, vote = 0;
  for (int j = 0; j < 16; ++j) {
    if (j % 2 == 0) prefetch(x + 4 * j);
    const __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 4 * j));
    const __m256i a = _mm256_and_si256(u, absMask);
    neg |= bits64(_mm256_cmpgt_epi64(infF, _mm256_xor_si256(_mm256_sub_epi64(u, signPlus1), flip))) << (4 * j);
    nan |= bits64(_mm256_cmpgt_epi64(_mm256_xor_si256(a, flip), infF)) << (4 * j);
    if (kVoting) vote |= bits64(_mm256_cmpgt_epi64(infF, _mm256_xor_si256(_mm256_sub_epi64(a, one), flip))) << (4 * j);
  }
  if (kVoting) *voting = vote;
  *nanBits = nan;
  return ~neg;
}

// Non-temporal for large outputs (host_loops.h: 64-byte aligned, >= 4 MiB).
SV_ISA_TARGET inline void store(void* p, __m256i v, bool stream) {
  if (stream) _mm256_stream_si256(static_cast<__m256i*>(p), v);
  else _mm256_storeu_si256(static_cast<__m256i*>(p), v);
}

// Unpack: lane i of the mask is all ones iff bit i of the selected bits.
SV_ISA_TARGET inline __m256i lanes32(uint64_t w) {
  const __m256i sel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int>(w & 0xff)), sel), sel);
}
SV_ISA_TARGET inline __m256i lanes16(uint64_t w) {
  const __m256i sel = _mm256_setr_epi16(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384,
                                        static_cast<short>(0x8000));
  return _mm256_cmpeq_epi16(_mm256_and_si256(_mm256_set1_epi16(static_cast<short>(w & 0xffff)), sel), sel);
}
SV_ISA_TARGET inline __m256i lanes64(uint64_t w) {
  const __m256i sel = _mm256_setr_epi64x(1, 2, 4, 8);
  return _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_set1_epi64x(static_cast<long long>(w & 0xf)), sel), sel);
}

template <bool kZero, bool kStream>
SV_ISA_TARGET inline void unpackFull(uint64_t sign, uint64_t nonzero, uint32_t pos, uint32_t neg, uint32_t* out) {
  const __m256i vn = _mm256_set1_epi32(static_cast<int>(neg)), diff = _mm256_set1_epi32(static_cast<int>(pos ^ neg));
  for (int j = 0; j < 8; ++j) {
    __m256i v = _mm256_xor_si256(vn, _mm256_and_si256(diff, lanes32(sign >> (8 * j))));
    if (kZero) v = _mm256_and_si256(v, lanes32(nonzero >> (8 * j)));
    store(out + 8 * j, v, kStream);
  }
}

template <bool kZero, bool kStream>
SV_ISA_TARGET inline void unpackFull(uint64_t sign, uint64_t nonzero, uint16_t pos, uint16_t neg, uint16_t* out) {
  const __m256i vn = _mm256_set1_epi16(static_cast<short>(neg));
  const __m256i diff = _mm256_set1_epi16(static_cast<short>(pos ^ neg));
  for (int j = 0; j < 4; ++j) {
    __m256i v = _mm256_xor_si256(vn, _mm256_and_si256(diff, lanes16(sign >> (16 * j))));
    if (kZero) v = _mm256_and_si256(v, lanes16(nonzero >> (16 * j)));
    store(out + 16 * j, v, kStream);
  }
}

template <bool kZero, bool kStream>
SV_ISA_TARGET inline void unpackFull(uint64_t sign, uint64_t nonzero, uint64_t pos, uint64_t neg, uint64_t* out) {
  const __m256i vn = _mm256_set1_epi64x(static_cast<long long>(neg));
  const __m256i diff = _mm256_set1_epi64x(static_cast<long long>(pos ^ neg));
  for (int j = 0; j < 16; ++j) {
    __m256i v = _mm256_xor_si256(vn, _mm256_and_si256(diff, lanes64(sign >> (4 * j))));
    if (kZero) v = _mm256_and_si256(v, lanes64(nonzero >> (4 * j)));
    store(out + 4 * j, v, kStream);
  }
}

constexpr bool kCanStream = true;
SV_ISA_TARGET inline void streamFence() { _mm_sfence(); }

}  // namespace avx2
}  // namespace host
}  // namespace sv

#define SV_ISA_NS avx2
#include "host_loops.h"
#undef SV_ISA_NS
#undef SV_ISA_TARGET

const sv::host::KernelTable* sv::host::avx2Kernels() { return &avx2::kTable; }

#else
const sv::host::KernelTable* sv::host::avx2Kernels() { return nullptr; }
#endif
