// SPDX-License-Identifier: MIT
// Device communicators under mpirun (ctest -L gpu): every rank drives one
// GPU (ranks may share one), over both device transports:
//
//   nccl        svGetUniqueId on rank 0, MPI_Bcast, svCommInitRankConfig
//   nccl-wrap   svCommInitFromNccl on the test's own ncclComm_t
//   mpi         svCommInitMPI with config.device (CUDA-aware when MPI says so)
//   mpi-staged  the same with mpiCudaAware = 0 (pinned host staging)
//
// For every datatype, tie and zero policy, algorithm, tail size and in/out of
// place, each rank checks: (1) the output equals a host communicator's on the
// same input, bit for bit (the host backend is the reference), (2) every
// element with a strict majority equals an integer vote computed here with
// MPI_Allreduce over per-element +1/-1 counts (the independent oracle), ties
// per policy, (3) all ranks hold identical output. Then SV_NAN_ERROR through
// svCommGetAsyncError, host pointers refused, the packed/pack/unpack calls,
// and (NCCL) a call captured into a CUDA graph.
//
// gpu_preflight.h decides on every rank: all run, or all skip (exit 77, no
// CUDA device on some rank), or all fail (a broken CUDA setup on some rank,
// or no device under SV_REQUIRE_GPU=1).
// Usage: mpi_gpu_comm_test [nccl,nccl-wrap,mpi,mpi-staged] (default: all)
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include <random>
#include <string>
#include <vector>

#include "gpu_preflight.h"
#include "gpu_test_inputs.h"
#include "signvote_mpi.h"
#if defined(SV_TEST_WITH_NCCL)
#include "signvote_nccl.h"
#endif

