// SPDX-License-Identifier: MIT
// Datatype facts, and the bit patterns of +scale, -scale and 0 per datatype.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "signvote.h"

namespace sv {

inline bool dtValid(int dt) {
  return dt == svFloat16 || dt == svFloat32 || dt == svFloat64 || dt == svBfloat16;
}
inline size_t dtSize(svDataType_t dt) {
  return dt == svFloat64 ? 8 : dt == svFloat32 ? 4 : 2;
}
const char* dtName(svDataType_t dt);

// The output values of one call, as raw bits of the datatype (low bits used).
// 16-bit types take scale rounded correctly once (round to nearest even).
struct OutputBits {
  uint64_t pos;  // +scale
  uint64_t neg;  // -scale (pos with the sign bit flipped)
};
OutputBits outputBits(svDataType_t dt, double scale);

// Correctly rounded conversions (round to nearest even), exposed for tests.
uint16_t doubleToHalfBits(double d);
uint16_t doubleToBf16Bits(double d);
// Exact widenings of the 16-bit formats.
float halfBitsToFloat(uint16_t h);
float bf16BitsToFloat(uint16_t b);

}  // namespace sv
