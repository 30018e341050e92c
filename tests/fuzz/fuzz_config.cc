// SPDX-License-Identifier: MIT
// libFuzzer target: resolveConfig on arbitrary svConfig_t bytes and
// arbitrary SV_* environment strings. It must never crash or read past the
// struct the caller declared (ASan guards a heap copy of exactly `size`
// bytes), must return svSuccess or svInvalidArgument with a one-line
// reason, and a success must be a configuration within the documented
// ranges.
//
// Input layout: byte 0 selects which variables are set; then NUL-separated
// strings, one per selected variable, in kParams order; the rest is the
// config struct (its size field forced to the bytes given, so short, long
// and garbage headers are all reached).
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <vector>

#include "config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint16_t mask = static_cast<uint16_t>(data[0] | (data[1] << 8));
  size_t pos = 2;
  for (int i = 0; i < sv::kNumParams && i < 16; ++i) {
    if (!(mask & (1u << i))) {
      unsetenv(sv::kParams[i].env);
      continue;
    }
    std::string v;
    while (pos < size && data[pos] != 0) v.push_back(static_cast<char>(data[pos++]));
    if (pos < size) ++pos;
    setenv(sv::kParams[i].env, v.c_str(), 1);
  }
  const size_t rest = size - pos;
  // With mask bit 15 the rest of the input is the struct; else NULL.
  std::vector<uint8_t>* heap = nullptr;
  const svConfig_t* user = nullptr;
  if ((mask & 0x8000) && rest >= sizeof(size_t) + 8) {
    heap = new std::vector<uint8_t>(data + pos, data + size);
    size_t declared = heap->size();
    // Keep the header honest about the bytes that exist, so ASan catches a
    // read past `size` rather than the fuzzer lying about the struct.
    memcpy(heap->data(), &declared, sizeof declared);
    user = reinterpret_cast<const svConfig_t*>(heap->data());
  }
  sv::Config cfg;
  char err[512];
  err[0] = '\0';
  const svResult_t rc = sv::resolveConfig(user, &cfg, err, sizeof err);
  if (rc == svSuccess) {
    if (cfg.tie < 0 || cfg.tie > 2 || cfg.zero < 0 || cfg.zero > 1 || cfg.nan < 0 || cfg.nan > 1 ||
        cfg.algorithm < 0 || cfg.algorithm > 2 || !std::isfinite(cfg.scale) || cfg.chunkBytes < 0 ||
        (cfg.chunkBytes != 0 && cfg.chunkBytes < 1024) || cfg.chunkBytes > (1LL << 28) ||
        cfg.allGatherThreshold < 0 || cfg.device < SV_DEVICE_HOST || cfg.device > sv::kMaxDeviceOrdinal ||
        cfg.mpiCudaAware < -1 || cfg.mpiCudaAware > 1 || !(cfg.timeout >= 0) ||
        !std::isfinite(cfg.timeout) || (cfg.check != 0 && cfg.check != 1)) {
      fprintf(stderr, "fuzz_config: accepted an out-of-range configuration\n");
      abort();
    }
    char desc[512];
    sv::describeConfig(cfg, desc, sizeof desc);
  } else if (rc != svInvalidArgument || err[0] == '\0' || strchr(err, '\n') != nullptr) {
    fprintf(stderr, "fuzz_config: result %d with reason \"%s\"\n", rc, err);
    abort();
  }
  delete heap;
  return 0;
}
