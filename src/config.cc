// SPDX-License-Identifier: MIT
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

namespace sv {

const ParamDesc kParams[] = {
    {"SV_TIE", "tiePolicy", "positive",
     "What a tie yields: positive (+1), zero (0), random (+-1 from seed, call and index)."},
    {"SV_ZERO", "zeroPolicy", "positive",
     "What an exact zero contributes: positive (votes +1) or abstain (does not vote)."},
    {"SV_NAN", "nanPolicy", "zero",
     "What a NaN contributes: zero (votes as a zero, counted) or error (call fails on every rank)."},
    {"SV_ALGO", "algorithm", "auto",
     "Exchange: auto, alltoall (all-to-all, vote, all-gather) or allgather (one all-gather, local vote)."},
    {"SV_SCALE", "scale", "1.0", "Output magnitude: recvbuff holds +-scale (or 0). Finite."},
    {"SV_SEED", "seed", "0", "Seed of SV_TIE=random; must be the same on every rank."},
    {"SV_CHUNK_BYTES", "chunkBytes", "0",
     "Packed bytes per pipeline chunk (8 elements a byte); large calls overlap pack, exchange, vote and unpack chunk by chunk. 0: P x 32 KiB, within 64 KiB .. 4 MiB."},
    {"SV_ALLGATHER_THRESHOLD", "allGatherThreshold", "65536",
     "auto picks allgather while (P-1) x packed bytes <= this, else alltoall; P <= 2 always allgather."},
    {"SV_DEVICE", "device", "auto",
     "-1 (SV_DEVICE_HOST): a host communicator; 0, 1, ...: a device communicator on that CUDA device. Unset: host for svCommInitMPI, the current CUDA device for NCCL-based inits."},
    {"SV_MPI_CUDA_AWARE", "mpiCudaAware", "auto",
     "MPI device communicators: auto (ask MPIX_Query_cuda_support), 1 (device pointers to MPI), 0 (pinned host staging)."},
    {"SV_TIMEOUT", "timeout", "300",
     "Seconds a collective call waits without progress before it returns svTimeout and fails the communicator; 0: forever."},
    {"SV_CHECK", "check", "0",
     "1: every collective call first agrees on its signature (count, datatype, policies, call number); a mismatch is svInvalidUsage on every rank."},
    {"SV_HIERARCHY", "hierarchy", "auto",
     "Hierarchical vote on host communicators whose ranks span nodes: auto (on for calls the all-to-all would take, when some node holds 2 or more ranks), on (every call with data on a communicator of 2 or more nodes), off (the flat vote). Bit-identical results either way."},
};
const int kNumParams = sizeof(kParams) / sizeof(kParams[0]);

namespace {

const char* const kTieNames[] = {"positive", "zero", "random"};
const char* const kZeroNames[] = {"positive", "abstain"};
const char* const kNanNames[] = {"zero", "error"};
const char* const kAlgoNames[] = {"auto", "alltoall", "allgather", "hierarchical"};  // the last: not for SV_ALGO

struct EnumDesc {
  const char* const* names;
  int count;
};

// Parses an enum given by name (case-insensitive) or by number.
bool parseEnum(const char* s, const EnumDesc& d, int* out) {
  for (int i = 0; i < d.count; ++i)
    if (!strcasecmp(s, d.names[i])) { *out = i; return true; }
  char* end = nullptr;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno == 0 && end != s && *end == '\0' && v >= 0 && v < d.count) {
    *out = static_cast<int>(v);
    return true;
  }
  return false;
}

bool parseLL(const char* s, long long* out) {
  char* end = nullptr;
  errno = 0;
  long long v = strtoll(s, &end, 0);
  if (errno != 0 || end == s || *end != '\0') return false;
  *out = v;
  return true;
}

bool parseDouble(const char* s, double* out) {
  char* end = nullptr;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0') return false;
  *out = v;
  return true;
}

class Resolver {
 public:
  Resolver(char* err, size_t len) : err_(err), len_(len) {}

  // field: value from svConfig_t (or the UNDEF marker).
  bool enumParam(int idx, int field, const EnumDesc& d, int* out) {
    const ParamDesc& p = kParams[idx];
    if (field != SV_CONFIG_UNDEF_INT) {
      if (field < 0 || field >= d.count)
        return fail("config.%s=%d is not a valid value (0..%d)", p.field, field, d.count - 1);
      *out = field;
      return true;
    }
    const char* env = getenv(p.env);
    if (env == nullptr) return true;
    if (!parseEnum(env, d, out)) return fail("%s=%s is not understood (%s)", p.env, shown(env), listNames(d));
    return true;
  }

