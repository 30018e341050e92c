// SPDX-License-Identifier: MIT
// resolveConfig: svConfig_t fields > SV_* environment > defaults; bad values
// are svInvalidArgument with a one-line reason; the fields read from a
// caller's struct are those its config->version had (the layouts of every
// released header are accepted, garbage in their padding never read). The
// environment is saved and restored around every test.
#include <catch2/catch.hpp>

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <vector>

#include "config.h"
#include "transport/loopback.h"
#include "unit_reference.h"

namespace {

const char* const kEnvVars[] = {"SV_TIE",   "SV_ZERO", "SV_NAN",         "SV_ALGO",  "SV_SCALE",
                                "SV_SEED",  "SV_CHUNK_BYTES", "SV_ALLGATHER_THRESHOLD", "SV_DEVICE", "SV_MPI_CUDA_AWARE",
                                "SV_TIMEOUT", "SV_CHECK", "SV_HIERARCHY"};

// Saves every SV_* variable, clears them, restores them on destruction.
class EnvGuard {
 public:
  EnvGuard() {
    for (const char* v : kEnvVars) {
      const char* cur = getenv(v);
      saved_.push_back({v, cur != nullptr, cur ? cur : ""});
      unsetenv(v);
    }
  }
  ~EnvGuard() {
    for (const auto& s : saved_) {
      if (s.set) setenv(s.name, s.value.c_str(), 1);
      else unsetenv(s.name);
    }
  }
  void set(const char* name, const char* value) { setenv(name, value, 1); }
  void clear(const char* name) { unsetenv(name); }

 private:
  struct Saved {
    const char* name;
    bool set;
    std::string value;
  };
  std::vector<Saved> saved_;
};

struct Resolved {
  svResult_t rc;
  sv::Config cfg;
  std::string err;
};

Resolved resolve(const svConfig_t* user) {
  Resolved r;
  char err[512];
  strcpy(err, "");
  r.rc = sv::resolveConfig(user, &r.cfg, err, sizeof(err));
  r.err = err;
  return r;
}

void checkDefaults(const sv::Config& c) {
  CHECK(c.tie == SV_TIE_POSITIVE);
  CHECK(c.zero == SV_ZERO_POSITIVE);
  CHECK(c.nan == SV_NAN_AS_ZERO);
  CHECK(c.algorithm == SV_ALGO_AUTO);
  CHECK(c.scale == 1.0);
  CHECK(c.seed == 0);
  CHECK(c.chunkBytes == 0);  // 0: sized by the rank count at each call
  CHECK(c.allGatherThreshold == 65536);
  CHECK(c.device == SV_DEVICE_HOST);
  CHECK(c.mpiCudaAware == -1);
  CHECK(c.timeout == 300.0);
  CHECK(c.check == 0);
  CHECK(c.hierarchy == -1);
}

// The svConfig_t of the first released header (e840075, version 100), field
// for field: 72 bytes on LP64, 4 bytes of tail padding after device.
struct ConfigV100First {
  size_t size;
  unsigned int magic;
  unsigned int version;
  int tiePolicy;
  int zeroPolicy;
  int nanPolicy;
  int algorithm;
  double scale;
  long long seed;
  long long chunkBytes;
  long long allGatherThreshold;
  int device;
};

// The second released layout (228c94e, still version 100): the same plus
// timeout and check, with padding where mpiCudaAware now is (88 bytes).
struct ConfigV100Second {
  size_t size;
  unsigned int magic;
  unsigned int version;
  int tiePolicy;
  int zeroPolicy;
  int nanPolicy;
  int algorithm;
  double scale;
  long long seed;
  long long chunkBytes;
  long long allGatherThreshold;
  int device;
  double timeout;
  int check;
};

constexpr bool kLP64 = sizeof(void*) == 8 && sizeof(long) == 8;

// An old caller's struct as its SV_CONFIG_INITIALIZER left it: garbage
// (0xA5, invalid in every field of every type) wherever the initializer did
// not write, i.e. in the padding, and in a buffer that goes on past the
// struct with more garbage, so any byte read beyond the caller's layout
// shows as an error or a wrong value.
template <typename Old>
struct OldCaller {
  alignas(svConfig_t) unsigned char bytes[sizeof(svConfig_t) + 64];
  Old* c = reinterpret_cast<Old*>(bytes);
  OldCaller() {
    memset(bytes, 0xA5, sizeof(bytes));
    c->size = sizeof(Old);
    c->magic = SV_CONFIG_MAGIC;
    c->version = 100;
    c->tiePolicy = c->zeroPolicy = c->nanPolicy = c->algorithm = SV_CONFIG_UNDEF_INT;
    c->scale = SV_CONFIG_UNDEF_DOUBLE;
    c->seed = c->chunkBytes = c->allGatherThreshold = SV_CONFIG_UNDEF_LL;
    c->device = SV_CONFIG_UNDEF_INT;
  }
  const svConfig_t* user() const { return reinterpret_cast<const svConfig_t*>(bytes); }
};

}  // namespace

