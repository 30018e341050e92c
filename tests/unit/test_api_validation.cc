// SPDX-License-Identifier: MIT
// Argument checks of the public entry points on loopback communicators of 1
// and 2 ranks: the specific result code, a non-empty svGetLastError that
// names the problem, and an output buffer left byte-for-byte untouched.
#include <catch2/catch.hpp>

#include <stdint.h>
#include <string.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "transport/loopback.h"
#include "unit_reference.h"

namespace {

constexpr unsigned char kFill = 0xA5;

// Communicators of one world, created on this thread (init needs no
// communication). Destroyed at scope exit.
struct Comms {
  explicit Comms(int P, svConfig_t cfg = SV_CONFIG_INITIALIZER) : world(sv::makeLoopbackWorld(P)), c(P, nullptr) {
    for (int r = 0; r < P; ++r) REQUIRE(sv::commInitLoopback(world, r, &cfg, &c[r]) == svSuccess);
  }
  ~Comms() {
    for (svComm_t x : c)
      if (x != nullptr) svCommDestroy(x);
  }
  std::shared_ptr<sv::LoopbackWorld> world;
  std::vector<svComm_t> c;
};

// A byte buffer filled with kFill, with a check that nothing changed.
struct Canary {
  explicit Canary(size_t bytes) : store(bytes / 8 + 4) { memset(store.data(), kFill, store.size() * 8); }
  void* at(size_t byteOffset) { return reinterpret_cast<char*>(store.data()) + byteOffset; }
  bool untouched() const {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(store.data());
    for (size_t i = 0; i < store.size() * 8; ++i)
      if (p[i] != kFill) return false;
    return true;
  }
  std::vector<uint64_t> store;
};

// Runs fn(rank) on one thread per rank (for calls that communicate).
template <typename F>
void onEveryRank(int P, F fn) {
  std::vector<std::thread> ts;
  for (int r = 0; r < P; ++r) ts.emplace_back(fn, r);
  for (auto& t : ts) t.join();
}

#define CHECK_ERROR_MENTIONS(comm, word)                                \
  do {                                                                  \
    const std::string e_ = svGetLastError(comm);                        \
    INFO("svGetLastError: \"" << e_ << "\"");                          \
    CHECK_FALSE(e_.empty());                                            \
    CHECK(ref::containsNoCase(e_, word));                               \
  } while (0)

const svDataType_t kTypes[] = {svFloat16, svBfloat16, svFloat32, svFloat64};

}  // namespace

TEST_CASE("svGetErrorString names every result code and svGetVersion", "[api]") {
  std::set<std::string> names;
  for (int r = svSuccess; r < svNumResults; ++r) {
    const char* s = svGetErrorString(static_cast<svResult_t>(r));
    REQUIRE(s != nullptr);
    CHECK(std::string(s).size() > 0);
    names.insert(s);
  }
  CHECK(names.size() == static_cast<size_t>(svNumResults));  // all distinct
  CHECK(svGetErrorString(svNumResults) != nullptr);
  CHECK(svGetErrorString(static_cast<svResult_t>(1234)) != nullptr);
  CHECK(svGetErrorString(static_cast<svResult_t>(-1)) != nullptr);
  CHECK(ref::containsNoCase(svGetErrorString(svInvalidArgument), "argument"));
  CHECK(ref::containsNoCase(svGetErrorString(svInvalidUsage), "usage"));

  int v = -1;
  CHECK(svGetVersion(&v) == svSuccess);
  CHECK(v == SIGNVOTE_VERSION_CODE);
  CHECK(v == SIGNVOTE_VERSION_MAJOR * 10000 + SIGNVOTE_VERSION_MINOR * 100 + SIGNVOTE_VERSION_PATCH);
  CHECK(SIGNVOTE_VERSION(0, 1, 0) == 100);
  CHECK(svGetVersion(nullptr) == svInvalidArgument);
  CHECK_ERROR_MENTIONS(nullptr, "version");
}

