// SPDX-License-Identifier: MIT
// Device communicators over NCCL without MPI (ctest -L gpu): the test forks P
// rank processes (fork_ranks.h), rank 0 makes the svUniqueId, every rank
// drives one GPU (ranks may share one). For the GPU machine, which has no MPI;
// mpi_gpu_comm_test.cc is the same under mpirun, with the MPI transport too.
//
// Every rank regenerates every rank's input (gpu_test_inputs.h), so each
// checks its output against the integer vote of all inputs (ties per
// policy); the parent checks that all ranks reported identical output hashes.
// Covered: every datatype, tie and zero policy, both algorithms, sizes up to
// past one vote grid, in and out of place; SV_NAN_ERROR through
// svCommGetAsyncError with recvbuff untouched; a captured call replayed,
// mixed with eager calls, each replay breaking random ties as its own call
// number; staging growth after a capture refused; svCommAbort freeing a
// stream whose peer never calls; a group of 60 tensors fused.
//
//   sv_gpu_fork_test P [quick]     (exit 0 pass, 77 skipped: no CUDA device)
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fork_ranks.h"
#include "gpu_preflight.h"
#include "gpu_test_inputs.h"
#include "signvote.h"
#include "signvote_nccl.h"

namespace {

using namespace svtest;

int gRank = 0, gSize = 1;
long gFailures = 0;
std::string gCase;

#define CHECK(cond, ...)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      if (++gFailures <= 20) {                                                          \
        fprintf(stderr, "FAIL rank %d line %d [%s]: ", gRank, __LINE__, gCase.c_str()); \
        fprintf(stderr, __VA_ARGS__);                                                   \
        fprintf(stderr, "\n");                                                          \
      }                                                                                 \
    }                                                                                   \
  } while (0)