TEST_CASE("config defaults with no config and with SV_CONFIG_INITIALIZER", "[config]") {
  EnvGuard env;
  Resolved a = resolve(nullptr);
  REQUIRE(a.rc == svSuccess);
  checkDefaults(a.cfg);
  svConfig_t c = SV_CONFIG_INITIALIZER;
  CHECK(c.size == sizeof(svConfig_t));
  CHECK(c.magic == SV_CONFIG_MAGIC);
  CHECK(c.version == static_cast<unsigned>(SIGNVOTE_VERSION_CODE));
  Resolved b = resolve(&c);
  REQUIRE(b.rc == svSuccess);
  checkDefaults(b.cfg);
}

TEST_CASE("the parameter table lists every SV_ variable with its default", "[config]") {
  const struct {
    const char* env;
    const char* field;
    const char* def;
  } want[] = {{"SV_TIE", "tiePolicy", "positive"},     {"SV_ZERO", "zeroPolicy", "positive"},
              {"SV_NAN", "nanPolicy", "zero"},         {"SV_ALGO", "algorithm", "auto"},
              {"SV_SCALE", "scale", nullptr},          {"SV_SEED", "seed", "0"},
              {"SV_CHUNK_BYTES", "chunkBytes", "0"}, {"SV_ALLGATHER_THRESHOLD", "allGatherThreshold", "65536"},
              {"SV_DEVICE", "device", "auto"},
              {"SV_MPI_CUDA_AWARE", "mpiCudaAware", "auto"}};
  CHECK(sv::kNumParams >= 9);
  for (const auto& w : want) {
    INFO(w.env);
    int found = -1;
    for (int i = 0; i < sv::kNumParams; ++i)
      if (std::string(sv::kParams[i].env) == w.env) found = i;
    REQUIRE(found >= 0);
    CHECK(std::string(sv::kParams[found].field) == w.field);
    if (w.def) CHECK(std::string(sv::kParams[found].defaultText) == w.def);
    CHECK(std::string(sv::kParams[found].doc).size() > 10);
  }
}

