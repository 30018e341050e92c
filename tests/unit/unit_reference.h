// SPDX-License-Identifier: MIT
// Naive reference models for the unit tests: element decoding and
// classification field by field, per-element votes counted as plain
// integers, correct rounding by searching a table of every value of a
// format, element generators and a deterministic RNG. Nothing in this file
// calls the library: the expected results of the tests come from here.
#pragma once

#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "signvote.h"

namespace ref {

// ---- Deterministic RNG (xorshift64*) ---------------------------------------
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull ^ 0xD1B54A32D192ED03ull) {
    if (s_ == 0) s_ = 1;
    for (int i = 0; i < 4; ++i) next();
  }
  uint64_t next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 2685821657736338717ull;
  }
  // Uniform in [0, n), n > 0 (slightly biased, irrelevant here).
  uint64_t below(uint64_t n) { return next() % n; }
  // True with probability pct / 100.
  bool percent(int pct) { return static_cast<int>(below(100)) < pct; }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

 private:
  uint64_t s_;
};

// ---- Element formats -------------------------------------------------------
struct Format {
  int expBits;
  int manBits;
  int bits;  // storage width
  const char* name;
};
constexpr Format kHalf{5, 10, 16, "half"};
constexpr Format kBf16{8, 7, 16, "bfloat16"};
constexpr Format kF32{8, 23, 32, "float"};
constexpr Format kF64{11, 52, 64, "double"};

inline Format formatOf(svDataType_t dt) {
  switch (dt) {
    case svFloat16: return kHalf;
    case svBfloat16: return kBf16;
    case svFloat32: return kF32;
    default: return kF64;
  }
}
inline size_t elemSize(svDataType_t dt) { return static_cast<size_t>(formatOf(dt).bits / 8); }
inline const char* dtLabel(svDataType_t dt) { return formatOf(dt).name; }

inline uint64_t allMask(Format f) { return f.bits == 64 ? ~0ull : ((1ull << f.bits) - 1); }
inline uint64_t signMask(Format f) { return 1ull << (f.bits - 1); }
inline uint64_t manMask(Format f) { return (1ull << f.manBits) - 1; }
inline uint64_t expAllOnes(Format f) { return (1ull << f.expBits) - 1; }
inline uint64_t expField(uint64_t b, Format f) { return (b >> f.manBits) & expAllOnes(f); }
inline uint64_t infBits(Format f) { return expAllOnes(f) << f.manBits; }
inline int bias(Format f) { return (1 << (f.expBits - 1)) - 1; }

// Classification by the fields, as the IEEE standard defines them.
enum class Cls { Pos, Neg, Zero, NaN };
inline Cls classify(uint64_t b, Format f) {
  const uint64_t e = expField(b, f), m = b & manMask(f);
  const bool neg = (b >> (f.bits - 1)) & 1;
  if (e == expAllOnes(f) && m != 0) return Cls::NaN;
  if (e == 0 && m == 0) return Cls::Zero;
  return neg ? Cls::Neg : Cls::Pos;
}
inline bool isNaNBits(uint64_t b, Format f) { return classify(b, f) == Cls::NaN; }

// Exact value of a bit pattern (NaN for NaNs).
inline double decode(uint64_t b, Format f) {
  const uint64_t e = expField(b, f), m = b & manMask(f);
  const double sign = ((b >> (f.bits - 1)) & 1) ? -1.0 : 1.0;
  if (e == expAllOnes(f)) return m ? NAN : sign * INFINITY;
  if (e == 0) return sign * ldexp(static_cast<double>(m), 1 - bias(f) - f.manBits);
  return sign * ldexp(static_cast<double>(m + (1ull << f.manBits)), static_cast<int>(e) - bias(f) - f.manBits);
}

