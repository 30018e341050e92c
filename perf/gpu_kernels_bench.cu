// SPDX-License-Identifier: MIT
// sv_gpu_kernels_bench: throughput of the GPU kernels (src/kernels/cuda/device_kernels.h)
// beside cudaMemcpy device-to-device on the same GPU, in the same run.
//
//   sv_gpu_kernels_bench [--max-bytes=1G] [--min-bytes=1M] [--reps=20] [--warmup=3]
//                        [--ranks=4] [--dtype=all|half|bfloat16|float|double] [--require-device]
//
// For each datatype and input size (bytes of elements, x4 steps from
// min to max), it times with CUDA events, after warm-up, the median of reps
// launches of:
//   pack        n elements -> n/64 sign words (+ fused NaN count)
//   unpack      n/64 sign words -> n elements
//   vote        `ranks` packed inputs of n/64 words -> n/64 words
//   voteUnpack  `ranks` packed inputs -> n elements (the fused all-gather path)
// and a cudaMemcpyDeviceToDevice of the kernel's input bytes. Each kernel's
// bandwidth is (bytes read + bytes written) / time; "vs copy" divides it by
// the copy's (2 x bytes / time). The kernels are memory bound: the goal is
// >= 0.80 for pack and unpack. Before timing, every kernel's output at the
// smallest size is compared with the host kernels (exit 1 on a mismatch).
// Without a CUDA device it says so and exits 0 (77 with --require-device,
// 1 under SV_REQUIRE_GPU=1 or on a broken CUDA setup: gpu_preflight.h).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "datatype.h"
#include "kernels/cuda/device_kernels.h"
#include "gpu_preflight.h"  // tests/gpu
#include "kernels/host/host_kernels.h"

namespace {

struct Options {
  size_t maxBytes = size_t{1} << 30;
  size_t minBytes = size_t{1} << 20;
  int reps = 20;
  int warmup = 3;
  int ranks = 4;
  std::string dtype = "all";
  bool requireDevice = false;
};

size_t parseBytes(const char* s) {
  char* end = nullptr;
  double v = strtod(s, &end);
  switch (end && *end ? *end : ' ') {
    case 'K': case 'k': v *= 1024.0; break;
    case 'M': case 'm': v *= 1024.0 * 1024.0; break;
    case 'G': case 'g': v *= 1024.0 * 1024.0 * 1024.0; break;
    default: break;
  }
  return static_cast<size_t>(v);
}

bool parse(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    auto val = [&](const char* key) -> const char* {
      const size_t k = strlen(key);
      return strncmp(a, key, k) == 0 && a[k] == '=' ? a + k + 1 : nullptr;
    };
    if (const char* v = val("--max-bytes")) o->maxBytes = parseBytes(v);
    else if (const char* v = val("--min-bytes")) o->minBytes = parseBytes(v);
    else if (const char* v = val("--reps")) o->reps = atoi(v);
    else if (const char* v = val("--warmup")) o->warmup = atoi(v);
    else if (const char* v = val("--ranks")) o->ranks = atoi(v);
    else if (const char* v = val("--dtype")) o->dtype = v;
    else if (strcmp(a, "--require-device") == 0) o->requireDevice = true;
    else {
      fprintf(stderr, "usage: %s [--max-bytes=1G] [--min-bytes=1M] [--reps=20] [--warmup=3] [--ranks=4] "
                      "[--dtype=all|half|bfloat16|float|double] [--require-device]\n", argv[0]);
      return false;
    }
  }
  if (o->reps < 1) o->reps = 1;
  if (o->warmup < 0) o->warmup = 0;
  if (o->ranks < 1) o->ranks = 1;
  if (o->minBytes < 1024) o->minBytes = 1024;
  if (o->maxBytes < o->minBytes) o->maxBytes = o->minBytes;
  return true;
}