TEST_CASE("svGetLastError is empty on a fresh communicator and never NULL", "[api]") {
  Comms a(1), b(1);
  REQUIRE(svGetLastError(a.c[0]) != nullptr);
  CHECK(std::string(svGetLastError(a.c[0])).empty());
  CHECK(svGetLastError(nullptr) != nullptr);
  // An error on one communicator is not another's.
  float x[4] = {1, 2, 3, 4};
  CHECK(svAllReduceSign(x, nullptr, 4, svFloat32, a.c[0], nullptr) == svInvalidArgument);
  CHECK_FALSE(std::string(svGetLastError(a.c[0])).empty());
  CHECK(std::string(svGetLastError(b.c[0])).empty());
}

TEST_CASE("NULL communicator is svInvalidArgument everywhere", "[api]") {
  float s[8] = {1}, r[8];
  memset(r, kFill, sizeof(r));
  uint32_t bits[2] = {0, 0};
  int i = 0;
  svCommStats_t st;
  CHECK(svAllReduceSign(s, r, 8, svFloat32, nullptr, nullptr) == svInvalidArgument);
  CHECK_ERROR_MENTIONS(nullptr, "comm");
  CHECK(svAllReduceSignPacked(bits, bits, 8, nullptr, nullptr) == svInvalidArgument);
  CHECK_ERROR_MENTIONS(nullptr, "comm");
  CHECK(svPackSigns(s, bits, 8, svFloat32, nullptr, nullptr) == svInvalidArgument);
  CHECK_ERROR_MENTIONS(nullptr, "comm");
  CHECK(svUnpackSigns(bits, r, 8, svFloat32, nullptr, nullptr) == svInvalidArgument);
  CHECK_ERROR_MENTIONS(nullptr, "comm");
  CHECK(svCommCount(nullptr, &i) == svInvalidArgument);
  CHECK(svCommUserRank(nullptr, &i) == svInvalidArgument);
  CHECK(svCommCuDevice(nullptr, &i) == svInvalidArgument);
  CHECK(svCommGetStats(nullptr, &st) == svInvalidArgument);
  CHECK(svCommDestroy(nullptr) == svInvalidArgument);
  CHECK(svCommAbort(nullptr) == svInvalidArgument);
  CHECK_ERROR_MENTIONS(nullptr, "comm");
  unsigned char fill[sizeof(r)];
  memset(fill, kFill, sizeof(fill));
  CHECK(memcmp(r, fill, sizeof(r)) == 0);
}

namespace {

// What one rank saw of a bad call.
struct Outcome {
  svResult_t rc = svInternalError;
  std::string err;
  bool untouched = false;
};

// Runs bad(comm, rank) on every rank of a fresh world of P ranks, one thread
// per rank, so that a missing check lets the call complete (and the test
// fail) instead of leaving one rank waiting for its peers.
template <typename F>
std::vector<Outcome> onEachRank(int P, const svConfig_t& cfg, F bad) {
  auto world = sv::makeLoopbackWorld(P);
  std::vector<Outcome> out(P);
  onEveryRank(P, [&](int r) {
    svComm_t c = nullptr;
    if (sv::commInitLoopback(world, r, &cfg, &c) != svSuccess) return;
    out[r] = bad(c, r);
    svCommDestroy(c);
  });
  return out;
}
template <typename F>
std::vector<Outcome> onEachRank(int P, F bad) {
  svConfig_t cfg = SV_CONFIG_INITIALIZER;
  return onEachRank(P, cfg, bad);
}

Outcome outcome(svResult_t rc, svComm_t c, bool untouched) {
  Outcome o;
  o.rc = rc;
  o.err = svGetLastError(c);
  o.untouched = untouched;
  return o;
}

#define CHECK_OUTCOMES(outs, code, word)                                     \
  do {                                                                       \
    for (size_t r_ = 0; r_ < (outs).size(); ++r_) {                          \
      INFO("rank " << r_ << " svGetLastError: \"" << (outs)[r_].err << "\""); \
      CHECK((outs)[r_].rc == (code));                                        \
      CHECK_FALSE((outs)[r_].err.empty());                                   \
      CHECK(ref::containsNoCase((outs)[r_].err, word));                      \
      CHECK((outs)[r_].untouched);                                           \
    }                                                                        \
  } while (0)

}  // namespace

