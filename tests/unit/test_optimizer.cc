// SPDX-License-Identifier: MIT
// svSignumStep and svEFSignStep on loopback worlds (one thread per rank),
// against a naive reference step written here from the formulas of
// docs/optimizer.md: per-element state update, votes counted as integers,
// median of the scales. The reference does the same arithmetic in the same
// type, so results must match bit for bit; every rank's params must be
// bitwise identical. Threads only record; assertions run on the main thread.
#include <catch2/catch.hpp>

#include <math.h>
#include <string.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "transport/loopback.h"
#include "unit_reference.h"

namespace {

enum class Opt { kSignum, kEF, kLion };

struct Setup {
  int P = 3;
  size_t count = 1000;
  int steps = 3;
  double lr = 0.01, beta = 0.9, wd = 0.001, beta2 = 0.99;  // beta: Lion's beta1
  int tie = SV_TIE_POSITIVE, zero = SV_ZERO_POSITIVE, nan = SV_NAN_AS_ZERO, algo = SV_ALGO_AUTO;
  long long chunkBytes = 0;
  int nanRank = -1;  // this rank's grads get a NaN at element count/2 on the last step
};

svConfig_t configOf(const Setup& s) {
  svConfig_t c = SV_CONFIG_INITIALIZER;
  c.tiePolicy = s.tie;
  c.zeroPolicy = s.zero;
  c.nanPolicy = s.nan;
  c.algorithm = s.algo;
  c.scale = 1.0;
  c.seed = 0;
  c.chunkBytes = s.chunkBytes;
  c.allGatherThreshold = 4096;
  c.device = SV_DEVICE_HOST;
  return c;
}

// Gradients with many exact ties in sign across ranks: small integers, some
// zero, so votes split evenly at even P and momentum hits exact zeros.
template <typename T>
std::vector<std::vector<std::vector<T>>> makeGrads(const Setup& s, uint64_t seed) {
  ref::Rng rng(seed);
  std::vector<std::vector<std::vector<T>>> g(s.steps, std::vector<std::vector<T>>(s.P, std::vector<T>(s.count)));
  for (auto& step : g)
    for (auto& rank : step)
      for (auto& x : rank) x = static_cast<T>(static_cast<int>(rng.below(9)) - 4) * T(0.25);
  if (s.nanRank >= 0 && s.count > 0) g.back()[s.nanRank][s.count / 2] = static_cast<T>(NAN);
  return g;
}

template <typename T>
struct State {
  std::vector<std::vector<T>> x, st;  // per rank: params and momentum / error
};

template <typename T>
State<T> initialState(const Setup& s, uint64_t seed) {
  ref::Rng rng(seed ^ 0x55);
  std::vector<T> x0(s.count);
  for (auto& v : x0) v = static_cast<T>(static_cast<int>(rng.below(2001)) - 1000) * T(0.001);
  State<T> st;
  st.x.assign(s.P, x0);
  st.st.assign(s.P, std::vector<T>(s.count));
  for (auto& r : st.st)
    for (auto& v : r) v = static_cast<T>(static_cast<int>(rng.below(5)) - 2) * T(0.125);
  return st;
}

// The vote of one element from integer counts (policies as documented for
// svAllReduceSign; SV_TIE_POSITIVE / SV_TIE_ZERO only).
template <typename T>
T refVote(const std::vector<T>& inputs, const Setup& s) {
  int plus = 0, minus = 0;
  for (T v : inputs) {
    if (v != v || v == 0) {  // NaN votes as a zero (SV_NAN_AS_ZERO)
      if (s.zero == SV_ZERO_POSITIVE) ++plus;
      continue;
    }
    (v > 0 ? plus : minus)++;
  }
  if (plus > minus) return T(1);
  if (minus > plus) return T(-1);
  return s.tie == SV_TIE_ZERO ? T(0) : T(1);
}

template <typename T>
T refSign(T p, const Setup& s) {
  if (p > 0) return T(1);
  if (p < 0) return T(-1);
  if (p == 0) return s.zero == SV_ZERO_ABSTAIN ? T(0) : T(1);
  return p;
}

// One reference step over all ranks; returns false when SV_NAN_ERROR fails.
template <typename T>
bool refStep(Opt opt, const Setup& s, State<T>& st, const std::vector<std::vector<T>>& g) {
  const T lr = static_cast<T>(s.lr), beta = static_cast<T>(s.beta), omb = static_cast<T>(1.0 - s.beta),
          wd = static_cast<T>(s.wd), decay = static_cast<T>(s.lr * s.wd), b2 = static_cast<T>(s.beta2),
          omb2 = static_cast<T>(1.0 - s.beta2), keep = static_cast<T>(1.0 - s.lr * s.wd);
  std::vector<std::vector<T>> sent(s.P, std::vector<T>(s.count));
  std::vector<double> scale(s.P, 0);
  bool anyNan = false;
  for (int r = 0; r < s.P; ++r)
    for (size_t i = 0; i < s.count; ++i) {
      sent[r][i] = opt == Opt::kSignum ? omb * g[r][i] + beta * st.st[r][i]
                   : opt == Opt::kLion ? beta * st.st[r][i] + omb * g[r][i]
                                       : lr * g[r][i] + st.st[r][i];
      scale[r] += fabs(static_cast<double>(sent[r][i]));
      anyNan |= sent[r][i] != sent[r][i];
    }
  if (anyNan && s.nan == SV_NAN_ERROR) return false;
  std::vector<double> sorted(scale);
  for (auto& v : sorted) v /= static_cast<double>(s.count);
  std::sort(sorted.begin(), sorted.end());
  const double med = s.P % 2 ? sorted[s.P / 2] : 0.5 * (sorted[s.P / 2 - 1] + sorted[s.P / 2]);
  std::vector<T> in(s.P);
  for (size_t i = 0; i < s.count; ++i) {
    for (int r = 0; r < s.P; ++r) in[r] = sent[r][i];
    const T vote = refVote(in, s);
    for (int r = 0; r < s.P; ++r) {
      T& x = st.x[r][i];
      if (opt == Opt::kSignum) {
        st.st[r][i] = sent[r][i];
        x = x - lr * (vote + wd * x);
      } else if (opt == Opt::kLion) {
        st.st[r][i] = b2 * st.st[r][i] + omb2 * g[r][i];
        x = x * keep - lr * vote;
      } else {
        const T myScale = static_cast<T>(scale[r] / static_cast<double>(s.count));
        st.st[r][i] = sent[r][i] - myScale * refSign(sent[r][i], s);
        x = x - static_cast<T>(med) * vote - decay * x;
      }
    }
  }
  return true;
}

template <typename T>
bool sameBits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Runs s.steps steps on a loopback world and the reference; compares.
template <typename T>
void checkSteps(Opt opt, const Setup& s, uint64_t seed) {
  const svDataType_t dt = sizeof(T) == 4 ? svFloat32 : svFloat64;
  const auto g = makeGrads<T>(s, seed);
  State<T> lib = initialState<T>(s, seed), want = lib;
  const svConfig_t cfg = configOf(s);
  auto world = sv::makeLoopbackWorld(s.P);
  std::vector<std::vector<svResult_t>> rc(s.P, std::vector<svResult_t>(s.steps, svInternalError));
  std::vector<svResult_t> initRc(s.P, svInternalError);
  std::vector<std::thread> ts;
  for (int r = 0; r < s.P; ++r)
    ts.emplace_back([&, r] {
      svComm_t comm = nullptr;
      initRc[r] = sv::commInitLoopback(world, r, &cfg, &comm);
      if (initRc[r] != svSuccess) return;
      for (int k = 0; k < s.steps; ++k) {
        rc[r][k] = opt == Opt::kSignum ? svSignumStep(lib.x[r].data(), g[k][r].data(), lib.st[r].data(), s.count,
                                                      dt, s.lr, s.beta, s.wd, comm, nullptr)
                   : opt == Opt::kLion ? svLionStep(lib.x[r].data(), g[k][r].data(), lib.st[r].data(), s.count, dt,
                                                    s.lr, s.beta, s.beta2, s.wd, comm, nullptr)
                                       : svEFSignStep(lib.x[r].data(), g[k][r].data(), lib.st[r].data(), s.count,
                                                      dt, s.lr, s.wd, comm, nullptr);
        if (rc[r][k] != svSuccess) break;
      }
      svCommDestroy(comm);
    });
  for (auto& t : ts) t.join();
  for (int r = 0; r < s.P; ++r) REQUIRE(initRc[r] == svSuccess);
  for (int k = 0; k < s.steps; ++k) {
    const State<T> before = want;
    const bool ok = refStep(opt, s, want, g[k]);
    INFO("step " << k);
    for (int r = 0; r < s.P; ++r) {
      INFO("rank " << r);
      if (!ok) {  // every rank fails alike, state untouched
        CHECK(rc[r][k] == svInvalidArgument);
        want = before;
      } else {
        REQUIRE(rc[r][k] == svSuccess);
      }
    }
    if (!ok) break;
  }
  for (int r = 0; r < s.P; ++r) {
    INFO("rank " << r);
    CHECK(sameBits(lib.x[r], want.x[r]));
    CHECK(sameBits(lib.st[r], want.st[r]));
    CHECK(sameBits(lib.x[r], lib.x[0]));
  }
}

}  // namespace

