// SPDX-License-Identifier: MIT
// svGroupStart / svGroupEnd on loopback worlds: the calls of a group run as
// one exchange, and each output equals a per-element integer vote of its
// own inputs (random ties drawn at the element's position in the group's
// layout), on every rank alike; the group's rules (nesting, errors, stats).
#include <catch2/catch.hpp>

#include <string.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "bitlogic.h"
#include "transport/loopback.h"
#include "unit_reference.h"

namespace {

struct Tensor {
  svDataType_t dt;  // ignored for packed
  bool packed;
  size_t count;
  bool inPlace;
  std::vector<std::vector<uint64_t>> in;  // per rank: element bits (packed: 0/1 per bit)
};

std::vector<Tensor> makeTensors(ref::Rng& rng, int P, bool withPacked) {
  const svDataType_t types[] = {svFloat32, svFloat16, svBfloat16, svFloat64};
  const size_t counts[] = {1000, 0, 1, 63, 64, 65, 4097, 31, 70001, 3};
  std::vector<Tensor> ts;
  for (size_t k = 0; k < 10; ++k) {
    Tensor t;
    t.dt = types[k % 4];
    t.packed = withPacked && k % 5 == 3;
    t.count = counts[k];
    t.inPlace = k % 3 == 1;
    const ref::Format f = ref::formatOf(t.dt);
    for (int r = 0; r < P; ++r) {
      std::vector<uint64_t> v(t.count);
      for (auto& e : v) e = t.packed ? rng.below(2) : ref::randomElement(rng, f, false, 20, 15);
      t.in.push_back(v);
    }
    ts.push_back(t);
  }
  return ts;
}

// The expected output element bits of tensor k (packed: 0/1), given the
// first word of each tensor in the group's layout.
std::vector<uint64_t> expected(const Tensor& t, const svConfig_t& cfg, int P, uint64_t call, size_t firstWord) {
  std::vector<uint64_t> want(t.count);
  const ref::Format f = ref::formatOf(t.dt);
  for (size_t i = 0; i < t.count; ++i) {
    int pos = 0, neg = 0;
    for (int r = 0; r < P; ++r) {
      const int v = t.packed ? (t.in[r][i] ? 1 : -1) : ref::voteOf(ref::classify(t.in[r][i], f), cfg.zeroPolicy);
      pos += v == 1;
      neg += v == -1;
    }
    const size_t at = firstWord * 64 + i;
    const bool draw = (sv::tieRandomBits(static_cast<uint64_t>(cfg.seed), call, at / 64) >> (at % 64)) & 1;
    const int m = ref::majority(pos, neg, cfg.tiePolicy, draw);
    if (t.packed) want[i] = m == 1;
    else want[i] = m == 1 ? ref::roundTo(t.dt, cfg.scale) : m == -1 ? ref::roundTo(t.dt, -cfg.scale) : 0;
  }
  return want;
}

struct RankOut {
  svResult_t startRc = svInternalError, endRc = svInternalError;
  std::vector<svResult_t> callRc;
  std::vector<std::vector<uint64_t>> out;  // per tensor, element bits
  svCommStats_t stats{};
  std::string err;
};

// Every rank: one group (preceded by `before` ungrouped calls) of all tensors.
std::vector<RankOut> runGroup(int P, const svConfig_t& cfg, const std::vector<Tensor>& ts, bool shared) {
  auto world = sv::makeLoopbackWorld(P, shared);
  std::vector<RankOut> res(P);
  std::vector<std::thread> th;
  for (int r = 0; r < P; ++r)
    th.emplace_back([&, r] {
      svComm_t comm = nullptr;
      if (sv::commInitLoopback(world, r, &cfg, &comm) != svSuccess) return;
      RankOut& o = res[r];
      std::vector<std::vector<char>> send(ts.size()), recv(ts.size());
      for (size_t k = 0; k < ts.size(); ++k) {
        const Tensor& t = ts[k];
        if (t.packed) {
          send[k].assign((t.count + 31) / 32 * 4 + 4, 0);
          for (size_t i = 0; i < t.count; ++i)
            if (t.in[r][i]) reinterpret_cast<uint32_t*>(send[k].data())[i / 32] |= 1u << (i % 32);
        } else {
          const size_t esz = ref::elemSize(t.dt);
          send[k].assign(t.count * esz + 8, 0);
          for (size_t i = 0; i < t.count; ++i) ref::storeElem(send[k].data(), i, esz, t.in[r][i]);
        }
        recv[k].assign(send[k].size(), static_cast<char>(0xA5));
      }
      o.startRc = svGroupStart();
      for (size_t k = 0; k < ts.size(); ++k) {
        const Tensor& t = ts[k];
        void* rp = t.inPlace ? send[k].data() : recv[k].data();
        o.callRc.push_back(t.packed ? svAllReduceSignPacked(reinterpret_cast<const uint32_t*>(send[k].data()),
                                                            static_cast<uint32_t*>(rp), t.count, comm, nullptr)
                                    : svAllReduceSign(send[k].data(), rp, t.count, t.dt, comm, nullptr));
      }
      o.endRc = svGroupEnd();
      if (o.endRc != svSuccess) o.err = svGetLastError(comm);
      svCommGetStats(comm, &o.stats);
      for (size_t k = 0; k < ts.size(); ++k) {
        const Tensor& t = ts[k];
        const char* p = t.inPlace ? send[k].data() : recv[k].data();
        std::vector<uint64_t> v(t.count);
        for (size_t i = 0; i < t.count; ++i)
          v[i] = t.packed ? (reinterpret_cast<const uint32_t*>(p)[i / 32] >> (i % 32)) & 1
                          : ref::loadElem(p, i, ref::elemSize(t.dt));
        o.out.push_back(v);
      }
      svCommDestroy(comm);
    });
  for (auto& t : th) t.join();
  return res;
}

svConfig_t policy(int tie, int zero, long long seed) {
  svConfig_t c = SV_CONFIG_INITIALIZER;
  c.tiePolicy = tie;
  c.zeroPolicy = zero;
  c.seed = seed;
  c.scale = 0.5;
  c.chunkBytes = 1024;  // several pipeline chunks, chunk edges inside tensors
  c.device = SV_DEVICE_HOST;
  return c;
}

// Every rank's every tensor against expected() (Catch2 runs on this thread).
void checkGroup(const std::vector<Tensor>& ts, const svConfig_t& cfg, int P, const std::vector<RankOut>& res) {
  size_t firstWord = 0;
  for (size_t k = 0; k < ts.size(); ++k) {
    const std::vector<uint64_t> want = expected(ts[k], cfg, P, 0, firstWord);
    firstWord += (ts[k].count + 63) / 64;
    for (int r = 0; r < P; ++r) {
      INFO("tensor " << k << " rank " << r << ": " << res[r].err);
      REQUIRE(res[r].startRc == svSuccess);
      CHECK(res[r].callRc[k] == svSuccess);
      REQUIRE(res[r].endRc == svSuccess);
      size_t bad = 0;
      for (size_t i = 0; i < want.size(); ++i) bad += res[r].out[k][i] != want[i];
      CHECK(bad == 0);
    }
  }
  for (int r = 0; r < P; ++r) CHECK(res[r].stats.calls == 1);  // one exchange
}

}  // namespace