TEST_CASE("NULL buffers with count > 0 are svInvalidArgument and untouched output", "[api]") {
  for (int P : {1, 2}) {
    for (svDataType_t dt : kTypes) {
      INFO("P=" << P << " " << ref::dtLabel(dt));
      auto a = onEachRank(P, [&](svComm_t c, int) {
        Canary recv(512);
        return outcome(svAllReduceSign(nullptr, recv.at(0), 10, dt, c, nullptr), c, recv.untouched());
      });
      CHECK_OUTCOMES(a, svInvalidArgument, "sendbuff");
      auto b = onEachRank(P, [&](svComm_t c, int) {
        Canary send(512);
        return outcome(svAllReduceSign(send.at(0), nullptr, 10, dt, c, nullptr), c, send.untouched());
      });
      CHECK_OUTCOMES(b, svInvalidArgument, "recvbuff");
      auto d = onEachRank(P, [&](svComm_t c, int) {
        Canary bits(512);
        return outcome(svPackSigns(nullptr, static_cast<uint32_t*>(bits.at(0)), 10, dt, c, nullptr), c,
                       bits.untouched());
      });
      CHECK_OUTCOMES(d, svInvalidArgument, "sendbuff");
      auto e = onEachRank(P, [&](svComm_t c, int) {
        Canary send(512);
        return outcome(svPackSigns(send.at(0), nullptr, 10, dt, c, nullptr), c, send.untouched());
      });
      CHECK_OUTCOMES(e, svInvalidArgument, "bits");
      auto f = onEachRank(P, [&](svComm_t c, int) {
        Canary recv(512);
        return outcome(svUnpackSigns(nullptr, recv.at(0), 10, dt, c, nullptr), c, recv.untouched());
      });
      CHECK_OUTCOMES(f, svInvalidArgument, "bits");
      auto g = onEachRank(P, [&](svComm_t c, int) {
        Canary bits(512);
        return outcome(svUnpackSigns(static_cast<uint32_t*>(bits.at(0)), nullptr, 10, dt, c, nullptr), c,
                       bits.untouched());
      });
      CHECK_OUTCOMES(g, svInvalidArgument, "recvbuff");
    }
    INFO("P=" << P << " packed");
    auto h = onEachRank(P, [&](svComm_t c, int) {
      Canary recv(64);
      return outcome(svAllReduceSignPacked(nullptr, static_cast<uint32_t*>(recv.at(0)), 100, c, nullptr), c,
                     recv.untouched());
    });
    CHECK_OUTCOMES(h, svInvalidArgument, "sendbits");
    auto k = onEachRank(P, [&](svComm_t c, int) {
      Canary send(64);
      return outcome(svAllReduceSignPacked(static_cast<uint32_t*>(send.at(0)), nullptr, 100, c, nullptr), c,
                     send.untouched());
    });
    CHECK_OUTCOMES(k, svInvalidArgument, "recvbits");
  }
}

TEST_CASE("NULL buffers with count 0 are allowed", "[api]") {
  for (int P : {1, 2}) {
    Comms w(P);
    INFO("P=" << P);
    std::vector<svResult_t> rc(static_cast<size_t>(P) * 16, svInternalError);
    onEveryRank(P, [&](int r) {
      svComm_t c = w.c[r];
      size_t k = static_cast<size_t>(r) * 16;
      for (svDataType_t dt : kTypes) {
        rc[k++] = svAllReduceSign(nullptr, nullptr, 0, dt, c, nullptr);
        rc[k++] = svPackSigns(nullptr, nullptr, 0, dt, c, nullptr);
        rc[k++] = svUnpackSigns(nullptr, nullptr, 0, dt, c, nullptr);
      }
      rc[k++] = svAllReduceSignPacked(nullptr, nullptr, 0, c, nullptr);
    });
    for (int r = 0; r < P; ++r)
      for (size_t k = 0; k < 13; ++k) {
        INFO("rank " << r << " call " << k);
        CHECK(rc[static_cast<size_t>(r) * 16 + k] == svSuccess);
      }
  }
}

