// SPDX-License-Identifier: MIT
// Failure behaviour on loopback worlds (ranks as threads): a rank that never
// calls makes its peers' call time out naming it, and the communicator stays
// failed; svCommAbort from another thread stops a call that would wait
// forever; SV_CHECK=1 turns mismatched calls into svInvalidUsage on every
// rank, naming the field and the ranks, with nothing written; SV_TIMEOUT and
// SV_CHECK parse and validate like every other parameter.
#include <catch2/catch.hpp>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "check_signature.h"
#include "config.h"
#include "transport/loopback.h"
#include "unit_reference.h"

namespace {

constexpr unsigned char kFill = 0x5A;

svConfig_t configWith(double timeout, int check = SV_CONFIG_UNDEF_INT) {
  svConfig_t c = SV_CONFIG_INITIALIZER;
  c.timeout = timeout;
  c.check = check;
  return c;
}

// Inputs every rank can recompute: element i of rank r.
float input(int r, size_t i) { return ((i * 2654435761u + r * 97u) >> 5) % 3 == 0 ? -1.5f : 0.25f; }

// The majority of P ranks' inputs at element i (ties -> +1, the default).
float oracle(int P, size_t i) {
  int sum = 0;
  for (int r = 0; r < P; ++r) sum += input(r, i) >= 0 ? 1 : -1;
  return sum >= 0 ? 1.f : -1.f;
}

// Counts large enough to take several pipeline chunks, and small ones.
const size_t kCounts[] = {1, 100, 5000, 3 * 1024 * 1024};

}  // namespace

TEST_CASE("a rank that never calls: its peers time out naming it, the comm stays failed", "[faults]") {
  for (size_t count : kCounts) {
    for (int P : {2, 3}) {
      INFO("P=" << P << " count=" << count);
      auto world = sv::makeLoopbackWorld(P);
      svConfig_t cfg = configWith(0.3);
      std::vector<svComm_t> c(P);
      for (int r = 0; r < P; ++r) REQUIRE(sv::commInitLoopback(world, r, &cfg, &c[r]) == svSuccess);
      // Ranks 0..P-2 call; rank P-1 never does.
      std::vector<svResult_t> rc(P, svSuccess), rc2(P, svSuccess);
      std::vector<std::string> err(P), err2(P);
      std::vector<std::thread> ts;
      for (int r = 0; r + 1 < P; ++r)
        ts.emplace_back([&, r] {
          std::vector<float> send(count), recv(count);
          for (size_t i = 0; i < count; ++i) send[i] = input(r, i);
          rc[r] = svAllReduceSign(send.data(), recv.data(), count, svFloat32, c[r], nullptr);
          err[r] = svGetLastError(c[r]);
          rc2[r] = svAllReduceSign(send.data(), recv.data(), count, svFloat32, c[r], nullptr);
          err2[r] = svGetLastError(c[r]);
        });
      for (auto& t : ts) t.join();
      for (int r = 0; r + 1 < P; ++r) {
        INFO("rank " << r << ": " << err[r] << " | then: " << err2[r]);
        CHECK(rc[r] == svTimeout);
        CHECK(ref::containsNoCase(err[r], "SV_TIMEOUT"));
        CHECK(ref::containsNoCase(err[r], "rank(s) " + std::to_string(P - 1)));
        // Failed: the next call reports the earlier failure instead of waiting.
        CHECK(rc2[r] == svTimeout);
        CHECK(ref::containsNoCase(err2[r], "failed in an earlier call"));
        // Local calls and getters still work on a failed communicator.
        int n = 0;
        CHECK(svCommCount(c[r], &n) == svSuccess);
        CHECK(n == P);
      }
      for (int r = 0; r < P; ++r) CHECK(svCommDestroy(c[r]) == svSuccess);
    }
  }
}

