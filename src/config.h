// SPDX-License-Identifier: MIT
// The resolved configuration of a communicator, and the one table of
// parameters: svConfig_t field, SV_* environment variable, default, doc.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "signvote.h"

namespace sv {

struct Config {
  int tie = SV_TIE_POSITIVE;
  int zero = SV_ZERO_POSITIVE;
  int nan = SV_NAN_AS_ZERO;
  int algorithm = SV_ALGO_AUTO;
  double scale = 1.0;
  long long seed = 0;
  long long chunkBytes = 0;                // 0: P x 32 KiB, within 64 KiB .. 4 MiB
  long long allGatherThreshold = 1 << 16;  // (P-1) x packed bytes
  int device = SV_DEVICE_HOST;
  bool deviceSet = false;  // device given by config or SV_DEVICE (else per init kind)
  int mpiCudaAware = -1;   // -1 auto, 0 host staging, 1 CUDA-aware MPI
  double timeout = 300.0;  // seconds without progress; 0: forever
  int check = 0;           // SV_CHECK: agree on a call signature first
  int hierarchy = -1;      // SV_HIERARCHY: -1 auto, 0 off, 1 on
};

// Highest CUDA device ordinal a config may name (checked against the
// devices present at init).
constexpr int kMaxDeviceOrdinal = 1023;

// One row per parameter; docs/env.md is this table.
struct ParamDesc {
  const char* env;          // SV_TIE
  const char* field;        // tiePolicy
  const char* defaultText;  // positive
  const char* doc;
};
extern const ParamDesc kParams[];
extern const int kNumParams;

// Resolve a user config (may be NULL) over env over defaults. On a bad
// value returns svInvalidArgument with the reason in err (one line).
svResult_t resolveConfig(const svConfig_t* user, Config* out, char* err,
                         size_t errLen);

// "tie=positive zero=vote nan=zero algo=auto scale=1 ..." for the INFO log.
void describeConfig(const Config& c, char* buf, size_t len);

const char* tieName(int tie);
const char* zeroName(int zero);
const char* nanName(int nan);
const char* algoName(int algo);

}  // namespace sv
