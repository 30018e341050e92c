// SPDX-License-Identifier: MIT
// svAllReduceSign against ncclAllReduce (fp32, sum) on device buffers,
// without MPI: the program forks its P ranks (tests/gpu/fork_ranks.h), for
// the GPU machine, which has no MPI (sv_allreduce_perf needs it). Each rank
// times every call with CUDA events on its stream; the table gives, per size,
// the median over iterations of the slowest rank's time.
//
//   sv_gpu_vote_bench -p P [-b 4K] [-e 256M] [-f 4] [-n 20] [-w 5]
//
// Sizes are bytes of fp32 input per rank. Ratio = NCCL time / signvote time
// (> 1: signvote faster). Ranks beyond the GPU count share GPUs through
// NCCL's socket transport (fork_ranks.h): such figures measure that
// transport, not the GPU's links.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fork_ranks.h"
#include "gpu_preflight.h"
#include "signvote.h"
#include "signvote_nccl.h"

namespace {

struct Args {
  int P = 1;
  size_t minBytes = 4096, maxBytes = size_t(256) << 20;
  double factor = 4;
  int iters = 20, warmup = 5;
};

size_t parseSize(const char* s) {
  char* end = nullptr;
  double v = strtod(s, &end);
  switch (end && *end ? *end : ' ') {
    case 'K': case 'k': v *= 1024; break;
    case 'M': case 'm': v *= 1024 * 1024; break;
    case 'G': case 'g': v *= 1024.0 * 1024 * 1024; break;
    default: break;
  }
  return static_cast<size_t>(v);
}

#define OK(cond, what)                                           \
  do {                                                           \
    if (!(cond)) {                                               \
      fprintf(stderr, "rank %d: %s failed\n", link.rank(), what); \
      return 1;                                                  \
    }                                                            \
  } while (0)

double median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int rankMain(svtest::RankLink& link, const Args& a) {
  int ndev = 0;
  const svtest::GpuVerdict v = svtest::gpuPreflight("gpu_vote_bench", link.rank() == 0, &ndev);
  if (v != svtest::GpuVerdict::kRun) return svtest::exitCodeOf(v);
  svtest::shareGpusIfNeeded(link.rank(), link.nranks(), ndev);
  const int device = link.rank() % ndev;
  OK(cudaSetDevice(device) == cudaSuccess, "cudaSetDevice");
  cudaStream_t stream;
  OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) == cudaSuccess, "cudaStreamCreate");
  // Both ids travel as svUniqueId (an ncclUniqueId's 128 bytes, signvote_nccl.h).
  static_assert(sizeof(svUniqueId) == sizeof(ncclUniqueId), "svUniqueId must be an ncclUniqueId");
  svUniqueId sid, nidBytes;
  ncclUniqueId nid;
  if (link.rank() == 0) {
    OK(svGetUniqueId(&sid) == svSuccess, "svGetUniqueId");
    OK(ncclGetUniqueId(&nid) == ncclSuccess, "ncclGetUniqueId");
    memcpy(&nidBytes, &nid, sizeof nid);
  }
  OK(link.broadcastId(&sid) && link.broadcastId(&nidBytes), "unique ids from rank 0");
  memcpy(&nid, &nidBytes, sizeof nid);
  svConfig_t cfg = SV_CONFIG_INITIALIZER;
  cfg.device = device;
  svComm_t sv = nullptr;
  OK(svCommInitRankConfig(&sv, link.nranks(), sid, link.rank(), &cfg) == svSuccess, "svCommInitRankConfig");
  ncclComm_t nc = nullptr;
  OK(ncclCommInitRank(&nc, link.nranks(), nid, link.rank()) == ncclSuccess, "ncclCommInitRank");
  float *send = nullptr, *recv = nullptr;
  OK(cudaMalloc(&send, a.maxBytes) == cudaSuccess && cudaMalloc(&recv, a.maxBytes) == cudaSuccess, "cudaMalloc");
  // Signs vary with rank and element (the vote's speed does not depend on
  // them; ncclAllReduce's neither).
  std::vector<float> host(a.maxBytes / 4);
  for (size_t i = 0; i < host.size(); ++i) host[i] = ((i * 2654435761u + link.rank()) >> 7) & 1 ? 1.0f : -1.0f;
  OK(cudaMemcpy(send, host.data(), a.maxBytes, cudaMemcpyHostToDevice) == cudaSuccess, "cudaMemcpy");
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  for (size_t bytes = a.minBytes; bytes <= a.maxBytes;
       bytes = std::max(bytes + 4, static_cast<size_t>(bytes * a.factor))) {
    const size_t count = bytes / 4;
    std::vector<float> tsv, tnccl;
    for (int it = 0; it < a.warmup + a.iters; ++it) {
      float ms = 0;
      cudaEventRecord(e0, stream);
      OK(svAllReduceSign(send, recv, count, svFloat32, sv, stream) == svSuccess, "svAllReduceSign");
      cudaEventRecord(e1, stream);
      OK(cudaEventSynchronize(e1) == cudaSuccess, "signvote call");
      cudaEventElapsedTime(&ms, e0, e1);
      if (it >= a.warmup) tsv.push_back(ms);
      cudaEventRecord(e0, stream);
      OK(ncclAllReduce(send, recv, count, ncclFloat, ncclSum, nc, stream) == ncclSuccess, "ncclAllReduce");
      cudaEventRecord(e1, stream);
      OK(cudaEventSynchronize(e1) == cudaSuccess, "NCCL call");
      cudaEventElapsedTime(&ms, e0, e1);
      if (it >= a.warmup) tnccl.push_back(ms);
    }
    char line[128];
    snprintf(line, sizeof line, "%zu %.3f %.3f", bytes, median(tsv) * 1e3, median(tnccl) * 1e3);
    link.report(line);
  }
  cudaFree(send);
  cudaFree(recv);
  svCommDestroy(sv);
  ncclCommDestroy(nc);
  cudaStreamDestroy(stream);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "-p") a.P = atoi(argv[i + 1]);
    else if (k == "-b") a.minBytes = parseSize(argv[i + 1]);
    else if (k == "-e") a.maxBytes = parseSize(argv[i + 1]);
    else if (k == "-f") a.factor = atof(argv[i + 1]);
    else if (k == "-n") a.iters = atoi(argv[i + 1]);
    else if (k == "-w") a.warmup = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "usage: %s -p P [-b 4K] [-e 256M] [-f 4] [-n 20] [-w 5]\n", argv[0]);
      return 2;
    }
  }
  if (a.P < 1 || a.minBytes < 4 || a.maxBytes < a.minBytes || a.factor <= 1 || a.iters < 1) {
    fprintf(stderr, "bad arguments\n");
    return 2;
  }
  const svtest::ForkResult res = svtest::runForked(a.P, [&a](svtest::RankLink& link) { return rankMain(link, a); });
  for (int r = 0; r < a.P; ++r)
    if (res.exits[r] != 0) {
      fprintf(stderr, "rank %d exited with %d\n", r, res.exits[r]);
      return res.exits[r] == svtest::kExitSkip ? svtest::kExitSkip : 1;
    }
  printf("# sv_gpu_vote_bench P=%d, median of %d iterations, slowest rank; times in us\n", a.P, a.iters);
  printf("%14s %12s %12s %12s %10s\n", "bytes(fp32)", "count", "signvote", "nccl_fp32", "nccl/sv");
  for (size_t k = 0; k < res.lines[0].size(); ++k) {
    size_t bytes = 0;
    double sv = 0, nc = 0;
    for (int r = 0; r < a.P; ++r) {
      size_t b = 0;
      double s = 0, n = 0;
      if (k < res.lines[r].size() && sscanf(res.lines[r][k].c_str(), "%zu %lf %lf", &b, &s, &n) == 3) {
        bytes = b;
        sv = std::max(sv, s);
        nc = std::max(nc, n);
      }
    }
    printf("%14zu %12zu %12.1f %12.1f %10.2f\n", bytes, bytes / 4, sv, nc, sv > 0 ? nc / sv : 0.0);
  }
  return 0;
}