TEST_CASE("svCommAbort from another thread stops a call that would wait forever", "[faults]") {
  for (size_t count : kCounts) {
    INFO("count=" << count);
    auto world = sv::makeLoopbackWorld(2);
    svConfig_t cfg = configWith(0.0);  // wait forever
    svComm_t c0 = nullptr, c1 = nullptr;
    REQUIRE(sv::commInitLoopback(world, 0, &cfg, &c0) == svSuccess);
    REQUIRE(sv::commInitLoopback(world, 1, &cfg, &c1) == svSuccess);
    std::atomic<bool> inCall{false};
    svResult_t rc = svSuccess, abortRc = svInternalError;
    std::string err;
    std::thread caller([&] {
      std::vector<float> send(count, 1.f), recv(count);
      inCall = true;
      rc = svAllReduceSign(send.data(), recv.data(), count, svFloat32, c0, nullptr);  // rank 1 never calls
      err = svGetLastError(nullptr);
    });
    while (!inCall) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    abortRc = svCommAbort(c0);
    caller.join();
    CHECK(abortRc == svSuccess);
    CHECK(rc == svRemoteError);
    INFO(err);
    CHECK(ref::containsNoCase(err, "svCommAbort"));
    // The handle is retired.
    float x = 1, y = 0;
    CHECK(svAllReduceSign(&x, &y, 1, svFloat32, c0, nullptr) == svInvalidUsage);
    CHECK(svCommDestroy(c0) == svInvalidUsage);
    CHECK(svCommDestroy(c1) == svSuccess);
  }
}

TEST_CASE("a failed communicator is destroyed and a new one works on the same world", "[faults]") {
  auto world = sv::makeLoopbackWorld(2);
  svConfig_t cfg = configWith(0.2);
  svComm_t a = nullptr;
  REQUIRE(sv::commInitLoopback(world, 0, &cfg, &a) == svSuccess);
  std::vector<float> send(4096, 1.f), recv(4096);
  CHECK(svAllReduceSign(send.data(), recv.data(), send.size(), svFloat32, a, nullptr) == svTimeout);
  CHECK(svCommDestroy(a) == svSuccess);
}

TEST_CASE("SV_CHECK=1: mismatched calls fail on every rank naming field and ranks, nothing written", "[faults]") {
  const int P = 3;
  struct Case {
    const char* name;
    const char* field;  // what the message must name
    // per rank: count, datatype, packed entry
    size_t count[P];
    svDataType_t dt[P];
    bool packed[P];
    int tie[P];
  };
  const Case cases[] = {
      {"count", "count", {1000, 1000, 999}, {svFloat32, svFloat32, svFloat32}, {false, false, false}, {0, 0, 0}},
      {"count 0 vs 1", "count", {0, 1, 0}, {svFloat32, svFloat32, svFloat32}, {false, false, false}, {0, 0, 0}},
      {"datatype", "datatype", {64, 64, 64}, {svFloat32, svFloat64, svFloat32}, {false, false, false}, {0, 0, 0}},
      {"entry", "API entry", {64, 64, 64}, {svFloat32, svFloat32, svFloat32}, {true, false, false}, {0, 0, 0}},
      {"tie policy", "tie policy", {64, 64, 64}, {svFloat32, svFloat32, svFloat32}, {false, false, false}, {0, 2, 0}},
  };
  for (const Case& k : cases) {
    INFO(k.name);
    auto world = sv::makeLoopbackWorld(P);
    std::vector<svComm_t> c(P);
    for (int r = 0; r < P; ++r) {
      svConfig_t cfg = configWith(30.0, 1);
      cfg.tiePolicy = k.tie[r];
      REQUIRE(sv::commInitLoopback(world, r, &cfg, &c[r]) == svSuccess);
    }
    std::vector<svResult_t> rc(P);
    std::vector<std::string> err(P);
    std::vector<int> untouched(P);  // not vector<bool>: written from several threads
    std::vector<svResult_t> after(P);
    std::vector<int> afterOk(P);
    std::vector<std::thread> ts;
    for (int r = 0; r < P; ++r)
      ts.emplace_back([&, r] {
        const size_t n = k.count[r];
        std::vector<uint64_t> send(n + 8), recv(n + 8);
        memset(recv.data(), kFill, recv.size() * 8);
        for (size_t i = 0; i < n; ++i) reinterpret_cast<float*>(send.data())[i] = input(r, i);
        if (k.packed[r])
          rc[r] = svAllReduceSignPacked(reinterpret_cast<uint32_t*>(send.data()),
                                        reinterpret_cast<uint32_t*>(recv.data()), n, c[r], nullptr);
        else
          rc[r] = svAllReduceSign(send.data(), recv.data(), n, k.dt[r], c[r], nullptr);
        err[r] = svGetLastError(c[r]);
        const unsigned char* p = reinterpret_cast<const unsigned char*>(recv.data());
        bool same = true;
        for (size_t i = 0; i < recv.size() * 8; ++i) same &= p[i] == kFill;
        untouched[r] = same;
        // The comm is not failed by a mismatch: a matched call works (the
        // tie policies differ in one case, which no tie at P=3 can show).
        std::vector<float> s2(777), r2(777);
        for (size_t i = 0; i < s2.size(); ++i) s2[i] = input(r, i);
        after[r] = svAllReduceSign(s2.data(), r2.data(), s2.size(), svFloat32, c[r], nullptr);
        bool ok = true;
        for (size_t i = 0; i < r2.size(); ++i) ok &= r2[i] == oracle(P, i);
        afterOk[r] = ok;
      });
    for (auto& t : ts) t.join();
    for (int r = 0; r < P; ++r) {
      INFO("rank " << r << ": " << err[r]);
      CHECK(rc[r] == svInvalidUsage);
      CHECK(ref::containsNoCase(err[r], std::string("disagree on the ") + k.field));
      CHECK(untouched[r]);
      if (std::string(k.name) != "tie policy") {
        CHECK(after[r] == svSuccess);
        CHECK(afterOk[r]);
      }
    }
    // Every rank names the same culprit(s) in the same words (after its
    // own entry point's name).
    auto tail = [](const std::string& e) { return e.substr(e.find("SV_CHECK")); };
    CHECK(tail(err[0]) == tail(err[1]));
    CHECK(tail(err[1]) == tail(err[2]));
    for (int r = 0; r < P; ++r) svCommDestroy(c[r]);
  }
}