TEST_CASE("each SV_ environment variable is parsed by name and by number", "[config]") {
  EnvGuard env;
  struct EnumCase {
    const char* var;
    const char* value;
    int want;
  };
  const EnumCase enums[] = {
      {"SV_TIE", "positive", SV_TIE_POSITIVE}, {"SV_TIE", "zero", SV_TIE_ZERO},     {"SV_TIE", "random", SV_TIE_RANDOM},
      {"SV_TIE", "RANDOM", SV_TIE_RANDOM},     {"SV_TIE", "Zero", SV_TIE_ZERO},     {"SV_TIE", "0", SV_TIE_POSITIVE},
      {"SV_TIE", "1", SV_TIE_ZERO},            {"SV_TIE", "2", SV_TIE_RANDOM},      {"SV_ZERO", "positive", SV_ZERO_POSITIVE},
      {"SV_ZERO", "abstain", SV_ZERO_ABSTAIN}, {"SV_ZERO", "ABSTAIN", SV_ZERO_ABSTAIN}, {"SV_ZERO", "1", SV_ZERO_ABSTAIN},
      {"SV_ZERO", "0", SV_ZERO_POSITIVE},      {"SV_NAN", "zero", SV_NAN_AS_ZERO},  {"SV_NAN", "error", SV_NAN_ERROR},
      {"SV_NAN", "Error", SV_NAN_ERROR},       {"SV_NAN", "1", SV_NAN_ERROR},       {"SV_NAN", "0", SV_NAN_AS_ZERO},
      {"SV_ALGO", "auto", SV_ALGO_AUTO},       {"SV_ALGO", "alltoall", SV_ALGO_ALLTOALL},
      {"SV_ALGO", "allgather", SV_ALGO_ALLGATHER}, {"SV_ALGO", "AllGather", SV_ALGO_ALLGATHER},
      {"SV_ALGO", "ALLTOALL", SV_ALGO_ALLTOALL}, {"SV_ALGO", "1", SV_ALGO_ALLTOALL}, {"SV_ALGO", "2", SV_ALGO_ALLGATHER},
      {"SV_ALGO", "0", SV_ALGO_AUTO},
  };
  for (const EnumCase& e : enums) {
    env.set(e.var, e.value);
    Resolved r = resolve(nullptr);
    INFO(e.var << "=" << e.value << " -> " << r.err);
    REQUIRE(r.rc == svSuccess);
    const std::string v = e.var;
    const int got = v == "SV_TIE" ? r.cfg.tie : v == "SV_ZERO" ? r.cfg.zero : v == "SV_NAN" ? r.cfg.nan : r.cfg.algorithm;
    CHECK(got == e.want);
    // The other parameters keep their defaults.
    if (v != "SV_TIE") CHECK(r.cfg.tie == SV_TIE_POSITIVE);
    if (v != "SV_ALGO") CHECK(r.cfg.algorithm == SV_ALGO_AUTO);
    CHECK(r.cfg.scale == 1.0);
    env.clear(e.var);
  }
  struct NumCase {
    const char* var;
    const char* value;
    double want;
  };
  const NumCase nums[] = {
      {"SV_SCALE", "0.25", 0.25},          {"SV_SCALE", "-3", -3.0},          {"SV_SCALE", "1e-3", 1e-3},
      {"SV_SCALE", "0", 0.0},              {"SV_SEED", "12345", 12345},       {"SV_SEED", "-7", -7},
      {"SV_SEED", "0x10", 16},             {"SV_CHUNK_BYTES", "1024", 1024},  {"SV_CHUNK_BYTES", "0", 0},  {"SV_CHUNK_BYTES", "4096", 4096},
      {"SV_CHUNK_BYTES", "268435456", 268435456.0}, {"SV_ALLGATHER_THRESHOLD", "0", 0},
      {"SV_ALLGATHER_THRESHOLD", "1000", 1000}, {"SV_DEVICE", "-1", -1},
  };
  for (const NumCase& n : nums) {
    env.set(n.var, n.value);
    Resolved r = resolve(nullptr);
    INFO(n.var << "=" << n.value << " -> " << r.err);
    REQUIRE(r.rc == svSuccess);
    const std::string v = n.var;
    const double got = v == "SV_SCALE"                 ? r.cfg.scale
                       : v == "SV_SEED"                ? static_cast<double>(r.cfg.seed)
                       : v == "SV_CHUNK_BYTES"         ? static_cast<double>(r.cfg.chunkBytes)
                       : v == "SV_ALLGATHER_THRESHOLD" ? static_cast<double>(r.cfg.allGatherThreshold)
                                                       : static_cast<double>(r.cfg.device);
    CHECK(got == n.want);
    env.clear(n.var);
  }
  // All at once.
  env.set("SV_TIE", "random");
  env.set("SV_ZERO", "abstain");
  env.set("SV_NAN", "error");
  env.set("SV_ALGO", "alltoall");
  env.set("SV_SCALE", "0.5");
  env.set("SV_SEED", "99");
  env.set("SV_CHUNK_BYTES", "2048");
  env.set("SV_ALLGATHER_THRESHOLD", "77");
  Resolved r = resolve(nullptr);
  REQUIRE(r.rc == svSuccess);
  CHECK(r.cfg.tie == SV_TIE_RANDOM);
  CHECK(r.cfg.zero == SV_ZERO_ABSTAIN);
  CHECK(r.cfg.nan == SV_NAN_ERROR);
  CHECK(r.cfg.algorithm == SV_ALGO_ALLTOALL);
  CHECK(r.cfg.scale == 0.5);
  CHECK(r.cfg.seed == 99);
  CHECK(r.cfg.chunkBytes == 2048);
  CHECK(r.cfg.allGatherThreshold == 77);
  // With an initializer-only config the environment still applies.
  svConfig_t c = SV_CONFIG_INITIALIZER;
  Resolved r2 = resolve(&c);
  REQUIRE(r2.rc == svSuccess);
  CHECK(r2.cfg.tie == SV_TIE_RANDOM);
  CHECK(r2.cfg.chunkBytes == 2048);
}

TEST_CASE("an explicit config field beats its environment variable", "[config]") {
  EnvGuard env;
  env.set("SV_TIE", "zero");
  env.set("SV_ZERO", "abstain");
  env.set("SV_NAN", "error");
  env.set("SV_ALGO", "alltoall");
  env.set("SV_SCALE", "4");
  env.set("SV_SEED", "5");
  env.set("SV_CHUNK_BYTES", "8192");
  env.set("SV_ALLGATHER_THRESHOLD", "3");
  svConfig_t c = SV_CONFIG_INITIALIZER;
  c.tiePolicy = SV_TIE_RANDOM;
  c.zeroPolicy = SV_ZERO_POSITIVE;
  c.nanPolicy = SV_NAN_AS_ZERO;
  c.algorithm = SV_ALGO_ALLGATHER;
  c.scale = -0.125;
  c.seed = -42;
  c.chunkBytes = 1024;
  c.allGatherThreshold = 0;
  c.device = SV_DEVICE_HOST;
  Resolved r = resolve(&c);
  REQUIRE(r.rc == svSuccess);
  CHECK(r.cfg.tie == SV_TIE_RANDOM);
  CHECK(r.cfg.zero == SV_ZERO_POSITIVE);
  CHECK(r.cfg.nan == SV_NAN_AS_ZERO);
  CHECK(r.cfg.algorithm == SV_ALGO_ALLGATHER);
  CHECK(r.cfg.scale == -0.125);
  CHECK(r.cfg.seed == -42);
  CHECK(r.cfg.chunkBytes == 1024);
  CHECK(r.cfg.allGatherThreshold == 0);
  CHECK(r.cfg.device == SV_DEVICE_HOST);
  // An explicit field wins even over a bad environment value of that field.
  env.set("SV_TIE", "bogus");
  env.set("SV_SCALE", "nan");
  Resolved r2 = resolve(&c);
  CHECK(r2.rc == svSuccess);
  CHECK(r2.cfg.tie == SV_TIE_RANDOM);
  CHECK(r2.cfg.scale == -0.125);
}