TEST_CASE("unknown datatypes are svInvalidArgument", "[api]") {
  for (int P : {1, 2}) {
    for (int dtInt : {0, 1, 3, 5, 10, 11, -1, 1 << 20}) {
      const svDataType_t dt = static_cast<svDataType_t>(dtInt);
      INFO("P=" << P << " datatype " << dtInt);
      auto a = onEachRank(P, [&](svComm_t c, int) {
        Canary send(256), recv(256);
        return outcome(svAllReduceSign(send.at(0), recv.at(0), 4, dt, c, nullptr), c, recv.untouched());
      });
      CHECK_OUTCOMES(a, svInvalidArgument, "datatype");
      auto b = onEachRank(P, [&](svComm_t c, int) {
        Canary send(256), recv(256);
        return outcome(svPackSigns(send.at(0), static_cast<uint32_t*>(recv.at(0)), 4, dt, c, nullptr), c,
                       recv.untouched());
      });
      CHECK_OUTCOMES(b, svInvalidArgument, "datatype");
      auto d = onEachRank(P, [&](svComm_t c, int) {
        Canary send(256), recv(256);
        return outcome(svUnpackSigns(static_cast<uint32_t*>(send.at(0)), recv.at(0), 4, dt, c, nullptr), c,
                       recv.untouched());
      });
      CHECK_OUTCOMES(d, svInvalidArgument, "datatype");
    }
  }
}

TEST_CASE("misaligned buffers are svInvalidArgument", "[api]") {
  for (int P : {1, 2}) {
    for (svDataType_t dt : kTypes) {
      const size_t esz = ref::elemSize(dt);
      for (size_t mis = 1; mis < esz; ++mis) {
        INFO("P=" << P << " " << ref::dtLabel(dt) << " misaligned by " << mis);
        auto a = onEachRank(P, [&](svComm_t c, int) {
          Canary send(512), recv(512);
          return outcome(svAllReduceSign(send.at(mis), recv.at(0), 16, dt, c, nullptr), c,
                         recv.untouched() && send.untouched());
        });
        CHECK_OUTCOMES(a, svInvalidArgument, "align");
        auto b = onEachRank(P, [&](svComm_t c, int) {
          Canary send(512), recv(512);
          return outcome(svAllReduceSign(send.at(0), recv.at(mis), 16, dt, c, nullptr), c,
                         recv.untouched() && send.untouched());
        });
        CHECK_OUTCOMES(b, svInvalidArgument, "align");
        auto d = onEachRank(P, [&](svComm_t c, int) {  // in place
          Canary buf(512);
          return outcome(svAllReduceSign(buf.at(mis), buf.at(mis), 16, dt, c, nullptr), c, buf.untouched());
        });
        CHECK_OUTCOMES(d, svInvalidArgument, "align");
        auto e = onEachRank(P, [&](svComm_t c, int) {
          Canary send(512), bits(512);
          return outcome(svPackSigns(send.at(mis), static_cast<uint32_t*>(bits.at(0)), 16, dt, c, nullptr), c,
                         bits.untouched());
        });
        CHECK_OUTCOMES(e, svInvalidArgument, "align");
        auto g = onEachRank(P, [&](svComm_t c, int) {
          Canary bits(512), recv(512);
          return outcome(svUnpackSigns(static_cast<uint32_t*>(bits.at(0)), recv.at(mis), 16, dt, c, nullptr), c,
                         recv.untouched());
        });
        CHECK_OUTCOMES(g, svInvalidArgument, "align");
      }
    }
  }
}