TEST_CASE("SV_CHECK=1 gives the same results as SV_CHECK=0 on matched calls", "[faults]") {
  for (int check : {0, 1}) {
    const int P = 4;
    auto world = sv::makeLoopbackWorld(P);
    std::vector<svComm_t> c(P);
    svConfig_t cfg = configWith(30.0, check);
    for (int r = 0; r < P; ++r) REQUIRE(sv::commInitLoopback(world, r, &cfg, &c[r]) == svSuccess);
    std::vector<int> bad(P, 0);
    std::vector<std::thread> ts;
    for (int r = 0; r < P; ++r)
      ts.emplace_back([&, r] {
        for (size_t n : {size_t(1), size_t(100), size_t(70000), size_t(1) << 20}) {
          std::vector<float> s(n), o(n);
          for (size_t i = 0; i < n; ++i) s[i] = input(r, i);
          if (svAllReduceSign(s.data(), o.data(), n, svFloat32, c[r], nullptr) != svSuccess) { ++bad[r]; continue; }
          for (size_t i = 0; i < n; ++i)
            if (o[i] != oracle(P, i)) { ++bad[r]; break; }
        }
      });
    for (auto& t : ts) t.join();
    for (int r = 0; r < P; ++r) {
      INFO("check=" << check << " rank " << r);
      CHECK(bad[r] == 0);
      svCommDestroy(c[r]);
    }
  }
}

TEST_CASE("describeMismatch names the first differing field, the ranks, and how many others differ", "[faults]") {
  const int P = 4, F = sv::kSignatureFields;
  std::vector<uint64_t> sig(P * F, 7);
  char msg[512];
  sv::describeMismatch(sig.data(), P, msg, sizeof msg);
  CHECK(std::string(msg).empty());
  sig[2 * F + 10] = 8;  // rank 2's call number
  sv::describeMismatch(sig.data(), P, msg, sizeof msg);
  CHECK(std::string(msg) == "SV_CHECK: ranks disagree on the call number: rank 0 has 7, rank 2 has 8");
  sig[3 * F + 1] = 9;  // rank 3's count: reported first (earlier field)
  sv::describeMismatch(sig.data(), P, msg, sizeof msg);
  CHECK(std::string(msg) ==
        "SV_CHECK: ranks disagree on the count: rank 0 has 7, rank 3 has 9; 1 other field(s) differ too");
  // Tiny buffers truncate, never overflow.
  char tiny[8];
  sv::describeMismatch(sig.data(), P, tiny, sizeof tiny);
  CHECK(strlen(tiny) == 7);
}