TEST_CASE("bad environment strings are svInvalidArgument naming the variable", "[config]") {
  EnvGuard env;
  struct Bad {
    const char* var;
    const char* value;
  };
  const Bad bads[] = {
      {"SV_TIE", "bogus"},   {"SV_TIE", "3"},        {"SV_TIE", "-1"},       {"SV_TIE", ""},
      {"SV_TIE", "1x"},      {"SV_TIE", "positiv"},  {"SV_ZERO", "2"},       {"SV_ZERO", "skip"},
      {"SV_NAN", "maybe"},   {"SV_NAN", "2"},        {"SV_ALGO", "ring"},    {"SV_ALGO", "3"},
      {"SV_SCALE", "abc"},   {"SV_SCALE", "inf"},    {"SV_SCALE", "nan"},    {"SV_SCALE", "1e400"},
      {"SV_SCALE", ""},      {"SV_SCALE", "1.5x"},   {"SV_SEED", "abc"},     {"SV_SEED", "1.5"},
      {"SV_SEED", "99999999999999999999"},           {"SV_CHUNK_BYTES", "1023"}, {"SV_CHUNK_BYTES", "268435457"},
      {"SV_CHUNK_BYTES", "-5"},                      {"SV_CHUNK_BYTES", "lots"}, {"SV_CHUNK_BYTES", "1"},
      {"SV_ALLGATHER_THRESHOLD", "-1"},              {"SV_ALLGATHER_THRESHOLD", "x"},
      {"SV_DEVICE", "-2"},   {"SV_DEVICE", "1024"},  {"SV_DEVICE", "gpu"},   {"SV_MPI_CUDA_AWARE", "2"},
      {"SV_MPI_CUDA_AWARE", "maybe"},
  };
  for (const Bad& b : bads) {
    env.set(b.var, b.value);
    Resolved r = resolve(nullptr);
    INFO(b.var << "=\"" << b.value << "\" -> " << r.err);
    CHECK(r.rc == svInvalidArgument);
    CHECK(ref::containsNoCase(r.err, b.var));
    env.clear(b.var);
  }
}