TEST_CASE("partially overlapping send and recv buffers are svInvalidArgument", "[api]") {
  for (int P : {1, 2}) {
    for (svDataType_t dt : kTypes) {
      const size_t esz = ref::elemSize(dt), n = 33;
      for (long shift : {1L, -1L, 32L, -32L}) {
        INFO("P=" << P << " " << ref::dtLabel(dt) << " recv = send + " << shift << " elements");
        auto a = onEachRank(P, [&](svComm_t c, int) {
          Canary buf(2048);
          const size_t base = 64 * esz;
          void* s = buf.at(base);
          void* r = buf.at(static_cast<size_t>(static_cast<long>(base) + shift * static_cast<long>(esz)));
          return outcome(svAllReduceSign(s, r, n, dt, c, nullptr), c, buf.untouched());
        });
        CHECK_OUTCOMES(a, svInvalidArgument, "overlap");
      }
    }
    // Packed: overlapping 32-bit word ranges (100 bits: 4 words each).
    for (int shift : {1, -1, 3, -3}) {
      INFO("P=" << P << " packed, recvbits = sendbits + " << shift << " words");
      auto b = onEachRank(P, [&](svComm_t c, int) {
        Canary buf(256);
        uint32_t* s = static_cast<uint32_t*>(buf.at(64));
        return outcome(svAllReduceSignPacked(s, s + shift, 100, c, nullptr), c, buf.untouched());
      });
      CHECK_OUTCOMES(b, svInvalidArgument, "overlap");
    }
  }
}

TEST_CASE("adjacent non-overlapping buffers are fine", "[api]") {
  Comms w(1);
  svComm_t c = w.c[0];
  for (svDataType_t dt : kTypes) {
    const size_t esz = ref::elemSize(dt), n = 40;
    std::vector<uint64_t> store((2 * n * esz) / 8 + 2);
    char* s = reinterpret_cast<char*>(store.data());
    char* r = s + n * esz;  // recv starts right after send
    for (size_t i = 0; i < n; ++i) ref::storeElem(s, i, esz, ref::roundTo(dt, (i % 3 == 0) ? -1.5 : 2.0));
    INFO(ref::dtLabel(dt));
    REQUIRE(svAllReduceSign(s, r, n, dt, c, nullptr) == svSuccess);
    for (size_t i = 0; i < n; ++i) CHECK(ref::loadElem(r, i, esz) == ref::roundTo(dt, (i % 3 == 0) ? -1.0 : 1.0));
    // And recv right before send.
    REQUIRE(svAllReduceSign(r, s, n, dt, c, nullptr) == svSuccess);
    for (size_t i = 0; i < n; ++i) CHECK(ref::loadElem(s, i, esz) == ref::roundTo(dt, (i % 3 == 0) ? -1.0 : 1.0));
  }
  uint32_t words[8] = {0xffffffffu, 0x0u, 0x12345678u, 0xdeadbeefu, 0, 0, 0, 0};
  REQUIRE(svAllReduceSignPacked(words, words + 4, 128, c, nullptr) == svSuccess);
  CHECK(words[4] == 0xffffffffu);
  CHECK(words[5] == 0x0u);
  CHECK(words[6] == 0x12345678u);
  CHECK(words[7] == 0xdeadbeefu);
}

TEST_CASE("count overflow is svInvalidArgument", "[api]") {
  for (int P : {1, 2}) {
    for (svDataType_t dt : kTypes) {
      // Counts whose byte size does not fit in a size_t.
      for (size_t count : {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX / ref::elemSize(dt) + 1}) {
        INFO("P=" << P << " " << ref::dtLabel(dt) << " count " << count);
        auto a = onEachRank(P, [&](svComm_t c, int) {
          Canary send(256), recv(256);
          return outcome(svAllReduceSign(send.at(0), recv.at(0), count, dt, c, nullptr), c,
                         recv.untouched() && send.untouched());
        });
        CHECK_OUTCOMES(a, svInvalidArgument, "count");
        auto b = onEachRank(P, [&](svComm_t c, int) {
          Canary send(256), recv(256);
          return outcome(svPackSigns(send.at(0), static_cast<uint32_t*>(recv.at(0)), count, dt, c, nullptr), c,
                         recv.untouched());
        });
        CHECK_OUTCOMES(b, svInvalidArgument, "count");
        auto d = onEachRank(P, [&](svComm_t c, int) {
          Canary send(256), recv(256);
          return outcome(svUnpackSigns(static_cast<uint32_t*>(send.at(0)), recv.at(0), count, dt, c, nullptr), c,
                         recv.untouched());
        });
        CHECK_OUTCOMES(d, svInvalidArgument, "count");
      }
    }
    INFO("P=" << P << " packed");
    auto e = onEachRank(P, [&](svComm_t c, int) {
      Canary send(256), recv(256);
      return outcome(svAllReduceSignPacked(static_cast<uint32_t*>(send.at(0)), static_cast<uint32_t*>(recv.at(0)),
                                           SIZE_MAX, c, nullptr),
                     c, recv.untouched());
    });
    CHECK_OUTCOMES(e, svInvalidArgument, "count");
  }
}