TEST_CASE("svGroupStart/End: one exchange, each output the per-element vote, every policy and P", "[group]") {
  for (int P : {1, 2, 3, 5, 8})
    for (bool shared : {false, true})
      for (int tie : {SV_TIE_POSITIVE, SV_TIE_ZERO, SV_TIE_RANDOM})
        for (int zero : {SV_ZERO_POSITIVE, SV_ZERO_ABSTAIN}) {
          // The packed API takes one bit per element: only where no tie can
          // need a second plane and zeros vote.
          const bool packedOk = zero == SV_ZERO_POSITIVE && !(tie == SV_TIE_ZERO && P % 2 == 0);
          ref::Rng rng(77 + static_cast<uint64_t>(P * 131 + tie * 7 + zero));
          const std::vector<Tensor> ts = makeTensors(rng, P, packedOk);
          const svConfig_t cfg = policy(tie, zero, 900 + P);
          INFO("P=" << P << (shared ? " shared" : "") << " tie=" << tie << " zero=" << zero);
          checkGroup(ts, cfg, P, runGroup(P, cfg, ts, shared));
        }
}

TEST_CASE("svGroupEnd without svGroupStart is svInvalidUsage; nested groups run at the outermost end", "[group]") {
  CHECK(svGroupEnd() == svInvalidUsage);
  CHECK(ref::containsNoCase(svGetLastError(nullptr), "svGroupStart"));
  auto world = sv::makeLoopbackWorld(1);
  svComm_t comm = nullptr;
  svConfig_t cfg = SV_CONFIG_INITIALIZER;
  REQUIRE(sv::commInitLoopback(world, 0, &cfg, &comm) == svSuccess);
  float x[3] = {-1.f, 2.f, -0.f}, y[3] = {7.f, 7.f, 7.f};
  REQUIRE(svGroupStart() == svSuccess);
  REQUIRE(svGroupStart() == svSuccess);
  CHECK(svAllReduceSign(x, y, 3, svFloat32, comm, nullptr) == svSuccess);
  CHECK(svGroupEnd() == svSuccess);
  CHECK(y[0] == 7.f);  // still queued: the outer group is open
  // A bad argument fails at once and is not queued; the rest of the group runs.
  CHECK(svAllReduceSign(x, nullptr, 3, svFloat32, comm, nullptr) == svInvalidArgument);
  CHECK(svGroupEnd() == svSuccess);
  CHECK(y[0] == -1.f);
  CHECK(y[1] == 1.f);
  CHECK(y[2] == 1.f);  // -0 votes +1 (x >= 0)
  svCommStats_t st;
  REQUIRE(svCommGetStats(comm, &st) == svSuccess);
  CHECK(st.calls == 1);
  CHECK(svCommDestroy(comm) == svSuccess);
}