TEST_CASE("SV_TIMEOUT and SV_CHECK: defaults, env, config field, bad values", "[faults][config]") {
  struct Env {
    const char* name;
    std::string saved;
    bool had;
    explicit Env(const char* n) : name(n), had(getenv(n) != nullptr) {
      if (had) saved = getenv(n);
      unsetenv(n);
    }
    ~Env() {
      if (had) setenv(name, saved.c_str(), 1);
      else unsetenv(name);
    }
  } e1("SV_TIMEOUT"), e2("SV_CHECK");
  char err[512];
  sv::Config cfg;
  REQUIRE(sv::resolveConfig(nullptr, &cfg, err, sizeof err) == svSuccess);
  CHECK(cfg.timeout == 300.0);
  CHECK(cfg.check == 0);
  setenv("SV_TIMEOUT", "2.5", 1);
  setenv("SV_CHECK", "1", 1);
  REQUIRE(sv::resolveConfig(nullptr, &cfg, err, sizeof err) == svSuccess);
  CHECK(cfg.timeout == 2.5);
  CHECK(cfg.check == 1);
  svConfig_t user = configWith(0.0, 0);  // fields beat the environment; 0 = forever
  REQUIRE(sv::resolveConfig(&user, &cfg, err, sizeof err) == svSuccess);
  CHECK(cfg.timeout == 0.0);
  CHECK(cfg.check == 0);
  for (const char* bad : {"-1", "abc", "inf", "nan", "1e999", ""}) {
    INFO("SV_TIMEOUT=" << bad);
    setenv("SV_TIMEOUT", bad, 1);
    CHECK(sv::resolveConfig(nullptr, &cfg, err, sizeof err) == svInvalidArgument);
    CHECK(ref::containsNoCase(err, "SV_TIMEOUT"));
  }
  unsetenv("SV_TIMEOUT");
  for (const char* bad : {"2", "-1", "yes", ""}) {
    INFO("SV_CHECK=" << bad);
    setenv("SV_CHECK", bad, 1);
    CHECK(sv::resolveConfig(nullptr, &cfg, err, sizeof err) == svInvalidArgument);
    CHECK(ref::containsNoCase(err, "SV_CHECK"));
  }
  unsetenv("SV_CHECK");
  user = configWith(-0.5);
  CHECK(sv::resolveConfig(&user, &cfg, err, sizeof err) == svInvalidArgument);
  user = configWith(1.0, 3);
  CHECK(sv::resolveConfig(&user, &cfg, err, sizeof err) == svInvalidArgument);
}

TEST_CASE("an environment value with control bytes gives a one-line error (fuzz_config regression)", "[faults][config]") {
  // tests/fuzz/corpus/config/regress-newline-in-env-value: SV_TIE set to
  // bytes with a newline made the reason two lines.
  const char* saved = getenv("SV_TIE");
  const std::string keep = saved ? saved : "";
  setenv("SV_TIE", "\xff" "ando\n\x93\xd8", 1);
  char err[512];
  sv::Config cfg;
  CHECK(sv::resolveConfig(nullptr, &cfg, err, sizeof err) == svInvalidArgument);
  CHECK(strchr(err, '\n') == nullptr);
  CHECK(std::string(err).find("SV_TIE=?ando???") == 0);
  // A long value is cut, and marked so.
  setenv("SV_TIE", std::string(300, 'x').c_str(), 1);
  CHECK(sv::resolveConfig(nullptr, &cfg, err, sizeof err) == svInvalidArgument);
  CHECK(std::string(err).find(std::string(64, 'x') + "...") != std::string::npos);
  if (saved) setenv("SV_TIE", keep.c_str(), 1);
  else unsetenv("SV_TIE");
}

TEST_CASE("every SV_* parameter quotes a bad environment value on one line (fuzz_config regression)", "[faults][config]") {
  // tests/fuzz/corpus/config/regress-mpi-cuda-aware-raw-value: SV_MPI_CUDA_AWARE
  // (added by the device path) printed the raw bytes, newline included.
  for (int i = 0; i < sv::kNumParams; ++i) {
    const char* name = sv::kParams[i].env;
    const char* saved = getenv(name);
    const std::string keep = saved ? saved : "";
    setenv(name, "\xff" "ando\n\x93\xd8", 1);
    char err[512];
    sv::Config cfg;
    INFO(name);
    CHECK(sv::resolveConfig(nullptr, &cfg, err, sizeof err) == svInvalidArgument);
    CHECK(strchr(err, '\n') == nullptr);
    CHECK(std::string(err).find(std::string(name) + "=?ando???") != std::string::npos);
    if (saved) setenv(name, keep.c_str(), 1);
    else unsetenv(name);
  }
}

// ---- One failure contract for every entry point that communicates ----------