TEST_CASE("bad config structs are svInvalidArgument with a reason", "[config]") {
  EnvGuard env;
  {
    svConfig_t c = SV_CONFIG_INITIALIZER;
    c.magic = 0x1234;
    Resolved r = resolve(&c);
    CHECK(r.rc == svInvalidArgument);
    CHECK(ref::containsNoCase(r.err, "magic"));
    CHECK(ref::containsNoCase(r.err, "SV_CONFIG_INITIALIZER"));
  }
  // Shorter than the header: size is checked before magic (which such a
  // struct does not have) is read; a wrong magic here must not be the reason.
  for (size_t size : {size_t(0), size_t(8), size_t(15), size_t(1) << 20}) {
    svConfig_t c = SV_CONFIG_INITIALIZER;
    c.size = size;
    c.magic = 0x1234;
    Resolved r = resolve(&c);
    INFO("size " << size << " -> " << r.err);
    CHECK(r.rc == svInvalidArgument);
    CHECK(r.err.rfind("config->size is " + std::to_string(size) + ",", 0) == 0);  // not the magic
    CHECK(ref::containsNoCase(r.err, "SV_CONFIG_INITIALIZER"));
  }
  // Older than any header.
  for (unsigned version : {0u, 1u, 99u}) {
    svConfig_t c = SV_CONFIG_INITIALIZER;
    c.version = version;
    Resolved r = resolve(&c);
    INFO("version " << version << " -> " << r.err);
    CHECK(r.rc == svInvalidArgument);
    CHECK(ref::containsNoCase(r.err, "config->version is " + std::to_string(version)));
    CHECK(ref::containsNoCase(r.err, "SV_CONFIG_INITIALIZER"));
  }
  // Smaller than the layout its version declares.
  struct Short {
    unsigned version;
    size_t size;
    size_t layout;
  };
  std::vector<Short> shorts = {
      {static_cast<unsigned>(SIGNVOTE_VERSION_CODE), sizeof(svConfig_t) - 1, sizeof(svConfig_t)},
      {static_cast<unsigned>(SIGNVOTE_VERSION_CODE), offsetof(svConfig_t, tiePolicy), sizeof(svConfig_t)},
      {static_cast<unsigned>(SIGNVOTE_VERSION_CODE), sizeof(ConfigV100First), sizeof(svConfig_t)},
      {200, offsetof(svConfig_t, check), sizeof(svConfig_t)},
      {9999, sizeof(svConfig_t) - 4, sizeof(svConfig_t)},
      {100, sizeof(ConfigV100First) - 1, sizeof(ConfigV100First)},
      {100, offsetof(svConfig_t, device), sizeof(ConfigV100First)},
      {100, 16, sizeof(ConfigV100First)},
  };
  for (const Short& t : shorts) {
    svConfig_t c = SV_CONFIG_INITIALIZER;
    c.version = t.version;
    c.size = t.size;
    Resolved r = resolve(&c);
    INFO("version " << t.version << " size " << t.size << " -> " << r.err);
    CHECK(r.rc == svInvalidArgument);
    CHECK(ref::containsNoCase(r.err, "config->size " + std::to_string(t.size) + " is smaller than the " +
                                         std::to_string(t.layout) + "-byte layout of version " +
                                         std::to_string(t.version)));
    CHECK(ref::containsNoCase(r.err, "SV_CONFIG_INITIALIZER"));
    CHECK(r.err.find('\n') == std::string::npos);
  }
  struct Bad {
    const char* what;
    void (*set)(svConfig_t*);
    const char* mention;
  };
  const Bad bads[] = {
      {"tie 3", [](svConfig_t* c) { c->tiePolicy = 3; }, "tiePolicy"},
      {"tie -1", [](svConfig_t* c) { c->tiePolicy = -1; }, "tiePolicy"},
      {"zero 2", [](svConfig_t* c) { c->zeroPolicy = 2; }, "zeroPolicy"},
      {"zero -5", [](svConfig_t* c) { c->zeroPolicy = -5; }, "zeroPolicy"},
      {"nan 2", [](svConfig_t* c) { c->nanPolicy = 2; }, "nanPolicy"},
      {"algo 3", [](svConfig_t* c) { c->algorithm = 3; }, "algorithm"},
      {"algo big", [](svConfig_t* c) { c->algorithm = 1 << 20; }, "algorithm"},
      {"scale nan", [](svConfig_t* c) { c->scale = NAN; }, "scale"},
      {"scale inf", [](svConfig_t* c) { c->scale = INFINITY; }, "scale"},
      {"scale -inf", [](svConfig_t* c) { c->scale = -INFINITY; }, "scale"},
      {"chunk 512", [](svConfig_t* c) { c->chunkBytes = 512; }, "chunkBytes"},
      {"chunk 1023", [](svConfig_t* c) { c->chunkBytes = 1023; }, "chunkBytes"},
      {"chunk 2^31", [](svConfig_t* c) { c->chunkBytes = 1LL << 31; }, "chunkBytes"},
      {"threshold -1", [](svConfig_t* c) { c->allGatherThreshold = -1; }, "allGatherThreshold"},
      {"device 1024", [](svConfig_t* c) { c->device = 1024; }, "device"},
      {"mpiCudaAware 2", [](svConfig_t* c) { c->mpiCudaAware = 2; }, "mpiCudaAware"},
      {"mpiCudaAware -2", [](svConfig_t* c) { c->mpiCudaAware = -2; }, "mpiCudaAware"},
      {"device -3", [](svConfig_t* c) { c->device = -3; }, "device"},
      {"timeout -1", [](svConfig_t* c) { c->timeout = -1; }, "timeout"},
      {"timeout nan", [](svConfig_t* c) { c->timeout = NAN; }, "timeout"},
      {"check 2", [](svConfig_t* c) { c->check = 2; }, "check"},
  };
  for (const Bad& b : bads) {
    svConfig_t c = SV_CONFIG_INITIALIZER;
    b.set(&c);
    Resolved r = resolve(&c);
    INFO(b.what << " -> " << r.err);
    CHECK(r.rc == svInvalidArgument);
    CHECK(ref::containsNoCase(r.err, b.mention));
  }
}

