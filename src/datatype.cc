// SPDX-License-Identifier: MIT
#include "datatype.h"

#include <math.h>
#include <string.h>

namespace sv {
namespace {

// double -> float rounding to odd: exact when representable, else the
// neighbour with an odd significand. Rounding that once more to a narrower
// format (<= 22 significand bits) gives the correctly rounded result.
uint32_t doubleToFloatOddBits(double d) {
  float f = static_cast<float>(d);
  uint32_t u;
  memcpy(&u, &f, 4);
  if (static_cast<double>(f) == d || isnan(d)) return u;
  if (fabs(static_cast<double>(f)) > fabs(d)) u -= 1;  // step back toward zero
  return u | 1u;
}

// Round a float's bits to a format with `exp` exponent and `man` mantissa
// bits (IEEE-style, with subnormals), nearest-even.
uint16_t floatBitsTo16(uint32_t f, int exp, int man) {
  const uint32_t sign = (f >> 16) & 0x8000u;
  const int bias = (1 << (exp - 1)) - 1;
  const uint32_t maxExp = (1u << exp) - 1;
  uint32_t absf = f & 0x7fffffffu;
  if (absf > 0x7f800000u) return static_cast<uint16_t>(sign | (maxExp << man) | (1u << (man - 1)));  // NaN
  if (absf == 0x7f800000u) return static_cast<uint16_t>(sign | (maxExp << man));                    // inf
  int e = static_cast<int>(absf >> 23) - 127 + bias;  // biased target exponent
  uint32_t m = (absf & 0x7fffffu) | (absf >= 0x00800000u ? 0x800000u : 0);  // with hidden bit
  if (absf < 0x00800000u) e += 1;  // float subnormal: exponent is -126
  int shift = 23 - man;            // bits to drop for a normal result
  if (e <= 0) {                    // target subnormal
    shift += 1 - e;
    e = 0;
  }
  if (shift > 31) return static_cast<uint16_t>(sign);
  uint32_t keep = m >> shift;
  uint32_t rem = m & ((1u << shift) - 1);
  uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (keep & 1u))) keep += 1;
  // keep holds the hidden bit for normals; combine so a carry bumps the exponent.
  uint32_t out;
  if (e == 0) out = keep;  // subnormal (a carry into bit `man` makes it the smallest normal)
  else out = (static_cast<uint32_t>(e) << man) + (keep - (1u << man));
  if ((out >> man) >= maxExp) out = maxExp << man;  // overflow to inf
  return static_cast<uint16_t>(sign | out);
}

}  // namespace

uint16_t doubleToHalfBits(double d) { return floatBitsTo16(doubleToFloatOddBits(d), 5, 10); }
uint16_t doubleToBf16Bits(double d) { return floatBitsTo16(doubleToFloatOddBits(d), 8, 7); }

float halfBitsToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ffu, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);  // inf, NaN (payload kept)
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    bits = sign;  // +-0
  } else {  // subnormal: normalise
    int e = -1;
    do {
      ++e;
      man <<= 1;
    } while ((man & 0x400u) == 0);
    bits = sign | ((112 - e) << 23) | ((man & 0x3ffu) << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

float bf16BitsToFloat(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

const char* dtName(svDataType_t dt) {
  switch (dt) {
    case svFloat16: return "half";
    case svFloat32: return "float";
    case svFloat64: return "double";
    case svBfloat16: return "bfloat16";
  }
  return "?";
}

OutputBits outputBits(svDataType_t dt, double scale) {
  OutputBits o{};
  switch (dt) {
    case svFloat16: o.pos = doubleToHalfBits(scale); o.neg = o.pos ^ 0x8000u; break;
    case svBfloat16: o.pos = doubleToBf16Bits(scale); o.neg = o.pos ^ 0x8000u; break;
    case svFloat32: {
      float f = static_cast<float>(scale);
      uint32_t u;
      memcpy(&u, &f, 4);
      o.pos = u;
      o.neg = u ^ 0x80000000u;
      break;
    }
    case svFloat64: memcpy(&o.pos, &scale, 8); o.neg = o.pos ^ 0x8000000000000000ull; break;
  }
  return o;
}

}  // namespace sv