namespace {

enum class Entry { kAllReduce, kPacked, kSignum, kEF };
const Entry kEntries[] = {Entry::kAllReduce, Entry::kPacked, Entry::kSignum, Entry::kEF};
const char* entryName(Entry e) {
  switch (e) {
    case Entry::kAllReduce: return "svAllReduceSign";
    case Entry::kPacked: return "svAllReduceSignPacked";
    case Entry::kSignum: return "svSignumStep";
    default: return "svEFSignStep";
  }
}

// One call of entry point e with rank r's inputs of count elements;
// *ready (if given) is set once the buffers are made, right before the call.
svResult_t callEntry(Entry e, svComm_t c, int r, size_t count, std::atomic<bool>* ready = nullptr) {
  std::vector<float> g(count), out(count), x(count, 0.5f), state(count, 0.f);
  for (size_t i = 0; i < count; ++i) g[i] = input(r, i);
  std::vector<uint32_t> bits((count + 31) / 32 + 1, 0), res(bits.size());
  for (size_t i = 0; i < count; ++i)
    if (g[i] < 0) bits[i / 32] |= 1u << (i % 32);
  if (ready != nullptr) *ready = true;
  switch (e) {
    case Entry::kAllReduce: return svAllReduceSign(g.data(), out.data(), count, svFloat32, c, nullptr);
    case Entry::kPacked: return svAllReduceSignPacked(bits.data(), res.data(), count, c, nullptr);
    case Entry::kSignum:
      return svSignumStep(x.data(), g.data(), state.data(), count, svFloat32, 0.01, 0.9, 0.0, c, nullptr);
    default: return svEFSignStep(x.data(), g.data(), state.data(), count, svFloat32, 0.01, 0.0, c, nullptr);
  }
}

std::string silentPhrase(int rank) { return "rank(s) " + std::to_string(rank) + " did not answer"; }

// Each rank r of c calls e once with counts[r] elements on its own thread
// (kSilent: it does not call); each rank's result and svGetLastError line.
constexpr size_t kSilent = SIZE_MAX;
struct Outcome {
  std::vector<svResult_t> rc;
  std::vector<std::string> err;
};
Outcome callOnEveryRank(Entry e, const std::vector<svComm_t>& c, const std::vector<size_t>& counts) {
  const int P = static_cast<int>(c.size());
  Outcome o{std::vector<svResult_t>(P, svSuccess), std::vector<std::string>(P)};
  std::vector<std::thread> ts;
  for (int r = 0; r < P; ++r) {
    if (counts[r] == kSilent) continue;
    ts.emplace_back([&, r] {
      o.rc[r] = callEntry(e, c[r], r, counts[r]);
      o.err[r] = svGetLastError(c[r]);
    });
  }
  for (auto& t : ts) t.join();
  return o;
}

}  // namespace

TEST_CASE("every entry point: a silent rank times out naming it at P = 2, 3, 6, 8, and the comm stays failed",
          "[faults][contract]") {
  // 100 elements: one small exchange (a log-round all-gather above 4 ranks,
  // or through shared memory); 200000: the pipelined all-to-all from 4 ranks on.
  for (Entry e : kEntries)
    for (int P : {2, 3, 6, 8})
      for (size_t count : {size_t(100), size_t(200000)})
        for (bool shared : {false, true}) {
        if (shared && count > 100) continue;
        INFO(entryName(e) << " P=" << P << " count=" << count << (shared ? " shared memory" : ""));
        auto world = sv::makeLoopbackWorld(P, shared);
        svConfig_t cfg = configWith(0.3);
        std::vector<svComm_t> c(P);
        for (int r = 0; r < P; ++r) REQUIRE(sv::commInitLoopback(world, r, &cfg, &c[r]) == svSuccess);
        const int silent = P / 2;  // never calls
        std::vector<svResult_t> rc(P, svSuccess), rc2(P, svSuccess);
        std::vector<std::string> err(P), err2(P);
        std::vector<std::thread> ts;
        for (int r = 0; r < P; ++r) {
          if (r == silent) continue;
          ts.emplace_back([&, r] {
            rc[r] = callEntry(e, c[r], r, count);
            err[r] = svGetLastError(c[r]);
            rc2[r] = callEntry(e, c[r], r, count);
            err2[r] = svGetLastError(c[r]);
          });
        }
        for (auto& t : ts) t.join();
        for (int r = 0; r < P; ++r) {
          if (r == silent) continue;
          INFO("rank " << r << ": " << err[r] << " | then: " << err2[r]);
          CHECK(rc[r] == svTimeout);
          CHECK(ref::containsNoCase(err[r], entryName(e)));
          CHECK(ref::containsNoCase(err[r], silentPhrase(silent)));
          for (int q = 0; q < P; ++q)  // no other rank is called silent
            if (q != silent && q != r) CHECK(!ref::containsNoCase(err[r], silentPhrase(q)));
          CHECK(rc2[r] == svTimeout);
          CHECK(ref::containsNoCase(err2[r], "failed in an earlier call"));
        }
        for (int r = 0; r < P; ++r) CHECK(svCommDestroy(c[r]) == svSuccess);
      }
}

