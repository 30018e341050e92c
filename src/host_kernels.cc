// SPDX-License-Identifier: MIT
#include "host_kernels.h"

#include <type_traits>

#include "host_simd.h"

namespace sv {
namespace host {
namespace {

// The SSE2 lanes for an element encoding; void where the generic form runs.
template <typename U, typename K> struct LanesOf { using type = void; };
#if defined(SV_HAVE_SSE2)
template <typename K> struct LanesOf<uint32_t, K> { using type = Lanes32<K>; };
template <typename K> struct LanesOf<uint16_t, K> { using type = Lanes16<K>; };
template <typename K> struct LanesOf<uint64_t, K> { using type = Lanes64; };
#endif

// Full words with SSE2 where available, else the generic form.
template <typename U, typename K>
inline uint64_t packFull(const U* x, int planes, uint64_t* voting, int* nanCount) {
  using L = typename LanesOf<U, K>::type;
  if constexpr (!std::is_void_v<L>) {
    return planes == 1 ? packWord64Simd<L, false>(x, voting, nanCount) : packWord64Simd<L, true>(x, voting, nanCount);
  } else {
    if (planes == 1) return packSignWord64<U, K>(x, nanCount);
    uint64_t s;
    *nanCount += packWord<U, K>(x, kWordBits, &s, voting);
    return s;
  }
}

// Unpack needs only the width: any encoding of that width has the same lanes.
template <typename U>
inline void unpackFull(uint64_t sign, uint64_t nonzero, int planes, U pos, U neg, U* out) {
  using L = typename LanesOf<U, FloatBits<U>>::type;
  if constexpr (!std::is_void_v<L>) {
    if (planes == 1) unpackWord64Simd<L, false>(sign, nonzero, pos, neg, out);
    else unpackWord64Simd<L, true>(sign, nonzero, pos, neg, out);
  } else {
    if (planes == 1) unpackSignWord64<U>(sign, pos, neg, out);
    else unpackWord<U>(sign, nonzero, pos, neg, out, kWordBits);
  }
}

template <typename U, typename K>
uint64_t packT(const U* x, size_t n, int planes, uint64_t* out) {
  const size_t full = n / kWordBits;
  const int tail = static_cast<int>(n % kWordBits);
  int nans = 0;
  uint64_t total = 0;
  uint64_t voting = 0;
  for (size_t w = 0; w < full; ++w) {
    out[w * planes] = packFull<U, K>(x + w * kWordBits, planes, &voting, &nans);
    if (planes == 2) out[w * 2 + 1] = voting;
    if (nans > (1 << 30)) { total += nans; nans = 0; }
  }
  total += static_cast<uint64_t>(nans);
  if (tail) {
    uint64_t s;
    total += packWord<U, K>(x + full * kWordBits, tail, &s, &voting);
    out[full * planes] = s;
    if (planes == 2) out[full * 2 + 1] = voting;
  }
  return total;
}

template <typename U, typename K>
uint64_t countNansT(const U* x, size_t n) {
  uint64_t c = 0;
  for (size_t i = 0; i < n; ++i) c += isNan<U, K>(x[i]);
  return c;
}

template <typename U>
void unpackT(const uint64_t* in, int planes, size_t n, const OutputBits& bits, U* out) {
  const size_t full = n / kWordBits;
  const int tail = static_cast<int>(n % kWordBits);
  const U pos = static_cast<U>(bits.pos), neg = static_cast<U>(bits.neg);
  for (size_t w = 0; w < full; ++w) {
    const uint64_t nonzero = planes == 2 ? in[2 * w + 1] : ~0ull;
    unpackFull<U>(in[w * planes], nonzero, planes, pos, neg, out + w * kWordBits);
  }
  if (tail) {
    const uint64_t nonzero = planes == 2 ? in[2 * full + 1] : ~0ull;
    unpackWord<U>(in[full * planes], nonzero, pos, neg, out + full * kWordBits, tail);
  }
}

}  // namespace

uint64_t pack(const void* x, size_t n, svDataType_t dt, int planes, uint64_t* out) {
  switch (dt) {
    case svFloat16: return packT<uint16_t, FloatBits<uint16_t>>(static_cast<const uint16_t*>(x), n, planes, out);
    case svBfloat16: return packT<uint16_t, Bf16Bits>(static_cast<const uint16_t*>(x), n, planes, out);
    case svFloat32: return packT<uint32_t, FloatBits<uint32_t>>(static_cast<const uint32_t*>(x), n, planes, out);
    case svFloat64: return packT<uint64_t, FloatBits<uint64_t>>(static_cast<const uint64_t*>(x), n, planes, out);
  }
  return 0;
}

uint64_t countNans(const void* x, size_t n, svDataType_t dt) {
  switch (dt) {
    case svFloat16: return countNansT<uint16_t, FloatBits<uint16_t>>(static_cast<const uint16_t*>(x), n);
    case svBfloat16: return countNansT<uint16_t, Bf16Bits>(static_cast<const uint16_t*>(x), n);
    case svFloat32: return countNansT<uint32_t, FloatBits<uint32_t>>(static_cast<const uint32_t*>(x), n);
    case svFloat64: return countNansT<uint64_t, FloatBits<uint64_t>>(static_cast<const uint64_t*>(x), n);
  }
  return 0;
}

void vote(const uint64_t* in, size_t rankStride, size_t words, const VoteParams& p, uint64_t firstWord,
          uint64_t* out) {
  for (size_t w = 0; w < words; ++w)
    voteWord(in + w * p.inPlanes, rankStride, p, firstWord + w, out + w * p.outPlanes);
}

void unpack(const uint64_t* in, int planes, size_t n, svDataType_t dt, const OutputBits& bits, void* out) {
  switch (dt) {
    case svFloat16:
    case svBfloat16: unpackT<uint16_t>(in, planes, n, bits, static_cast<uint16_t*>(out)); break;
    case svFloat32: unpackT<uint32_t>(in, planes, n, bits, static_cast<uint32_t*>(out)); break;
    case svFloat64: unpackT<uint64_t>(in, planes, n, bits, static_cast<uint64_t*>(out)); break;
  }
}

}  // namespace host
}  // namespace sv