TEST_CASE("a destroyed or aborted communicator is svInvalidUsage", "[api]") {
  auto world = sv::makeLoopbackWorld(1);
  for (int abort = 0; abort < 2; ++abort) {
    svComm_t c = nullptr;
    REQUIRE(sv::commInitLoopback(world, 0, nullptr, &c) == svSuccess);
    REQUIRE(c != nullptr);
    REQUIRE((abort ? svCommAbort(c) : svCommDestroy(c)) == svSuccess);
    INFO((abort ? "aborted" : "destroyed"));
    Canary send(256), recv(256);
    int i = 7;
    svCommStats_t st;
    memset(&st, kFill, sizeof(st));
    CHECK(svAllReduceSign(send.at(0), recv.at(0), 8, svFloat32, c, nullptr) == svInvalidUsage);
    CHECK_ERROR_MENTIONS(c, "communicator");
    CHECK(svAllReduceSignPacked(static_cast<uint32_t*>(send.at(0)), static_cast<uint32_t*>(recv.at(0)), 8, c,
                                nullptr) == svInvalidUsage);
    CHECK(svPackSigns(send.at(0), static_cast<uint32_t*>(recv.at(0)), 8, svFloat32, c, nullptr) == svInvalidUsage);
    CHECK(svUnpackSigns(static_cast<uint32_t*>(send.at(0)), recv.at(0), 8, svFloat32, c, nullptr) == svInvalidUsage);
    CHECK(svCommCount(c, &i) == svInvalidUsage);
    CHECK(svCommUserRank(c, &i) == svInvalidUsage);
    CHECK(svCommCuDevice(c, &i) == svInvalidUsage);
    CHECK(svCommGetStats(c, &st) == svInvalidUsage);
    CHECK(svCommDestroy(c) == svInvalidUsage);
    CHECK(svCommAbort(c) == svInvalidUsage);
    CHECK_ERROR_MENTIONS(c, "communicator");
    CHECK(i == 7);
    CHECK(recv.untouched());
  }
}

TEST_CASE("getters: values and NULL out-pointers", "[api]") {
  Comms w(2);
  for (int r = 0; r < 2; ++r) {
    svComm_t c = w.c[r];
    int n = -9, rank = -9, dev = -9;
    CHECK(svCommCount(c, &n) == svSuccess);
    CHECK(n == 2);
    CHECK(svCommUserRank(c, &rank) == svSuccess);
    CHECK(rank == r);
    CHECK(svCommCuDevice(c, &dev) == svSuccess);
    CHECK(dev == SV_DEVICE_HOST);
    svCommStats_t st;
    memset(&st, kFill, sizeof(st));
    CHECK(svCommGetStats(c, &st) == svSuccess);
    CHECK(st.calls == 0);
    CHECK(st.bytesSent == 0);
    CHECK(st.lastNanCount == 0);
    CHECK(st.totalNanCount == 0);
    CHECK(svCommCount(c, nullptr) == svInvalidArgument);
    CHECK_ERROR_MENTIONS(c, "count");
    CHECK(svCommUserRank(c, nullptr) == svInvalidArgument);
    CHECK_ERROR_MENTIONS(c, "rank");
    CHECK(svCommCuDevice(c, nullptr) == svInvalidArgument);
    CHECK_ERROR_MENTIONS(c, "device");
    CHECK(svCommGetStats(c, nullptr) == svInvalidArgument);
    CHECK_ERROR_MENTIONS(c, "stats");
  }
}

