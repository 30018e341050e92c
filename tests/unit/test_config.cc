// SPDX-License-Identifier: MIT
// resolveConfig: svConfig_t fields > SV_* environment > defaults; bad values
// are svInvalidArgument with a one-line reason; an older, shorter struct is
// accepted. The environment is saved and restored around every test.
#include <catch2/catch.hpp>

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "config.h"
#include "transport/loopback.h"
#include "unit_reference.h"

namespace {

const char* const kEnvVars[] = {"SV_TIE",   "SV_ZERO", "SV_NAN",         "SV_ALGO",  "SV_SCALE",
                                "SV_SEED",  "SV_CHUNK_BYTES", "SV_ALLGATHER_THRESHOLD", "SV_DEVICE", "SV_MPI_CUDA_AWARE"};

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
}

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
  }
  for (size_t size : {size_t(0), size_t(8), offsetof(svConfig_t, tiePolicy) - 1, size_t(1) << 20}) {
    svConfig_t c = SV_CONFIG_INITIALIZER;
    c.size = size;
    Resolved r = resolve(&c);
    INFO("size " << size << " -> " << r.err);
    CHECK(r.rc == svInvalidArgument);
    CHECK(ref::containsNoCase(r.err, "size"));
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

TEST_CASE("an older shorter config struct is accepted and its missing fields take env or defaults", "[config]") {
  EnvGuard env;
  const size_t offsets[] = {offsetof(svConfig_t, tiePolicy),  offsetof(svConfig_t, zeroPolicy),
                            offsetof(svConfig_t, nanPolicy),  offsetof(svConfig_t, algorithm),
                            offsetof(svConfig_t, scale),      offsetof(svConfig_t, seed),
                            offsetof(svConfig_t, chunkBytes), offsetof(svConfig_t, allGatherThreshold),
                            offsetof(svConfig_t, device),     offsetof(svConfig_t, mpiCudaAware),
                            sizeof(svConfig_t)};
  for (int withEnv = 0; withEnv < 2; ++withEnv) {
    if (withEnv) env.set("SV_CHUNK_BYTES", "4096");
    for (size_t k = 0; k < sizeof(offsets) / sizeof(offsets[0]); ++k) {
      // A struct as an old caller lays it out: only the first `size` bytes
      // are its; what lies beyond is garbage the library must not read.
      svConfig_t c = SV_CONFIG_INITIALIZER;
      c.tiePolicy = SV_TIE_RANDOM;
      c.zeroPolicy = SV_ZERO_ABSTAIN;
      c.nanPolicy = SV_NAN_ERROR;
      c.algorithm = SV_ALGO_ALLTOALL;
      c.scale = 0.75;
      c.seed = 1234;
      c.chunkBytes = 2048;
      c.allGatherThreshold = 5;
      c.device = SV_DEVICE_HOST;
      c.size = offsets[k];
      unsigned char* bytes = reinterpret_cast<unsigned char*>(&c);
      for (size_t i = offsets[k]; i < sizeof(c); ++i) bytes[i] = 0xEE;  // invalid in every field
      Resolved r = resolve(&c);
      INFO("size " << offsets[k] << " env " << withEnv << " -> " << r.err);
      REQUIRE(r.rc == svSuccess);
      CHECK(r.cfg.tie == (k > 0 ? SV_TIE_RANDOM : SV_TIE_POSITIVE));
      CHECK(r.cfg.zero == (k > 1 ? SV_ZERO_ABSTAIN : SV_ZERO_POSITIVE));
      CHECK(r.cfg.nan == (k > 2 ? SV_NAN_ERROR : SV_NAN_AS_ZERO));
      CHECK(r.cfg.algorithm == (k > 3 ? SV_ALGO_ALLTOALL : SV_ALGO_AUTO));
      CHECK(r.cfg.scale == (k > 4 ? 0.75 : 1.0));
      CHECK(r.cfg.seed == (k > 5 ? 1234 : 0));
      CHECK(r.cfg.chunkBytes == (k > 6 ? 2048 : withEnv ? 4096 : 0));
      CHECK(r.cfg.allGatherThreshold == (k > 7 ? 5 : 65536));
      CHECK(r.cfg.device == SV_DEVICE_HOST);
    }
  }
}

TEST_CASE("a newer longer config struct is accepted", "[config]") {
  EnvGuard env;
  struct Newer {
    svConfig_t base;
    long long futureField[8];
  } n;
  n.base = SV_CONFIG_INITIALIZER;
  n.base.size = sizeof(Newer);
  n.base.tiePolicy = SV_TIE_ZERO;
  for (auto& f : n.futureField) f = 77;
  Resolved r = resolve(&n.base);
  REQUIRE(r.rc == svSuccess);
  CHECK(r.cfg.tie == SV_TIE_ZERO);
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