namespace {

int gRank = 0, gSize = 1, gDevice = 0;
long gChecks = 0, gFailures = 0;
std::string gCase;

#define CHECK(cond, ...)                                                                  \
  do {                                                                                    \
    ++gChecks;                                                                            \
    if (!(cond)) {                                                                        \
      if (++gFailures <= 20) {                                                            \
        fprintf(stderr, "FAIL rank %d line %d [%s]: ", gRank, __LINE__, gCase.c_str());   \
        fprintf(stderr, __VA_ARGS__);                                                     \
        fprintf(stderr, "\n");                                                            \
      }                                                                                   \
    }                                                                                     \
  } while (0)
#define CUDA_OK(call)                                                                           \
  do {                                                                                          \
    cudaError_t e_ = (call);                                                                    \
    if (e_ != cudaSuccess) {                                                                    \
      fprintf(stderr, "rank %d: %s failed: %s\n", gRank, #call, cudaGetErrorString(e_));       \
      MPI_Abort(MPI_COMM_WORLD, 1);                                                             \
    }                                                                                           \
  } while (0)
#define SV_OK(call)                                                                                      \
  do {                                                                                                   \
    svResult_t r_ = (call);                                                                              \
    if (r_ != svSuccess) {                                                                               \
      fprintf(stderr, "rank %d [%s]: %s failed: %s: %s\n", gRank, gCase.c_str(), #call,                  \
              svGetErrorString(r_), svGetLastError(nullptr));                                            \
      MPI_Abort(MPI_COMM_WORLD, 1);                                                                      \
    }                                                                                                    \
  } while (0)

using svtest::Type;
using svtest::kTypes;
using svtest::load;
using svtest::store;
using svtest::hashBytes;

void makeInput(const Type& t, size_t n, uint64_t seed, bool withNan, std::vector<unsigned char>* buf,
               std::vector<int8_t>* cls) {
  svtest::makeInput(t, n, seed, gRank, withNan, buf, cls);
}

bool allRanksSame(uint64_t h) {
  uint64_t lo = 0, hi = 0;
  MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  return lo == hi;
}

struct Policy {
  int tie, zero, algo;
};

svConfig_t makeConfig(const Policy& p, int device, int nan, int mpiCudaAware) {
  svConfig_t c = SV_CONFIG_INITIALIZER;
  c.tiePolicy = p.tie;
  c.zeroPolicy = p.zero;
  c.nanPolicy = nan;
  c.algorithm = p.algo;
  c.seed = 12345;
  c.device = device;
  if (mpiCudaAware != SV_CONFIG_UNDEF_INT) c.mpiCudaAware = mpiCudaAware;
  return c;
}

#if defined(SV_TEST_WITH_NCCL)
ncclComm_t gWrapped = nullptr;  // the test's own NCCL communicator (nccl-wrap)
#endif

// A device communicator over `transport` with `cfg` (device already set).
svComm_t makeDeviceComm(const std::string& transport, svConfig_t cfg) {
  svComm_t c = nullptr;
  if (transport == "mpi" || transport == "mpi-staged") {
    cfg.mpiCudaAware = transport == "mpi" ? -1 : 0;
    SV_OK(svCommInitMPI(&c, MPI_COMM_WORLD, &cfg));
#if defined(SV_TEST_WITH_NCCL)
  } else if (transport == "nccl") {
    svUniqueId id;
    if (gRank == 0) SV_OK(svGetUniqueId(&id));
    MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
    SV_OK(svCommInitRankConfig(&c, gSize, id, gRank, &cfg));
  } else if (transport == "nccl-wrap") {
    SV_OK(svCommInitFromNccl(&c, gWrapped, &cfg));
#endif
  } else {
    fprintf(stderr, "unknown transport %s\n", transport.c_str());
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  int dev = -2;
  SV_OK(svCommCuDevice(c, &dev));
  CHECK(dev == gDevice, "svCommCuDevice says %d, expected %d", dev, gDevice);
  return c;
}

// One svAllReduceSign on the device communicator and on the host one; the
// three checks of the header comment.
void checkAllReduce(svComm_t dcomm, svComm_t hcomm, const Policy& pol, const Type& t, size_t n, bool inPlace,
                    uint64_t seed, cudaStream_t stream) {
  std::vector<unsigned char> in;
  std::vector<int8_t> cls;
  makeInput(t, n, seed, true, &in, &cls);
  // Oracle counts: +1 and -1 votes per element over all ranks.
  std::vector<int> pos(n), neg(n), gpos(n), gneg(n);
  for (size_t i = 0; i < n; ++i) {
    pos[i] = svtest::votesPlus(cls[i], pol.zero);
    neg[i] = svtest::votesMinus(cls[i]);
  }
  if (n) {
    MPI_Allreduce(pos.data(), gpos.data(), static_cast<int>(n), MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(neg.data(), gneg.data(), static_cast<int>(n), MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  }
  // Host reference.
  std::vector<unsigned char> hostOut(n * t.bytes + 1);
  if (inPlace) {
    memcpy(hostOut.data(), in.data(), n * t.bytes);
    SV_OK(svAllReduceSign(hostOut.data(), hostOut.data(), n, t.dt, hcomm, nullptr));
  } else {
    SV_OK(svAllReduceSign(in.data(), hostOut.data(), n, t.dt, hcomm, nullptr));
  }
  // Device, with a guard element after recvbuff.
  const size_t bytes = n * t.bytes;
  std::vector<unsigned char> out;
  bool guard = false;
  if (const char* f = svtest::deviceAllReduce(dcomm, t, n, inPlace, in, stream, &out, &guard)) {
    fprintf(stderr, "rank %d [%s]: %s failed: %s\n", gRank, gCase.c_str(), f, svGetLastError(dcomm));
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  CHECK(guard, "bytes past recvbuff + count were written");
  CHECK(memcmp(out.data(), hostOut.data(), bytes) == 0, "device output differs from the host backend's");
  size_t bad = 0, firstBad = 0;
  for (size_t i = 0; i < n; ++i)
    if (!svtest::isVote(t, load(out.data(), t, i), gpos[i], gneg[i], pol.tie) && bad++ == 0) firstBad = i;
  CHECK(bad == 0, "%zu element(s) disagree with the integer vote, first at %zu (+%d/-%d)", bad, firstBad,
        n ? gpos[firstBad] : 0, n ? gneg[firstBad] : 0);
  CHECK(allRanksSame(hashBytes(out.data(), bytes)), "ranks hold different outputs");
}

// svAllReduceSignPacked, svPackSigns, svUnpackSigns against the host comm.
void checkPackedCalls(svComm_t dcomm, svComm_t hcomm, const Policy& pol, size_t nbits, uint64_t seed,
                      cudaStream_t stream) {
  const size_t n32 = (nbits + 31) / 32;
  std::mt19937_64 g(seed + 77 * gRank);
  std::vector<uint32_t> bits(n32 + 1);
  for (auto& w : bits) w = static_cast<uint32_t>(g());
  const bool packedOk = pol.zero == SV_ZERO_POSITIVE && !(pol.tie == SV_TIE_ZERO && gSize % 2 == 0);
  uint32_t* d = nullptr;
  CUDA_OK(cudaMalloc(&d, 2 * (n32 + 1) * 4));
  uint32_t* dOut = d + n32 + 1;
  if (packedOk) {
    std::vector<uint32_t> want(n32 + 1, 0xdeadbeef), got(n32 + 1);
    SV_OK(svAllReduceSignPacked(bits.data(), want.data(), nbits, hcomm, nullptr));
    CUDA_OK(cudaMemcpy(d, bits.data(), n32 * 4, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemset(dOut, 0xef, (n32 + 1) * 4));
    SV_OK(svAllReduceSignPacked(d, dOut, nbits, dcomm, stream));
    CUDA_OK(cudaStreamSynchronize(stream));
    CUDA_OK(cudaMemcpy(got.data(), dOut, (n32 + 1) * 4, cudaMemcpyDeviceToHost));
    CHECK(memcmp(got.data(), want.data(), n32 * 4) == 0, "packed: device differs from host (%zu bits)", nbits);
    CHECK(got[n32] == 0xefefefefu, "packed: word past the output written");
    CHECK(allRanksSame(hashBytes(got.data(), n32 * 4)), "packed: ranks differ");
  }
  // Pack then unpack fp32, against the host's.
  const Type& t = kTypes[0];
  std::vector<unsigned char> in;
  std::vector<int8_t> cls;
  makeInput(t, nbits, seed, false, &in, &cls);
  std::vector<uint32_t> hb(n32), db(n32);
  SV_OK(svPackSigns(in.data(), hb.data(), nbits, t.dt, hcomm, nullptr));
  void* dx = nullptr;
  CUDA_OK(cudaMalloc(&dx, nbits * 4 + 4));
  CUDA_OK(cudaMemcpy(dx, in.data(), nbits * 4, cudaMemcpyHostToDevice));
  SV_OK(svPackSigns(dx, d, nbits, t.dt, dcomm, stream));
  CUDA_OK(cudaStreamSynchronize(stream));
  CUDA_OK(cudaMemcpy(db.data(), d, n32 * 4, cudaMemcpyDeviceToHost));
  CHECK(hb == db, "svPackSigns: device differs from host (%zu elements)", nbits);
  std::vector<unsigned char> hu(nbits * 4), du(nbits * 4);
  SV_OK(svUnpackSigns(hb.data(), hu.data(), nbits, t.dt, hcomm, nullptr));
  SV_OK(svUnpackSigns(d, dx, nbits, t.dt, dcomm, stream));
  CUDA_OK(cudaStreamSynchronize(stream));
  CUDA_OK(cudaMemcpy(du.data(), dx, nbits * 4, cudaMemcpyDeviceToHost));
  CHECK(hu == du, "svUnpackSigns: device differs from host (%zu elements)", nbits);
  CUDA_OK(cudaFree(dx));
  CUDA_OK(cudaFree(d));
}

// SV_NAN_ERROR: one rank has a NaN; the call is enqueued fine, recvbuff stays
// untouched on every rank, and svCommGetAsyncError reports it once.
void checkNanError(svComm_t dcomm, cudaStream_t stream) {
  const Type& t = kTypes[0];
  const size_t n = 5000;
  std::vector<unsigned char> in;
  std::vector<int8_t> cls;
  makeInput(t, n, 99, false, &in, &cls);
  if (gRank == gSize - 1) store(in, t, n / 2, t.nan);
  void *ds = nullptr, *dr = nullptr;
  CUDA_OK(cudaMalloc(&ds, n * 4));
  CUDA_OK(cudaMalloc(&dr, n * 4));
  CUDA_OK(cudaMemcpy(ds, in.data(), n * 4, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemset(dr, 0x5a, n * 4));
  svResult_t async = svInternalError;
  SV_OK(svCommGetAsyncError(dcomm, &async));
  CHECK(async == svSuccess, "async error %d before any NaN", (int)async);
  SV_OK(svAllReduceSign(ds, dr, n, t.dt, dcomm, stream));
  CUDA_OK(cudaStreamSynchronize(stream));
  SV_OK(svCommGetAsyncError(dcomm, &async));
  CHECK(async == svInvalidArgument, "SV_NAN_ERROR: async error %d, expected svInvalidArgument", (int)async);
  CHECK(strstr(svGetLastError(dcomm), "NaN") != nullptr, "last error does not mention NaN: %s",
        svGetLastError(dcomm));
  std::vector<unsigned char> out(n * 4);
  CUDA_OK(cudaMemcpy(out.data(), dr, n * 4, cudaMemcpyDeviceToHost));
  bool untouched = true;
  for (unsigned char b : out) untouched &= b == 0x5a;
  CHECK(untouched, "SV_NAN_ERROR: recvbuff was written");
  SV_OK(svCommGetAsyncError(dcomm, &async));
  CHECK(async == svSuccess, "the NaN error was reported twice");
  // A clean call afterwards works.
  if (gRank == gSize - 1) store(in, t, n / 2, t.one);
  CUDA_OK(cudaMemcpy(ds, in.data(), n * 4, cudaMemcpyHostToDevice));
  SV_OK(svAllReduceSign(ds, dr, n, t.dt, dcomm, stream));
  CUDA_OK(cudaStreamSynchronize(stream));
  SV_OK(svCommGetAsyncError(dcomm, &async));
  CHECK(async == svSuccess, "async error %d after a clean call", (int)async);
  CUDA_OK(cudaMemcpy(out.data(), dr, n * 4, cudaMemcpyDeviceToHost));
  CHECK(load(out.data(), t, 0) == t.one || load(out.data(), t, 0) == (t.one | t.sign), "clean call wrote no vote");
  CUDA_OK(cudaFree(ds));
  CUDA_OK(cudaFree(dr));
}

// Host pointers on a device communicator: svInvalidArgument, nothing written.
void checkHostPointers(svComm_t dcomm, cudaStream_t stream) {
  std::vector<float> hs(100, 1.0f), hr(100, 7.0f);
  CHECK(svAllReduceSign(hs.data(), hr.data(), 100, svFloat32, dcomm, stream) == svInvalidArgument,
        "host pointers accepted by a device communicator");
  CHECK(strstr(svGetLastError(dcomm), "host memory") != nullptr, "error does not say host memory: %s",
        svGetLastError(dcomm));
  bool same = true;
  for (float v : hr) same &= v == 7.0f;
  CHECK(same, "recvbuff written after a refused call");
  void* d = nullptr;
  CUDA_OK(cudaMalloc(&d, 400));
  CHECK(svAllReduceSign(d, hr.data(), 100, svFloat32, dcomm, stream) == svInvalidArgument,
        "host recvbuff accepted by a device communicator");
  CUDA_OK(cudaFree(d));
}

#if defined(SV_TEST_WITH_NCCL)
// A call captured into a CUDA graph and replayed equals the direct call.
void checkGraph(svComm_t dcomm, svComm_t hcomm, cudaStream_t stream) {
  const Type& t = kTypes[0];
  const size_t n = 100000;
  std::vector<unsigned char> in;
  std::vector<int8_t> cls;
  makeInput(t, n, 4242, false, &in, &cls);
  std::vector<unsigned char> want(n * 4), got(n * 4);
  void *ds = nullptr, *dr = nullptr;
  CUDA_OK(cudaMalloc(&ds, n * 4));
  CUDA_OK(cudaMalloc(&dr, n * 4));
  CUDA_OK(cudaMemcpy(ds, in.data(), n * 4, cudaMemcpyHostToDevice));
  // Warm-up outside capture: staging grows here, never inside the graph.
  SV_OK(svAllReduceSign(ds, dr, n, t.dt, dcomm, stream));
  CUDA_OK(cudaStreamSynchronize(stream));
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  const svResult_t rc = svAllReduceSign(ds, dr, n, t.dt, dcomm, stream);
  CUDA_OK(cudaStreamEndCapture(stream, &graph));
  CHECK(rc == svSuccess, "svAllReduceSign under capture: %s", svGetLastError(dcomm));
  CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  // Replays: ties break positive here, so every replay must match the host
  // reference (random ties across replays: tests/emu, "graph replays draw").
  SV_OK(svAllReduceSign(in.data(), want.data(), n, t.dt, hcomm, nullptr));
  for (int rep = 0; rep < 2; ++rep) {
    CUDA_OK(cudaMemset(dr, 0, n * 4));
    CUDA_OK(cudaGraphLaunch(exec, stream));
    CUDA_OK(cudaStreamSynchronize(stream));
    CUDA_OK(cudaMemcpy(got.data(), dr, n * 4, cudaMemcpyDeviceToHost));
    CHECK(got == want, "graph replay %d differs from the host backend", rep);
  }
  CUDA_OK(cudaGraphExecDestroy(exec));
  CUDA_OK(cudaGraphDestroy(graph));
  CUDA_OK(cudaFree(ds));
  CUDA_OK(cudaFree(dr));
}
#endif

void runTransport(const std::string& transport, cudaStream_t stream) {
  const Policy policies[] = {
      {SV_TIE_POSITIVE, SV_ZERO_POSITIVE, SV_ALGO_ALLTOALL}, {SV_TIE_POSITIVE, SV_ZERO_POSITIVE, SV_ALGO_ALLGATHER},
      {SV_TIE_POSITIVE, SV_ZERO_POSITIVE, SV_ALGO_AUTO},     {SV_TIE_ZERO, SV_ZERO_POSITIVE, SV_ALGO_ALLTOALL},
      {SV_TIE_ZERO, SV_ZERO_ABSTAIN, SV_ALGO_ALLGATHER},     {SV_TIE_RANDOM, SV_ZERO_POSITIVE, SV_ALGO_ALLGATHER},
      {SV_TIE_RANDOM, SV_ZERO_ABSTAIN, SV_ALGO_ALLTOALL},    {SV_TIE_POSITIVE, SV_ZERO_ABSTAIN, SV_ALGO_ALLTOALL},
  };
  const size_t sizes[] = {0, 1, 31, 64, 65, 1000, 4097, 70001};
  for (const Policy& pol : policies) {
    char name[160];
    snprintf(name, sizeof(name), "%s tie=%d zero=%d algo=%d", transport.c_str(), pol.tie, pol.zero, pol.algo);
    gCase = name;
    svConfig_t dc = makeConfig(pol, gDevice, SV_NAN_AS_ZERO, SV_CONFIG_UNDEF_INT);
    svConfig_t hc = makeConfig(pol, SV_DEVICE_HOST, SV_NAN_AS_ZERO, SV_CONFIG_UNDEF_INT);
    svComm_t dcomm = makeDeviceComm(transport, dc), hcomm = nullptr;
    SV_OK(svCommInitMPI(&hcomm, MPI_COMM_WORLD, &hc));
    uint64_t seed = 1;
    // Same call sequence on both communicators: their call counters (the
    // random-tie input) stay equal.
    for (const Type& t : kTypes)
      for (size_t n : sizes)
        for (int inPlace = 0; inPlace < 2; ++inPlace) {
          snprintf(name, sizeof(name), "%s tie=%d zero=%d algo=%d %s n=%zu %s", transport.c_str(), pol.tie, pol.zero,
                   pol.algo, t.name, n, inPlace ? "in-place" : "out-of-place");
          gCase = name;
          checkAllReduce(dcomm, hcomm, pol, t, n, inPlace, ++seed, stream);
        }
    for (size_t nb : {1ul, 33ul, 64ul, 1000ul, 70001ul}) checkPackedCalls(dcomm, hcomm, pol, nb, ++seed, stream);
    SV_OK(svCommDestroy(dcomm));
    SV_OK(svCommDestroy(hcomm));
  }
  gCase = transport + " nan-error";
  svConfig_t nc = makeConfig({SV_TIE_POSITIVE, SV_ZERO_POSITIVE, SV_ALGO_AUTO}, gDevice, SV_NAN_ERROR,
                             SV_CONFIG_UNDEF_INT);
  svComm_t dcomm = makeDeviceComm(transport, nc);
  checkNanError(dcomm, stream);
  gCase = transport + " host pointers";
  checkHostPointers(dcomm, stream);
  SV_OK(svCommDestroy(dcomm));
#if defined(SV_TEST_WITH_NCCL)
  if (transport.compare(0, 4, "nccl") == 0) {
    gCase = transport + " graph";
    svConfig_t gc = makeConfig({SV_TIE_POSITIVE, SV_ZERO_POSITIVE, SV_ALGO_AUTO}, gDevice, SV_NAN_AS_ZERO,
                               SV_CONFIG_UNDEF_INT);
    svConfig_t hc = makeConfig({SV_TIE_POSITIVE, SV_ZERO_POSITIVE, SV_ALGO_AUTO}, SV_DEVICE_HOST, SV_NAN_AS_ZERO,
                               SV_CONFIG_UNDEF_INT);
    svComm_t g = makeDeviceComm(transport, gc), h = nullptr;
    SV_OK(svCommInitMPI(&h, MPI_COMM_WORLD, &hc));
    checkGraph(g, h, stream);
    SV_OK(svCommDestroy(g));
    SV_OK(svCommDestroy(h));
  }
#endif
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &gRank);
  MPI_Comm_size(MPI_COMM_WORLD, &gSize);
  int ndev = 0;
  const svtest::GpuVerdict mine = svtest::gpuPreflight("gpu_comm", gRank == 0, &ndev);
  // kRun < kSkip < kFail: the worst verdict of any rank holds for all.
  int verdict = static_cast<int>(mine), worst = 0;
  MPI_Allreduce(&verdict, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (worst != static_cast<int>(svtest::GpuVerdict::kRun)) {
    if (gRank == 0 && mine == svtest::GpuVerdict::kRun)
      printf("%s: another rank %s\n", worst == static_cast<int>(svtest::GpuVerdict::kSkip) ? "SKIPPED" : "FAILED",
             worst == static_cast<int>(svtest::GpuVerdict::kSkip) ? "sees no CUDA device" : "has a broken CUDA setup");
    MPI_Finalize();
    return svtest::exitCodeOf(static_cast<svtest::GpuVerdict>(worst));
  }
  // Node-local rank -> device, round robin: several ranks may share a GPU.
  MPI_Comm local;
  int localRank = 0;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, gRank, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &localRank);
  MPI_Comm_free(&local);
  gDevice = localRank % ndev;
  CUDA_OK(cudaSetDevice(gDevice));
  cudaStream_t stream;
  CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

  std::vector<std::string> transports;
  std::string list = argc > 1 ? argv[1] : "nccl,nccl-wrap,mpi,mpi-staged";
  for (size_t p = 0; p <= list.size();) {
    size_t q = list.find(',', p);
    if (q == std::string::npos) q = list.size();
    if (q > p) transports.push_back(list.substr(p, q - p));
    p = q + 1;
  }
#if defined(SV_TEST_WITH_NCCL)
  {
    ncclUniqueId id;
    if (gRank == 0) ncclGetUniqueId(&id);
    MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
    if (ncclCommInitRank(&gWrapped, gSize, id, gRank) != ncclSuccess) {
      fprintf(stderr, "rank %d: ncclCommInitRank failed (several ranks per GPU need a distinct NCCL_HOSTID each; "
                      "tests/gpu/per_rank_env.sh sets it)\n", gRank);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
#endif
  for (const std::string& t : transports) {
#if !defined(SV_TEST_WITH_NCCL)
    if (t.compare(0, 4, "nccl") == 0) {
      if (gRank == 0) printf("%s: not built (no NCCL)\n", t.c_str());
      continue;
    }
#endif
    const long before = gFailures;
    runTransport(t, stream);
    long f = gFailures - before, fall = 0;
    MPI_Allreduce(&f, &fall, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (gRank == 0) printf("P=%d %s: %s\n", gSize, t.c_str(), fall ? "FAILED" : "ok");
  }
#if defined(SV_TEST_WITH_NCCL)
  // The wrapped communicator still works after its signvote wrappers are gone.
  ncclCommDestroy(gWrapped);
#endif
  CUDA_OK(cudaStreamDestroy(stream));
  long fails = 0, checks = 0;
  MPI_Allreduce(&gFailures, &fails, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(&gChecks, &checks, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  if (gRank == 0) printf("P=%d: %ld checks, %ld failure(s)\n", gSize, checks, fails);
  MPI_Finalize();
  return fails ? 1 : 0;
}