#define CK(call)                                                                                   \
  do {                                                                                             \
    const cudaError_t e_ = (call);                                                                 \
    if (e_ != cudaSuccess) {                                                                       \
      fprintf(stderr, "sv_gpu_kernels_bench: %s -> %s (line %d)\n", #call, cudaGetErrorString(e_), __LINE__); \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

// Median time in microseconds of reps runs of f, after warmup runs.
template <typename F>
double timeMedianUs(const Options& o, cudaStream_t s, F f) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  for (int i = 0; i < o.warmup; ++i) CK(f());
  std::vector<double> t;
  for (int i = 0; i < o.reps; ++i) {
    CK(cudaEventRecord(a, s));
    CK(f());
    CK(cudaEventRecord(b, s));
    CK(cudaEventSynchronize(b));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms * 1000.0);
  }
  CK(cudaEventDestroy(a));
  CK(cudaEventDestroy(b));
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Deterministic test data: mostly normal numbers of random sign, some zeros
// and NaNs, written on the host once per size into the device input.
void fillElems(svDataType_t dt, size_t n, std::vector<unsigned char>* h) {
  const size_t esz = sv::dtSize(dt);
  h->resize(n * esz);
  uint64_t s = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < n; ++i) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    uint64_t v;
    const unsigned r = static_cast<unsigned>(s % 1000);
    const uint64_t sign = (s >> 40) & 1;
    if (dt == svFloat64) v = r == 0 ? 0x7ff8000000000001ull : r < 5 ? 0 : (sign << 63) | (0x3ffull << 52) | (s >> 12);
    else if (dt == svFloat32) v = r == 0 ? 0x7fc00001u : r < 5 ? 0 : (sign << 31) | (0x7full << 23) | (s & 0x7fffff);
    else if (dt == svFloat16) v = r == 0 ? 0x7e01u : r < 5 ? 0 : (sign << 15) | (0xfull << 10) | (s & 0x3ff);
    else v = r == 0 ? 0x7fc1u : r < 5 ? 0 : (sign << 15) | (0x7full << 7) | (s & 0x7f);
    memcpy(h->data() + i * esz, &v, esz);
  }
}