TEST_CASE("every entry point: svCommAbort from another thread stops a call that would wait forever",
          "[faults][contract]") {
  for (Entry e : kEntries)
    for (size_t count : {size_t(100), size_t(3) << 20}) {
      INFO(entryName(e) << " count=" << count);
      auto world = sv::makeLoopbackWorld(2);
      svConfig_t cfg = configWith(0.0);  // wait forever
      svComm_t c0 = nullptr, c1 = nullptr;
      REQUIRE(sv::commInitLoopback(world, 0, &cfg, &c0) == svSuccess);
      REQUIRE(sv::commInitLoopback(world, 1, &cfg, &c1) == svSuccess);
      std::atomic<bool> inCall{false};
      svResult_t rc = svSuccess;
      std::string err;
      std::thread caller([&] {
        rc = callEntry(e, c0, 0, count, &inCall);  // rank 1 never calls
        err = svGetLastError(nullptr);
      });
      while (!inCall) std::this_thread::yield();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      CHECK(svCommAbort(c0) == svSuccess);
      caller.join();
      INFO(err);
      CHECK(rc == svRemoteError);
      CHECK(ref::containsNoCase(err, "svCommAbort"));
      CHECK(ref::containsNoCase(err, entryName(e)));
      CHECK(callEntry(e, c0, 0, count) == svInvalidUsage);  // retired handle
      CHECK(svCommDestroy(c1) == svSuccess);
    }
}