TEST_CASE("the current SV_CONFIG_INITIALIZER round-trips every field set explicitly", "[config]") {
  EnvGuard env;
  // The environment says otherwise for every field: the struct must win.
  env.set("SV_TIE", "zero");
  env.set("SV_ZERO", "positive");
  env.set("SV_NAN", "zero");
  env.set("SV_ALGO", "alltoall");
  env.set("SV_SCALE", "3");
  env.set("SV_SEED", "1");
  env.set("SV_CHUNK_BYTES", "8192");
  env.set("SV_ALLGATHER_THRESHOLD", "9");
  env.set("SV_DEVICE", "-1");
  env.set("SV_MPI_CUDA_AWARE", "1");
  env.set("SV_TIMEOUT", "11");
  env.set("SV_CHECK", "0");
  svConfig_t c = SV_CONFIG_INITIALIZER;
  CHECK(c.version == static_cast<unsigned>(SIGNVOTE_VERSION_CODE));
  CHECK(SIGNVOTE_VERSION_CODE >= 200);  // the first code whose version alone says the layout
  c.tiePolicy = SV_TIE_RANDOM;
  c.zeroPolicy = SV_ZERO_ABSTAIN;
  c.nanPolicy = SV_NAN_ERROR;
  c.algorithm = SV_ALGO_ALLGATHER;
  c.scale = -0.375;
  c.seed = 123456789012345LL;
  c.chunkBytes = 4096;
  c.allGatherThreshold = 1LL << 33;
  c.device = 7;
  c.mpiCudaAware = 0;
  c.timeout = 2.5;
  c.check = 1;
  Resolved r = resolve(&c);
  INFO(r.err);
  REQUIRE(r.rc == svSuccess);
  CHECK(r.cfg.tie == SV_TIE_RANDOM);
  CHECK(r.cfg.zero == SV_ZERO_ABSTAIN);
  CHECK(r.cfg.nan == SV_NAN_ERROR);
  CHECK(r.cfg.algorithm == SV_ALGO_ALLGATHER);
  CHECK(r.cfg.scale == -0.375);
  CHECK(r.cfg.seed == 123456789012345LL);
  CHECK(r.cfg.chunkBytes == 4096);
  CHECK(r.cfg.allGatherThreshold == (1LL << 33));
  CHECK(r.cfg.device == 7);
  CHECK(r.cfg.deviceSet);
  CHECK(r.cfg.mpiCudaAware == 0);
  CHECK(r.cfg.timeout == 2.5);
  CHECK(r.cfg.check == 1);
  // Unset, each of the later fields takes its environment variable.
  svConfig_t u = SV_CONFIG_INITIALIZER;
  Resolved ru = resolve(&u);
  REQUIRE(ru.rc == svSuccess);
  CHECK(ru.cfg.mpiCudaAware == 1);
  CHECK(ru.cfg.timeout == 11.0);
  CHECK(ru.cfg.check == 0);
}

TEST_CASE("a struct of the first released header (version 100, 72 bytes) is accepted", "[config]") {
  EnvGuard env;
  if (kLP64) {
    CHECK(sizeof(ConfigV100First) == 72);
    CHECK(offsetof(ConfigV100First, device) == 64);
  }
  CHECK(offsetof(ConfigV100First, device) == offsetof(svConfig_t, device));
  SECTION("every field unset: each takes its default") {
    OldCaller<ConfigV100First> old;
    Resolved r = resolve(old.user());
    INFO(r.err);
    REQUIRE(r.rc == svSuccess);
    checkDefaults(r.cfg);  // mpiCudaAware, timeout, check too: not read from the padding
    CHECK(!r.cfg.deviceSet);
  }
  SECTION("every field unset, the environment set: each takes its variable") {
    env.set("SV_CHUNK_BYTES", "4096");
    env.set("SV_MPI_CUDA_AWARE", "0");
    env.set("SV_TIMEOUT", "12.5");
    env.set("SV_CHECK", "1");
    OldCaller<ConfigV100First> old;
    Resolved r = resolve(old.user());
    INFO(r.err);
    REQUIRE(r.rc == svSuccess);
    CHECK(r.cfg.chunkBytes == 4096);
    CHECK(r.cfg.mpiCudaAware == 0);
    CHECK(r.cfg.timeout == 12.5);
    CHECK(r.cfg.check == 1);
    CHECK(r.cfg.tie == SV_TIE_POSITIVE);
  }
  SECTION("the fields it had, set, are read") {
    env.set("SV_TIMEOUT", "7");
    OldCaller<ConfigV100First> old;
    old.c->tiePolicy = SV_TIE_RANDOM;
    old.c->zeroPolicy = SV_ZERO_ABSTAIN;
    old.c->nanPolicy = SV_NAN_ERROR;
    old.c->algorithm = SV_ALGO_ALLTOALL;
    old.c->scale = 0.75;
    old.c->seed = 1234;
    old.c->chunkBytes = 2048;
    old.c->allGatherThreshold = 5;
    old.c->device = SV_DEVICE_HOST;
    Resolved r = resolve(old.user());
    INFO(r.err);
    REQUIRE(r.rc == svSuccess);
    CHECK(r.cfg.tie == SV_TIE_RANDOM);
    CHECK(r.cfg.zero == SV_ZERO_ABSTAIN);
    CHECK(r.cfg.nan == SV_NAN_ERROR);
    CHECK(r.cfg.algorithm == SV_ALGO_ALLTOALL);
    CHECK(r.cfg.scale == 0.75);
    CHECK(r.cfg.seed == 1234);
    CHECK(r.cfg.chunkBytes == 2048);
    CHECK(r.cfg.allGatherThreshold == 5);
    CHECK(r.cfg.device == SV_DEVICE_HOST);
    CHECK(r.cfg.deviceSet);
    CHECK(r.cfg.mpiCudaAware == -1);
    CHECK(r.cfg.timeout == 7.0);
    CHECK(r.cfg.check == 0);
  }
  SECTION("a version-100 size between the two layouts is the first layout") {
    OldCaller<ConfigV100First> old;
    old.c->size = sizeof(ConfigV100First) + 8;
    Resolved r = resolve(old.user());
    INFO(r.err);
    REQUIRE(r.rc == svSuccess);
    checkDefaults(r.cfg);
  }
}