template <typename T>
bool sameOnDevice(const void* dev, const std::vector<T>& want, const char* what, const char* dtn) {
  std::vector<T> got(want.size());
  CK(cudaMemcpy(got.data(), dev, want.size() * sizeof(T), cudaMemcpyDeviceToHost));
  if (got != want) {
    fprintf(stderr, "sv_gpu_kernels_bench: %s %s differs from the host kernels\n", what, dtn);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, &o)) return 2;
  // gpu_preflight.h's rule: skip only without a CUDA device, fail on a
  // broken setup; --require-device makes "no device" exit 77 (ctest skip).
  int devices = 0;
  const svtest::GpuVerdict v = svtest::gpuPreflight("sv_gpu_kernels_bench", true, &devices);
  if (v == svtest::GpuVerdict::kFail) return 1;
  if (v == svtest::GpuVerdict::kSkip) return o.requireDevice ? svtest::kExitSkip : 0;
  int dev = 0, rt = 0, drv = 0;
  CK(cudaGetDevice(&dev));
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, dev));
  CK(cudaRuntimeGetVersion(&rt));
  CK(cudaDriverGetVersion(&drv));
  printf("# sv_gpu_kernels_bench: %s (sm_%d%d, %d SMs), CUDA runtime %d, driver %d; ranks=%d reps=%d warmup=%d\n",
         prop.name, prop.major, prop.minor, prop.multiProcessorCount, rt, drv, o.ranks, o.reps, o.warmup);
  printf("# GB/s = (bytes read + bytes written) / median time; vs_copy = GB/s / cudaMemcpy D2D GB/s of the input bytes\n");
  printf("%-9s %12s %-11s %12s %10s %10s %8s\n", "dtype", "in_bytes", "kernel", "time_us", "GB/s", "copy_GB/s",
         "vs_copy");

  const svDataType_t all[] = {svFloat16, svBfloat16, svFloat32, svFloat64};
  cudaStream_t st;
  CK(cudaStreamCreate(&st));
  int status = 0;
  for (svDataType_t dt : all) {
    if (o.dtype != "all" && o.dtype != sv::dtName(dt)) continue;
    const size_t esz = sv::dtSize(dt);
    const size_t maxN = o.maxBytes / esz, maxWords = (maxN + 63) / 64;
    // Buffers for the largest size: input, output elements, copy target,
    // packed words of `ranks` ranks, voted words, the NaN counter.
    void *x = nullptr, *y = nullptr, *copy = nullptr;
    uint64_t *packed = nullptr, *voted = nullptr;
    unsigned long long* nans = nullptr;
    CK(cudaMalloc(&x, maxN * esz));
    CK(cudaMalloc(&y, maxN * esz));
    CK(cudaMalloc(&copy, maxN * esz));
    CK(cudaMalloc(reinterpret_cast<void**>(&packed), maxWords * 8 * o.ranks));
    CK(cudaMalloc(reinterpret_cast<void**>(&voted), maxWords * 8));
    CK(cudaMalloc(reinterpret_cast<void**>(&nans), sizeof(*nans)));
    CK(cudaMemset(nans, 0, sizeof(*nans)));
    std::vector<unsigned char> hx;
    fillElems(dt, maxN, &hx);
    CK(cudaMemcpy(x, hx.data(), maxN * esz, cudaMemcpyHostToDevice));
    const sv::OutputBits bits = sv::outputBits(dt, 1.0);
    const sv::VoteParams vp{o.ranks, 1, 1, sv::kTiePositive, 0, 0};

    // Correctness at the smallest size: device == host for every kernel.
    {
      const size_t n = o.minBytes / esz + 37, words = (n + 63) / 64;
      if (n + 64 * static_cast<size_t>(o.ranks) <= maxN) {
        std::vector<uint64_t> hp(words * o.ranks), hv(words);
        for (int r = 0; r < o.ranks; ++r) {
          sv::host::pack(hx.data() + r * 64 * esz, n, dt, 1, hp.data() + r * words);  // ranks: shifted inputs
          CK(sv::device::pack(static_cast<char*>(x) + r * 64 * esz, n, dt, 1, packed + r * words, nullptr, st));
        }
        sv::host::vote(hp.data(), words, words, vp, 0, hv.data());
        std::vector<unsigned char> hy(n * esz);
        sv::host::unpack(hv.data(), 1, n, dt, bits, hy.data());
        CK(sv::device::vote(packed, words, words, vp, 0, voted, st));
        CK(sv::device::unpack(voted, 1, n, dt, bits, y, nullptr, st));
        CK(cudaStreamSynchronize(st));
        bool ok = sameOnDevice(packed, hp, "pack", sv::dtName(dt)) && sameOnDevice(voted, hv, "vote", sv::dtName(dt)) &&
                  sameOnDevice(y, hy, "unpack", sv::dtName(dt));
        CK(cudaMemset(y, 0, n * esz));
        CK(sv::device::voteUnpack(packed, words, words, vp, 0, n, dt, bits, y, nullptr, st));
        CK(cudaStreamSynchronize(st));
        ok = ok && sameOnDevice(y, hy, "voteUnpack", sv::dtName(dt));
        if (!ok) status = 1;
      }
    }

    for (size_t bytes = o.minBytes; bytes <= o.maxBytes; bytes *= 4) {
      const size_t n = bytes / esz, words = (n + 63) / 64, pbytes = words * 8;
      auto row = [&](const char* k, double us, double moved, size_t copyBytes) {
        const double copyUs = timeMedianUs(o, st, [&] {
          return cudaMemcpyAsync(copy, x, copyBytes, cudaMemcpyDeviceToDevice, st);
        });
        const double gbs = moved / us * 1e-3, copyGbs = 2.0 * copyBytes / copyUs * 1e-3;
        printf("%-9s %12zu %-11s %12.1f %10.1f %10.1f %8.2f\n", sv::dtName(dt), bytes, k, us, gbs, copyGbs,
               gbs / copyGbs);
      };
      const double tPack = timeMedianUs(o, st, [&] { return sv::device::pack(x, n, dt, 1, packed, nans, st); });
      row("pack", tPack, static_cast<double>(n * esz + pbytes), n * esz);
      const double tUnpack =
          timeMedianUs(o, st, [&] { return sv::device::unpack(packed, 1, n, dt, bits, y, nullptr, st); });
      row("unpack", tUnpack, static_cast<double>(pbytes + n * esz), n * esz);
      const double tVote = timeMedianUs(o, st, [&] { return sv::device::vote(packed, words, words, vp, 0, voted, st); });
      row("vote", tVote, static_cast<double>(pbytes * (o.ranks + 1)), std::min(pbytes * (o.ranks + 1), maxN * esz));
      const double tVu = timeMedianUs(
          o, st, [&] { return sv::device::voteUnpack(packed, words, words, vp, 0, n, dt, bits, y, nullptr, st); });
      row("voteUnpack", tVu, static_cast<double>(pbytes * o.ranks + n * esz), n * esz);
    }
    cudaFree(x);
    cudaFree(y);
    cudaFree(copy);
    cudaFree(packed);
    cudaFree(voted);
    cudaFree(nans);
  }
  cudaStreamDestroy(st);
  if (status) fprintf(stderr, "sv_gpu_kernels_bench: FAILED: device results differ from the host kernels\n");
  return status;
}