TEST_CASE("svSignumStep matches the reference step", "[optimizer]") {
  for (int P : {1, 2, 3, 4, 5}) {
    for (size_t count : {size_t(1), size_t(63), size_t(64), size_t(1000), size_t(5003)}) {
      Setup s;
      s.P = P;
      s.count = count;
      INFO("P " << P << " count " << count);
      checkSteps<float>(Opt::kSignum, s, 11 * P + count);
      checkSteps<double>(Opt::kSignum, s, 13 * P + count);
    }
  }
}

TEST_CASE("svSignumStep: policies, algorithms and chunking", "[optimizer]") {
  Setup s;
  s.count = 20000;
  SECTION("tie zero at even P: a tie leaves only the decay") {
    s.P = 4;
    s.tie = SV_TIE_ZERO;
    checkSteps<float>(Opt::kSignum, s, 7);
  }
  SECTION("zero abstains") {
    s.P = 4;
    s.zero = SV_ZERO_ABSTAIN;
    checkSteps<float>(Opt::kSignum, s, 8);
  }
  SECTION("all-to-all in many small chunks") {
    s.P = 5;
    s.algo = SV_ALGO_ALLTOALL;
    s.chunkBytes = 1024;
    checkSteps<double>(Opt::kSignum, s, 9);
  }
  SECTION("beta 0 votes on the gradient, beta 1 on the old momentum") {
    s.P = 3;
    s.beta = 0;
    checkSteps<float>(Opt::kSignum, s, 10);
    s.beta = 1;
    checkSteps<float>(Opt::kSignum, s, 10);
  }
  SECTION("SV_NAN_ERROR: every rank fails, params and momentum untouched") {
    s.P = 3;
    s.nan = SV_NAN_ERROR;
    s.nanRank = 1;
    s.chunkBytes = 1024;  // pack of later chunks runs after earlier ones
    checkSteps<float>(Opt::kSignum, s, 12);
  }
  SECTION("SV_NAN_AS_ZERO: a NaN momentum votes as zero") {
    s.P = 3;
    s.nanRank = 2;
    checkSteps<float>(Opt::kSignum, s, 13);
  }
}