TEST_CASE("a struct of the second version-100 layout (88 bytes, timeout and check) is accepted", "[config]") {
  EnvGuard env;
  if (kLP64) {
    CHECK(sizeof(ConfigV100Second) == 88);
    CHECK(offsetof(ConfigV100Second, timeout) == 72);
    CHECK(offsetof(ConfigV100Second, timeout) == offsetof(svConfig_t, timeout));
    CHECK(offsetof(ConfigV100Second, check) == offsetof(svConfig_t, check));
    CHECK(offsetof(svConfig_t, mpiCudaAware) == 68);  // the padding after device
  }
  SECTION("unset: defaults, and the garbage where mpiCudaAware now is is not read") {
    OldCaller<ConfigV100Second> old;
    old.c->timeout = SV_CONFIG_UNDEF_DOUBLE;
    old.c->check = SV_CONFIG_UNDEF_INT;
    Resolved r = resolve(old.user());
    INFO(r.err);
    REQUIRE(r.rc == svSuccess);
    checkDefaults(r.cfg);
  }
  SECTION("unset, the environment set: each takes its variable") {
    env.set("SV_MPI_CUDA_AWARE", "1");
    env.set("SV_TIMEOUT", "0");
    env.set("SV_CHECK", "1");
    OldCaller<ConfigV100Second> old;
    old.c->timeout = SV_CONFIG_UNDEF_DOUBLE;
    old.c->check = SV_CONFIG_UNDEF_INT;
    Resolved r = resolve(old.user());
    INFO(r.err);
    REQUIRE(r.rc == svSuccess);
    CHECK(r.cfg.mpiCudaAware == 1);
    CHECK(r.cfg.timeout == 0.0);
    CHECK(r.cfg.check == 1);
  }
  SECTION("timeout and check, set, are read") {
    env.set("SV_TIMEOUT", "99");
    OldCaller<ConfigV100Second> old;
    old.c->tiePolicy = SV_TIE_ZERO;
    old.c->timeout = 4.25;
    old.c->check = 1;
    Resolved r = resolve(old.user());
    INFO(r.err);
    REQUIRE(r.rc == svSuccess);
    CHECK(r.cfg.tie == SV_TIE_ZERO);
    CHECK(r.cfg.timeout == 4.25);
    CHECK(r.cfg.check == 1);
    CHECK(r.cfg.mpiCudaAware == -1);
  }
  SECTION("a 0.1.0 caller that did set mpiCudaAware: not readable, so not read") {
    // The header of 78018ce had mpiCudaAware at this offset and still said
    // version 100: its value cannot be told from the padding above.
    env.set("SV_MPI_CUDA_AWARE", "0");
    svConfig_t c = SV_CONFIG_INITIALIZER;
    c.version = 100;
    c.mpiCudaAware = 1;
    c.check = 1;
    Resolved r = resolve(&c);
    INFO(r.err);
    REQUIRE(r.rc == svSuccess);
    CHECK(r.cfg.mpiCudaAware == 0);
    CHECK(r.cfg.check == 1);
  }
}

TEST_CASE("a version-200 caller's struct ends before hierarchy: not read, SV_HIERARCHY applies", "[config]") {
  EnvGuard env;
  env.set("SV_HIERARCHY", "off");
  svConfig_t c = SV_CONFIG_INITIALIZER;
  c.version = 200;
  c.size = offsetof(svConfig_t, hierarchy);  // what a 0.2.0 header laid out (rounded up below)
  c.size = (c.size + alignof(svConfig_t) - 1) / alignof(svConfig_t) * alignof(svConfig_t);
  c.hierarchy = 1;  // garbage as far as a 0.2.0 caller is concerned
  Resolved r = resolve(&c);
  INFO(r.err);
  REQUIRE(r.rc == svSuccess);
  CHECK(r.cfg.hierarchy == 0);
  env.set("SV_HIERARCHY", "sideways");
  CHECK(resolve(&c).rc == svInvalidArgument);
  env.set("SV_HIERARCHY", "on");
  CHECK(resolve(&c).cfg.hierarchy == 1);
  c = SV_CONFIG_INITIALIZER;  // this header: the field wins over the env
  c.hierarchy = 0;
  CHECK(resolve(&c).cfg.hierarchy == 0);
  c.hierarchy = 2;
  CHECK(resolve(&c).rc == svInvalidArgument);
}