#define CUDA_OK(call)                                                                     \
  do {                                                                                    \
    cudaError_t e_ = (call);                                                              \
    if (e_ != cudaSuccess) {                                                              \
      fprintf(stderr, "rank %d: %s failed: %s\n", gRank, #call, cudaGetErrorString(e_)); \
      _exit(1);                                                                           \
    }                                                                                     \
  } while (0)
#define SV_OK(call)                                                                                           \
  do {                                                                                                        \
    svResult_t r_ = (call);                                                                                   \
    if (r_ != svSuccess) {                                                                                    \
      fprintf(stderr, "rank %d [%s]: %s failed: %s: %s\n", gRank, gCase.c_str(), #call, svGetErrorString(r_), \
              svGetLastError(nullptr));                                                                       \
      _exit(1);                                                                                               \
    }                                                                                                         \
  } while (0)

struct Policy {
  int tie, zero, algo;
};

svConfig_t makeConfig(const Policy& p, int device, int nan) {
  svConfig_t c = SV_CONFIG_INITIALIZER;
  c.tiePolicy = p.tie;
  c.zeroPolicy = p.zero;
  c.nanPolicy = nan;
  c.algorithm = p.algo;
  c.seed = 12345;
  c.device = device;
  return c;
}

// One NCCL-backed communicator of all ranks (a new unique id each time).
svComm_t makeComm(RankLink& link, const svConfig_t& cfg) {
  svUniqueId id;
  if (gRank == 0) SV_OK(svGetUniqueId(&id));
  if (!link.broadcastId(&id)) {
    fprintf(stderr, "rank %d: no unique id from rank 0\n", gRank);
    _exit(1);
  }
  svConfig_t c = cfg;
  svComm_t comm = nullptr;
  SV_OK(svCommInitRankConfig(&comm, gSize, id, gRank, &c));
  return comm;
}

// The device call on this rank's input; its output checked against the
// integer vote of every rank's input; the hash reported for the parent.
void checkAllReduce(RankLink& link, svComm_t comm, const Policy& pol, const Type& t, size_t n, bool inPlace,
                    uint64_t seed, cudaStream_t stream) {
  std::vector<int> pos(n, 0), neg(n, 0);
  std::vector<unsigned char> in, mine;
  std::vector<int8_t> cls;
  for (int r = 0; r < gSize; ++r) {
    makeInput(t, n, seed, r, true, &in, &cls);
    for (size_t i = 0; i < n; ++i) {
      pos[i] += votesPlus(cls[i], pol.zero);
      neg[i] += votesMinus(cls[i]);
    }
    if (r == gRank) mine = in;
  }
  std::vector<unsigned char> out;
  bool guard = false;
  if (const char* f = deviceAllReduce(comm, t, n, inPlace, mine, stream, &out, &guard)) {
    fprintf(stderr, "rank %d [%s]: %s failed: %s\n", gRank, gCase.c_str(), f, svGetLastError(comm));
    _exit(1);
  }
  CHECK(guard, "bytes past recvbuff + count were written");
  size_t bad = 0, firstBad = 0;
  for (size_t i = 0; i < n; ++i)
    if (!isVote(t, load(out.data(), t, i), pos[i], neg[i], pol.tie) && bad++ == 0) firstBad = i;
  CHECK(bad == 0, "%zu element(s) disagree with the integer vote, first at %zu", bad, firstBad);
  char line[256];
  snprintf(line, sizeof line, "%s %016llx", gCase.c_str(),
           static_cast<unsigned long long>(hashBytes(out.data(), out.size())));
  link.report(line);
}

void runVotes(RankLink& link, int device, cudaStream_t stream, bool quick) {
  const Policy policies[] = {
      {SV_TIE_POSITIVE, SV_ZERO_POSITIVE, SV_ALGO_ALLTOALL}, {SV_TIE_POSITIVE, SV_ZERO_POSITIVE, SV_ALGO_ALLGATHER},
      {SV_TIE_ZERO, SV_ZERO_POSITIVE, SV_ALGO_ALLTOALL},     {SV_TIE_ZERO, SV_ZERO_ABSTAIN, SV_ALGO_ALLGATHER},
      {SV_TIE_RANDOM, SV_ZERO_POSITIVE, SV_ALGO_ALLGATHER},  {SV_TIE_RANDOM, SV_ZERO_ABSTAIN, SV_ALGO_ALLTOALL},
      {SV_TIE_POSITIVE, SV_ZERO_ABSTAIN, SV_ALGO_ALLTOALL},  {SV_TIE_ZERO, SV_ZERO_ABSTAIN, SV_ALGO_AUTO},
  };
  const std::vector<size_t> sizes = quick ? std::vector<size_t>{0, 1, 65, 4097}
                                          : std::vector<size_t>{0, 1, 31, 64, 65, 1000, 4097, 70001};
  for (const Policy& pol : policies) {
    svComm_t comm = makeComm(link, makeConfig(pol, device, SV_NAN_AS_ZERO));
    uint64_t seed = 1;
    char name[160];
    for (const Type& t : kTypes)
      for (size_t n : sizes)
        for (int inPlace = 0; inPlace < 2; ++inPlace) {
          snprintf(name, sizeof name, "tie=%d zero=%d algo=%d %s n=%zu %s", pol.tie, pol.zero, pol.algo, t.name, n,
                   inPlace ? "in-place" : "out-of-place");
          gCase = name;
          checkAllReduce(link, comm, pol, t, n, inPlace, ++seed, stream);
        }
    // fp32 past one vote grid (4096 words per grid of the vote kernel).
    snprintf(name, sizeof name, "tie=%d zero=%d algo=%d fp32 n=2700001", pol.tie, pol.zero, pol.algo);
    gCase = name;
    if (!quick) checkAllReduce(link, comm, pol, kTypes[0], 2700001, false, ++seed, stream);
    SV_OK(svCommDestroy(comm));
  }
}

// SV_NAN_ERROR: the last rank has a NaN; every rank's recvbuff stays
// untouched and svCommGetAsyncError reports it once.
void checkNanError(RankLink& link, int device, cudaStream_t stream) {
  gCase = "nan-error";
  svComm_t comm = makeComm(link, makeConfig({SV_TIE_POSITIVE, SV_ZERO_POSITIVE, SV_ALGO_AUTO}, device, SV_NAN_ERROR));
  const Type& t = kTypes[0];
  const size_t n = 5000;
  std::vector<unsigned char> in;
  std::vector<int8_t> cls;
  makeInput(t, n, 99, gRank, false, &in, &cls);
  if (gRank == gSize - 1) store(in, t, n / 2, t.nan);
  void *ds = nullptr, *dr = nullptr;
  CUDA_OK(cudaMalloc(&ds, n * 4));
  CUDA_OK(cudaMalloc(&dr, n * 4));
  CUDA_OK(cudaMemcpy(ds, in.data(), n * 4, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemset(dr, 0x5a, n * 4));
  SV_OK(svAllReduceSign(ds, dr, n, t.dt, comm, stream));
  CUDA_OK(cudaStreamSynchronize(stream));
  svResult_t async = svSuccess;
  SV_OK(svCommGetAsyncError(comm, &async));
  CHECK(async == svInvalidArgument, "async error %d, expected svInvalidArgument", (int)async);
  std::vector<unsigned char> out(n * 4);
  CUDA_OK(cudaMemcpy(out.data(), dr, n * 4, cudaMemcpyDeviceToHost));
  bool untouched = true;
  for (unsigned char b : out) untouched &= b == 0x5a;
  CHECK(untouched, "recvbuff written by a call with a NaN");
  SV_OK(svCommGetAsyncError(comm, &async));
  CHECK(async == svSuccess, "the NaN error was reported twice");
  CUDA_OK(cudaFree(ds));
  CUDA_OK(cudaFree(dr));
  SV_OK(svCommDestroy(comm));
}

// Graphs, with random ties: communicator A makes eager calls 0..5; B makes
// eager call 0, captures call 1 and replays it 3 times (calls 1, 2, 3), then
// an eager call (4) and one more replay (5). Each must equal A's call of the
// same number. Then a call needing more staging than the captured one is
// refused (svInvalidUsage) and B still works.
void checkGraphs(RankLink& link, int device, cudaStream_t stream) {
  gCase = "graph";
  // Abstaining zeros: ties at every P, so random ties show even at P = 1.
  const Policy pol = {SV_TIE_RANDOM, SV_ZERO_ABSTAIN, SV_ALGO_AUTO};
  svComm_t a = makeComm(link, makeConfig(pol, device, SV_NAN_AS_ZERO));
  svComm_t b = makeComm(link, makeConfig(pol, device, SV_NAN_AS_ZERO));
  const Type& t = kTypes[0];
  const size_t n = 100000;
  std::vector<unsigned char> in;
  std::vector<int8_t> cls;
  makeInput(t, n, 4242, gRank, false, &in, &cls);
  void *ds = nullptr, *dr = nullptr, *big = nullptr;
  CUDA_OK(cudaMalloc(&ds, n * 4));
  CUDA_OK(cudaMalloc(&dr, n * 4));
  CUDA_OK(cudaMalloc(&big, 16 * n * 4));
  CUDA_OK(cudaMemcpy(ds, in.data(), n * 4, cudaMemcpyHostToDevice));
  std::vector<std::vector<unsigned char>> want(6, std::vector<unsigned char>(n * 4));
  for (auto& w : want) {
    SV_OK(svAllReduceSign(ds, dr, n, t.dt, a, stream));
    CUDA_OK(cudaMemcpyAsync(w.data(), dr, n * 4, cudaMemcpyDeviceToHost, stream));
    CUDA_OK(cudaStreamSynchronize(stream));
  }
  CHECK(want[1] != want[2], "calls 1 and 2 break ties alike: replays could not be told apart");
  std::vector<unsigned char> got(n * 4);
  auto expect = [&](int call, const char* what) {
    CUDA_OK(cudaStreamSynchronize(stream));
    CUDA_OK(cudaMemcpy(got.data(), dr, n * 4, cudaMemcpyDeviceToHost));
    CHECK(got == want[call], "%s differs from eager call %d", what, call);
  };
  SV_OK(svAllReduceSign(ds, dr, n, t.dt, b, stream));
  expect(0, "eager call 0");
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  const svResult_t rc = svAllReduceSign(ds, dr, n, t.dt, b, stream);
  CUDA_OK(cudaStreamEndCapture(stream, &graph));
  CHECK(rc == svSuccess, "svAllReduceSign under capture: %s", svGetLastError(b));
  CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  for (int call = 1; call <= 3; ++call) {
    CUDA_OK(cudaGraphLaunch(exec, stream));
    expect(call, "replay");
  }
  SV_OK(svAllReduceSign(ds, dr, n, t.dt, b, stream));
  expect(4, "eager call between replays");
  CUDA_OK(cudaGraphLaunch(exec, stream));
  expect(5, "replay after an eager call");
  // Growth after a capture: refused alike on every rank, nothing enqueued.
  const svResult_t grow = svAllReduceSign(big, big, 16 * n, t.dt, b, stream);
  CHECK(grow == svInvalidUsage, "a call needing more staging after a capture returned %d", (int)grow);
  SV_OK(svAllReduceSign(ds, dr, n, t.dt, b, stream));
  CUDA_OK(cudaStreamSynchronize(stream));
  CUDA_OK(cudaGraphExecDestroy(exec));
  CUDA_OK(cudaGraphDestroy(graph));
  CUDA_OK(cudaFree(ds));
  CUDA_OK(cudaFree(dr));
  CUDA_OK(cudaFree(big));
  SV_OK(svCommDestroy(a));
  SV_OK(svCommDestroy(b));
}

// svCommAbort: the last rank never calls; the others' calls wait in NCCL on
// the GPU until each aborts its communicator from another thread, which must
// free the stream.
void checkAbort(RankLink& link, int device, cudaStream_t stream) {
  gCase = "abort";
  svComm_t comm = makeComm(link, makeConfig({SV_TIE_POSITIVE, SV_ZERO_POSITIVE, SV_ALGO_ALLGATHER}, device, SV_NAN_AS_ZERO));
  if (gSize < 2) {
    SV_OK(svCommDestroy(comm));
    return;
  }
  if (gRank == gSize - 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    SV_OK(svCommAbort(comm));
    return;
  }
  const size_t n = 4096;
  void* d = nullptr;
  CUDA_OK(cudaMalloc(&d, 2 * n * 4));
  SV_OK(svAllReduceSign(d, static_cast<char*>(d) + n * 4, n, svFloat32, comm, stream));
  std::thread aborter([comm] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    svCommAbort(comm);
  });
  const auto t0 = std::chrono::steady_clock::now();
  cudaStreamSynchronize(stream);  // an error is fine; returning is the point
  cudaGetLastError();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  aborter.join();
  CHECK(s < 60, "the stream took %.1f s to return after svCommAbort", s);
  cudaFree(d);
}

// svGroupStart/End: 60 tensors of every datatype and size, voted in place
// as one fused call (the list kernels); each output is the integer vote of
// its own inputs, bytes past it untouched.
void checkGroup(RankLink& link, int device, cudaStream_t stream) {
  gCase = "group";
  const Policy pol = {SV_TIE_ZERO, SV_ZERO_ABSTAIN, SV_ALGO_AUTO};
  svComm_t comm = makeComm(link, makeConfig(pol, device, SV_NAN_AS_ZERO));
  const size_t sizes[] = {1, 63, 64, 65, 1000, 4097, 70001};
  struct Tensor {
    const Type* t;
    size_t n;
    void* d;
    std::vector<int> pos, neg;
  };
  std::vector<Tensor> ts(60);
  std::vector<unsigned char> in;
  std::vector<int8_t> cls;
  for (size_t k = 0; k < ts.size(); ++k) {
    Tensor& x = ts[k];
    x.t = &kTypes[k % 4];
    x.n = sizes[k % 7] + k;
    x.pos.assign(x.n, 0);
    x.neg.assign(x.n, 0);
    for (int r = 0; r < gSize; ++r) {  // every rank, this one last (its input stays in `in`)
      makeInput(*x.t, x.n, 500 + k, (r + gRank + 1) % gSize, true, &in, &cls);
      for (size_t i = 0; i < x.n; ++i) {
        x.pos[i] += votesPlus(cls[i], pol.zero);
        x.neg[i] += votesMinus(cls[i]);
      }
    }
    const size_t bytes = x.n * x.t->bytes;
    CUDA_OK(cudaMalloc(&x.d, bytes + 64));
    CUDA_OK(cudaMemset(x.d, 0xA5, bytes + 64));
    CUDA_OK(cudaMemcpy(x.d, in.data(), bytes, cudaMemcpyHostToDevice));
  }
  SV_OK(svGroupStart());
  for (Tensor& x : ts) SV_OK(svAllReduceSign(x.d, x.d, x.n, x.t->dt, comm, stream));
  SV_OK(svGroupEnd());
  CUDA_OK(cudaStreamSynchronize(stream));
  for (size_t k = 0; k < ts.size(); ++k) {
    Tensor& x = ts[k];
    const size_t bytes = x.n * x.t->bytes;
    std::vector<unsigned char> out(bytes + 64);
    CUDA_OK(cudaMemcpy(out.data(), x.d, out.size(), cudaMemcpyDeviceToHost));
    bool guard = true;
    for (size_t i = bytes; i < out.size(); ++i) guard &= out[i] == 0xA5;
    CHECK(guard, "tensor %zu: bytes past it were written", k);
    size_t bad = 0;
    for (size_t i = 0; i < x.n; ++i) bad += !isVote(*x.t, load(out.data(), *x.t, i), x.pos[i], x.neg[i], pol.tie);
    CHECK(bad == 0, "tensor %zu (%s, %zu): %zu element(s) disagree with the integer vote", k, x.t->name, x.n, bad);
    char line[96];
    snprintf(line, sizeof line, "group %zu %016llx", k, static_cast<unsigned long long>(hashBytes(out.data(), bytes)));
    link.report(line);
    cudaFree(x.d);
  }
  SV_OK(svCommDestroy(comm));
}

int rankMain(RankLink& link, bool quick) {
  gRank = link.rank();
  gSize = link.nranks();
  int ndev = 0;
  const GpuVerdict v = gpuPreflight("gpu_fork", gRank == 0, &ndev);
  if (v != GpuVerdict::kRun) return exitCodeOf(v);
  shareGpusIfNeeded(gRank, gSize, ndev);
  const int device = gRank % ndev;
  CUDA_OK(cudaSetDevice(device));
  cudaStream_t stream;
  CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  runVotes(link, device, stream, quick);
  checkGroup(link, device, stream);
  checkNanError(link, device, stream);
  checkGraphs(link, device, stream);
  checkAbort(link, device, stream);  // last: the stream may be left in an error state
  return gFailures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int P = argc > 1 ? atoi(argv[1]) : 2;
  const bool quick = argc > 2 && strcmp(argv[2], "quick") == 0;
  if (P < 1 || P > 64) {
    fprintf(stderr, "usage: %s P [quick]\n", argv[0]);
    return 2;
  }
  const ForkResult res = runForked(P, [quick](RankLink& link) { return rankMain(link, quick); });
  int skipped = 0, failed = 0;
  for (int r = 0; r < P; ++r) {
    if (res.exits[r] == kExitSkip) ++skipped;
    else if (res.exits[r] != 0) ++failed, fprintf(stderr, "rank %d exited with %d\n", r, res.exits[r]);
  }
  if (failed == 0 && skipped == P) return kExitSkip;
  if (failed == 0 && skipped > 0) {
    fprintf(stderr, "%d of %d ranks skipped: the ranks disagree on the GPUs\n", skipped, P);
    return 1;
  }
  // Every rank's outputs, call by call, must be the same.
  size_t calls = res.lines[0].size();
  for (int r = 1; r < P && !failed; ++r) {
    if (res.lines[r].size() != calls) {
      fprintf(stderr, "rank %d reported %zu calls, rank 0 %zu\n", r, res.lines[r].size(), calls);
      ++failed;
      break;
    }
    for (size_t k = 0; k < calls; ++k)
      if (res.lines[r][k] != res.lines[0][k]) {
        fprintf(stderr, "ranks 0 and %d differ: '%s' vs '%s'\n", r, res.lines[0][k].c_str(), res.lines[r][k].c_str());
        ++failed;
        break;
      }
  }
  printf("P=%d: %zu calls compared across ranks: %s\n", P, calls, failed ? "FAILED" : "ok");
  return failed ? 1 : 0;
}