TEST_CASE("svEFSignStep matches the reference step", "[optimizer]") {
  for (int P : {1, 2, 3, 4, 6}) {
    for (size_t count : {size_t(1), size_t(65), size_t(4099)}) {
      Setup s;
      s.P = P;
      s.count = count;
      s.steps = 4;
      INFO("P " << P << " count " << count);
      checkSteps<float>(Opt::kEF, s, 17 * P + count);
      checkSteps<double>(Opt::kEF, s, 19 * P + count);
    }
  }
  Setup s;
  s.count = 30000;
  SECTION("zero abstains, all-to-all, small chunks") {
    s.P = 4;
    s.zero = SV_ZERO_ABSTAIN;
    s.algo = SV_ALGO_ALLTOALL;
    s.chunkBytes = 1024;
    checkSteps<float>(Opt::kEF, s, 21);
  }
  SECTION("SV_NAN_ERROR: every rank fails, params and error untouched") {
    s.P = 3;
    s.nan = SV_NAN_ERROR;
    s.nanRank = 0;
    checkSteps<double>(Opt::kEF, s, 22);
  }
}

TEST_CASE("svLionStep matches the reference step at P = 1..8", "[optimizer][lion]") {
  for (int P = 1; P <= 8; ++P)
    for (size_t count : {size_t(1), size_t(65), size_t(1000), size_t(5003)}) {
      Setup s;
      s.P = P;
      s.count = count;
      s.steps = 4;
      INFO("P " << P << " count " << count);
      checkSteps<float>(Opt::kLion, s, 23 * P + count);
      checkSteps<double>(Opt::kLion, s, 29 * P + count);
    }
}