TEST_CASE("a newer, longer config struct is accepted and its unknown fields ignored", "[config]") {
  EnvGuard env;
  struct Newer {
    svConfig_t base;
    unsigned char futureFields[40];
  } n;
  memset(&n, 0xA5, sizeof(n));
  n.base = SV_CONFIG_INITIALIZER;
  n.base.size = sizeof(Newer);
  n.base.version = 9999;
  n.base.tiePolicy = SV_TIE_ZERO;
  n.base.mpiCudaAware = 1;
  n.base.timeout = 5;
  n.base.check = 1;
  n.base.hierarchy = 0;
  // The tail padding of base and the future fields hold garbage.
  memset(reinterpret_cast<unsigned char*>(&n.base) + offsetof(svConfig_t, hierarchy) + sizeof(int), 0xA5,
         sizeof(svConfig_t) - offsetof(svConfig_t, hierarchy) - sizeof(int));
  Resolved r = resolve(&n.base);
  INFO(r.err);
  REQUIRE(r.rc == svSuccess);
  CHECK(r.cfg.tie == SV_TIE_ZERO);
  CHECK(r.cfg.zero == SV_ZERO_POSITIVE);
  CHECK(r.cfg.mpiCudaAware == 1);
  CHECK(r.cfg.timeout == 5.0);
  CHECK(r.cfg.check == 1);
  CHECK(r.cfg.hierarchy == 0);
  // Exactly the library's size is enough for a newer version, too.
  svConfig_t c = SV_CONFIG_INITIALIZER;
  c.version = 9999;
  Resolved r2 = resolve(&c);
  INFO(r2.err);
  REQUIRE(r2.rc == svSuccess);
  checkDefaults(r2.cfg);
}

TEST_CASE("commInitLoopback rejects a bad config or environment with svGetLastError set", "[config]") {
  EnvGuard env;
  auto world = sv::makeLoopbackWorld(1);
  {
    svConfig_t c = SV_CONFIG_INITIALIZER;
    c.nanPolicy = 9;
    svComm_t comm = reinterpret_cast<svComm_t>(0x1);
    CHECK(sv::commInitLoopback(world, 0, &c, &comm) == svInvalidArgument);
    const std::string e = svGetLastError(nullptr);
    INFO(e);
    CHECK(ref::containsNoCase(e, "nanPolicy"));
  }
  {
    env.set("SV_ALGO", "butterfly");
    svComm_t comm = nullptr;
    CHECK(sv::commInitLoopback(world, 0, nullptr, &comm) == svInvalidArgument);
    const std::string e = svGetLastError(nullptr);
    INFO(e);
    CHECK(ref::containsNoCase(e, "SV_ALGO"));
    CHECK(comm == nullptr);
    env.clear("SV_ALGO");
  }
  {
    svComm_t comm = nullptr;
    REQUIRE(sv::commInitLoopback(world, 0, nullptr, &comm) == svSuccess);
    int device = 5;
    CHECK(svCommCuDevice(comm, &device) == svSuccess);
    CHECK(device == SV_DEVICE_HOST);
    CHECK(svCommDestroy(comm) == svSuccess);
  }
}

TEST_CASE("describeConfig and the policy names", "[config]") {
  sv::Config c;
  c.tie = SV_TIE_RANDOM;
  c.zero = SV_ZERO_ABSTAIN;
  c.nan = SV_NAN_ERROR;
  c.algorithm = SV_ALGO_ALLTOALL;
  char buf[512];
  sv::describeConfig(c, buf, sizeof(buf));
  const std::string d = buf;
  CHECK(d.find("random") != std::string::npos);
  CHECK(d.find("abstain") != std::string::npos);
  CHECK(d.find("error") != std::string::npos);
  CHECK(d.find("alltoall") != std::string::npos);
  CHECK(std::string(sv::tieName(SV_TIE_ZERO)) == "zero");
  CHECK(std::string(sv::zeroName(SV_ZERO_POSITIVE)) == "positive");
  CHECK(std::string(sv::nanName(SV_NAN_AS_ZERO)) == "zero");
  CHECK(std::string(sv::algoName(SV_ALGO_ALLGATHER)) == "allgather");
  CHECK(std::string(sv::tieName(7)) == "?");
}