// ---- Correct rounding to a 16-bit format, by table search ------------------
// v[k] is the value of the positive pattern k for k < inf, and v[inf] is
// 2^(emax+1), the value infinity takes in the round-to-nearest rule.
class Table16 {
 public:
  explicit Table16(Format f) : f_(f), inf_(static_cast<uint16_t>(infBits(f))) {
    v_.resize(inf_ + 1u);
    for (uint32_t k = 0; k < inf_; ++k) v_[k] = decode(k, f);
    v_[inf_] = ldexp(1.0, bias(f) + 1);
  }
  uint16_t round(double d) const {
    const uint16_t sign = signbit(d) ? 0x8000u : 0;
    if (isnan(d)) return static_cast<uint16_t>(sign | inf_ | (1u << (f_.manBits - 1)));
    const double a = fabs(d);
    if (a >= v_[inf_]) return static_cast<uint16_t>(sign | inf_);
    // Largest k with v[k] <= a.
    const size_t k = static_cast<size_t>(std::upper_bound(v_.begin(), v_.end(), a) - v_.begin()) - 1;
    if (v_[k] == a) return static_cast<uint16_t>(sign | k);
    const double twice = 2.0 * a, mid = v_[k] + v_[k + 1];  // both exact
    size_t r;
    if (twice < mid) r = k;
    else if (twice > mid) r = k + 1;
    else r = (k & 1) ? k + 1 : k;  // tie: the even one
    return static_cast<uint16_t>(sign | r);
  }
  double value(uint32_t k) const { return v_[k]; }
  uint32_t infPattern() const { return inf_; }

 private:
  Format f_;
  uint16_t inf_;
  std::vector<double> v_;
};

inline const Table16& halfTable() {
  static const Table16 t(kHalf);
  return t;
}
inline const Table16& bf16Table() {
  static const Table16 t(kBf16);
  return t;
}

// Correctly rounded bits of d in dt (float32 by the compiler's conversion,
// which is round to nearest even on IEEE hardware).
inline uint64_t roundTo(svDataType_t dt, double d) {
  switch (dt) {
    case svFloat16: return halfTable().round(d);
    case svBfloat16: return bf16Table().round(d);
    case svFloat32: {
      const float x = static_cast<float>(d);
      uint32_t u;
      memcpy(&u, &x, 4);
      return u;
    }
    default: {
      uint64_t u;
      memcpy(&u, &d, 8);
      return u;
    }
  }
}

// ---- Element generators ----------------------------------------------------
// The adversarial patterns of a format: both zeros, both infinities, NaNs of
// every kind and sign, denormals, extreme normals.
inline std::vector<uint64_t> specials(Format f, bool withNaN) {
  const uint64_t S = signMask(f), I = infBits(f), M = manMask(f), Q = 1ull << (f.manBits - 1);
  std::vector<uint64_t> v = {
      0,                     // +0
      S,                     // -0
      I, S | I,              // +-inf
      1, S | 1,              // smallest denormal
      M, S | M,              // largest denormal
      1ull << f.manBits, S | (1ull << f.manBits),  // smallest normal
      I - 1, S | (I - 1),    // largest finite
      static_cast<uint64_t>(bias(f)) << f.manBits,      // +1
      S | (static_cast<uint64_t>(bias(f)) << f.manBits),  // -1
      2, S | 2, Q, S | Q, M - 1, S | (M - 1),  // other denormals
  };
  if (withNaN) {
    const uint64_t nans[] = {
        I | Q,      I | Q | 1, I | M,  // quiet NaNs
        I | 1,      I | (Q >> 1), I | (M >> 1),  // signalling NaNs (quiet bit 0)
    };
    for (uint64_t n : nans) {
      v.push_back(n);
      v.push_back(S | n);
    }
  }
  return v;
}

// A random finite, nonzero, normal number of either sign.
inline uint64_t randomNormal(Rng& rng, Format f) {
  const uint64_t e = 1 + rng.below(expAllOnes(f) - 1);
  const uint64_t m = rng.next() & manMask(f);
  const uint64_t s = (rng.next() & 1) ? signMask(f) : 0;
  return s | (e << f.manBits) | m;
}