TEST_CASE("svLionStep: policies, algorithms, chunking, betas, NaNs", "[optimizer][lion]") {
  Setup s;
  s.count = 20000;
  s.beta = 0.9;
  s.beta2 = 0.99;
  SECTION("tie zero at even P") {
    s.P = 4;
    s.tie = SV_TIE_ZERO;
    checkSteps<float>(Opt::kLion, s, 31);
  }
  SECTION("zero abstains, odd and even P") {
    s.zero = SV_ZERO_ABSTAIN;
    s.P = 5;
    checkSteps<float>(Opt::kLion, s, 32);
    s.P = 6;
    s.tie = SV_TIE_ZERO;
    checkSteps<double>(Opt::kLion, s, 33);
  }
  SECTION("all-to-all in many small chunks") {
    s.P = 7;
    s.algo = SV_ALGO_ALLTOALL;
    s.chunkBytes = 1024;
    checkSteps<double>(Opt::kLion, s, 34);
  }
  SECTION("beta1 0 votes on the gradient, beta1 1 on the momentum; beta2 0 and 1") {
    s.P = 3;
    s.beta = 0;
    s.beta2 = 1;
    checkSteps<float>(Opt::kLion, s, 35);
    s.beta = 1;
    s.beta2 = 0;
    checkSteps<float>(Opt::kLion, s, 36);
  }
  SECTION("SV_NAN_ERROR: every rank fails, params and momentum untouched") {
    s.P = 3;
    s.nan = SV_NAN_ERROR;
    s.nanRank = 1;
    s.chunkBytes = 1024;
    checkSteps<float>(Opt::kLion, s, 37);
  }
  SECTION("SV_NAN_AS_ZERO: a NaN update votes as zero") {
    s.P = 4;
    s.nanRank = 2;
    checkSteps<float>(Opt::kLion, s, 38);
  }
}