  bool llParam(int idx, long long field, long long lo, long long hi, long long* out) {
    const ParamDesc& p = kParams[idx];
    long long v = *out;
    if (field != SV_CONFIG_UNDEF_LL) {
      v = field;
    } else if (const char* env = getenv(p.env)) {
      if (!parseLL(env, &v)) return fail("%s=%s is not an integer", p.env, shown(env));
    }
    if (v < lo || v > hi) return fail("%s / config.%s = %lld is out of range [%lld, %lld]", p.env, p.field, v, lo, hi);
    *out = v;
    return true;
  }

  bool doubleParam(int idx, double field, double* out) {
    const ParamDesc& p = kParams[idx];
    double v = *out;
    if (field != SV_CONFIG_UNDEF_DOUBLE) {
      v = field;
    } else if (const char* env = getenv(p.env)) {
      if (!parseDouble(env, &v)) return fail("%s=%s is not a number", p.env, shown(env));
    }
    if (!isfinite(v)) return fail("%s / config.%s must be finite", p.env, p.field);
    *out = v;
    return true;
  }

  // auto | -1 -> -1, 0 | off -> 0, 1 | on -> 1.
  bool triParam(int idx, int field, int* out) {
    const ParamDesc& p = kParams[idx];
    if (field != SV_CONFIG_UNDEF_INT) {
      if (field < -1 || field > 1) return fail("config.%s=%d is not -1 (auto), 0 or 1", p.field, field);
      *out = field;
      return true;
    }
    const char* env = getenv(p.env);
    if (env == nullptr) return true;
    if (!strcasecmp(env, "auto") || !strcmp(env, "-1")) *out = -1;
    else if (!strcasecmp(env, "0") || !strcasecmp(env, "off")) *out = 0;
    else if (!strcasecmp(env, "1") || !strcasecmp(env, "on")) *out = 1;
    else return fail("%s=%s is not understood (auto, 0, 1)", p.env, shown(env));
    return true;
  }

  bool intParam(int idx, int field, int lo, int hi, int* out) {
    long long v = *out;
    long long f = field == SV_CONFIG_UNDEF_INT ? SV_CONFIG_UNDEF_LL : field;
    if (!llParam(idx, f, lo, hi, &v)) return false;
    *out = static_cast<int>(v);
    return true;
  }

  __attribute__((format(printf, 2, 3))) bool fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_, len_, fmt, ap);
    va_end(ap);
    return false;
  }

 private:
  // An environment value as the error line quotes it: at most 64 bytes,
  // control and non-ASCII bytes as '?', so the message stays one line
  // (found by tests/fuzz/fuzz_config).
  const char* shown(const char* v) {
    size_t i = 0;
    for (; v[i] != '\0' && i + 4 < sizeof(shown_); ++i)
      shown_[i] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
    if (v[i] != '\0') { shown_[i++] = '.'; shown_[i++] = '.'; shown_[i++] = '.'; }
    shown_[i] = '\0';
    return shown_;
  }
  char shown_[68];
  const char* listNames(const EnumDesc& d) {
    names_[0] = '\0';
    for (int i = 0; i < d.count; ++i) {
      strncat(names_, d.names[i], sizeof(names_) - strlen(names_) - 1);
      if (i + 1 < d.count) strncat(names_, ", ", sizeof(names_) - strlen(names_) - 1);
    }
    return names_;
  }
  char* err_;
  size_t len_;
  char names_[128];
};

// ---- svConfig_t versions ---------------------------------------------------
// Which fields a caller's struct has is decided by its version (the
// SIGNVOTE_VERSION_CODE of the header it was compiled against), as NCCL does
// with ncclConfig_t, never by its size alone: a field added where an older
// layout had padding would otherwise read that caller's garbage.

// The first header version: 0.1.0.
constexpr unsigned kFirstVersion = 100;
// The first version whose layout the version alone determines (append-only
// from here on).
constexpr unsigned kVersionedLayouts = 200;
// size, magic, version: what every version has, and all that is read
// before the version is known.
constexpr size_t kHeaderBytes = offsetof(svConfig_t, tiePolicy);
// More than this is not a config at all (garbage in an uninitialized struct).
constexpr size_t kMaxConfigBytes = size_t(1) << 16;