TEST_CASE("a communicator destroyed inside a group fails svGroupEnd; the others of the group still run", "[group]") {
  auto world = sv::makeLoopbackWorld(1);
  svComm_t a = nullptr, b = nullptr;
  svConfig_t cfg = SV_CONFIG_INITIALIZER;
  REQUIRE(sv::commInitLoopback(world, 0, &cfg, &a) == svSuccess);
  auto world2 = sv::makeLoopbackWorld(1);
  REQUIRE(sv::commInitLoopback(world2, 0, &cfg, &b) == svSuccess);
  float x[2] = {-1.f, 1.f}, ya[2] = {0, 0}, yb[2] = {0, 0};
  REQUIRE(svGroupStart() == svSuccess);
  CHECK(svAllReduceSign(x, ya, 2, svFloat32, a, nullptr) == svSuccess);
  CHECK(svAllReduceSign(x, yb, 2, svFloat32, b, nullptr) == svSuccess);
  CHECK(svCommDestroy(a) == svSuccess);
  CHECK(svGroupEnd() == svInvalidUsage);
  CHECK(ref::containsNoCase(svGetLastError(nullptr), "not a live communicator"));
  CHECK(ya[0] == 0.f);  // never ran
  CHECK(yb[0] == -1.f);
  CHECK(yb[1] == 1.f);
  CHECK(svCommDestroy(b) == svSuccess);
}

TEST_CASE("a group waiting on a silent rank times out naming it, and the communicator stays failed", "[group][faults]") {
  const int P = 3, silent = 2;
  auto world = sv::makeLoopbackWorld(P, true);
  svConfig_t cfg = SV_CONFIG_INITIALIZER;
  cfg.timeout = 0.3;
  std::vector<svComm_t> c(P);
  for (int r = 0; r < P; ++r) REQUIRE(sv::commInitLoopback(world, r, &cfg, &c[r]) == svSuccess);
  std::vector<svResult_t> rc(P, svSuccess), rc2(P, svSuccess);
  std::vector<std::string> err(P);
  std::vector<std::thread> th;
  for (int r = 0; r < P; ++r) {
    if (r == silent) continue;
    th.emplace_back([&, r] {
      std::vector<float> x(100000, 1.f), y(100000), z(10, 1.f);
      svGroupStart();
      svAllReduceSign(x.data(), y.data(), x.size(), svFloat32, c[r], nullptr);
      svAllReduceSign(z.data(), z.data(), z.size(), svFloat32, c[r], nullptr);
      rc[r] = svGroupEnd();
      err[r] = svGetLastError(c[r]);
      rc2[r] = svAllReduceSign(z.data(), z.data(), z.size(), svFloat32, c[r], nullptr);
    });
  }
  for (auto& t : th) t.join();
  for (int r = 0; r < P; ++r) {
    if (r == silent) continue;
    INFO("rank " << r << ": " << err[r]);
    CHECK(rc[r] == svTimeout);
    CHECK(ref::containsNoCase(err[r], "svGroupEnd"));
    CHECK(ref::containsNoCase(err[r], "rank(s) 2 did not answer"));
    CHECK(rc2[r] == svTimeout);
  }
  for (int r = 0; r < P; ++r) CHECK(svCommDestroy(c[r]) == svSuccess);
}

TEST_CASE("a group with a large output streams every tensor's stores, small and unaligned ones too", "[group]") {
  // Over 4 MiB of output in all: each tensor's unpack writes around the
  // caches (host::unpack partOfLarge), tails and 64-byte heads included.
  const int P = 2;
  ref::Rng rng(4242);
  std::vector<Tensor> ts = makeTensors(rng, P, false);
  Tensor big;
  big.dt = svFloat32;
  big.packed = false;
  big.count = 1100003;
  big.inPlace = false;
  for (int r = 0; r < P; ++r) {
    std::vector<uint64_t> v(big.count);
    for (auto& e : v) e = ref::randomElement(rng, ref::formatOf(svFloat32), false, 10, 10);
    big.in.push_back(v);
  }
  ts.insert(ts.begin() + 3, big);
  for (int tie : {SV_TIE_POSITIVE, SV_TIE_ZERO}) {
    const svConfig_t cfg = policy(tie, SV_ZERO_ABSTAIN, 5);
    INFO("tie " << tie);
    checkGroup(ts, cfg, P, runGroup(P, cfg, ts, true));
  }
}