TEST_CASE("svLionStep with fp16 and bf16 params and grads keeps an fp32 momentum", "[optimizer][lion]") {
  // The reference: the same fp32 arithmetic, params rounded to nearest even.
  for (svDataType_t dt : {svFloat16, svBfloat16})
    for (int P : {2, 3}) {
      const size_t n = 3001;
      const int steps = 3;
      const double lr = 0.0625, b1 = 0.9, b2 = 0.99, wd = 0.01;
      INFO(ref::dtLabel(dt) << " P " << P);
      ref::Rng rng(41 + P + dt);
      auto to16 = [&](double v) { return static_cast<uint16_t>(ref::roundTo(dt, v)); };
      auto from16 = [&](uint16_t b) { return static_cast<float>(ref::decode(b, ref::formatOf(dt))); };
      std::vector<std::vector<std::vector<uint16_t>>> g(steps, std::vector<std::vector<uint16_t>>(P, std::vector<uint16_t>(n)));
      for (auto& k : g)
        for (auto& r : k)
          for (auto& v : r) v = to16((static_cast<int>(rng.below(9)) - 4) * 0.25);
      std::vector<uint16_t> x0(n);
      for (auto& v : x0) v = to16((static_cast<int>(rng.below(2001)) - 1000) * 0.001);
      std::vector<std::vector<uint16_t>> x(P, x0), wantX(P, x0);
      std::vector<std::vector<float>> m(P, std::vector<float>(n, 0.125f)), wantM = m;
      auto world = sv::makeLoopbackWorld(P);
      svConfig_t cfg = SV_CONFIG_INITIALIZER;
      cfg.tiePolicy = SV_TIE_ZERO;
      std::vector<svResult_t> rc(P, svInternalError);
      std::vector<std::thread> ts;
      for (int r = 0; r < P; ++r)
        ts.emplace_back([&, r] {
          svComm_t comm = nullptr;
          if (sv::commInitLoopback(world, r, &cfg, &comm) != svSuccess) return;
          for (int k = 0; k < steps; ++k) {
            rc[r] = svLionStep(x[r].data(), g[k][r].data(), m[r].data(), n, dt, lr, b1, b2, wd, comm, nullptr);
            if (rc[r] != svSuccess) break;
          }
          svCommDestroy(comm);
        });
      for (auto& t : ts) t.join();
      const float flr = static_cast<float>(lr), fb1 = static_cast<float>(b1), fomb1 = static_cast<float>(1.0 - b1),
                  fb2 = static_cast<float>(b2), fomb2 = static_cast<float>(1.0 - b2),
                  keep = static_cast<float>(1.0 - lr * wd);
      for (int k = 0; k < steps; ++k)
        for (size_t i = 0; i < n; ++i) {
          int plus = 0, minus = 0;
          for (int r = 0; r < P; ++r) {
            const float c = fb1 * wantM[r][i] + fomb1 * from16(g[k][r][i]);
            (c >= 0 ? plus : minus)++;  // -0 and +0 vote +1
          }
          const float vote = plus > minus ? 1.f : minus > plus ? -1.f : 0.f;
          for (int r = 0; r < P; ++r) {
            wantM[r][i] = fb2 * wantM[r][i] + fomb2 * from16(g[k][r][i]);
            wantX[r][i] = to16(from16(wantX[r][i]) * keep - flr * vote);
          }
        }
      for (int r = 0; r < P; ++r) {
        INFO("rank " << r);
        REQUIRE(rc[r] == svSuccess);
        CHECK(sameBits(x[r], wantX[r]));
        CHECK(sameBits(m[r], wantM[r]));
        CHECK(sameBits(x[r], x[0]));
      }
    }
}

TEST_CASE("svEFSignStep counts the scale all-gather in the stats", "[optimizer]") {
  const int P = 3;
  const size_t n = 640;  // 10 words: 80 packed bytes per rank
  auto world = sv::makeLoopbackWorld(P);
  svConfig_t cfg = SV_CONFIG_INITIALIZER;
  cfg.algorithm = SV_ALGO_ALLGATHER;
  std::vector<unsigned long long> signumBytes(P), efBytes(P);
  std::vector<std::thread> ts;
  for (int r = 0; r < P; ++r)
    ts.emplace_back([&, r] {
      svComm_t comm = nullptr;
      if (sv::commInitLoopback(world, r, &cfg, &comm) != svSuccess) return;
      std::vector<float> x(n, 1.f), g(n, 0.5f), st(n, 0.f);
      svCommStats_t stats;
      if (svSignumStep(x.data(), g.data(), st.data(), n, svFloat32, 0.1, 0.9, 0, comm, nullptr) == svSuccess &&
          svCommGetStats(comm, &stats) == svSuccess)
        signumBytes[r] = stats.lastBytesSent;
      if (svEFSignStep(x.data(), g.data(), st.data(), n, svFloat32, 0.1, 0, comm, nullptr) == svSuccess &&
          svCommGetStats(comm, &stats) == svSuccess)
        efBytes[r] = stats.lastBytesSent;
      svCommDestroy(comm);
    });
  for (auto& t : ts) t.join();
  for (int r = 0; r < P; ++r) {
    // all-gather of 80 bytes to P-1 peers; EF adds 8 bytes to each peer.
    CHECK(signumBytes[r] == (P - 1) * 80ull);
    CHECK(efBytes[r] == (P - 1) * (80ull + 8));
  }
}

