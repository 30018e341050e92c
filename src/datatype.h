// SPDX-License-Identifier: MIT
// Datatype names, and the bit patterns of +scale and -scale per datatype
// (dtValid, dtSize and OutputBits live with the kernels, in bitlogic.h).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "bitlogic.h"
#include "signvote.h"

namespace sv {

const char* dtName(svDataType_t dt);

// 16-bit types take scale rounded correctly once (round to nearest even).
OutputBits outputBits(svDataType_t dt, double scale);

// Correctly rounded conversions (round to nearest even), exposed for tests.
uint16_t doubleToHalfBits(double d);
uint16_t doubleToBf16Bits(double d);
// Exact widenings of the 16-bit formats.
float halfBitsToFloat(uint16_t h);
float bf16BitsToFloat(uint16_t b);

}  // namespace sv
