// SPDX-License-Identifier: MIT
// The stream executor's data flow replayed on the host: the plan and
// streamLayout of src/plan.h (what the device engine enqueues), with the host
// kernels in place of the GPU ones and memcpy in place of NCCL, for P
// simulated ranks. Its output must equal the host engine's (loopback
// communicators, one thread per rank) bit for bit, for every algorithm,
// policy and tail; staging starts filled with garbage, as cudaMalloc'd
// memory would be. What it cannot check is the CUDA side itself (tests/gpu).
#include <catch2/catch.hpp>

#include <string.h>

#include <random>
#include <thread>
#include <vector>

#include "comm.h"
#include "config.h"
#include "datatype.h"
#include "kernels/host/host_kernels.h"
#include "plan.h"
#include "transport/loopback.h"

namespace {

svConfig_t makeConfig(int tie, int zero, int algo) {
  svConfig_t c = SV_CONFIG_INITIALIZER;
  c.tiePolicy = tie;
  c.zeroPolicy = zero;
  c.algorithm = algo;
  c.seed = 77;
  c.chunkBytes = 1024;  // several host chunks: the device call is one, results must not care
  c.device = SV_DEVICE_HOST;
  return c;
}

// P ranks' fp32 inputs as bit patterns: signs, zeros of both signs, NaNs.
std::vector<std::vector<uint32_t>> makeInputs(int P, size_t n, uint64_t seed) {
  std::vector<std::vector<uint32_t>> in(P, std::vector<uint32_t>(n));
  std::mt19937_64 g(seed);
  for (int r = 0; r < P; ++r)
    for (size_t i = 0; i < n; ++i) {
      const unsigned k = g() % 16;
      uint32_t v = 0x3f800000u | (g() & 0xff);
      if (k < 2) v = 0;
      else if (k == 2) v = 0x7fc00000u;
      if (g() & 1) v |= 0x80000000u;
      in[r][i] = v;
    }
  return in;
}

// The host engine, P threads on a loopback world: rank 0's output (the
// loopback tests prove all ranks agree).
std::vector<uint32_t> hostEngine(const svConfig_t& cfg, const std::vector<std::vector<uint32_t>>& in, bool packed,
                                 size_t nbits) {
  const int P = static_cast<int>(in.size());
  auto world = sv::makeLoopbackWorld(P);
  std::vector<std::vector<uint32_t>> out(P);
  std::vector<svResult_t> rc(P, svInternalError);
  std::vector<std::thread> ts;
  for (int r = 0; r < P; ++r)
    ts.emplace_back([&, r] {
      svComm_t c = nullptr;
      if (sv::commInitLoopback(world, r, &cfg, &c) != svSuccess) return;
      if (packed) {
        out[r].assign((nbits + 31) / 32, 0);
        rc[r] = svAllReduceSignPacked(in[r].data(), out[r].data(), nbits, c, nullptr);
      } else {
        out[r].assign(in[r].size(), 0);
        rc[r] = svAllReduceSign(in[r].data(), out[r].data(), in[r].size(), svFloat32, c, nullptr);
      }
      svCommDestroy(c);
    });
  for (auto& t : ts) t.join();
  for (int r = 0; r < P; ++r) REQUIRE(rc[r] == svSuccess);
  return out[0];
}

// The device engine's steps on host buffers (see device_allreduce.cc).
std::vector<std::vector<uint32_t>> replayDevice(const svConfig_t& user, const std::vector<std::vector<uint32_t>>& in,
                                                bool packed, size_t count) {
  const int P = static_cast<int>(in.size());
  svComm fake;  // planCall reads nranks and config only
  fake.nranks = P;
  char err[256];
  REQUIRE(sv::resolveConfig(&user, &fake.config, err, sizeof(err)) == svSuccess);
  const sv::CallShape s = sv::planCall(&fake, count, packed, sv::Executor::kStream);
  REQUIRE(s.nchunks == 1);
  const size_t ip = s.inPlanes, op = s.outPlanes;
  sv::VoteParams vp{P, s.inPlanes, s.outPlanes, fake.config.tie, static_cast<uint64_t>(fake.config.seed), 0};
  const sv::OutputBits ob = sv::outputBits(svFloat32, fake.config.scale);
  std::vector<sv::StreamLayout> l(P);
  std::vector<sv::Chunk> c(P);
  std::vector<std::vector<uint64_t>> pk(P), rv(P), rs(P);
  for (int r = 0; r < P; ++r) {
    c[r] = sv::planChunk(s, P, r, 0);
    l[r] = sv::streamLayout(s, c[r], P, r, true);
    pk[r].assign(l[r].packedWords, 0xa5a5a5a5a5a5a5a5ull);  // garbage, like fresh cudaMalloc
    rv[r].assign(l[r].recvWords, 0x5a5a5a5a5a5a5a5aull);
    rs[r].assign(l[r].resultWords, 0xdeadbeefdeadbeefull);
  }
  auto fill = [&](int r, uint64_t* at) {
    if (packed) memcpy(at, in[r].data(), ((count + 31) / 32) * 4);  // the caller's words, whole
    else sv::host::pack(in[r].data(), count, svFloat32, static_cast<int>(ip), at);
  };
  const size_t b1 = l[0].firstBlockWords, b2 = l[0].secondBlockWords;
  if (s.algorithm == SV_ALGO_ALLTOALL) {
    for (int r = 0; r < P; ++r) fill(r, pk[r].data() + l[r].packAt);
    for (int r = 0; r < P; ++r)  // all-to-all: r's block q -> q's slot r
      for (int q = 0; q < P; ++q) memcpy(rv[q].data() + r * b1, pk[r].data() + q * b1, b1 * 8);
    for (int r = 0; r < P; ++r)
      if (c[r].myLen) sv::host::vote(rv[r].data(), b1, c[r].myLen, vp, c[r].myBegin, rs[r].data() + c[r].myBegin * op);
    std::vector<std::vector<uint64_t>> before = rs;  // in-place all-gather of slot q from rank q
    for (int r = 0; r < P; ++r)
      for (int q = 0; q < P; ++q) memcpy(rs[r].data() + q * b2, before[q].data() + q * b2, b2 * 8);
  } else {
    for (int r = 0; r < P; ++r) fill(r, rv[r].data() + l[r].packAt);
    std::vector<std::vector<uint64_t>> before = rv;
    for (int r = 0; r < P; ++r)
      for (int q = 0; q < P; ++q) memcpy(rv[r].data() + q * b1, before[q].data() + q * b1, b1 * 8);
    for (int r = 0; r < P; ++r) sv::host::vote(rv[r].data(), b1, s.words, vp, 0, rs[r].data());
  }
  std::vector<std::vector<uint32_t>> out(P);
  for (int r = 0; r < P; ++r) {
    if (packed) {  // device::copyBits: whole 32-bit words, the last one masked
      const size_t n32 = (count + 31) / 32;
      out[r].assign(n32, 0);
      memcpy(out[r].data(), rs[r].data(), n32 * 4);
      if (count % 32) out[r][n32 - 1] &= (1u << (count % 32)) - 1;
    } else {
      out[r].assign(count, 0);
      sv::host::unpack(rs[r].data(), static_cast<int>(op), count, svFloat32, ob, out[r].data());
    }
  }
  return out;
}

}  // namespace