TEST_CASE("svAllReduceSignPacked refuses SV_TIE_ZERO with an even rank count and SV_ZERO_ABSTAIN", "[api]") {
  {
    svConfig_t cfg = SV_CONFIG_INITIALIZER;
    cfg.tiePolicy = SV_TIE_ZERO;
    for (int P : {2, 4}) {
      INFO("P=" << P << " SV_TIE_ZERO");
      auto a = onEachRank(P, cfg, [&](svComm_t c, int) {
        Canary send(64), recv(64);
        return outcome(svAllReduceSignPacked(static_cast<uint32_t*>(send.at(0)), static_cast<uint32_t*>(recv.at(0)),
                                             64, c, nullptr),
                       c, recv.untouched());
      });
      CHECK_OUTCOMES(a, svInvalidUsage, "SV_TIE_ZERO");
    }
    // With an odd rank count no tie can happen: allowed.
    Comms w1(1, cfg);
    uint32_t in[2] = {0xf0f0f0f0u, 0x0000ffffu}, out[2] = {0, 0};
    CHECK(svAllReduceSignPacked(in, out, 48, w1.c[0], nullptr) == svSuccess);
    CHECK(out[0] == 0xf0f0f0f0u);
    CHECK(out[1] == 0x0000ffffu);
  }
  {
    svConfig_t cfg = SV_CONFIG_INITIALIZER;
    cfg.zeroPolicy = SV_ZERO_ABSTAIN;
    for (int P : {1, 2, 3}) {
      INFO("P=" << P << " SV_ZERO_ABSTAIN");
      auto a = onEachRank(P, cfg, [&](svComm_t c, int) {
        Canary send(64), recv(64);
        return outcome(svAllReduceSignPacked(static_cast<uint32_t*>(send.at(0)), static_cast<uint32_t*>(recv.at(0)),
                                             64, c, nullptr),
                       c, recv.untouched());
      });
      CHECK_OUTCOMES(a, svInvalidUsage, "SV_ZERO_ABSTAIN");
    }
  }
}

TEST_CASE("svPackSigns with SV_NAN_ERROR and a NaN fails and leaves bits untouched", "[api]") {
  svConfig_t cfg = SV_CONFIG_INITIALIZER;
  cfg.nanPolicy = SV_NAN_ERROR;
  Comms w(1, cfg);
  for (svDataType_t dt : kTypes) {
    const size_t esz = ref::elemSize(dt), n = 100;
    std::vector<uint64_t> store(n * esz / 8 + 1);
    for (size_t i = 0; i < n; ++i) ref::storeElem(store.data(), i, esz, ref::roundTo(dt, 1.0));
    ref::storeElem(store.data(), 77, esz, ref::infBits(ref::formatOf(dt)) | 1);  // a signalling NaN
    Canary bits(64);
    INFO(ref::dtLabel(dt));
    CHECK(svPackSigns(store.data(), static_cast<uint32_t*>(bits.at(0)), n, dt, w.c[0], nullptr) == svInvalidArgument);
    CHECK_ERROR_MENTIONS(w.c[0], "NaN");
    CHECK(bits.untouched());
    svCommStats_t st;
    REQUIRE(svCommGetStats(w.c[0], &st) == svSuccess);
    CHECK(st.lastNanCount == 1);
    // Without the NaN the same call works.
    ref::storeElem(store.data(), 77, esz, ref::roundTo(dt, -1.0));
    uint32_t out[5] = {0, 0, 0, 0, 0x77777777u};
    CHECK(svPackSigns(store.data(), out, n, dt, w.c[0], nullptr) == svSuccess);
    CHECK(out[0] == 0xffffffffu);
    CHECK(out[1] == 0xffffffffu);
    CHECK(out[2] == (0xffffffffu & ~(1u << (77 - 64))));
    CHECK(out[3] == 0xfu);  // 100 - 96 = 4 bits, the rest 0
    CHECK(out[4] == 0x77777777u);
  }
}