TEST_CASE("optimizer steps validate their arguments", "[optimizer][api]") {
  auto world = sv::makeLoopbackWorld(1);
  svComm_t comm = nullptr;
  svConfig_t cfg = SV_CONFIG_INITIALIZER;
  REQUIRE(sv::commInitLoopback(world, 0, &cfg, &comm) == svSuccess);
  const size_t n = 100;
  std::vector<float> x(n, 1.f), g(n, 2.f), v(n, 3.f);
  std::vector<uint16_t> h(n);
  auto untouched = [&] {
    return std::all_of(x.begin(), x.end(), [](float a) { return a == 1.f; }) &&
           std::all_of(v.begin(), v.end(), [](float a) { return a == 3.f; });
  };
  auto lastErrorHas = [&](const char* what) { return strstr(svGetLastError(comm), what) != nullptr; };
  // Each bad call: the specific code, a message naming the problem, nothing written.
  CHECK(svSignumStep(nullptr, g.data(), v.data(), n, svFloat32, 0.1, 0.9, 0, comm, nullptr) == svInvalidArgument);
  CHECK(lastErrorHas("params is NULL"));
  CHECK(svSignumStep(x.data(), nullptr, v.data(), n, svFloat32, 0.1, 0.9, 0, comm, nullptr) == svInvalidArgument);
  CHECK(lastErrorHas("grads is NULL"));
  CHECK(svSignumStep(x.data(), g.data(), nullptr, n, svFloat32, 0.1, 0.9, 0, comm, nullptr) == svInvalidArgument);
  CHECK(lastErrorHas("momentum is NULL"));
  CHECK(svEFSignStep(x.data(), g.data(), nullptr, n, svFloat32, 0.1, 0, comm, nullptr) == svInvalidArgument);
  CHECK(lastErrorHas("error is NULL"));
  CHECK(svSignumStep(h.data(), h.data() + 1, h.data() + 2, 1, svFloat16, 0.1, 0.9, 0, comm, nullptr) ==
        svInvalidArgument);
  CHECK(lastErrorHas("not supported"));
  CHECK(svSignumStep(x.data(), g.data(), v.data(), n, static_cast<svDataType_t>(42), 0.1, 0.9, 0, comm, nullptr) ==
        svInvalidArgument);
  CHECK(svSignumStep(x.data(), g.data(), v.data(), n, svFloat32, -0.1, 0.9, 0, comm, nullptr) == svInvalidArgument);
  CHECK(lastErrorHas("lr"));
  CHECK(svSignumStep(x.data(), g.data(), v.data(), n, svFloat32, NAN, 0.9, 0, comm, nullptr) == svInvalidArgument);
  CHECK(svEFSignStep(x.data(), g.data(), v.data(), n, svFloat32, INFINITY, 0, comm, nullptr) == svInvalidArgument);
  CHECK(svSignumStep(x.data(), g.data(), v.data(), n, svFloat32, 0.1, 1.5, 0, comm, nullptr) == svInvalidArgument);
  CHECK(lastErrorHas("beta"));
  CHECK(svSignumStep(x.data(), g.data(), v.data(), n, svFloat32, 0.1, -0.1, 0, comm, nullptr) == svInvalidArgument);
  CHECK(svSignumStep(x.data(), g.data(), v.data(), n, svFloat32, 0.1, 0.9, -1, comm, nullptr) == svInvalidArgument);
  CHECK(lastErrorHas("weightDecay"));
  CHECK(svEFSignStep(x.data(), g.data(), v.data(), n, svFloat32, 0.1, NAN, comm, nullptr) == svInvalidArgument);
  CHECK(svSignumStep(x.data(), x.data() + 50, v.data(), n, svFloat32, 0.1, 0.9, 0, comm, nullptr) ==
        svInvalidArgument);
  CHECK(lastErrorHas("params and grads overlap"));
  CHECK(svSignumStep(x.data(), g.data(), g.data(), n, svFloat32, 0.1, 0.9, 0, comm, nullptr) == svInvalidArgument);
  CHECK(lastErrorHas("grads and momentum overlap"));
  CHECK(svEFSignStep(x.data(), g.data(), x.data(), n, svFloat32, 0.1, 0, comm, nullptr) == svInvalidArgument);
  CHECK(lastErrorHas("params and error overlap"));
  CHECK(svSignumStep(reinterpret_cast<char*>(x.data()) + 1, g.data(), v.data(), 10, svFloat32, 0.1, 0.9, 0, comm,
                     nullptr) == svInvalidArgument);
  CHECK(lastErrorHas("aligned"));
  CHECK(untouched());
  CHECK(svSignumStep(x.data(), g.data(), v.data(), n, svFloat32, 0.1, 0.9, 0, nullptr, nullptr) != svSuccess);
  // count 0 with NULL buffers is a valid no-op.
  CHECK(svSignumStep(nullptr, nullptr, nullptr, 0, svFloat32, 0.1, 0.9, 0, comm, nullptr) == svSuccess);
  CHECK(svEFSignStep(nullptr, nullptr, nullptr, 0, svFloat64, 0.1, 0, comm, nullptr) == svSuccess);
  // Lion: both betas in [0, 1]; 16-bit params and grads (Lion only) with an
  // fp32 momentum, aligned for fp32.
  CHECK(svLionStep(x.data(), g.data(), v.data(), n, svFloat32, 0.1, 1.5, 0.99, 0, comm, nullptr) == svInvalidArgument);
  CHECK(lastErrorHas("beta1"));
  CHECK(svLionStep(x.data(), g.data(), v.data(), n, svFloat32, 0.1, 0.9, NAN, 0, comm, nullptr) == svInvalidArgument);
  CHECK(lastErrorHas("beta2"));
  CHECK(svLionStep(x.data(), nullptr, v.data(), n, svFloat32, 0.1, 0.9, 0.99, 0, comm, nullptr) == svInvalidArgument);
  CHECK(lastErrorHas("grads is NULL"));
  CHECK(svLionStep(x.data(), g.data(), v.data(), n, svFloat32, 0.1, 0.9, 0.99, -1, comm, nullptr) == svInvalidArgument);
  std::vector<uint16_t> p16(n), g16(n);
  CHECK(svSignumStep(p16.data(), g16.data(), v.data(), n, svBfloat16, 0.1, 0.9, 0, comm, nullptr) ==
        svInvalidArgument);
  CHECK(lastErrorHas("not supported"));
  CHECK(svLionStep(p16.data(), g16.data(), reinterpret_cast<char*>(v.data()) + 2, n, svBfloat16, 0.1, 0.9, 0.99, 0,
                   comm, nullptr) == svInvalidArgument);
  CHECK(lastErrorHas("momentum not aligned to 4 bytes"));
  CHECK(svLionStep(p16.data(), g16.data(), p16.data(), n, svFloat16, 0.1, 0.9, 0.99, 0, comm, nullptr) ==
        svInvalidArgument);
  CHECK(lastErrorHas("params and momentum overlap"));
  CHECK(svLionStep(x.data(), g.data(), v.data(), n, static_cast<svDataType_t>(42), 0.1, 0.9, 0.99, 0, comm, nullptr) ==
        svInvalidArgument);
  CHECK(untouched());
  CHECK(svLionStep(nullptr, nullptr, nullptr, 0, svBfloat16, 0.1, 0.9, 0.99, 0, comm, nullptr) == svSuccess);
  CHECK(svCommDestroy(comm) == svSuccess);
  CHECK(svSignumStep(x.data(), g.data(), v.data(), n, svFloat32, 0.1, 0.9, 0, comm, nullptr) == svInvalidUsage);
}
