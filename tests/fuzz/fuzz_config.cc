// SPDX-License-Identifier: MIT
// libFuzzer target: resolveConfig on arbitrary svConfig_t bytes and
// arbitrary SV_* environment strings. It must never crash or read past the
// struct the caller declared (ASan guards a heap copy of exactly `size`
// bytes), must return svSuccess or svInvalidArgument with a one-line
// reason, and a success must be a configuration within the documented
// ranges.
//
// A config is read by its version: a success or failure must not change when
// the bytes its version's layout does not define (padding, mpiCudaAware for
// version 100, what lies past the layout) are flipped: the run is repeated
// on such a copy and must give the same result, reason and configuration.
//
// Input layout: bytes 0-1 select which variables are set (bit 15: a struct
// follows); then NUL-separated strings, one per selected variable, in
// kParams order; the rest is the config struct (its size field forced to the
// bytes given, so short (8 bytes and up: shorter than the 16-byte header
// too), long and garbage headers are all reached; version is the fuzzer's).
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <vector>

#include "config.h"

namespace {

// Resolves the config in `bytes` (NULL: none) and returns rc, reason and
// the configuration as text; aborts on a result outside the contract.
std::string resolveChecked(const std::vector<uint8_t>* bytes) {
  const svConfig_t* user = bytes ? reinterpret_cast<const svConfig_t*>(bytes->data()) : nullptr;
  sv::Config cfg;
  char err[512];
  err[0] = '\0';
  const svResult_t rc = sv::resolveConfig(user, &cfg, err, sizeof err);
  char desc[512];
  desc[0] = '\0';
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
    sv::describeConfig(cfg, desc, sizeof desc);
  } else if (rc != svInvalidArgument || err[0] == '\0' || strchr(err, '\n') != nullptr) {
    fprintf(stderr, "fuzz_config: result %d with reason \"%s\"\n", rc, err);
    abort();
  }
  return std::to_string(rc) + "|" + err + "|" + desc;
}

// The second version-100 layout (228c94e): the fields up to device, then
// timeout and check; 88 bytes on LP64.
struct ConfigV100Second {
  size_t size;
  unsigned int magic, version;
  int tiePolicy, zeroPolicy, nanPolicy, algorithm;
  double scale;
  long long seed, chunkBytes, allGatherThreshold;
  int device;
  double timeout;
  int check;
};

// Flips bytes [from, to) of the struct (clipped to its size).
void flip(std::vector<uint8_t>* b, size_t from, size_t to) {
  for (size_t i = from; i < to && i < b->size(); ++i) (*b)[i] ^= 0xFF;
}

}  // namespace

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
  if (!(mask & 0x8000) || rest < sizeof(size_t)) {
    resolveChecked(nullptr);
    return 0;
  }
  // A heap copy of exactly the bytes given, so ASan catches a read past
  // `size` (magic of a struct shorter than the header, a field past the
  // layout) rather than the fuzzer lying about the struct.
  std::vector<uint8_t> bytes(data + pos, data + size);
  const size_t declared = bytes.size();
  memcpy(bytes.data(), &declared, sizeof declared);
  const std::string first = resolveChecked(&bytes);
  if (declared < offsetof(svConfig_t, tiePolicy)) return 0;
  unsigned version;
  memcpy(&version, bytes.data() + offsetof(svConfig_t, version), sizeof version);
  // What the caller's layout does not define: never read.
  std::vector<uint8_t> other = bytes;
  // The last field of the caller's version: hierarchy from 300 (0.3.0), check before.
  const size_t afterLast =
      version >= 300 ? offsetof(svConfig_t, hierarchy) + sizeof(int) : offsetof(svConfig_t, check) + sizeof(int);
  flip(&other, afterLast, declared);  // tail padding, a newer caller's fields
  if (version < 200) {
    // Version 100: mpiCudaAware lies in the padding of both layouts, and a
    // struct shorter than the second layout has nothing after device.
    const size_t mca = offsetof(svConfig_t, mpiCudaAware);
    flip(&other, mca, mca + sizeof(int));
    if (declared < sizeof(ConfigV100Second)) flip(&other, mca + sizeof(int), declared);
  }
  if (other != bytes && resolveChecked(&other) != first) {
    fprintf(stderr, "fuzz_config: bytes outside version %u's layout changed the result\n", version);
    abort();
  }
  return 0;
}