TEST_CASE("the device engine's layout replayed with host kernels equals the host engine", "[device][layout]") {
  const size_t counts[] = {1, 63, 64, 65, 1000, 16 * 64 * 3 + 5, 20011};
  for (int P : {1, 2, 3, 4, 5, 8}) {
    for (int algo : {SV_ALGO_ALLTOALL, SV_ALGO_ALLGATHER}) {
      for (int tie : {SV_TIE_POSITIVE, SV_TIE_ZERO, SV_TIE_RANDOM}) {
        for (int zero : {SV_ZERO_POSITIVE, SV_ZERO_ABSTAIN}) {
          for (size_t n : counts) {
            INFO("P=" << P << " algo=" << algo << " tie=" << tie << " zero=" << zero << " n=" << n);
            const svConfig_t cfg = makeConfig(tie, zero, algo);
            const auto in = makeInputs(P, n, 1000 * P + n + 10 * tie + zero);
            const std::vector<uint32_t> want = hostEngine(cfg, in, false, 0);
            const auto got = replayDevice(cfg, in, false, n);
            for (int r = 0; r < P; ++r) {
              INFO("rank " << r);
              CHECK(got[r] == want);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("the device engine's packed-API layout replayed with host kernels equals the host engine",
          "[device][layout]") {
  for (int P : {1, 3, 4, 7}) {
    for (int algo : {SV_ALGO_ALLTOALL, SV_ALGO_ALLGATHER}) {
      for (int tie : {SV_TIE_POSITIVE, SV_TIE_RANDOM}) {
        for (size_t nbits : {1ul, 31ul, 32ul, 33ul, 64ul, 1000ul, 3077ul, 40001ul}) {
          INFO("P=" << P << " algo=" << algo << " tie=" << tie << " nbits=" << nbits);
          const svConfig_t cfg = makeConfig(tie, SV_ZERO_POSITIVE, algo);
          // Random words, high bits past nbits included (they must be ignored).
          auto in = makeInputs(P, (nbits + 31) / 32, 31 * P + nbits + tie);
          const std::vector<uint32_t> want = hostEngine(cfg, in, true, nbits);
          const auto got = replayDevice(cfg, in, true, nbits);
          for (int r = 0; r < P; ++r) {
            INFO("rank " << r);
            CHECK(got[r] == want);
          }
        }
      }
    }
  }
}