// One row per field after the header: where it lies in svConfig_t and the
// first version whose header had it. The library reads a field only from a
// caller whose version >= since and whose layout covers it (layoutBytes).
struct FieldDesc {
  const char* name;
  size_t offset;
  size_t size;
  unsigned since;
};
#define SV_CONFIG_FIELD(f, since) {#f, offsetof(svConfig_t, f), sizeof(static_cast<svConfig_t*>(nullptr)->f), since}
constexpr FieldDesc kFields[] = {
    SV_CONFIG_FIELD(tiePolicy, 100),  SV_CONFIG_FIELD(zeroPolicy, 100),
    SV_CONFIG_FIELD(nanPolicy, 100),  SV_CONFIG_FIELD(algorithm, 100),
    SV_CONFIG_FIELD(scale, 100),      SV_CONFIG_FIELD(seed, 100),
    SV_CONFIG_FIELD(chunkBytes, 100), SV_CONFIG_FIELD(allGatherThreshold, 100),
    SV_CONFIG_FIELD(device, 100),
    // In the padding after device of both version-100 layouts: never read
    // from a version-100 caller (see below).
    SV_CONFIG_FIELD(mpiCudaAware, 200),
    // In the second version-100 layout only: read when its size says so.
    SV_CONFIG_FIELD(timeout, 100),    SV_CONFIG_FIELD(check, 100),
    SV_CONFIG_FIELD(hierarchy, 300),
    // New fields: append here and at the end of svConfig_t, since = the new
    // SIGNVOTE_VERSION_CODE.
};
#undef SV_CONFIG_FIELD
constexpr int kNumFields = sizeof(kFields) / sizeof(kFields[0]);
static_assert(kNumFields == kNumParams, "one kFields row per kParams row");

// Version 100 (0.1.0) was one code for two layouts: the first released
// header (fields up to device) and, later, the same plus timeout and check.
// Both left the 4 bytes after device as padding on LP64, and the header of
// 78018ce put mpiCudaAware there still saying 100, so a version-100 struct
// of 88 bytes may hold garbage there: that field is treated as absent for
// version 100 (SV_MPI_CUDA_AWARE or the default applies).
struct ConfigV100First {
  size_t size;
  unsigned int magic, version;
  int tiePolicy, zeroPolicy, nanPolicy, algorithm;
  double scale;
  long long seed, chunkBytes, allGatherThreshold;
  int device;
};
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
static_assert(offsetof(ConfigV100First, device) == offsetof(svConfig_t, device), "first layout is a prefix");
// On LP64 the second layout's timeout and check lie where svConfig_t has
// them; on an ABI where they do not, a version-100 struct never has them.
constexpr bool kV100SecondMatches = offsetof(ConfigV100Second, timeout) == offsetof(svConfig_t, timeout) &&
                                    offsetof(ConfigV100Second, check) == offsetof(svConfig_t, check);

constexpr size_t roundUp(size_t n, size_t a) { return (n + a - 1) / a * a; }

// The bytes of svConfig_t that the header of `version` laid out (a caller
// must give at least these), given the caller's size for version 100.
constexpr size_t layoutBytes(unsigned version, size_t size) {
  if (version < kVersionedLayouts)  // 100 (and any other 0.1.x code)
    return size >= sizeof(ConfigV100Second) && kV100SecondMatches ? sizeof(ConfigV100Second)
                                                                  : sizeof(ConfigV100First);
  size_t end = kHeaderBytes;
  for (const FieldDesc& f : kFields)
    if (f.since <= version && f.offset + f.size > end) end = f.offset + f.size;
  return roundUp(end, alignof(svConfig_t));
}
static_assert(layoutBytes(SIGNVOTE_VERSION_CODE, 0) == sizeof(svConfig_t),
              "every svConfig_t field has a kFields row, appended in order");

}  // namespace

