// SPDX-License-Identifier: MIT
// The device engine on the emulated runtime (ctest -L device-emulated): the
// real src/device/ engine and NCCL transport, compiled against the emulated
// CUDA runtime and NCCL of tests/emu, driven by thread-ranks of one process.
// Every rank checks each call three ways: (1) its output equals the host
// engine's (a loopback communicator with the same config, same input) bit
// for bit, (2) every element equals the integer vote computed here from all
// ranks' inputs (unit_reference.h; ties per policy), (3) all ranks hold the
// same output. Bytes past recvbuff stay untouched. This checks the
// orchestration of the device engine (plan, staging, streams, events,
// capture, NCCL calls, kernel launches over their per-lane bodies); it says
// nothing about a GPU's speed or its memory model.
#include <catch2/catch.hpp>

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cuda/device_kernels.h"
#include "emu_runtime.h"
#include "kernels/cuda/kernel_bodies.h"
#include "signvote.h"
#include "signvote_nccl.h"
#include "transport/loopback.h"
#include "unit_reference.h"

namespace {

const svDataType_t kTypes[] = {svFloat32, svFloat16, svBfloat16, svFloat64};

// Failures found on rank threads; Catch2 asserts on the main thread only.
class Failures {
 public:
  void add(int rank, const std::string& what) {
    std::lock_guard<std::mutex> lock(m_);
    if (list_.size() < 20) list_.push_back("rank " + std::to_string(rank) + ": " + what);
    ++count_;
  }
  void check() {
    for (const std::string& s : list_) UNSCOPED_INFO(s);
    CHECK(count_ == 0);
  }