TEST_CASE("a rank's failure reaches its peers: they stop at once instead of waiting forever", "[faults][contract]") {
  // P=3, no timeout: rank 2 never calls, rank 0's call is aborted; rank 1,
  // which would wait forever, fails on rank 0's failure notice.
  for (Entry e : kEntries) {
    INFO(entryName(e));
    auto world = sv::makeLoopbackWorld(3);
    svConfig_t cfg = configWith(0.0);
    std::vector<svComm_t> c(3);
    for (int r = 0; r < 3; ++r) REQUIRE(sv::commInitLoopback(world, r, &cfg, &c[r]) == svSuccess);
    svResult_t rc0 = svSuccess, rc1 = svSuccess;
    std::string err1;
    std::atomic<bool> done1{false}, ready0{false}, ready1{false};
    std::thread t0([&] { rc0 = callEntry(e, c[0], 0, 5000, &ready0); });
    std::thread t1([&] {
      rc1 = callEntry(e, c[1], 1, 5000, &ready1);
      err1 = svGetLastError(c[1]);
      done1 = true;
    });
    while (!ready0 || !ready1) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(svCommAbort(c[0]) == svSuccess);
    t0.join();
    // A backstop so that a regression fails instead of hanging the suite.
    for (int i = 0; i < 1000 && !done1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const bool stopped = done1;
    if (!stopped) svCommAbort(c[1]);
    t1.join();
    INFO(err1);
    CHECK(stopped);
    CHECK(rc0 == svRemoteError);
    CHECK(rc1 == svRemoteError);
    CHECK(ref::containsNoCase(err1, "rank 0 failed its call"));
    CHECK(ref::containsNoCase(err1, "svCommAbort"));
    if (stopped) CHECK(svCommDestroy(c[1]) == svSuccess);
    CHECK(svCommDestroy(c[2]) == svSuccess);
  }
}

TEST_CASE("ranks that disagree on the count fail on every rank, saying so and pointing to SV_CHECK=1",
          "[faults][contract]") {
  struct Case {
    const char* name;
    std::vector<size_t> counts;  // per rank
    long long chunkBytes;        // 0: default
    bool shared = false;         // small all-gathers through shared memory
  };
  const Case cases[] = {
      {"P=2 1000 vs 3000 (the message sizes differ)", {1000, 3000}, 0},
      {"P=3 one rank larger", {1000, 1000, 3000}, 0},
      {"P=6 log-round all-gather", {64, 64, 64, 64, 64, 640}, 0},
      {"P=4 pipelined, by whole chunks", {8192 * 4, 8192 * 4, 8192 * 4, 8192 * 8}, 1024},
      {"P=2 two full chunks vs four", {8192 * 2, 8192 * 4}, 1024},
      {"P=2 shared memory, the block sizes differ", {1000, 3000}, 0, true},
      {"P=6 shared memory, one rank larger", {64, 64, 64, 64, 64, 640}, 0, true},
      // 2504 packed bytes per rank against 7504: one side of a slot each
      {"P=2 shared memory vs messages", {20000, 60000}, 0, true},
      {"P=5 shared memory vs messages", {20000, 20000, 60000, 20000, 20000}, 0, true},
  };
  for (const Case& k : cases) {
    for (Entry e : kEntries) {
      INFO(k.name << " " << entryName(e));
      const int P = static_cast<int>(k.counts.size());
      auto world = sv::makeLoopbackWorld(P, k.shared);
      svConfig_t cfg = configWith(0.5);
      if (k.chunkBytes) cfg.chunkBytes = k.chunkBytes;
      std::vector<svComm_t> c(P);
      for (int r = 0; r < P; ++r) REQUIRE(sv::commInitLoopback(world, r, &cfg, &c[r]) == svSuccess);
      const Outcome o = callOnEveryRank(e, c, k.counts);
      const std::vector<svResult_t>& rc = o.rc;
      const std::vector<std::string>& err = o.err;
      for (int r = 0; r < P; ++r) {
        INFO("rank " << r << ": " << err[r]);
        CHECK(rc[r] != svSuccess);
        CHECK(ref::containsNoCase(err[r], "disagree"));
        CHECK(ref::containsNoCase(err[r], "SV_CHECK=1"));
      }
      for (int r = 0; r < P; ++r) svCommDestroy(c[r]);
    }
  }
}

TEST_CASE("a send that fails after the receives were posted leaves nothing aimed at staging", "[faults][contract]") {
  for (Entry e : kEntries)
    for (int P : {2, 3, 6})
      for (size_t count : {size_t(100), size_t(200000), size_t(3) << 20})
        for (long okSends : {0L, 1L}) {
          if (P == 2 && okSends > 0) continue;  // one send per exchange: the first must fail
          INFO(entryName(e) << " P=" << P << " count=" << count << " sends before the failure: " << okSends);
          auto world = sv::makeLoopbackWorld(P);
          svConfig_t cfg = configWith(5.0);
          std::vector<svComm_t> c(P);
          for (int r = 0; r < P; ++r) REQUIRE(sv::commInitLoopback(world, r, &cfg, &c[r]) == svSuccess);
          sv::loopbackFailSends(world, 0, okSends);
          const Outcome o = callOnEveryRank(e, c, std::vector<size_t>(P, count));
          const std::vector<svResult_t>& rc = o.rc;
          const std::vector<std::string>& err = o.err;
          INFO("rank 0: " << err[0]);
          CHECK(rc[0] == svSystemError);
          CHECK(ref::containsNoCase(err[0], "injected"));
          CHECK(sv::loopbackPostedRecvs(world, 0) == 0);
          for (int r = 1; r < P; ++r) {
            INFO("rank " << r << ": " << err[r]);
            // Peers fail on rank 0's notice (or, where their exchange did
            // not need rank 0's sends, complete).
            if (rc[r] != svSuccess) CHECK(ref::containsNoCase(err[r], "rank 0 failed its call"));
            CHECK(sv::loopbackPostedRecvs(world, r) == 0);
          }
          CHECK(callEntry(e, c[0], 0, count) == svSystemError);  // failed: at once
          for (int r = 0; r < P; ++r) CHECK(svCommDestroy(c[r]) == svSuccess);
        }
}

TEST_CASE("svGetLastError, svCommGetAsyncError, the getters and the stats are safe against a concurrent destroy",
          "[faults][contract]") {
  for (int round = 0; round < 200; ++round) {
    auto world = sv::makeLoopbackWorld(1);
    svComm_t c = nullptr;
    svConfig_t cfg = configWith(1.0);
    REQUIRE(sv::commInitLoopback(world, 0, &cfg, &c) == svSuccess);
    float x = -1, y = 0;
    REQUIRE(svAllReduceSign(&x, &y, 1, svFloat32, nullptr, nullptr) == svInvalidArgument);  // an error line
    std::atomic<bool> go{false};
    std::atomic<int> bad{0};
    std::thread reader([&] {
      while (!go) std::this_thread::yield();
      for (int i = 0; i < 200; ++i) {
        const char* line = svGetLastError(c);
        if (line == nullptr || strlen(line) >= sv::kErrorLineMax) ++bad;
        svResult_t async = svSuccess;
        svCommStats_t st;
        int n = 0;
        for (svResult_t r : {svCommGetAsyncError(c, &async), svCommGetStats(c, &st), svCommCount(c, &n),
                             svCommUserRank(c, &n)})
          if (r != svSuccess && r != svInvalidUsage) ++bad;
      }
    });
    go = true;
    std::this_thread::sleep_for(std::chrono::microseconds(round * 5));
    CHECK(svCommDestroy(c) == svSuccess);
    reader.join();
    CHECK(bad == 0);
  }
}

// The failure contract holds for the hierarchical vote (SV_HIERARCHY=on on
// emulated nodes) as for the flat one: a failed send, a silent rank and
// ranks disagreeing on the count fail every rank that waits, name the
// cause, and leave nothing posted.
TEST_CASE("hierarchical vote: a failed send, a silent rank, a count mismatch", "[faults][contract][hierarchy]") {
  const std::vector<std::vector<int>> layouts = {{0, 0, 1, 1}, {0, 0, 1, 1, 2, 2}, {0, 1, 1, 1}};
  for (const std::vector<int>& labels : layouts) {
    const int P = static_cast<int>(labels.size());
    for (Entry e : kEntries) {
      for (size_t count : {size_t(5000), size_t(3) << 20}) {
        for (long okSends : {0L, 1L, 3L}) {
          INFO(entryName(e) << " P=" << P << " count=" << count << " sends before the failure: " << okSends);
          auto world = sv::makeLoopbackWorld(P);
          sv::loopbackSetNodes(world, labels);
          svConfig_t cfg = configWith(5.0);
          cfg.hierarchy = 1;
          std::vector<svComm_t> c(P);
          for (int r = 0; r < P; ++r) REQUIRE(sv::commInitLoopback(world, r, &cfg, &c[r]) == svSuccess);
          sv::loopbackFailSends(world, 1, okSends);
          const Outcome o = callOnEveryRank(e, c, std::vector<size_t>(P, count));
          const std::vector<svResult_t>& rc = o.rc;
          const std::vector<std::string>& err = o.err;
          INFO("rank 1: " << err[1]);
          CHECK(rc[1] == svSystemError);
          for (int r = 0; r < P; ++r) {
            INFO("rank " << r << ": " << err[r]);
            if (r != 1 && rc[r] != svSuccess) CHECK(ref::containsNoCase(err[r], "rank 1 failed its call"));
            CHECK(sv::loopbackPostedRecvs(world, r) == 0);
          }
          for (int r = 0; r < P; ++r) CHECK(svCommDestroy(c[r]) == svSuccess);
        }
      }
      {  // the last rank never calls: the others time out naming it
        INFO(entryName(e) << " P=" << P << " silent rank " << P - 1);
        auto world = sv::makeLoopbackWorld(P);
        sv::loopbackSetNodes(world, labels);
        svConfig_t cfg = configWith(0.3);
        cfg.hierarchy = 1;
        std::vector<svComm_t> c(P);
        for (int r = 0; r < P; ++r) REQUIRE(sv::commInitLoopback(world, r, &cfg, &c[r]) == svSuccess);
        std::vector<size_t> counts(P, 200000);
        counts[P - 1] = kSilent;
        const Outcome o = callOnEveryRank(e, c, counts);
        const std::vector<svResult_t>& rc = o.rc;
        const std::vector<std::string>& err = o.err;
        for (int r = 0; r + 1 < P; ++r) {
          INFO("rank " << r << ": " << err[r]);
          CHECK(rc[r] != svSuccess);
          // Whoever waits on the silent rank times out naming it; the rest
          // fail on a peer's notice.
          if (rc[r] == svTimeout) CHECK(ref::containsNoCase(err[r], "rank(s) " + std::to_string(P - 1)));
          else CHECK(ref::containsNoCase(err[r], "failed its call"));
        }
        for (int r = 0; r < P; ++r) CHECK(svCommDestroy(c[r]) == svSuccess);
      }
      {  // the last rank calls with a larger count
        INFO(entryName(e) << " P=" << P << " count mismatch");
        auto world = sv::makeLoopbackWorld(P);
        sv::loopbackSetNodes(world, labels);
        svConfig_t cfg = configWith(0.5);
        cfg.hierarchy = 1;
        std::vector<svComm_t> c(P);
        for (int r = 0; r < P; ++r) REQUIRE(sv::commInitLoopback(world, r, &cfg, &c[r]) == svSuccess);
        std::vector<size_t> counts(P, 100000);
        counts[P - 1] = 300000;
        const Outcome o = callOnEveryRank(e, c, counts);
        const std::vector<svResult_t>& rc = o.rc;
        const std::vector<std::string>& err = o.err;
        int sayDisagree = 0;
        for (int r = 0; r < P; ++r) {
          INFO("rank " << r << ": " << err[r]);
          CHECK(rc[r] != svSuccess);
          sayDisagree += ref::containsNoCase(err[r], "disagree");
        }
        CHECK(sayDisagree >= 1);
        for (int r = 0; r < P; ++r) svCommDestroy(c[r]);
      }
    }
  }
}