svResult_t resolveConfig(const svConfig_t* user, Config* out, char* err, size_t errLen) {
  // Start from every field unset, then copy field by field the ones the
  // caller's header had; nothing else of the caller's bytes is read.
  svConfig_t c = SV_CONFIG_INITIALIZER;
  if (user != nullptr) {
    // size first: magic and version lie past the end of a struct shorter
    // than the header.
    if (user->size < kHeaderBytes) {
      snprintf(err, errLen,
               "config->size is %zu, smaller than the %zu-byte header (size, magic, version): "
               "initialize it with SV_CONFIG_INITIALIZER",
               user->size, kHeaderBytes);
      return svInvalidArgument;
    }
    if (user->size > kMaxConfigBytes) {
      snprintf(err, errLen, "config->size is %zu, more than %zu: initialize it with SV_CONFIG_INITIALIZER",
               user->size, kMaxConfigBytes);
      return svInvalidArgument;
    }
    if (user->magic != SV_CONFIG_MAGIC) {
      snprintf(err, errLen, "config->magic is 0x%x, expected 0x%x: initialize it with SV_CONFIG_INITIALIZER",
               user->magic, SV_CONFIG_MAGIC);
      return svInvalidArgument;
    }
    const unsigned version = user->version;
    if (version < kFirstVersion) {
      snprintf(err, errLen,
               "config->version is %u, older than any signvote header (the first is %u): "
               "initialize it with SV_CONFIG_INITIALIZER",
               version, kFirstVersion);
      return svInvalidArgument;
    }
    // A version newer than this library: every field it knows is there
    // (append-only), the caller's later fields are ignored.
    const size_t layout = layoutBytes(version, user->size);
    if (user->size < layout) {
      snprintf(err, errLen,
               "config->size %zu is smaller than the %u-byte layout of version %u: "
               "initialize it with SV_CONFIG_INITIALIZER",
               user->size, static_cast<unsigned>(layout), version);
      return svInvalidArgument;
    }
    for (const FieldDesc& f : kFields)
      if (f.since <= version && f.offset + f.size <= layout)
        memcpy(reinterpret_cast<char*>(&c) + f.offset, reinterpret_cast<const char*>(user) + f.offset, f.size);
  }
  Config r;
  Resolver res(err, errLen);
  bool ok = res.enumParam(0, c.tiePolicy, {kTieNames, 3}, &r.tie) &&
            res.enumParam(1, c.zeroPolicy, {kZeroNames, 2}, &r.zero) &&
            res.enumParam(2, c.nanPolicy, {kNanNames, 2}, &r.nan) &&
            res.enumParam(3, c.algorithm, {kAlgoNames, 3}, &r.algorithm) &&
            res.doubleParam(4, c.scale, &r.scale) &&
            res.llParam(5, c.seed, SV_CONFIG_UNDEF_LL + 1, 0x7fffffffffffffffLL, &r.seed) &&
            res.llParam(6, c.chunkBytes, 0, 1LL << 28, &r.chunkBytes) &&
            (r.chunkBytes == 0 || r.chunkBytes >= 1024 || res.fail("SV_CHUNK_BYTES / config.chunkBytes = %lld: 0 (auto) or 1024 .. 2^28", r.chunkBytes)) &&
            res.llParam(7, c.allGatherThreshold, 0, 1LL << 40, &r.allGatherThreshold) &&
            res.intParam(8, c.device, SV_DEVICE_HOST, kMaxDeviceOrdinal, &r.device) &&
            res.triParam(9, c.mpiCudaAware, &r.mpiCudaAware) &&
            res.doubleParam(10, c.timeout, &r.timeout) &&
            (r.timeout >= 0 || res.fail("SV_TIMEOUT / config.timeout = %g: seconds >= 0 (0: wait forever)", r.timeout)) &&
            res.intParam(11, c.check, 0, 1, &r.check) &&
            res.triParam(12, c.hierarchy, &r.hierarchy);
  r.deviceSet = c.device != SV_CONFIG_UNDEF_INT || getenv("SV_DEVICE") != nullptr;
  if (!ok) return svInvalidArgument;
  *out = r;
  return svSuccess;
}

const char* tieName(int v) { return v >= 0 && v < 3 ? kTieNames[v] : "?"; }
const char* zeroName(int v) { return v >= 0 && v < 2 ? kZeroNames[v] : "?"; }
const char* nanName(int v) { return v >= 0 && v < 2 ? kNanNames[v] : "?"; }
const char* algoName(int v) { return v >= 0 && v < 4 ? kAlgoNames[v] : "?"; }

void describeConfig(const Config& c, char* buf, size_t len) {
  snprintf(buf, len,
           "tie=%s zero=%s nan=%s algo=%s scale=%g seed=%lld chunkBytes=%lld allGatherThreshold=%lld device=%d%s "
           "mpiCudaAware=%d timeout=%g check=%d hierarchy=%d",
           tieName(c.tie), zeroName(c.zero), nanName(c.nan), algoName(c.algorithm), c.scale, c.seed,
           c.chunkBytes, c.allGatherThreshold, c.device, c.deviceSet ? "" : "(default)", c.mpiCudaAware,
           c.timeout, c.check, c.hierarchy);
}

}  // namespace sv