 private:
  std::mutex m_;
  std::vector<std::string> list_;
  size_t count_ = 0;
};

#define RANK_CHECK(cond, ...)                              \
  do {                                                     \
    if (!(cond)) {                                         \
      char buf_[512];                                      \
      snprintf(buf_, sizeof buf_, __VA_ARGS__);            \
      ctx.fail->add(ctx.rank, std::string(#cond ": ") + buf_); \
    }                                                      \
  } while (0)

// What a rank thread works with.
struct RankCtx {
  int rank = 0, P = 1;
  svComm_t dev = nullptr, host = nullptr;
  cudaStream_t stream = nullptr;
  Failures* fail = nullptr;
  std::vector<uint64_t>* hashes = nullptr;  // one per checked call, compared across ranks after
  std::shared_ptr<sv::LoopbackWorld> devWorld;  // the device communicators' transport, when over a host one
};

struct Policy {
  int tie, zero, algo;
};

svConfig_t makeConfig(const Policy& p, int device, int nan) {
  svConfig_t c = SV_CONFIG_INITIALIZER;
  c.tiePolicy = p.tie;
  c.zeroPolicy = p.zero;
  c.nanPolicy = nan;
  c.algorithm = p.algo;
  c.seed = 4242;
  c.device = device;
  return c;
}

// How the device communicators of runRanks move their bytes: the emulated
// NCCL, or the host exchange (src/device/host_exchange.h) on a loopback
// transport, through host staging or with device pointers (as MPI does).
enum class DevVia { kNccl, kHostStaged, kHostDevicePointers };

// P thread-ranks, each with a device communicator (rank r on device r) and
// a host one (loopback) of the same config; body(ctx) runs on each.
// Returns after every rank is done and both communicators are destroyed.
void runRanks(int P, const svConfig_t& devCfg, const svConfig_t& hostCfg, Failures* fail,
              const std::function<void(RankCtx&)>& body, std::vector<std::vector<uint64_t>>* hashes = nullptr,
              DevVia via = DevVia::kNccl) {
  svUniqueId id;
  REQUIRE(svGetUniqueId(&id) == svSuccess);
  auto world = sv::makeLoopbackWorld(P);
  auto devWorld = sv::makeLoopbackWorld(P);
  if (hashes) hashes->assign(P, {});
  std::vector<std::thread> ts;
  for (int r = 0; r < P; ++r)
    ts.emplace_back([&, r] {
      RankCtx ctx;
      ctx.rank = r;
      ctx.P = P;
      ctx.fail = fail;
      ctx.hashes = hashes ? &(*hashes)[r] : nullptr;
      svConfig_t dc = devCfg, hc = hostCfg;
      RANK_CHECK(cudaSetDevice(r) == cudaSuccess, "cudaSetDevice");  // one device a rank, as NCCL requires
      RANK_CHECK(cudaStreamCreateWithFlags(&ctx.stream, cudaStreamNonBlocking) == cudaSuccess, "stream");
      svResult_t rd;
      if (via == DevVia::kNccl) {
        rd = svCommInitRankConfig(&ctx.dev, P, id, r, &dc);
      } else {
        dc.device = r;
        dc.mpiCudaAware = via == DevVia::kHostDevicePointers ? 1 : 0;
        rd = sv::commInitLoopback(devWorld, r, &dc, &ctx.dev);
        ctx.devWorld = devWorld;
      }
      const svResult_t rh = sv::commInitLoopback(world, r, &hc, &ctx.host);
      RANK_CHECK(rd == svSuccess && rh == svSuccess, "init: %s", svGetLastError(nullptr));
      if (rd == svSuccess && rh == svSuccess) body(ctx);
      if (ctx.dev) RANK_CHECK(svCommDestroy(ctx.dev) == svSuccess, "destroy device comm");
      if (ctx.host) RANK_CHECK(svCommDestroy(ctx.host) == svSuccess, "destroy host comm");
      if (ctx.stream) cudaStreamDestroy(ctx.stream);
    });
  for (auto& t : ts) t.join();
  if (hashes)
    for (int r = 1; r < P; ++r) {
      INFO("rank " << r << " against rank 0");
      CHECK((*hashes)[r] == (*hashes)[0]);
    }
}

uint64_t hashBytes(const void* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(p)[i]) * 1099511628211ull;
  return h;
}

// Rank r's input for one call: random elements, lopsided by rank parity so
// strict majorities and ties both occur, zeros and (optionally) NaNs.
std::vector<unsigned char> makeInput(svDataType_t dt, size_t n, uint64_t seed, int r, bool nans) {
  const ref::Format f = ref::formatOf(dt);
  const size_t esz = ref::elemSize(dt);
  ref::Rng rng(seed * 1000003 + r);
  std::vector<unsigned char> buf(n * esz);
  for (size_t i = 0; i < n; ++i) {
    uint64_t v = ref::randomElement(rng, f, nans, 2, 12);
    if (ref::classify(v, f) != ref::Cls::Zero && ref::classify(v, f) != ref::Cls::NaN && rng.percent(30)) {
      const bool neg = (i + r) & 1;  // parity-lopsided signs
      v = neg ? (v | ref::signMask(f)) : (v & ~ref::signMask(f));
    }
    ref::storeElem(buf.data(), i, esz, v);
  }
  return buf;
}

// One svAllReduceSign on both communicators; the three checks.
void checkAllReduce(RankCtx& ctx, const Policy& pol, svDataType_t dt, size_t n, bool inPlace, uint64_t seed) {
  const size_t esz = ref::elemSize(dt), bytes = n * esz;
  const ref::Format f = ref::formatOf(dt);
  std::vector<std::vector<unsigned char>> all(ctx.P);
  for (int r = 0; r < ctx.P; ++r) all[r] = makeInput(dt, n, seed, r, true);
  const std::vector<unsigned char>& in = all[ctx.rank];
  std::vector<unsigned char> hostOut(bytes + 1);
  if (inPlace) memcpy(hostOut.data(), in.data(), bytes);
  RANK_CHECK(svAllReduceSign(inPlace ? hostOut.data() : in.data(), hostOut.data(), n, dt, ctx.host, nullptr) ==
                 svSuccess, "host call: %s", svGetLastError(ctx.host));
  void *ds = nullptr, *dr = nullptr;
  cudaMalloc(&ds, bytes + 64);
  cudaMalloc(&dr, bytes + 64);
  cudaMemset(dr, 0xA5, bytes + 64);
  cudaMemcpy(inPlace ? dr : ds, in.data(), bytes, cudaMemcpyHostToDevice);
  const svResult_t rc = svAllReduceSign(inPlace ? dr : ds, dr, n, dt, ctx.dev, ctx.stream);
  RANK_CHECK(rc == svSuccess, "device call: %s", svGetLastError(ctx.dev));
  RANK_CHECK(cudaStreamSynchronize(ctx.stream) == cudaSuccess, "sync");
  std::vector<unsigned char> out(bytes + 64);
  cudaMemcpy(out.data(), dr, bytes + 64, cudaMemcpyDeviceToHost);
  cudaFree(ds);
  cudaFree(dr);
  bool guard = true;
  for (size_t k = bytes; k < bytes + 64; ++k) guard &= out[k] == 0xA5;
  char what[160];
  snprintf(what, sizeof what, "tie %d zero %d algo %d %s n=%zu %s", pol.tie, pol.zero, pol.algo, ref::dtLabel(dt), n,
           inPlace ? "in place" : "out of place");
  RANK_CHECK(guard, "%s: bytes past recvbuff written", what);
  RANK_CHECK(memcmp(out.data(), hostOut.data(), bytes) == 0, "%s: device output differs from the host engine's", what);
  // The independent vote.
  const uint64_t plus = ref::roundTo(dt, 1.0), minus = plus | ref::signMask(f);
  size_t bad = 0, firstBad = 0;
  for (size_t i = 0; i < n; ++i) {
    int pos = 0, neg = 0;
    for (int r = 0; r < ctx.P; ++r) {
      const int v = ref::voteOf(ref::classify(ref::loadElem(all[r].data(), i, esz), f), pol.zero);
      pos += v > 0;
      neg += v < 0;
    }
    const uint64_t got = ref::loadElem(out.data(), i, esz);
    bool ok;
    if (pos != neg) ok = got == (pos > neg ? plus : minus);
    else if (pol.tie == SV_TIE_POSITIVE) ok = got == plus;
    else if (pol.tie == SV_TIE_ZERO) ok = got == 0;
    else ok = got == plus || got == minus;
    if (!ok && bad++ == 0) firstBad = i;
  }
  RANK_CHECK(bad == 0, "%s: %zu element(s) differ from the integer vote, first at %zu", what, bad, firstBad);
  if (ctx.hashes) ctx.hashes->push_back(hashBytes(out.data(), bytes));
}

// svAllReduceSignPacked (where the policy allows one bit), svPackSigns and
// svUnpackSigns against the host communicator.
void checkPackedCalls(RankCtx& ctx, const Policy& pol, size_t nbits, uint64_t seed) {
  const size_t n32 = (nbits + 31) / 32;
  ref::Rng rng(seed + 77 * ctx.rank);
  std::vector<uint32_t> bits(n32);
  for (auto& w : bits) w = static_cast<uint32_t>(rng.next());
  uint32_t *d = nullptr, *dOut = nullptr;
  cudaMalloc(reinterpret_cast<void**>(&d), (n32 + 1) * 4);
  cudaMalloc(reinterpret_cast<void**>(&dOut), (n32 + 1) * 4);
  const bool packedOk = pol.zero == SV_ZERO_POSITIVE && !(pol.tie == SV_TIE_ZERO && ctx.P % 2 == 0);
  if (packedOk) {
    std::vector<uint32_t> want(n32), got(n32 + 1);
    RANK_CHECK(svAllReduceSignPacked(bits.data(), want.data(), nbits, ctx.host, nullptr) == svSuccess, "host packed");
    cudaMemcpy(d, bits.data(), n32 * 4, cudaMemcpyHostToDevice);
    cudaMemset(dOut, 0xef, (n32 + 1) * 4);
    RANK_CHECK(svAllReduceSignPacked(d, dOut, nbits, ctx.dev, ctx.stream) == svSuccess, "device packed: %s",
               svGetLastError(ctx.dev));
    cudaStreamSynchronize(ctx.stream);
    cudaMemcpy(got.data(), dOut, (n32 + 1) * 4, cudaMemcpyDeviceToHost);
    RANK_CHECK(memcmp(got.data(), want.data(), n32 * 4) == 0, "packed: device differs from host (%zu bits)", nbits);
    RANK_CHECK(got[n32] == 0xefefefefu, "packed: the word past the output was written");
    if (ctx.hashes) ctx.hashes->push_back(hashBytes(got.data(), n32 * 4));
  }
  const std::vector<unsigned char> x = makeInput(svFloat32, nbits, seed, ctx.rank, false);
  std::vector<uint32_t> hb(n32), db(n32);
  RANK_CHECK(svPackSigns(x.data(), hb.data(), nbits, svFloat32, ctx.host, nullptr) == svSuccess, "host pack");
  void* dx = nullptr;
  cudaMalloc(&dx, nbits * 4);
  cudaMemcpy(dx, x.data(), nbits * 4, cudaMemcpyHostToDevice);
  RANK_CHECK(svPackSigns(dx, d, nbits, svFloat32, ctx.dev, ctx.stream) == svSuccess, "device pack: %s",
             svGetLastError(ctx.dev));
  cudaStreamSynchronize(ctx.stream);
  cudaMemcpy(db.data(), d, n32 * 4, cudaMemcpyDeviceToHost);
  RANK_CHECK(hb == db, "svPackSigns: device differs from host (%zu elements)", nbits);
  std::vector<unsigned char> hu(nbits * 4), du(nbits * 4);
  RANK_CHECK(svUnpackSigns(hb.data(), hu.data(), nbits, svFloat32, ctx.host, nullptr) == svSuccess, "host unpack");
  RANK_CHECK(svUnpackSigns(d, dx, nbits, svFloat32, ctx.dev, ctx.stream) == svSuccess, "device unpack: %s",
             svGetLastError(ctx.dev));
  cudaStreamSynchronize(ctx.stream);
  cudaMemcpy(du.data(), dx, nbits * 4, cudaMemcpyDeviceToHost);
  RANK_CHECK(hu == du, "svUnpackSigns: device differs from host (%zu elements)", nbits);
  cudaFree(dx);
  cudaFree(d);
  cudaFree(dOut);
}

// Sizes: empty, one, word edges, tails, past one pack grid (65536 fp32
// elements with 2 emulated SMs) and, for fp32, past one vote grid (4096
// words).
const size_t kSizes[] = {0, 1, 31, 64, 65, 1000, 4097, 70001};
constexpr size_t kPastVoteGrid = 270001;

void engineCase(int P, int algo, DevVia via = DevVia::kNccl) {
  const Policy policies[] = {
      {SV_TIE_POSITIVE, SV_ZERO_POSITIVE, algo}, {SV_TIE_ZERO, SV_ZERO_POSITIVE, algo},
      {SV_TIE_RANDOM, SV_ZERO_POSITIVE, algo},   {SV_TIE_POSITIVE, SV_ZERO_ABSTAIN, algo},
      {SV_TIE_ZERO, SV_ZERO_ABSTAIN, algo},      {SV_TIE_RANDOM, SV_ZERO_ABSTAIN, algo},
  };
  for (const Policy& pol : policies) {
    INFO("tie " << pol.tie << " zero " << pol.zero << " algorithm " << algo);
    Failures fail;
    std::vector<std::vector<uint64_t>> hashes;
    runRanks(P, makeConfig(pol, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO), makeConfig(pol, SV_DEVICE_HOST, SV_NAN_AS_ZERO), &fail,
             [&](RankCtx& ctx) {
               uint64_t seed = 1;
               // The same call sequence on both communicators: their call
               // counters (the random-tie input) stay equal.
               for (svDataType_t dt : kTypes)
                 for (size_t n : kSizes)
                   for (int inPlace = 0; inPlace < 2; ++inPlace) checkAllReduce(ctx, pol, dt, n, inPlace, ++seed);
               checkAllReduce(ctx, pol, svFloat32, kPastVoteGrid, false, ++seed);
               for (size_t nb : {1ul, 33ul, 64ul, 1000ul, 70001ul}) checkPackedCalls(ctx, pol, nb, ++seed);
             },
             &hashes, via);
    fail.check();
  }
}

}  // namespace

#define SV_ENGINE_CASES(P)                                                                                    \
  TEST_CASE("device engine (emulated) equals the host engine: P=" #P " alltoall", "[device-emulated][engine]") { \
    engineCase(P, SV_ALGO_ALLTOALL);                                                                          \
  }                                                                                                           \
  TEST_CASE("device engine (emulated) equals the host engine: P=" #P " allgather",                            \
            "[device-emulated][engine]") {                                                                    \
    engineCase(P, SV_ALGO_ALLGATHER);                                                                         \
  }                                                                                                           \
  TEST_CASE("device engine (emulated) equals the host engine: P=" #P " auto", "[device-emulated][engine]") {   \
    engineCase(P, SV_ALGO_AUTO);                                                                              \
  }
SV_ENGINE_CASES(1)
SV_ENGINE_CASES(2)
SV_ENGINE_CASES(3)
SV_ENGINE_CASES(4)
SV_ENGINE_CASES(5)
SV_ENGINE_CASES(6)
SV_ENGINE_CASES(7)
SV_ENGINE_CASES(8)

// The same engine with its exchanges on a host transport (as MPI device
// communicators run): both algorithms, every policy.
#define SV_HOST_EXCHANGE_CASES(P)                                                                                \
  TEST_CASE("device engine over a host transport (emulated) equals the host engine: P=" #P " host staging",      \
            "[device-emulated][engine][host-exchange]") {                                                        \
    engineCase(P, SV_ALGO_ALLTOALL, DevVia::kHostStaged);                                                        \
    engineCase(P, SV_ALGO_ALLGATHER, DevVia::kHostStaged);                                                       \
  }                                                                                                              \
  TEST_CASE("device engine over a host transport (emulated) equals the host engine: P=" #P " device pointers",   \
            "[device-emulated][engine][host-exchange]") {                                                        \
    engineCase(P, SV_ALGO_ALLTOALL, DevVia::kHostDevicePointers);                                                \
    engineCase(P, SV_ALGO_ALLGATHER, DevVia::kHostDevicePointers);                                               \
  }
SV_HOST_EXCHANGE_CASES(1)
SV_HOST_EXCHANGE_CASES(2)
SV_HOST_EXCHANGE_CASES(3)
SV_HOST_EXCHANGE_CASES(5)
SV_HOST_EXCHANGE_CASES(8)

// ---- Beyond the vote: errors, graphs, streams, wrapping ----------------------
namespace {

const Policy kDefault = {SV_TIE_POSITIVE, SV_ZERO_POSITIVE, SV_ALGO_AUTO};

std::vector<float> hostFloats(size_t n, uint64_t seed, int rank) {
  const std::vector<unsigned char> b = makeInput(svFloat32, n, seed, rank, false);
  std::vector<float> f(n);
  memcpy(f.data(), b.data(), n * 4);
  return f;
}

}  // namespace

TEST_CASE("device engine (emulated): SV_NAN_ERROR leaves recvbuff untouched on every rank and reports once",
          "[device-emulated][nan]") {
  for (int P : {1, 3, 4}) {
    INFO("P=" << P);
    Failures fail;
    runRanks(P, makeConfig(kDefault, SV_CONFIG_UNDEF_INT, SV_NAN_ERROR), makeConfig(kDefault, SV_DEVICE_HOST, SV_NAN_ERROR),
             &fail, [&](RankCtx& ctx) {
               const size_t n = 5000;
               std::vector<float> in = hostFloats(n, 99, ctx.rank);
               if (ctx.rank == ctx.P - 1) in[n / 2] = NAN;
               float *ds = nullptr, *dr = nullptr;
               cudaMalloc(reinterpret_cast<void**>(&ds), n * 4);
               cudaMalloc(reinterpret_cast<void**>(&dr), n * 4);
               cudaMemcpy(ds, in.data(), n * 4, cudaMemcpyHostToDevice);
               cudaMemset(dr, 0x5a, n * 4);
               svResult_t async = svInternalError;
               RANK_CHECK(svCommGetAsyncError(ctx.dev, &async) == svSuccess && async == svSuccess, "before: %d", async);
               RANK_CHECK(svAllReduceSign(ds, dr, n, svFloat32, ctx.dev, ctx.stream) == svSuccess, "enqueue: %s",
                          svGetLastError(ctx.dev));
               cudaStreamSynchronize(ctx.stream);
               svCommGetAsyncError(ctx.dev, &async);
               RANK_CHECK(async == svInvalidArgument, "async error %d, expected svInvalidArgument", async);
               RANK_CHECK(strstr(svGetLastError(ctx.dev), "NaN") != nullptr, "message: %s", svGetLastError(ctx.dev));
               std::vector<unsigned char> out(n * 4);
               cudaMemcpy(out.data(), dr, n * 4, cudaMemcpyDeviceToHost);
               bool untouched = true;
               for (unsigned char b : out) untouched &= b == 0x5a;
               RANK_CHECK(untouched, "recvbuff written under SV_NAN_ERROR");
               svCommGetAsyncError(ctx.dev, &async);
               RANK_CHECK(async == svSuccess, "the NaN error was reported twice");
               // The host engine fails the same call synchronously.
               std::vector<float> hout(n, 7.0f);
               RANK_CHECK(svAllReduceSign(in.data(), hout.data(), n, svFloat32, ctx.host, nullptr) == svInvalidArgument,
                          "host engine accepted NaNs under SV_NAN_ERROR");
               // A clean call afterwards works.
               if (ctx.rank == ctx.P - 1) in[n / 2] = 1.0f;
               cudaMemcpy(ds, in.data(), n * 4, cudaMemcpyHostToDevice);
               RANK_CHECK(svAllReduceSign(ds, dr, n, svFloat32, ctx.dev, ctx.stream) == svSuccess, "clean call");
               cudaStreamSynchronize(ctx.stream);
               svCommGetAsyncError(ctx.dev, &async);
               RANK_CHECK(async == svSuccess, "async error %d after a clean call", async);
               RANK_CHECK(svAllReduceSign(in.data(), hout.data(), n, svFloat32, ctx.host, nullptr) == svSuccess, "host");
               std::vector<float> got(n);
               cudaMemcpy(got.data(), dr, n * 4, cudaMemcpyDeviceToHost);
               RANK_CHECK(got == hout, "clean call after a NaN failure differs from the host engine");
               cudaFree(ds);
               cudaFree(dr);
             });
    fail.check();
  }
}

TEST_CASE("device engine (emulated): bad input gets its code and message, nothing written", "[device-emulated][api]") {
  Failures fail;
  runRanks(2, makeConfig({SV_TIE_ZERO, SV_ZERO_POSITIVE, SV_ALGO_AUTO}, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO),
           makeConfig(kDefault, SV_DEVICE_HOST, SV_NAN_AS_ZERO), &fail, [&](RankCtx& ctx) {
             const size_t n = 100;
             std::vector<float> hs(n, 1.0f), hr(n, 7.0f);
             float* d = nullptr;
             cudaMalloc(reinterpret_cast<void**>(&d), 2 * n * 4 + 16);
             cudaMemset(d, 0x33, 2 * n * 4 + 16);
             auto check = [&](svResult_t got, svResult_t want, const char* needle, const char* what) {
               RANK_CHECK(got == want, "%s: result %d, expected %d", what, got, want);
               const char* msg = svGetLastError(ctx.dev);
               RANK_CHECK(strstr(msg, needle) != nullptr, "%s: message \"%s\" lacks \"%s\"", what, msg, needle);
               RANK_CHECK(strchr(msg, '\n') == nullptr, "%s: message is not one line", what);
             };
             check(svAllReduceSign(hs.data(), hr.data(), n, svFloat32, ctx.dev, ctx.stream), svInvalidArgument,
                   "host memory", "host buffers");
             check(svAllReduceSign(d, hr.data(), n, svFloat32, ctx.dev, ctx.stream), svInvalidArgument, "recvbuff",
                   "host recvbuff");
             check(svAllReduceSign(nullptr, d, n, svFloat32, ctx.dev, ctx.stream), svInvalidArgument, "NULL",
                   "NULL sendbuff");
             check(svAllReduceSign(d, d, n, static_cast<svDataType_t>(42), ctx.dev, ctx.stream), svInvalidArgument,
                   "datatype", "bad datatype");
             check(svAllReduceSign(reinterpret_cast<char*>(d) + 2, d + n, n, svFloat32, ctx.dev, ctx.stream),
                   svInvalidArgument, "aligned", "misaligned fp32");
             check(svAllReduceSign(d, d + 1, n, svFloat32, ctx.dev, ctx.stream), svInvalidArgument, "overlap",
                   "overlapping buffers");
             check(svAllReduceSignPacked(reinterpret_cast<uint32_t*>(d), reinterpret_cast<uint32_t*>(d) + 8, 64,
                                         ctx.dev, ctx.stream),
                   svInvalidUsage, "SV_TIE_ZERO", "packed call with SV_TIE_ZERO at even P");
             cudaStreamSynchronize(ctx.stream);
             bool untouchedHost = true;
             for (float v : hr) untouchedHost &= v == 7.0f;
             RANK_CHECK(untouchedHost, "host recvbuff written by a refused call");
             std::vector<unsigned char> back(2 * n * 4 + 16);
             cudaMemcpy(back.data(), d, back.size(), cudaMemcpyDeviceToHost);
             bool untouchedDev = true;
             for (unsigned char b : back) untouchedDev &= b == 0x33;
             RANK_CHECK(untouchedDev, "device buffer written by a refused call");
             // The communicator still works after refused calls.
             cudaMemcpy(d, hs.data(), n * 4, cudaMemcpyHostToDevice);
             RANK_CHECK(svAllReduceSign(d, d + n, n, svFloat32, ctx.dev, ctx.stream) == svSuccess, "valid call: %s",
                        svGetLastError(ctx.dev));
             RANK_CHECK(cudaStreamSynchronize(ctx.stream) == cudaSuccess, "sync");
             cudaFree(d);
           });
  fail.check();
}

TEST_CASE("device engine (emulated): a captured call replays equal to eager calls; growth under capture is refused",
          "[device-emulated][graph]") {
  for (int P : {2, 3}) {
    INFO("P=" << P);
    Failures fail;
    runRanks(P, makeConfig(kDefault, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO), makeConfig(kDefault, SV_DEVICE_HOST, SV_NAN_AS_ZERO),
             &fail, [&](RankCtx& ctx) {
               const size_t n = 100000;
               std::vector<float> in = hostFloats(n, 4242, ctx.rank), want(n), got(n);
               float *ds = nullptr, *dr = nullptr, *big = nullptr;
               cudaMalloc(reinterpret_cast<void**>(&ds), n * 4);
               cudaMalloc(reinterpret_cast<void**>(&dr), n * 4);
               cudaMalloc(reinterpret_cast<void**>(&big), 8 * n * 4);
               cudaMemcpy(ds, in.data(), n * 4, cudaMemcpyHostToDevice);
               // Warm-up outside capture: staging grows here.
               RANK_CHECK(svAllReduceSign(ds, dr, n, svFloat32, ctx.dev, ctx.stream) == svSuccess, "warm-up");
               cudaStreamSynchronize(ctx.stream);
               RANK_CHECK(svAllReduceSign(in.data(), want.data(), n, svFloat32, ctx.host, nullptr) == svSuccess, "host");
               cudaGraph_t graph = nullptr;
               cudaGraphExec_t exec = nullptr;
               // Thread-local mode: the ranks are threads of one process, and
               // in global mode a peer thread's cudaMalloc or synchronisation
               // during this capture would invalidate it (CUDA's rule, which
               // the emulation follows). Unsafe calls from this thread, the
               // engine's included, still invalidate it.
               RANK_CHECK(cudaStreamBeginCapture(ctx.stream, cudaStreamCaptureModeThreadLocal) == cudaSuccess, "begin");
               const svResult_t rc = svAllReduceSign(ds, dr, n, svFloat32, ctx.dev, ctx.stream);
               // A call that needs more staging than the capture's: refused
               // before anything is enqueued, and the capture stays valid.
               const svResult_t grow = svAllReduceSign(big, big, 8 * n, svFloat32, ctx.dev, ctx.stream);
               const cudaError_t end = cudaStreamEndCapture(ctx.stream, &graph);
               RANK_CHECK(rc == svSuccess, "call under capture: %s", svGetLastError(ctx.dev));
               RANK_CHECK(grow == svInvalidUsage, "growth under capture: %d", grow);
               RANK_CHECK(end == cudaSuccess, "capture invalidated: %s", cudaGetErrorName(end));
               if (end != cudaSuccess) return;
               cudaGraphInstantiate(&exec, graph, 0);
               for (int rep = 0; rep < 3; ++rep) {
                 cudaMemsetAsync(dr, 0, n * 4, ctx.stream);
                 RANK_CHECK(cudaGraphLaunch(exec, ctx.stream) == cudaSuccess, "launch");
                 // Eager calls between replays keep the communicator's order.
                 if (rep == 1) RANK_CHECK(svAllReduceSign(ds, big, n, svFloat32, ctx.dev, ctx.stream) == svSuccess, "eager");
                 cudaStreamSynchronize(ctx.stream);
                 cudaMemcpy(got.data(), dr, n * 4, cudaMemcpyDeviceToHost);
                 RANK_CHECK(got == want, "replay %d differs from the host engine", rep);
               }
               cudaMemcpy(got.data(), big, n * 4, cudaMemcpyDeviceToHost);
               RANK_CHECK(got == want, "eager call between replays differs from the host engine");
               // After a capture staging is frozen: an eager call needing more
               // is refused (the graph replays the current buffers), and the
               // graph still replays correctly.
               const svResult_t bigger = svAllReduceSign(big, big, 8 * n, svFloat32, ctx.dev, ctx.stream);
               RANK_CHECK(bigger == svInvalidUsage, "growth after a capture: %d", bigger);
               RANK_CHECK(strstr(svGetLastError(ctx.dev), "captured") != nullptr, "message: %s",
                          svGetLastError(ctx.dev));
               cudaMemsetAsync(dr, 0, n * 4, ctx.stream);
               cudaGraphLaunch(exec, ctx.stream);
               RANK_CHECK(cudaStreamSynchronize(ctx.stream) == cudaSuccess, "replay after the refused call");
               cudaMemcpy(got.data(), dr, n * 4, cudaMemcpyDeviceToHost);
               RANK_CHECK(got == want, "replay after the refused call differs from the host engine");
               cudaGraphExecDestroy(exec);
               cudaGraphDestroy(graph);
               cudaFree(ds);
               cudaFree(dr);
               cudaFree(big);
             });
    fail.check();
  }
}

TEST_CASE("device engine (emulated): calls on two streams and the legacy stream stay in order",
          "[device-emulated][streams]") {
  Failures fail;
  runRanks(4, makeConfig(kDefault, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO), makeConfig(kDefault, SV_DEVICE_HOST, SV_NAN_AS_ZERO),
           &fail, [&](RankCtx& ctx) {
             const size_t n = 20000;
             cudaStream_t other = nullptr;
             cudaStreamCreateWithFlags(&other, cudaStreamNonBlocking);
             const cudaStream_t streams[] = {ctx.stream, other, nullptr};
             float* d = nullptr;
             cudaMalloc(reinterpret_cast<void**>(&d), 2 * n * 4 * 6);
             std::vector<std::vector<float>> want;
             for (int k = 0; k < 6; ++k) {
               std::vector<float> in = hostFloats(n, 500 + k, ctx.rank), w(n);
               cudaMemcpy(d + 2 * n * k, in.data(), n * 4, cudaMemcpyHostToDevice);
               RANK_CHECK(svAllReduceSign(in.data(), w.data(), n, svFloat32, ctx.host, nullptr) == svSuccess, "host");
               want.push_back(w);
             }
             // Back to back on alternating streams, no synchronisation between.
             for (int k = 0; k < 6; ++k)
               RANK_CHECK(svAllReduceSign(d + 2 * n * k, d + 2 * n * k + n, n, svFloat32, ctx.dev, streams[k % 3]) ==
                              svSuccess, "call %d: %s", k, svGetLastError(ctx.dev));
             for (cudaStream_t s : streams) cudaStreamSynchronize(s);
             for (int k = 0; k < 6; ++k) {
               std::vector<float> got(n);
               cudaMemcpy(got.data(), d + 2 * n * k + n, n * 4, cudaMemcpyDeviceToHost);
               RANK_CHECK(got == want[k], "call %d differs from the host engine", k);
             }
             svCommStats_t st;
             RANK_CHECK(svCommGetStats(ctx.dev, &st) == svSuccess && st.calls == 6, "stats count %llu calls",
                        st.calls);
             RANK_CHECK(st.bytesSent > 0, "no bytes counted");
             cudaFree(d);
             cudaStreamDestroy(other);
           });
  fail.check();
}

// The caller's NCCL call, waited out on a non-blocking communicator.
ncclResult_t settle(ncclComm_t nc, ncclResult_t r) {
  while (r == ncclInProgress)
    if (ncclCommGetAsyncError(nc, &r) != ncclSuccess) return ncclInternalError;
  return r;
}

TEST_CASE("device engine (emulated): svCommInitFromNccl wraps a caller's NCCL communicator and leaves it usable",
          "[device-emulated][nccl]") {
  for (int blocking : {1, 0}) {
    INFO((blocking ? "blocking" : "non-blocking") << " NCCL communicator");
    const int P = 3;
    ncclUniqueId id;
    REQUIRE(ncclGetUniqueId(&id) == ncclSuccess);
    Failures fail;
    std::vector<std::thread> ts;
    for (int r = 0; r < P; ++r)
      ts.emplace_back([&, r] {
        RankCtx ctx;
        ctx.rank = r;
        ctx.P = P;
        ctx.fail = &fail;
        cudaSetDevice(r);
        ncclComm_t nc = nullptr;
        ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
        config.blocking = blocking;
        RANK_CHECK(settle(nc, ncclCommInitRankConfig(&nc, P, id, r, &config)) == ncclSuccess, "ncclCommInitRankConfig");
        cudaStream_t s = nullptr;
        cudaStreamCreate(&s);
        for (int round = 0; round < 2; ++round) {  // wrap, destroy, wrap again
          svConfig_t cfg = makeConfig(kDefault, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO);
          svComm_t c = nullptr;
          RANK_CHECK(svCommInitFromNccl(&c, nc, &cfg) == svSuccess, "wrap: %s", svGetLastError(nullptr));
          int dev = -1;
          svCommCuDevice(c, &dev);
          RANK_CHECK(dev == r, "svCommCuDevice %d", dev);
          float* d = nullptr;
          cudaMalloc(reinterpret_cast<void**>(&d), 2 * 64 * 4);
          std::vector<float> x(64, r == 0 ? -1.0f : 1.0f), got(64);
          cudaMemcpy(d, x.data(), 64 * 4, cudaMemcpyHostToDevice);
          RANK_CHECK(svAllReduceSign(d, d + 64, 64, svFloat32, c, s) == svSuccess, "call: %s", svGetLastError(c));
          cudaStreamSynchronize(s);
          cudaMemcpy(got.data(), d + 64, 64 * 4, cudaMemcpyDeviceToHost);
          RANK_CHECK(got == std::vector<float>(64, 1.0f), "two of three ranks say +1");
          cudaFree(d);
          RANK_CHECK(svCommDestroy(c) == svSuccess, "destroy");
        }
        // The caller's communicator still moves bytes.
        int* buf = nullptr;
        cudaMalloc(reinterpret_cast<void**>(&buf), P * sizeof(int));
        cudaMemcpy(buf + r, &r, sizeof(int), cudaMemcpyHostToDevice);
        RANK_CHECK(settle(nc, ncclAllGather(buf + r, buf, 1, ncclInt32, nc, s)) == ncclSuccess,
                   "ncclAllGather after unwrap");
        cudaStreamSynchronize(s);
        std::vector<int> all(P);
        cudaMemcpy(all.data(), buf, P * sizeof(int), cudaMemcpyDeviceToHost);
        for (int q = 0; q < P; ++q) RANK_CHECK(all[q] == q, "gathered %d at %d", all[q], q);
        cudaFree(buf);
        ncclCommDestroy(nc);
        cudaStreamDestroy(s);
      });
    for (auto& t : ts) t.join();
    fail.check();
  }
}

// The communicators signvote makes are non-blocking: a call whose NCCL
// operation stays in progress (a peer that never connects) is polled, not
// blocked in NCCL, so svCommAbort from another thread aborts it safely: the
// call returns an error naming the abort, and nothing is left running.
TEST_CASE("device engine (emulated): svCommAbort from another thread ends a call waiting on a non-blocking NCCL "
          "communicator",
          "[device-emulated][faults]") {
  Failures fail;
  std::atomic<int> arrived{0};
  std::atomic<bool> held{false};
  runRanks(2, makeConfig(kDefault, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO),
           makeConfig(kDefault, SV_DEVICE_HOST, SV_NAN_AS_ZERO), &fail, [&](RankCtx& ctx) {
             // Every rank's init has settled before NCCL is held in progress.
             if (++arrived == ctx.P) {
               svemu::ncclHoldInProgress(true);
               held = true;
             }
             while (!held) std::this_thread::yield();
             const size_t n = 1000;
             float* d = nullptr;
             cudaMalloc(reinterpret_cast<void**>(&d), 2 * n * 4);
             cudaMemset(d, 0, 2 * n * 4);
             svComm_t comm = ctx.dev;
             std::thread aborter([comm] {
               std::this_thread::sleep_for(std::chrono::milliseconds(200));
               svCommAbort(comm);
             });
             const auto t0 = std::chrono::steady_clock::now();
             const svResult_t rc = svAllReduceSign(d, d + n, n, svFloat32, comm, ctx.stream);
             const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
             aborter.join();
             ctx.dev = nullptr;  // aborted and freed
             RANK_CHECK(rc != svSuccess, "a call on an aborted communicator succeeded");
             RANK_CHECK(strstr(svGetLastError(nullptr), "abort") != nullptr, "message: %s", svGetLastError(nullptr));
             RANK_CHECK(s < 30, "the call took %.1f s to return after svCommAbort", s);
             RANK_CHECK(cudaStreamSynchronize(ctx.stream) == cudaSuccess, "stream after abort");
             cudaFree(d);
           });
  svemu::ncclHoldInProgress(false);
  fail.check();
}

// SV_NCCL_GROUP_CHECK=1 (ctest device_emulated_nccl_group_check sets it;
// hidden otherwise): a call inside the caller's ncclGroupStart/End is
// refused with svInvalidUsage, nothing enqueued and the communicator still
// usable; the caller's group depth is as it was; calls outside a group, and
// svGroupStart/End groups, work.
TEST_CASE("device engine (emulated): SV_NCCL_GROUP_CHECK refuses a call inside the caller's NCCL group",
          "[.][device-emulated-group-check]") {
  REQUIRE(getenv("SV_NCCL_GROUP_CHECK") != nullptr);
  Failures fail;
  std::vector<std::vector<uint64_t>> hashes;
  runRanks(2, makeConfig(kDefault, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO),
           makeConfig(kDefault, SV_DEVICE_HOST, SV_NAN_AS_ZERO), &fail, [&](RankCtx& ctx) {
             const size_t n = 1000;
             std::vector<float> in = hostFloats(n, 77, ctx.rank), want(n), got(n);
             float* d = nullptr;
             cudaMalloc(reinterpret_cast<void**>(&d), 2 * n * 4);
             cudaMemcpy(d, in.data(), n * 4, cudaMemcpyHostToDevice);
             cudaMemset(d + n, 0x5a, n * 4);
             RANK_CHECK(ncclGroupStart() == ncclSuccess, "ncclGroupStart");
             const svResult_t rc = svAllReduceSign(d, d + n, n, svFloat32, ctx.dev, ctx.stream);
             RANK_CHECK(rc == svInvalidUsage, "a call inside an NCCL group returned %d", rc);
             RANK_CHECK(strstr(svGetLastError(ctx.dev), "ncclGroupStart") != nullptr, "message: %s",
                        svGetLastError(ctx.dev));
             // The caller's group is still open: its ncclGroupEnd closes it.
             RANK_CHECK(ncclGroupEnd() == ncclSuccess, "the caller's ncclGroupEnd");
             RANK_CHECK(ncclGroupEnd() == ncclInvalidUsage, "a group left open");
             cudaStreamSynchronize(ctx.stream);
             std::vector<unsigned char> untouched(n * 4);
             cudaMemcpy(untouched.data(), d + n, n * 4, cudaMemcpyDeviceToHost);
             bool same = true;
             for (unsigned char b : untouched) same &= b == 0x5a;
             RANK_CHECK(same, "the refused call wrote its recvbuff");
             // Outside a group, and in an svGroupStart/End group: as usual.
             RANK_CHECK(svAllReduceSign(in.data(), want.data(), n, svFloat32, ctx.host, nullptr) == svSuccess, "host");
             RANK_CHECK(svAllReduceSign(d, d + n, n, svFloat32, ctx.dev, ctx.stream) == svSuccess, "call: %s",
                        svGetLastError(ctx.dev));
             cudaStreamSynchronize(ctx.stream);
             cudaMemcpy(got.data(), d + n, n * 4, cudaMemcpyDeviceToHost);
             RANK_CHECK(got == want, "the call after a refused one differs from the host engine");
             svGroupStart();
             svAllReduceSign(in.data(), want.data(), n, svFloat32, ctx.host, nullptr);
             svGroupEnd();
             svGroupStart();
             svAllReduceSign(d, d + n, n, svFloat32, ctx.dev, ctx.stream);
             RANK_CHECK(svGroupEnd() == svSuccess, "svGroupEnd: %s", svGetLastError(ctx.dev));
             cudaStreamSynchronize(ctx.stream);
             cudaMemcpy(got.data(), d + n, n * 4, cudaMemcpyDeviceToHost);
             RANK_CHECK(got == want, "an svGroupStart/End group under the check differs from the host's");
             cudaFree(d);
           });
  fail.check();
}

// Hidden ([.]): each faults the emulated context for good, so ctest runs
// them in processes of their own.
TEST_CASE("emulated runtime: a misaligned 16-byte vector access faults the context", "[.][device-emulated-fault]") {
  cudaSetDevice(0);
  cudaStream_t s = nullptr;
  REQUIRE(cudaStreamCreate(&s) == cudaSuccess);
  char* d = nullptr;
  REQUIRE(cudaMalloc(reinterpret_cast<void**>(&d), 256) == cudaSuccess);
  // An emulated kernel body's vector load at an address off by 4.
  REQUIRE(svemu::enqueue(s, [d] {
            unsigned char v[16];
            sv::kern::load16(d + 4, v);
          }) == cudaSuccess);
  CHECK(cudaStreamSynchronize(s) == cudaErrorMisalignedAddress);
  CHECK(cudaMalloc(reinterpret_cast<void**>(&d), 256) == cudaErrorMisalignedAddress);  // sticky
}

TEST_CASE("emulated runtime: a kernel handed host memory faults the context with an illegal address",
          "[.][device-emulated-fault]") {
  cudaSetDevice(0);
  cudaStream_t s = nullptr;
  REQUIRE(cudaStreamCreate(&s) == cudaSuccess);
  std::vector<float> host(1000, 1.0f);
  uint64_t* bits = nullptr;
  REQUIRE(cudaMalloc(reinterpret_cast<void**>(&bits), 16 * 8) == cudaSuccess);
  // Enqueued; the launcher's cudaGetLastError may already see the fault if
  // the stream ran the kernel at once (a GPU's asynchronous fault can surface
  // there too), so either answer is right here.
  const cudaError_t launched = sv::device::pack(host.data(), host.size(), svFloat32, 1, bits, nullptr, s);
  CHECK((launched == cudaSuccess || launched == cudaErrorIllegalAddress));
  CHECK(cudaStreamSynchronize(s) == cudaErrorIllegalAddress);
  CHECK(cudaGetLastError() == cudaErrorIllegalAddress);
}

TEST_CASE("device engine (emulated): an NCCL failure fails the communicator; svCommAbort frees a peer stuck on it",
          "[device-emulated][faults]") {
  for (int algo : {SV_ALGO_ALLGATHER, SV_ALGO_ALLTOALL}) {
    INFO("algorithm " << algo);
    Failures fail;
    runRanks(3, makeConfig({SV_TIE_POSITIVE, SV_ZERO_POSITIVE, algo}, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO),
             makeConfig(kDefault, SV_DEVICE_HOST, SV_NAN_AS_ZERO), &fail, [&](RankCtx& ctx) {
               const size_t n = 1000;
               float* d = nullptr;
               cudaMalloc(reinterpret_cast<void**>(&d), 2 * n * 4);
               cudaMemset(d, 0x44, 2 * n * 4);
               if (ctx.rank == 0) svemu::ncclFailNextCalls(1);
               const svResult_t rc = svAllReduceSign(d, d + n, n, svFloat32, ctx.dev, ctx.stream);
               if (ctx.rank == 0) {
                 RANK_CHECK(rc == svSystemError, "the failed NCCL call returned %d", rc);
                 RANK_CHECK(strstr(svGetLastError(ctx.dev), "injected") != nullptr, "message: %s",
                            svGetLastError(ctx.dev));
                 const svResult_t again = svAllReduceSign(d, d + n, n, svFloat32, ctx.dev, ctx.stream);
                 RANK_CHECK(again == svSystemError, "a failed communicator accepted a call (%d)", again);
                 RANK_CHECK(strstr(svGetLastError(ctx.dev), "fail") != nullptr, "message: %s", svGetLastError(ctx.dev));
               } else {
                 // The peers' calls were enqueued; their exchange waits for rank 0.
                 RANK_CHECK(rc == svSuccess, "peer call: %s", svGetLastError(ctx.dev));
                 RANK_CHECK(cudaStreamQuery(ctx.stream) == cudaErrorNotReady, "a peer's exchange completed alone");
               }
               // Every rank aborts: the stuck exchanges give up, and teardown
               // waits for nothing.
               RANK_CHECK(svCommAbort(ctx.dev) == svSuccess, "abort");
               ctx.dev = nullptr;
               RANK_CHECK(cudaStreamSynchronize(ctx.stream) == cudaSuccess, "stream after abort");
               // The failed call wrote nothing. (A peer's aborted call leaves
               // its recvbuff undefined, as an aborted NCCL call does: the
               // kernels after the exchange still run.)
               if (ctx.rank == 0) {
                 std::vector<unsigned char> out(n * 4);
                 cudaMemcpy(out.data(), d + n, n * 4, cudaMemcpyDeviceToHost);
                 bool untouched = true;
                 for (unsigned char b : out) untouched &= b == 0x44;
                 RANK_CHECK(untouched, "recvbuff written by a failed call");
               }
               cudaFree(d);
             });
    fail.check();
  }
}

TEST_CASE("device engine (emulated): SV_CHECK on an NCCL communicator is refused at init",
          "[device-emulated][api]") {
  svUniqueId id;
  REQUIRE(svGetUniqueId(&id) == svSuccess);
  svConfig_t cfg = makeConfig(kDefault, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO);
  cfg.check = 1;
  svComm_t c = nullptr;
  CHECK(svCommInitRankConfig(&c, 1, id, 0, &cfg) == svInvalidUsage);
  CHECK(c == nullptr);
  CHECK(std::string(svGetLastError(nullptr)).find("SV_CHECK") != std::string::npos);
}

TEST_CASE("device engine (emulated): graph replays draw the random ties of their own call and count as calls",
          "[device-emulated][graph]") {
  const Policy randomTies = {SV_TIE_RANDOM, SV_ZERO_POSITIVE, SV_ALGO_AUTO};
  for (int P : {2, 4}) {
    INFO("P=" << P);
    Failures fail;
    runRanks(P, makeConfig(randomTies, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO),
             makeConfig(randomTies, SV_DEVICE_HOST, SV_NAN_AS_ZERO), &fail, [&](RankCtx& ctx) {
               const size_t n = 5000;
               const int kReplays = 3;
               std::vector<float> in = hostFloats(n, 31337, ctx.rank);
               // The host engine's calls 0..kReplays on the same input.
               std::vector<std::vector<float>> want(kReplays + 1, std::vector<float>(n));
               for (auto& w : want)
                 RANK_CHECK(svAllReduceSign(in.data(), w.data(), n, svFloat32, ctx.host, nullptr) == svSuccess, "host");
               RANK_CHECK(want[1] != want[2], "calls 1 and 2 break ties alike: the test could not tell replays apart");
               float *ds = nullptr, *dr = nullptr;
               cudaMalloc(reinterpret_cast<void**>(&ds), n * 4);
               cudaMalloc(reinterpret_cast<void**>(&dr), n * 4);
               cudaMemcpy(ds, in.data(), n * 4, cudaMemcpyHostToDevice);
               RANK_CHECK(svAllReduceSign(ds, dr, n, svFloat32, ctx.dev, ctx.stream) == svSuccess, "call 0");
               cudaStreamSynchronize(ctx.stream);
               std::vector<float> got(n);
               cudaMemcpy(got.data(), dr, n * 4, cudaMemcpyDeviceToHost);
               RANK_CHECK(got == want[0], "eager call 0 differs from the host engine");
               cudaGraph_t graph = nullptr;
               cudaGraphExec_t exec = nullptr;
               cudaStreamBeginCapture(ctx.stream, cudaStreamCaptureModeThreadLocal);
               RANK_CHECK(svAllReduceSign(ds, dr, n, svFloat32, ctx.dev, ctx.stream) == svSuccess, "capture");
               RANK_CHECK(cudaStreamEndCapture(ctx.stream, &graph) == cudaSuccess, "end capture");
               if (graph == nullptr) return;
               cudaGraphInstantiate(&exec, graph, 0);
               for (int rep = 1; rep <= kReplays; ++rep) {
                 cudaGraphLaunch(exec, ctx.stream);
                 cudaStreamSynchronize(ctx.stream);
                 cudaMemcpy(got.data(), dr, n * 4, cudaMemcpyDeviceToHost);
                 RANK_CHECK(got == want[rep], "replay %d differs from the host engine's call %d", rep, rep);
               }
               svCommStats_t st;
               svCommGetStats(ctx.dev, &st);
               RANK_CHECK(st.calls == 1 + kReplays, "stats count %llu calls, expected %d", st.calls, 1 + kReplays);
               cudaGraphExecDestroy(exec);
               cudaGraphDestroy(graph);
               cudaFree(ds);
               cudaFree(dr);
             });
    fail.check();
  }
}

TEST_CASE("device engine (emulated): SV_TIMEOUT: a call whose peer never comes times out, aborts and fails the "
          "communicator",
          "[device-emulated][faults]") {
  for (int algo : {SV_ALGO_ALLGATHER, SV_ALGO_ALLTOALL}) {
    INFO("algorithm " << algo);
    svConfig_t dc = makeConfig({SV_TIE_POSITIVE, SV_ZERO_POSITIVE, algo}, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO);
    dc.timeout = 0.3;
    Failures fail;
    std::atomic<bool> done{false};
    runRanks(3, dc, makeConfig(kDefault, SV_DEVICE_HOST, SV_NAN_AS_ZERO), &fail, [&](RankCtx& ctx) {
      if (ctx.rank == 2) {  // never calls: its peers' exchange waits for it
        while (!done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        return;
      }
      const size_t n = 1000;
      float* d = nullptr;
      cudaMalloc(reinterpret_cast<void**>(&d), 2 * n * 4);
      RANK_CHECK(svAllReduceSign(d, d + n, n, svFloat32, ctx.dev, ctx.stream) == svSuccess, "enqueue: %s",
                 svGetLastError(ctx.dev));
      // Returns once the watchdog has aborted the exchange.
      RANK_CHECK(cudaStreamSynchronize(ctx.stream) == cudaSuccess, "stream after the timeout");
      svResult_t async = svSuccess;
      // The watchdog may still be writing its verdict when the stream drains.
      for (int i = 0; i < 2000 && async == svSuccess; ++i) {
        svCommGetAsyncError(ctx.dev, &async);
        if (async == svSuccess) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      RANK_CHECK(async == svTimeout, "async error %d, expected svTimeout", async);
      RANK_CHECK(strstr(svGetLastError(ctx.dev), "SV_TIMEOUT") != nullptr, "message: %s", svGetLastError(ctx.dev));
      const svResult_t again = svAllReduceSign(d, d + n, n, svFloat32, ctx.dev, ctx.stream);
      RANK_CHECK(again == svTimeout, "the next call returned %d, expected svTimeout", again);
      cudaFree(d);
      if (ctx.rank == 0) done.store(true);
    });
    fail.check();
  }
}

// svCommDestroy right after a call whose peer never comes: teardown waits
// for the call, and the SV_TIMEOUT watchdog still runs during that wait, so
// destroy returns once the timeout aborted the exchange (before, it waited
// for ever).
TEST_CASE("device engine (emulated): svCommDestroy after a call whose peer never comes returns after SV_TIMEOUT",
          "[device-emulated][faults]") {
  svConfig_t dc = makeConfig(kDefault, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO);
  dc.timeout = 0.3;
  Failures fail;
  std::atomic<int> destroyed{0};
  runRanks(3, dc, makeConfig(kDefault, SV_DEVICE_HOST, SV_NAN_AS_ZERO), &fail, [&](RankCtx& ctx) {
    if (ctx.rank == 2) {  // never calls
      while (destroyed.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return;
    }
    const size_t n = 1000;
    float* d = nullptr;
    cudaMalloc(reinterpret_cast<void**>(&d), 2 * n * 4);
    RANK_CHECK(svAllReduceSign(d, d + n, n, svFloat32, ctx.dev, ctx.stream) == svSuccess, "enqueue: %s",
               svGetLastError(ctx.dev));
    const auto t0 = std::chrono::steady_clock::now();
    RANK_CHECK(svCommDestroy(ctx.dev) == svSuccess, "destroy");
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ctx.dev = nullptr;
    ++destroyed;
    RANK_CHECK(s < 30, "svCommDestroy took %.1f s with a call whose peer never came", s);
    RANK_CHECK(cudaStreamSynchronize(ctx.stream) == cudaSuccess, "stream after destroy");
    cudaFree(d);
  });
  fail.check();
}

// The host side of one call, counted (no timing): runtime API calls, stream
// operations and kernel launches of a small svAllReduceSign after a warm-up.
// The budgets fail the test when a change adds per-call work; the counts are
// printed for docs/gpu.md.
TEST_CASE("device engine (emulated): hot path: runtime calls and stream operations per call",
          "[device-emulated][hotpath]") {
  struct Case {
    int P, algo;
    bool inPlace;
  };
  for (const Case& c : {Case{2, SV_ALGO_ALLGATHER, false}, Case{2, SV_ALGO_ALLGATHER, true},
                        Case{4, SV_ALGO_ALLTOALL, false}}) {
    Failures fail;
    std::mutex m;
    svemu::Counters perCall;
    runRanks(c.P, makeConfig({SV_TIE_POSITIVE, SV_ZERO_POSITIVE, c.algo}, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO),
             makeConfig(kDefault, SV_DEVICE_HOST, SV_NAN_AS_ZERO), &fail, [&](RankCtx& ctx) {
               const size_t n = 1024;
               float* d = nullptr;
               cudaMalloc(reinterpret_cast<void**>(&d), 2 * n * 4);
               float* out = c.inPlace ? d : d + n;
               svAllReduceSign(d, out, n, svFloat32, ctx.dev, ctx.stream);  // warm-up: staging
               cudaStreamSynchronize(ctx.stream);
               const svemu::Counters a = svemu::threadCounters();
               RANK_CHECK(svAllReduceSign(d, out, n, svFloat32, ctx.dev, ctx.stream) == svSuccess, "call");
               const svemu::Counters b = svemu::threadCounters();
               cudaStreamSynchronize(ctx.stream);
               if (ctx.rank == 0) {
                 std::lock_guard<std::mutex> lock(m);
                 perCall.apiCalls = b.apiCalls - a.apiCalls;
                 perCall.streamOps = b.streamOps - a.streamOps;
                 perCall.launches = b.launches - a.launches;
               }
               cudaFree(d);
             });
    fail.check();
    printf("hot path P=%d %s %s: %llu runtime API calls, %llu stream operations (%llu kernel launches) per call\n",
           c.P, c.algo == SV_ALGO_ALLTOALL ? "alltoall" : "allgather", c.inPlace ? "in place" : "out of place",
           perCall.apiCalls, perCall.streamOps, perCall.launches);
    INFO("P=" << c.P << " algorithm " << c.algo);
    CHECK(perCall.streamOps <= (c.algo == SV_ALGO_ALLTOALL ? 10u : 8u));
    // 8/8/9 measured (the buffers' checks cached after the warm-up): room
    // for the watchdog's occasional event creation.
    CHECK(perCall.apiCalls <= (c.algo == SV_ALGO_ALLTOALL ? 11u : 10u));
  }
}

// Staging growth on an NCCL communicator is stream-ordered (cudaFreeAsync +
// cudaMallocAsync): a call that must grow blocks the host no more than one
// that need not, and its result is still the host engine's.
TEST_CASE("device engine (emulated): staging growth on an NCCL communicator does not wait on the host",
          "[device-emulated][hotpath]") {
  Failures fail;
  runRanks(2, makeConfig(kDefault, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO),
           makeConfig(kDefault, SV_DEVICE_HOST, SV_NAN_AS_ZERO), &fail, [&](RankCtx& ctx) {
             const size_t small = 1000, big = 300000;
             std::vector<float> in = hostFloats(big, 555, ctx.rank), want(big), got(big);
             float* d = nullptr;
             cudaMalloc(reinterpret_cast<void**>(&d), 2 * big * 4);
             cudaMemcpy(d, in.data(), big * 4, cudaMemcpyHostToDevice);
             RANK_CHECK(svAllReduceSign(d, d + big, small, svFloat32, ctx.dev, ctx.stream) == svSuccess, "small call");
             cudaStreamSynchronize(ctx.stream);
             RANK_CHECK(svAllReduceSign(in.data(), want.data(), small, svFloat32, ctx.host, nullptr) == svSuccess, "host");
             const svemu::Counters a = svemu::threadCounters();
             RANK_CHECK(svAllReduceSign(d, d + big, big, svFloat32, ctx.dev, ctx.stream) == svSuccess, "growing call: %s",
                        svGetLastError(ctx.dev));
             const svemu::Counters b = svemu::threadCounters();
             RANK_CHECK(b.hostWaits == a.hostWaits, "the growing call blocked the host %llu time(s)",
                        b.hostWaits - a.hostWaits);
             cudaStreamSynchronize(ctx.stream);
             RANK_CHECK(svAllReduceSign(in.data(), want.data(), big, svFloat32, ctx.host, nullptr) == svSuccess, "host");
             cudaMemcpy(got.data(), d + big, big * 4, cudaMemcpyDeviceToHost);
             RANK_CHECK(got == want, "the call after growth differs from the host engine");
             cudaFree(d);
           });
  fail.check();
}

// ---- Failures on a device communicator over a host transport -----------------
// The host exchange waits with the host engine's Waiter: the host path's
// failure contract (docs/reliability.md) holds for device communicators over
// MPI. Each case below is the twin of a host-path fault test.
namespace {

svConfig_t hostExchangeConfig(double timeout) {
  svConfig_t c = makeConfig(kDefault, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO);
  c.timeout = timeout;
  return c;
}

}  // namespace

TEST_CASE("device engine over a host transport (emulated): SV_TIMEOUT fails the call, names the silent rank and "
          "fails the communicator",
          "[device-emulated][faults][host-exchange]") {
  for (DevVia via : {DevVia::kHostStaged, DevVia::kHostDevicePointers}) {
    INFO("device pointers " << (via == DevVia::kHostDevicePointers));
    Failures fail;
    std::atomic<int> finished{0};
    runRanks(3, hostExchangeConfig(0.3), makeConfig(kDefault, SV_DEVICE_HOST, SV_NAN_AS_ZERO), &fail,
             [&](RankCtx& ctx) {
               if (ctx.rank == 2) {  // never calls: its peers' exchange waits for it
                 while (finished.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
                 return;
               }
               const size_t n = 1000;
               float* d = nullptr;
               cudaMalloc(reinterpret_cast<void**>(&d), 2 * n * 4);
               cudaMemset(d + n, 0x5A, n * 4);
               const svResult_t rc = svAllReduceSign(d, d + n, n, svFloat32, ctx.dev, ctx.stream);
               RANK_CHECK(rc == svTimeout, "returned %d, expected svTimeout: %s", rc, svGetLastError(ctx.dev));
               const std::string msg = svGetLastError(ctx.dev);
               RANK_CHECK(msg.find("2") != std::string::npos && msg.find("SV_TIMEOUT") != std::string::npos,
                          "the message does not name rank 2: %s", msg.c_str());
               RANK_CHECK(cudaStreamSynchronize(ctx.stream) == cudaSuccess, "stream after the timeout");
               std::vector<unsigned char> out(n * 4);
               cudaMemcpy(out.data(), d + n, n * 4, cudaMemcpyDeviceToHost);
               bool untouched = true;
               for (unsigned char b : out) untouched &= b == 0x5A;
               RANK_CHECK(untouched, "recvbuff written by a call that timed out");
               const svResult_t again = svAllReduceSign(d, d + n, n, svFloat32, ctx.dev, ctx.stream);
               RANK_CHECK(again == svTimeout, "the next call returned %d, expected the failed communicator's svTimeout",
                          again);
               cudaFree(d);
               finished.fetch_add(1);
             },
             nullptr, via);
    fail.check();
  }
}

TEST_CASE("device engine over a host transport (emulated): svCommAbort from another thread frees a call stuck in "
          "an exchange",
          "[device-emulated][faults][host-exchange]") {
  Failures fail;
  std::atomic<bool> done{false};
  runRanks(2, hostExchangeConfig(0), makeConfig(kDefault, SV_DEVICE_HOST, SV_NAN_AS_ZERO), &fail,
           [&](RankCtx& ctx) {
             if (ctx.rank == 1) {  // never calls
               while (!done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
               return;
             }
             const size_t n = 4096;
             float* d = nullptr;
             cudaMalloc(reinterpret_cast<void**>(&d), 2 * n * 4);
             svComm_t comm = ctx.dev;
             std::thread aborter([comm] {
               std::this_thread::sleep_for(std::chrono::milliseconds(200));
               svCommAbort(comm);
             });
             const auto t0 = std::chrono::steady_clock::now();
             const svResult_t rc = svAllReduceSign(d, d + n, n, svFloat32, ctx.dev, ctx.stream);
             const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
             aborter.join();
             ctx.dev = nullptr;  // aborted: destroyed by svCommAbort
             RANK_CHECK(rc == svRemoteError, "returned %d after %.2f s, expected svRemoteError", rc, s);
             cudaStreamSynchronize(ctx.stream);
             cudaFree(d);
             done.store(true);
           },
           nullptr, DevVia::kHostStaged);
  fail.check();
}

TEST_CASE("device engine over a host transport (emulated): a send that fails fails the call; the peers learn it "
          "from the notice and nothing stays aimed at staging",
          "[device-emulated][faults][host-exchange]") {
  for (DevVia via : {DevVia::kHostStaged, DevVia::kHostDevicePointers}) {
    INFO("device pointers " << (via == DevVia::kHostDevicePointers));
    Failures fail;
    // The timeout is far: the peers must learn of the failure from rank 1.
    runRanks(3, hostExchangeConfig(60), makeConfig(kDefault, SV_DEVICE_HOST, SV_NAN_AS_ZERO), &fail,
             [&](RankCtx& ctx) {
               const size_t n = 1000;
               float* d = nullptr;
               cudaMalloc(reinterpret_cast<void**>(&d), 2 * n * 4);
               cudaMemset(d + n, 0x5A, n * 4);
               if (ctx.rank == 1) sv::loopbackFailSends(ctx.devWorld, 1, 0);
               const auto t0 = std::chrono::steady_clock::now();
               const svResult_t rc = svAllReduceSign(d, d + n, n, svFloat32, ctx.dev, ctx.stream);
               const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
               const std::string msg = svGetLastError(ctx.dev);
               if (ctx.rank == 1) {
                 RANK_CHECK(rc == svSystemError && msg.find("injected") != std::string::npos, "rank 1: %d %s", rc,
                            msg.c_str());
               } else {
                 RANK_CHECK(rc != svSuccess, "succeeded without rank 1's data");
                 RANK_CHECK(msg.find("rank 1 failed its call") != std::string::npos, "message: %s", msg.c_str());
                 RANK_CHECK(s < 30, "took %.1f s: waited for the timeout instead of rank 1's notice", s);
               }
               cudaStreamSynchronize(ctx.stream);
               std::vector<unsigned char> out(n * 4);
               cudaMemcpy(out.data(), d + n, n * 4, cudaMemcpyDeviceToHost);
               bool untouched = true;
               for (unsigned char b : out) untouched &= b == 0x5A;
               RANK_CHECK(untouched, "recvbuff written by a failed call");
               RANK_CHECK(sv::loopbackPostedRecvs(ctx.devWorld, ctx.rank) == 0, "receives left posted");
               const svResult_t again = svAllReduceSign(d, d + n, n, svFloat32, ctx.dev, ctx.stream);
               RANK_CHECK(again == rc, "the next call returned %d, expected the failed communicator's %d", again, rc);
               cudaFree(d);
             },
             nullptr, via);
    fail.check();
  }
}

TEST_CASE("device engine over a host transport (emulated): SV_CHECK names a count mismatch on every rank and keeps "
          "the communicator usable",
          "[device-emulated][api][host-exchange]") {
  for (DevVia via : {DevVia::kHostStaged, DevVia::kHostDevicePointers}) {
    INFO("device pointers " << (via == DevVia::kHostDevicePointers));
    svConfig_t dc = hostExchangeConfig(30);
    dc.check = 1;
    Failures fail;
    runRanks(3, dc, makeConfig(kDefault, SV_DEVICE_HOST, SV_NAN_AS_ZERO), &fail,
             [&](RankCtx& ctx) {
               const size_t n = 1000;
               float* d = nullptr;
               cudaMalloc(reinterpret_cast<void**>(&d), 2 * n * 4);
               cudaMemset(d + n, 0x5A, n * 4);
               const size_t mine = ctx.rank == 2 ? n - 1 : n;  // rank 2 disagrees
               const svResult_t rc = svAllReduceSign(d, d + n, mine, svFloat32, ctx.dev, ctx.stream);
               RANK_CHECK(rc == svInvalidUsage, "mismatched call returned %d: %s", rc, svGetLastError(ctx.dev));
               RANK_CHECK(strstr(svGetLastError(ctx.dev), "count") != nullptr, "message: %s", svGetLastError(ctx.dev));
               cudaStreamSynchronize(ctx.stream);
               std::vector<unsigned char> out(n * 4);
               cudaMemcpy(out.data(), d + n, n * 4, cudaMemcpyDeviceToHost);
               bool untouched = true;
               for (unsigned char b : out) untouched &= b == 0x5A;
               RANK_CHECK(untouched, "recvbuff written by a refused call");
               std::vector<float> in = hostFloats(n, 77, ctx.rank), want(n), got(n);
               cudaMemcpy(d, in.data(), n * 4, cudaMemcpyHostToDevice);
               // The host communicator has made no call: align its call
               // number (random ties are not in play, but keep them equal).
               RANK_CHECK(svAllReduceSign(in.data(), want.data(), n, svFloat32, ctx.host, nullptr) == svSuccess, "host");
               RANK_CHECK(svAllReduceSign(d, d + n, n, svFloat32, ctx.dev, ctx.stream) == svSuccess,
                          "a matching call after the refused one: %s", svGetLastError(ctx.dev));
               cudaStreamSynchronize(ctx.stream);
               cudaMemcpy(got.data(), d + n, n * 4, cudaMemcpyDeviceToHost);
               RANK_CHECK(got == want, "the call after the refused one differs from the host engine");
               cudaFree(d);
             },
             nullptr, via);
    fail.check();
  }
}

TEST_CASE("device engine over a host transport (emulated): ranks that disagree on the count fail on every rank, "
          "saying so",
          "[device-emulated][faults][host-exchange]") {
  struct Case {
    const char* name;
    std::vector<size_t> counts;
    int algo;
  };
  const Case cases[] = {
      {"P=2 1000 vs 3000, all-gather", {1000, 3000}, SV_ALGO_ALLGATHER},
      {"P=3 one rank larger, all-gather", {1000, 1000, 3000}, SV_ALGO_ALLGATHER},
      {"P=3 one rank larger, all-to-all", {5000, 5000, 20000}, SV_ALGO_ALLTOALL},
  };
  for (const Case& k : cases) {
    INFO(k.name);
    const int P = static_cast<int>(k.counts.size());
    svConfig_t dc = makeConfig({SV_TIE_POSITIVE, SV_ZERO_POSITIVE, k.algo}, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO);
    dc.timeout = 10;
    Failures fail;
    runRanks(P, dc, makeConfig(kDefault, SV_DEVICE_HOST, SV_NAN_AS_ZERO), &fail,
             [&](RankCtx& ctx) {
               const size_t n = k.counts[ctx.rank];
               float* d = nullptr;
               cudaMalloc(reinterpret_cast<void**>(&d), 2 * n * 4);
               const svResult_t rc = svAllReduceSign(d, d + n, n, svFloat32, ctx.dev, ctx.stream);
               const std::string msg = svGetLastError(ctx.dev);
               RANK_CHECK(rc != svSuccess, "a call whose ranks disagree on the count succeeded");
               RANK_CHECK(msg.find("disagree") != std::string::npos || msg.find("failed its call") != std::string::npos,
                          "message: %s", msg.c_str());
               RANK_CHECK(msg.find("SV_TIMEOUT") == std::string::npos, "found by the timeout: %s", msg.c_str());
               cudaStreamSynchronize(ctx.stream);
               RANK_CHECK(sv::loopbackPostedRecvs(ctx.devWorld, ctx.rank) == 0, "receives left posted");
               cudaFree(d);
             },
             nullptr, DevVia::kHostStaged);
    fail.check();
  }
}

// ---- Groups (svGroupStart/End) on a device communicator ----------------------
// The calls of a group run as one fused call of the stream executor; each
// output must equal the host engine's group of the same calls (same layout,
// same random ties) bit for bit, on every rank alike.
namespace {

struct GroupTensor {
  svDataType_t dt;
  bool packed;  // svAllReduceSignPacked: count is bits
  size_t count;
  bool inPlace;
  bool altStream;  // queued on the rank's second stream
};

std::vector<GroupTensor> groupTensors(uint64_t seed, bool packedOk, size_t many) {
  const size_t counts[] = {1000, 0, 1, 63, 64, 65, 4097, 31, 70001, 3};
  std::vector<GroupTensor> ts;
  for (size_t k = 0; k < 10; ++k)
    ts.push_back({kTypes[k % 4], packedOk && k % 5 == 3, counts[k], k % 3 == 1, k % 4 == 2});
  // Past one list launch (kern::kListCap tensors): small fp32 and bf16 ones.
  ref::Rng rng(seed);
  for (size_t k = 0; k < many; ++k)
    ts.push_back({k % 7 == 3 ? svBfloat16 : svFloat32, false, 1 + rng.below(700), k % 5 == 0, false});
  return ts;
}

struct GroupResult {
  std::vector<std::vector<unsigned char>> out;  // per tensor: the output bytes
  svResult_t rc = svInternalError;
};

// Rank r's buffers of tensor k: elements (or packed words) from makeInput.
std::vector<unsigned char> groupInput(const GroupTensor& t, uint64_t seed, int r) {
  if (!t.packed) return makeInput(t.dt, t.count, seed, r, true);
  ref::Rng rng(seed * 31 + r);
  std::vector<unsigned char> b((t.count + 31) / 32 * 4);
  for (auto& c : b) c = static_cast<unsigned char>(rng.next());
  return b;
}
size_t groupBytes(const GroupTensor& t) { return t.packed ? (t.count + 31) / 32 * 4 : t.count * ref::elemSize(t.dt); }

svResult_t queue(const GroupTensor& t, const void* s, void* r, svComm_t comm, cudaStream_t stream) {
  return t.packed ? svAllReduceSignPacked(static_cast<const uint32_t*>(s), static_cast<uint32_t*>(r), t.count, comm,
                                          stream)
                  : svAllReduceSign(s, r, t.count, t.dt, comm, stream);
}

GroupResult hostGroup(RankCtx& ctx, const std::vector<GroupTensor>& ts, uint64_t seed) {
  GroupResult g;
  std::vector<std::vector<unsigned char>> in(ts.size());
  g.out.resize(ts.size());
  svGroupStart();
  for (size_t k = 0; k < ts.size(); ++k) {
    in[k] = groupInput(ts[k], seed + k, ctx.rank);
    g.out[k].assign(groupBytes(ts[k]), 0);
    if (ts[k].inPlace) g.out[k] = in[k];
    RANK_CHECK(queue(ts[k], ts[k].inPlace ? g.out[k].data() : in[k].data(), g.out[k].data(), ctx.host, nullptr) ==
                   svSuccess, "host queue %zu", k);
  }
  g.rc = svGroupEnd();
  return g;
}

// The same group on the device communicator; tensors marked altStream go on
// `alt`, whose later work must see the group's results.
GroupResult deviceGroup(RankCtx& ctx, const std::vector<GroupTensor>& ts, uint64_t seed, cudaStream_t alt) {
  GroupResult g;
  std::vector<void*> ds(ts.size(), nullptr), dr(ts.size(), nullptr), base(2 * ts.size(), nullptr);
  g.out.resize(ts.size());
  svGroupStart();
  for (size_t k = 0; k < ts.size(); ++k) {
    const std::vector<unsigned char> in = groupInput(ts[k], seed + k, ctx.rank);
    const size_t b = groupBytes(ts[k]);
    // Every fifth tensor one element off 16 bytes (the kernels' scalar path;
    // a vector access there would fault the emulated context).
    const size_t off = k % 5 == 4 ? (ts[k].packed ? 4 : ref::elemSize(ts[k].dt)) : 0;
    cudaMalloc(&base[2 * k], b + 64 + off);
    cudaMalloc(&base[2 * k + 1], b + 64 + off);
    ds[k] = static_cast<char*>(base[2 * k]) + off;
    dr[k] = static_cast<char*>(base[2 * k + 1]) + off;
    cudaMemset(dr[k], 0xA5, b + 64);
    cudaMemcpy(ts[k].inPlace ? dr[k] : ds[k], in.data(), b, cudaMemcpyHostToDevice);
    RANK_CHECK(queue(ts[k], ts[k].inPlace ? dr[k] : ds[k], dr[k], ctx.dev, ts[k].altStream ? alt : ctx.stream) ==
                   svSuccess, "device queue %zu: %s", k, svGetLastError(ctx.dev));
  }
  g.rc = svGroupEnd();
  RANK_CHECK(g.rc == svSuccess, "device svGroupEnd: %s", svGetLastError(ctx.dev));
  // Read back the alt stream's tensors on the alt stream only: it must wait
  // for the fused call.
  std::vector<std::vector<unsigned char>> back(ts.size());
  for (size_t k = 0; k < ts.size(); ++k) {
    back[k].assign(groupBytes(ts[k]) + 64, 0);
    if (ts[k].altStream) cudaMemcpyAsync(back[k].data(), dr[k], back[k].size(), cudaMemcpyDeviceToHost, alt);
  }
  RANK_CHECK(cudaStreamSynchronize(alt) == cudaSuccess, "sync alt");
  RANK_CHECK(cudaStreamSynchronize(ctx.stream) == cudaSuccess, "sync");
  for (size_t k = 0; k < ts.size(); ++k) {
    if (!ts[k].altStream) cudaMemcpy(back[k].data(), dr[k], back[k].size(), cudaMemcpyDeviceToHost);
    bool guard = true;
    for (size_t i = groupBytes(ts[k]); i < back[k].size(); ++i) guard &= back[k][i] == 0xA5;
    RANK_CHECK(guard, "tensor %zu: bytes past recvbuff written", k);
    back[k].resize(groupBytes(ts[k]));
    g.out[k] = back[k];
    cudaFree(base[2 * k]);
    cudaFree(base[2 * k + 1]);
  }
  return g;
}

void groupCase(int P, DevVia via) {
  const Policy policies[] = {
      {SV_TIE_POSITIVE, SV_ZERO_POSITIVE, SV_ALGO_AUTO}, {SV_TIE_ZERO, SV_ZERO_POSITIVE, SV_ALGO_ALLTOALL},
      {SV_TIE_RANDOM, SV_ZERO_POSITIVE, SV_ALGO_ALLGATHER}, {SV_TIE_POSITIVE, SV_ZERO_ABSTAIN, SV_ALGO_ALLTOALL},
      {SV_TIE_ZERO, SV_ZERO_ABSTAIN, SV_ALGO_ALLGATHER},   {SV_TIE_RANDOM, SV_ZERO_ABSTAIN, SV_ALGO_ALLTOALL},
  };
  for (const Policy& pol : policies) {
    INFO("tie " << pol.tie << " zero " << pol.zero << " algorithm " << pol.algo);
    const bool packedOk = pol.zero == SV_ZERO_POSITIVE && !(pol.tie == SV_TIE_ZERO && P % 2 == 0);
    Failures fail;
    std::vector<std::vector<uint64_t>> hashes;
    runRanks(P, makeConfig(pol, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO), makeConfig(pol, SV_DEVICE_HOST, SV_NAN_AS_ZERO),
             &fail,
             [&](RankCtx& ctx) {
               cudaStream_t alt = nullptr;
               cudaStreamCreateWithFlags(&alt, cudaStreamNonBlocking);
               for (int round = 0; round < 2; ++round) {  // the second group draws ties from its own call number
                 const std::vector<GroupTensor> ts = groupTensors(P * 10 + round, packedOk, round == 0 ? 60 : 5);
                 const uint64_t seed = 1000 * (round + 1);
                 svCommStats_t before{}, after{};
                 svCommGetStats(ctx.dev, &before);
                 const GroupResult want = hostGroup(ctx, ts, seed);
                 RANK_CHECK(want.rc == svSuccess, "host group: %s", svGetLastError(ctx.host));
                 const svemu::Counters a = svemu::threadCounters();
                 const GroupResult got = deviceGroup(ctx, ts, seed, alt);
                 const svemu::Counters b = svemu::threadCounters();
                 svCommGetStats(ctx.dev, &after);
                 RANK_CHECK(after.calls == before.calls + 1, "the group counted %llu calls",
                            (unsigned long long)(after.calls - before.calls));
                 // Fused: per datatype one pack and one unpack launch per
                 // kern::kListCap tensors, one copy kernel per packed
                 // tensor, and the call's own three (NaN publish, vote,
                 // call advance); not a pack and an unpack per tensor.
                 size_t perType[10] = {0}, packedCalls = 0, lists = 0;
                 for (const GroupTensor& t : ts)
                   if (t.count > 0) (t.packed ? packedCalls : perType[t.dt]) += 1;
                 for (size_t c : perType) lists += (c + sv::kern::kListCap - 1) / sv::kern::kListCap;
                 RANK_CHECK(b.launches - a.launches <= 2 * lists + packedCalls + 3,
                            "%llu kernel launches for a group of %zu tensors (%zu lists)", b.launches - a.launches,
                            ts.size(), lists);
                 for (size_t k = 0; k < ts.size(); ++k) {
                   RANK_CHECK(got.out[k] == want.out[k], "round %d tensor %zu (%s%s, %zu%s): device group differs from "
                              "the host group", round, k, ts[k].packed ? "packed" : ref::dtLabel(ts[k].dt),
                              ts[k].inPlace ? " in place" : "", ts[k].count, ts[k].altStream ? ", second stream" : "");
                   ctx.hashes->push_back(hashBytes(got.out[k].data(), got.out[k].size()));
                 }
               }
               cudaStreamDestroy(alt);
             },
             &hashes, via);
    fail.check();
  }
}

}  // namespace

#define SV_GROUP_CASES(P)                                                                                         \
  TEST_CASE("device group (emulated) equals the host group: P=" #P, "[device-emulated][group]") {                 \
    groupCase(P, DevVia::kNccl);                                                                                  \
  }
SV_GROUP_CASES(1)
SV_GROUP_CASES(2)
SV_GROUP_CASES(3)
SV_GROUP_CASES(5)
SV_GROUP_CASES(8)

TEST_CASE("device group over a host transport (emulated) equals the host group: P=3",
          "[device-emulated][group][host-exchange]") {
  groupCase(3, DevVia::kHostStaged);
  groupCase(3, DevVia::kHostDevicePointers);
}

// A group's edges on a device communicator: a host buffer is refused when
// queued (svInvalidArgument, its one-line message) and left out while the
// rest of the group runs; under SV_NAN_ERROR a NaN in one tensor of one
// rank leaves every tensor of the group untouched on every rank and is
// reported once; a captured group replays equal to the eager group.
TEST_CASE("device group (emulated): refused buffers, SV_NAN_ERROR and capture", "[device-emulated][group]") {
  for (int nan : {SV_NAN_AS_ZERO, SV_NAN_ERROR}) {
    INFO("nan policy " << nan);
    Failures fail;
    runRanks(3, makeConfig(kDefault, SV_CONFIG_UNDEF_INT, nan), makeConfig(kDefault, SV_DEVICE_HOST, nan), &fail,
             [&](RankCtx& ctx) {
               const size_t n[3] = {1000, 77, 4097};
               std::vector<std::vector<float>> in(3), want(3);
               float* d[3];
               for (int k = 0; k < 3; ++k) {
                 in[k] = hostFloats(n[k], 60 + k, ctx.rank);
                 want[k].assign(n[k], 0.0f);
                 cudaMalloc(reinterpret_cast<void**>(&d[k]), 2 * n[k] * 4);
                 cudaMemcpy(d[k], in[k].data(), n[k] * 4, cudaMemcpyHostToDevice);
                 cudaMemset(d[k] + n[k], 0x5a, n[k] * 4);
               }
               std::vector<float> hostBuf(50, 1.0f);
               // The host group of the two good tensors: what the device group must give.
               svGroupStart();
               for (int k : {0, 2}) svAllReduceSign(in[k].data(), want[k].data(), n[k], svFloat32, ctx.host, nullptr);
               RANK_CHECK(svGroupEnd() == svSuccess, "host group");
               auto group = [&](bool withHost) {
                 RANK_CHECK(svGroupStart() == svSuccess, "start");
                 RANK_CHECK(svAllReduceSign(d[0], d[0] + n[0], n[0], svFloat32, ctx.dev, ctx.stream) == svSuccess, "q0");
                 if (withHost) {
                   const svResult_t r = svAllReduceSign(hostBuf.data(), d[1] + n[1], 50, svFloat32, ctx.dev, ctx.stream);
                   RANK_CHECK(r == svInvalidArgument, "a host buffer queued: %d", r);
                   RANK_CHECK(strstr(svGetLastError(ctx.dev), "host memory") != nullptr, "message: %s",
                              svGetLastError(ctx.dev));
                 }
                 RANK_CHECK(svAllReduceSign(d[2], d[2] + n[2], n[2], svFloat32, ctx.dev, ctx.stream) == svSuccess, "q2");
                 return svGroupEnd();
               };
               auto outputs = [&](int k) {
                 std::vector<float> o(n[k]);
                 cudaMemcpy(o.data(), d[k] + n[k], n[k] * 4, cudaMemcpyDeviceToHost);
                 return o;
               };
               RANK_CHECK(group(true) == svSuccess, "group: %s", svGetLastError(ctx.dev));
               RANK_CHECK(cudaStreamSynchronize(ctx.stream) == cudaSuccess, "sync");
               for (int k : {0, 2}) RANK_CHECK(outputs(k) == want[k], "tensor %d differs from the host group", k);
               std::vector<unsigned char> untouched(n[1] * 4);
               cudaMemcpy(untouched.data(), d[1] + n[1], n[1] * 4, cudaMemcpyDeviceToHost);
               bool same = true;
               for (unsigned char b : untouched) same &= b == 0x5a;
               RANK_CHECK(same, "the refused call wrote its recvbuff");
               if (nan == SV_NAN_ERROR) {
                 // A NaN in tensor 2 of the last rank: nothing of the group is written.
                 for (int k : {0, 2}) cudaMemset(d[k] + n[k], 0x5a, n[k] * 4);
                 if (ctx.rank == ctx.P - 1) {
                   const float q = NAN;
                   cudaMemcpy(d[2] + 5, &q, 4, cudaMemcpyHostToDevice);
                 }
                 RANK_CHECK(group(false) == svSuccess, "NaN group enqueue: %s", svGetLastError(ctx.dev));
                 cudaStreamSynchronize(ctx.stream);
                 svResult_t async = svSuccess;
                 svCommGetAsyncError(ctx.dev, &async);
                 RANK_CHECK(async == svInvalidArgument, "async error %d, expected svInvalidArgument", async);
                 for (int k : {0, 2}) {
                   std::vector<unsigned char> o(n[k] * 4);
                   cudaMemcpy(o.data(), d[k] + n[k], n[k] * 4, cudaMemcpyDeviceToHost);
                   bool un = true;
                   for (unsigned char b : o) un &= b == 0x5a;
                   RANK_CHECK(un, "tensor %d written under SV_NAN_ERROR", k);
                 }
                 svCommGetAsyncError(ctx.dev, &async);
                 RANK_CHECK(async == svSuccess, "the NaN error was reported twice");
               } else {
                 // Captured (thread-local mode, as in the capture test above) and replayed.
                 cudaGraph_t graph = nullptr;
                 cudaGraphExec_t exec = nullptr;
                 RANK_CHECK(cudaStreamBeginCapture(ctx.stream, cudaStreamCaptureModeThreadLocal) == cudaSuccess, "begin");
                 const svResult_t rc = group(false);
                 const cudaError_t end = cudaStreamEndCapture(ctx.stream, &graph);
                 RANK_CHECK(rc == svSuccess && end == cudaSuccess, "captured group: %s / %s", svGetLastError(ctx.dev),
                            cudaGetErrorName(end));
                 if (end != cudaSuccess) return;
                 cudaGraphInstantiate(&exec, graph, 0);
                 for (int rep = 0; rep < 2; ++rep) {
                   for (int k : {0, 2}) cudaMemsetAsync(d[k] + n[k], 0, n[k] * 4, ctx.stream);
                   RANK_CHECK(cudaGraphLaunch(exec, ctx.stream) == cudaSuccess, "launch");
                   cudaStreamSynchronize(ctx.stream);
                   for (int k : {0, 2}) RANK_CHECK(outputs(k) == want[k], "replay %d: tensor %d differs", rep, k);
                 }
                 cudaGraphExecDestroy(exec);
                 cudaGraphDestroy(graph);
               }
               for (float* p : d) cudaFree(p);
             });
    fail.check();
  }
}

// A trainer's group every step: once its buffers were checked, queueing 161
// calls asks nothing of the CUDA runtime (the checks are remembered), and
// the fused call costs about what one call does.
TEST_CASE("device group (emulated): a repeated group of 161 tensors queues without runtime calls",
          "[device-emulated][group][hotpath]") {
  Failures fail;
  runRanks(2, makeConfig(kDefault, SV_CONFIG_UNDEF_INT, SV_NAN_AS_ZERO),
           makeConfig(kDefault, SV_DEVICE_HOST, SV_NAN_AS_ZERO), &fail, [&](RankCtx& ctx) {
             const int kTensors = 161;
             std::vector<float*> d(kTensors);
             for (int k = 0; k < kTensors; ++k) cudaMalloc(reinterpret_cast<void**>(&d[k]), 2 * 64 * 4);
             svemu::Counters queued{}, ended{};
             for (int step = 0; step < 2; ++step) {
               svGroupStart();
               const svemu::Counters a = svemu::threadCounters();
               for (int k = 0; k < kTensors; ++k)
                 RANK_CHECK(svAllReduceSign(d[k], d[k] + 64, 64, svFloat32, ctx.dev, ctx.stream) == svSuccess,
                            "queue: %s", svGetLastError(ctx.dev));
               const svemu::Counters b = svemu::threadCounters();
               RANK_CHECK(svGroupEnd() == svSuccess, "svGroupEnd: %s", svGetLastError(ctx.dev));
               const svemu::Counters c = svemu::threadCounters();
               queued.apiCalls = b.apiCalls - a.apiCalls;
               ended.apiCalls = c.apiCalls - b.apiCalls;
               ended.launches = c.launches - b.launches;
               cudaStreamSynchronize(ctx.stream);
             }
             if (ctx.rank == 0)
               printf("group of 161 tensors, P=2, second step: %llu runtime API calls to queue; the fused call "
                      "%llu API calls and %llu kernel launches\n",
                      queued.apiCalls, ended.apiCalls, ended.launches);
             RANK_CHECK(queued.apiCalls == 0, "queueing 161 calls again made %llu runtime API calls", queued.apiCalls);
             RANK_CHECK(ended.apiCalls <= 12, "the fused call made %llu runtime API calls", ended.apiCalls);
             RANK_CHECK(ended.launches <= 2 * 4 + 3, "the fused call made %llu kernel launches", ended.launches);
             for (float* p : d) cudaFree(p);
           });
  fail.check();
}
