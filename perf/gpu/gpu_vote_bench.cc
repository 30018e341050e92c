// SPDX-License-Identifier: MIT
// svAllReduceSign against ncclAllReduce (fp32, sum) on device buffers,
// without MPI: the program forks its P ranks (tests/gpu/fork_ranks.h), for
// the GPU machine, which has no MPI (sv_allreduce_perf needs it). Each rank
// times every call with CUDA events on its stream; the table gives, per size,
// the median over iterations of the slowest rank's time.
//
//   sv_gpu_vote_bench -p P [-b 4K] [-e 256M] [-f 4] [-n 20] [-w 5]
//   sv_gpu_vote_bench -p P -g [-n 20] [-w 5]
//
// -g: ResNet-50's 161 fp32 tensors (perf/resnet50_sizes.h) voted one call
// per tensor, in one svGroupStart/End group and as one call over one buffer
// of the same 25.5 M elements, beside ncclAllReduce the same three ways
// (ncclGroupStart/End for the group); checks that the group's output equals
// the separate calls' bit for bit (exit 1 otherwise).
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
#include "resnet50_sizes.h"
#include "signvote.h"
#include "signvote_nccl.h"

namespace {

struct Args {
  int P = 1;
  size_t minBytes = 4096, maxBytes = size_t(256) << 20;
  double factor = 4;
  int iters = 20, warmup = 5;
  bool resnet = false;  // -g
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
  // Median time of `iters` runs of `step` (after `warmup`), by events on stream.
  auto timed = [&](auto&& step, double* us) -> bool {
    std::vector<float> t;
    for (int it = 0; it < a.warmup + a.iters; ++it) {
      float ms = 0;
      cudaEventRecord(e0, stream);
      if (!step()) return false;
      cudaEventRecord(e1, stream);
      if (cudaEventSynchronize(e1) != cudaSuccess) return false;
      cudaEventElapsedTime(&ms, e0, e1);
      if (it >= a.warmup) t.push_back(ms);
    }
    *us = median(t) * 1e3;
    return true;
  };
  if (a.resnet) {
    const std::vector<size_t> sizes = svperf::resnet50Sizes();
    std::vector<size_t> at(sizes.size() + 1, 0);
    for (size_t k = 0; k < sizes.size(); ++k) at[k + 1] = at[k] + sizes[k];
    const size_t total = at.back();
    OK(total * 4 <= a.maxBytes, "buffers of 25.5 M floats (-e 128M or more)");
    auto each = [&](auto&& f) {
      for (size_t k = 0; k < sizes.size(); ++k)
        if (!f(send + at[k], recv + at[k], sizes[k])) return false;
      return true;
    };
    auto svOne = [&](float* s, float* r, size_t n) {
      return svAllReduceSign(s, r, n, svFloat32, sv, stream) == svSuccess;
    };
    auto ncOne = [&](float* s, float* r, size_t n) {
      return ncclAllReduce(s, r, n, ncclFloat, ncclSum, nc, stream) == ncclSuccess;
    };
    double t[6];
    OK(timed([&] { return each(svOne); }, &t[0]), "separate calls");
    std::vector<float> separate(total), grouped(total);
    OK(cudaMemcpy(separate.data(), recv, total * 4, cudaMemcpyDeviceToHost) == cudaSuccess, "copy back");
    OK(timed([&] { return svGroupStart() == svSuccess && each(svOne) && svGroupEnd() == svSuccess; }, &t[1]),
       "group");
    OK(cudaMemcpy(grouped.data(), recv, total * 4, cudaMemcpyDeviceToHost) == cudaSuccess, "copy back");
    OK(memcmp(separate.data(), grouped.data(), total * 4) == 0, "group output equal to the separate calls'");
    OK(timed([&] { return svOne(send, recv, total); }, &t[2]), "single call");
    OK(timed([&] { return each(ncOne); }, &t[3]), "NCCL separate");
    OK(timed([&] { return ncclGroupStart() == ncclSuccess && each(ncOne) && ncclGroupEnd() == ncclSuccess; }, &t[4]),
       "NCCL group");
    OK(timed([&] { return ncOne(send, recv, total); }, &t[5]), "NCCL single");
    char line[192];
    snprintf(line, sizeof line, "%.3f %.3f %.3f %.3f %.3f %.3f", t[0], t[1], t[2], t[3], t[4], t[5]);
    link.report(line);
  }
  for (size_t bytes = a.minBytes; !a.resnet && bytes <= a.maxBytes;
       bytes = std::max(bytes + 4, static_cast<size_t>(bytes * a.factor))) {
    const size_t count = bytes / 4;
    double tsv = 0, tnccl = 0;
    OK(timed([&] { return svAllReduceSign(send, recv, count, svFloat32, sv, stream) == svSuccess; }, &tsv),
       "svAllReduceSign");
    OK(timed([&] { return ncclAllReduce(send, recv, count, ncclFloat, ncclSum, nc, stream) == ncclSuccess; }, &tnccl),
       "ncclAllReduce");
    char line[128];
    snprintf(line, sizeof line, "%zu %.3f %.3f", bytes, tsv, tnccl);
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
  for (int i = 1; i < argc; i += 2) {
    std::string k = argv[i];
    if (k == "-g") {
      a.resnet = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) k.clear();
    if (k == "-p") a.P = atoi(argv[i + 1]);
    else if (k == "-b") a.minBytes = parseSize(argv[i + 1]);
    else if (k == "-e") a.maxBytes = parseSize(argv[i + 1]);
    else if (k == "-f") a.factor = atof(argv[i + 1]);
    else if (k == "-n") a.iters = atoi(argv[i + 1]);
    else if (k == "-w") a.warmup = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "usage: %s -p P [-g] [-b 4K] [-e 256M] [-f 4] [-n 20] [-w 5]\n", argv[0]);
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
  if (a.resnet) {
    const char* names[6] = {"signvote separate", "signvote group", "signvote single",
                            "nccl separate", "nccl group", "nccl single"};
    double t[6] = {0};
    for (int r = 0; r < a.P; ++r) {
      double v[6];
      if (res.lines[r].empty() || sscanf(res.lines[r][0].c_str(), "%lf %lf %lf %lf %lf %lf", &v[0], &v[1], &v[2],
                                         &v[3], &v[4], &v[5]) != 6) {
        fprintf(stderr, "rank %d reported no ResNet-50 times\n", r);
        return 1;
      }
      for (int m = 0; m < 6; ++m) t[m] = std::max(t[m], v[m]);
    }
    printf("# sv_gpu_vote_bench -g P=%d: ResNet-50's 161 fp32 tensors (25,557,032 elements), median of %d "
           "iterations, slowest rank; group output equal to the separate calls'\n", a.P, a.iters);
    printf("%-20s %12s %14s\n", "mode", "time(us)", "/ sv single");
    for (int m = 0; m < 6; ++m) printf("%-20s %12.1f %14.2f\n", names[m], t[m], t[2] > 0 ? t[m] / t[2] : 0.0);
    return 0;
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