// Mostly normal numbers of random sign, with pSpecial percent adversarial
// patterns and pZero percent zeros (+0 or -0).
inline uint64_t randomElement(Rng& rng, Format f, bool allowNaN, int pSpecial, int pZero) {
  const int r = static_cast<int>(rng.below(100));
  if (r < pZero) return (rng.next() & 1) ? signMask(f) : 0;
  if (r < pZero + pSpecial) {
    static thread_local std::vector<uint64_t> sp[2][4];
    const int idx = f.bits == 64 ? 3 : f.bits == 32 ? 2 : f.expBits == 8 ? 1 : 0;
    auto& list = sp[allowNaN][idx];
    if (list.empty()) list = specials(f, allowNaN);
    return list[rng.below(list.size())];
  }
  if (r < pZero + pSpecial + 3) return rng.next() & allMask(f) & (allowNaN ? ~0ull : ~(1ull << (f.bits - 2)));
  return randomNormal(rng, f);
}

// ---- Typed buffers as raw bytes (little endian) ----------------------------
inline uint64_t loadElem(const void* base, size_t i, size_t esz) {
  uint64_t v = 0;
  memcpy(&v, static_cast<const char*>(base) + i * esz, esz);
  return v;
}
inline void storeElem(void* base, size_t i, size_t esz, uint64_t v) {
  memcpy(static_cast<char*>(base) + i * esz, &v, esz);
}

// ---- The vote of one element, and the majority -----------------------------
// +1 / -1, or 0 for an abstention. A NaN votes as a zero would.
inline int voteOf(Cls c, int zeroPolicy) {
  if (c == Cls::Pos) return 1;
  if (c == Cls::Neg) return -1;
  return zeroPolicy == SV_ZERO_ABSTAIN ? 0 : 1;
}
// +1, -1 or 0 from the two counts and the tie policy; tieBit is the
// random draw for SV_TIE_RANDOM.
inline int majority(int pos, int neg, int tiePolicy, bool tieBit) {
  if (pos > neg) return 1;
  if (neg > pos) return -1;
  if (tiePolicy == SV_TIE_POSITIVE) return 1;
  if (tiePolicy == SV_TIE_ZERO) return 0;
  return tieBit ? 1 : -1;
}

// One 64-bit word of the vote, per bit: count the +1 and -1 votes of the P
// inputs as integers. Rank r's group (sign word, then the voting word when
// inPlanes == 2) is at in + r * stride. out[0] = 1 where the result is +1;
// out[1] (outPlanes == 2) = 0 exactly where a tie happened. randomBits: the
// draws of SV_TIE_RANDOM for the 64 elements.
inline void voteGroup(const uint64_t* in, size_t stride, int P, int inPlanes, int outPlanes, int tiePolicy,
                      uint64_t randomBits, uint64_t* out) {
  uint64_t sign = 0, nonzero = 0;
  for (int j = 0; j < 64; ++j) {
    int pos = 0, neg = 0;
    for (int r = 0; r < P; ++r) {
      const bool s = (in[r * stride] >> j) & 1;
      const bool v = inPlanes == 1 ? true : ((in[r * stride + 1] >> j) & 1);
      if (!v) continue;
      if (s) ++pos;
      else ++neg;
    }
    if (majority(pos, neg, tiePolicy, (randomBits >> j) & 1) == 1) sign |= 1ull << j;
    if (pos != neg) nonzero |= 1ull << j;
  }
  out[0] = sign;
  if (outPlanes == 2) out[1] = nonzero;
}

// ---- Misc ------------------------------------------------------------------
inline bool containsNoCase(const std::string& hay, const std::string& needle) {
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  return lower(hay).find(lower(needle)) != std::string::npos;
}

inline std::string hex(uint64_t v) {
  char b[32];
  snprintf(b, sizeof(b), "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

}  // namespace ref
