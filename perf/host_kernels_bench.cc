// SPDX-License-Identifier: MIT
// Micro-benchmark of the host (CPU) kernels of src/kernels/host/host_kernels.h: pack, vote
// and unpack, single thread, each beside memcpy of the same number of bytes
// measured in the same run. Not a test: it checks nothing and prints a table.
//
//   sv_host_kernels_bench [--n=ELEMENTS] [--reps=R] [--ranks=4,8] [--isa=all|active|generic,sse2,...]
//
//   pack    n elements of each datatype -> ceil(n/64) groups of 1 or 2 words
//           (1 plane: the default policies; 2: SV_ZERO_ABSTAIN).
//   unpack  ceil(n/64) groups of 1 or 2 words -> n elements (2 planes:
//           SV_TIE_ZERO when a tie is possible).
//   vote    what one rank of the all-to-all does: P inputs of a segment of
//           n/P elements (n/(64P) words each) -> the segment's majority.
//   GB/s    input bytes per second: n x element size for pack and unpack (the
//           gradient the kernel reads or writes); for vote, the equivalent
//           fp32 bytes, P inputs x n/P elements x 4 B = 4n. "memcpy" copies
//           the same byte count between two other buffers. Every figure is
//           the median of --reps timed repetitions after one untimed warm-up;
//           kernel and memcpy repetitions alternate, so both see the same
//           machine state, and "ratio" is the median of the per-repetition
//           ratios memcpy time / kernel time (= kernel GB/s / memcpy GB/s).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bitlogic.h"
#include "datatype.h"
#include "kernels/host/host_isa.h"
#include "kernels/host/host_kernels.h"

namespace {

using Clock = std::chrono::steady_clock;
volatile uint64_t gSink;  // keeps results observable

double median(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  const size_t k = t.size();
  return k % 2 ? t[k / 2] : 0.5 * (t[k / 2 - 1] + t[k / 2]);
}

double seconds(const std::function<void()>& fn) {
  const auto t0 = Clock::now();
  fn();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Timing {
  double kernel;    // median seconds of the kernel
  double baseline;  // median seconds of memcpy
  double ratio;     // median over repetitions of baseline_i / kernel_i
};

// Times `kernel` and `baseline` alternately, `reps` times each after one
// untimed warm-up of each, so both see the same machine state (frequency,
// noisy neighbours). The ratio is taken per adjacent pair, then the median,
// which cancels slow drifts better than a ratio of medians.
Timing timePair(int reps, const std::function<void()>& kernel, const std::function<void()>& baseline) {
  kernel();
  baseline();
  std::vector<double> k(reps), b(reps), r(reps);
  for (int i = 0; i < reps; ++i) {
    k[i] = seconds(kernel);
    b[i] = seconds(baseline);
    r[i] = b[i] / k[i];
  }
  return {median(k), median(b), median(r)};
}

// Page-aligned, touched (so page faults stay out of the timings).
void* alignedAlloc(size_t bytes) {
  void* p = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
  if (p == nullptr) {
    fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
    exit(1);
  }
  memset(p, 0, bytes);
  return p;
}

struct Dtype {
  svDataType_t dt;
  const char* name;
  size_t size;
};
const Dtype kDtypes[] = {
    {svFloat16, "fp16", 2}, {svBfloat16, "bf16", 2}, {svFloat32, "fp32", 4}, {svFloat64, "fp64", 8}};

// n gradient-like values of dt: random signs and magnitudes, 1 in 16 an
// exact zero (so SV_ZERO_ABSTAIN has something to do), no NaN.
void fillGradient(void* buf, size_t n, svDataType_t dt, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t r = rng();
    double v = (r & 15) == 0 ? 0.0 : normal(rng);
    switch (dt) {
      case svFloat16: static_cast<uint16_t*>(buf)[i] = sv::doubleToHalfBits(v); break;
      case svBfloat16: static_cast<uint16_t*>(buf)[i] = sv::doubleToBf16Bits(v); break;
      case svFloat32: {
        float f = static_cast<float>(v);
        memcpy(static_cast<float*>(buf) + i, &f, 4);
        break;
      }
      case svFloat64: static_cast<double*>(buf)[i] = v; break;
    }
  }
}

// memcpy of `bytes` between two buffers that no kernel reads.
struct Memcpy {
  char* src;
  char* dst;
  std::function<void()> of(size_t bytes) const {
    return [this, bytes] {
      memcpy(dst, src, bytes);
      gSink = gSink + static_cast<unsigned char>(dst[bytes / 2]);
    };
  }
};

void printRow(const char* kernel, const char* isa, const char* dtype, const char* planes, const Timing& t,
              size_t bytes) {
  const double gbps = bytes / t.kernel / 1e9, memcpyGbps = bytes / t.baseline / 1e9;
  printf("%-7s %-7s %-5s %-12s %10.3f %9.2f %9.2f %7.2f\n", kernel, isa, dtype, planes, t.kernel * 1e3, gbps,
         memcpyGbps, t.ratio);
  fflush(stdout);
}

std::vector<int> parseList(const char* s) {
  std::vector<int> v;
  for (const char* p = s; *p;) {
    v.push_back(atoi(p));
    const char* c = strchr(p, ',');
    if (c == nullptr) break;
    p = c + 1;
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = size_t(1) << 25;  // 32M elements
  int reps = 9;
  std::vector<int> ranks = {4, 8};
  std::vector<sv::host::Isa> isas = sv::host::availableIsas();
  for (int i = 1; i < argc; ++i) {
    if (!strncmp(argv[i], "--n=", 4)) n = strtoull(argv[i] + 4, nullptr, 0);
    else if (!strncmp(argv[i], "--reps=", 7)) reps = std::max(1, atoi(argv[i] + 7));
    else if (!strncmp(argv[i], "--ranks=", 8)) ranks = parseList(argv[i] + 8);
    else if (!strcmp(argv[i], "--isa=all")) isas = sv::host::availableIsas();
    else if (!strcmp(argv[i], "--isa=active")) isas = {sv::host::activeIsa()};
    else if (!strncmp(argv[i], "--isa=", 6)) {
      isas.clear();
      for (const char* p = argv[i] + 6; *p;) {
        const char* c = strchr(p, ',');
        const std::string name = c ? std::string(p, c) : std::string(p);
        bool found = false;
        for (sv::host::Isa h : sv::host::availableIsas())
          if (name == sv::host::isaName(h)) {
            isas.push_back(h);
            found = true;
          }
        if (!found) {
          fprintf(stderr, "--isa: %s is not available here\n", name.c_str());
          return 2;
        }
        if (c == nullptr) break;
        p = c + 1;
      }
    } else {
      fprintf(stderr, "usage: %s [--n=ELEMENTS] [--reps=R] [--ranks=4,8] [--isa=all|active|NAME,...]\n", argv[0]);
      return strcmp(argv[i], "--help") ? 2 : 0;
    }
  }
  if (n == 0) {
    fprintf(stderr, "--n must be > 0\n");
    return 2;
  }
  const size_t words = sv::divUp(n, sv::kWordBits);

  char* elems = static_cast<char*>(alignedAlloc(n * 8));     // pack input
  char* other = static_cast<char*>(alignedAlloc(n * 8));     // unpack output
  char* copySrc = static_cast<char*>(alignedAlloc(n * 8));   // memcpy source
  char* copyDst = static_cast<char*>(alignedAlloc(n * 8));   // memcpy destination
  auto* bits = static_cast<uint64_t*>(alignedAlloc(words * 2 * 8));
  const Memcpy mc{copySrc, copyDst};

  printf("# signvote host kernels: n = %zu elements, median of %d repetitions, 1 thread\n", n, reps);
  std::string have;
  for (sv::host::Isa h : sv::host::availableIsas()) have += std::string(" ") + sv::host::isaName(h);
  printf("# ISAs on this CPU and build:%s; the library would use %s\n", have.c_str(),
         sv::host::isaName(sv::host::activeIsa()));
  printf("# GB/s = n x element size / time (vote: 4n fp32-equivalent bytes); ratio = median of paired (kernel GB/s / memcpy GB/s)\n");
  printf("%-7s %-7s %-5s %-12s %10s %9s %9s %7s\n", "kernel", "isa", "dtype", "planes", "ms", "GB/s", "memcpy",
         "ratio");

  const sv::host::Isa chosen = sv::host::activeIsa();
  for (const Dtype& d : kDtypes) {
    fillGradient(elems, n, d.dt, 42);
    const size_t bytes = n * d.size;
    for (sv::host::Isa isa : isas) {
      sv::host::setIsa(isa);
      for (int planes = 1; planes <= 2; ++planes) {
        const auto t = timePair(
            reps, [&] { gSink = gSink + sv::host::pack(elems, n, d.dt, planes, bits); }, mc.of(bytes));
        printRow("pack", sv::host::isaName(isa), d.name, planes == 1 ? "1 (default)" : "2 (abstain)", t, bytes);
      }
    }
    // Unpack the bits just packed (2 planes: sign + voting as sign + nonzero).
    const sv::OutputBits ob = sv::outputBits(d.dt, 1.0);
    for (sv::host::Isa isa : isas) {
      sv::host::setIsa(isa);
      for (int planes = 1; planes <= 2; ++planes) {
        sv::host::pack(elems, n, d.dt, planes, bits);
        const auto t = timePair(
            reps,
            [&] {
              sv::host::unpack(bits, planes, n, d.dt, ob, other);
              gSink = gSink + static_cast<unsigned char>(other[bytes / 3]);
            },
            mc.of(bytes));
        printRow("unpack", sv::host::isaName(isa), d.name, planes == 1 ? "1 (default)" : "2 (tie zero)", t, bytes);
      }
    }
  }
  sv::host::setIsa(chosen);

  // Vote: one rank's share of the all-to-all, P inputs of segWords words.
  std::mt19937_64 rng(7);
  for (int P : ranks) {
    if (P < 1 || P >= (1 << sv::kMaxCounterBits)) continue;
    const size_t segWords = std::max<size_t>(sv::divUp(words, P), 1);
    struct Case {
      int inPlanes, outPlanes, tie;
      const char* name;
    };
    const Case cases[] = {{1, 1, sv::kTiePositive, "1->1 default"},
                          {1, 1, sv::kTieRandom, "1->1 random"},
                          {1, 2, sv::kTieZero, "1->2 tiezero"},
                          {2, 1, sv::kTiePositive, "2->1 abstain"}};
    std::vector<uint64_t> in(segWords * 2 * P), out(segWords * 2);
    for (auto& w : in) w = rng();
    for (const Case& c : cases) {
      sv::VoteParams vp;
      vp.nranks = P;
      vp.inPlanes = c.inPlanes;
      vp.outPlanes = c.outPlanes;
      vp.tie = c.tie;
      vp.seed = 1;
      vp.call = 0;
      // P inputs x segWords x 64 elements x 4 B: the fp32 bytes whose votes are counted.
      const size_t eqBytes = static_cast<size_t>(P) * segWords * 64 * 4;
      const auto t = timePair(
          reps,
          [&] {
            sv::host::vote(in.data(), segWords * c.inPlanes, segWords, vp, 0, out.data());
            gSink = gSink + out[segWords / 2];
          },
          mc.of(std::min(eqBytes, n * 8)));
      char kernel[16];
      snprintf(kernel, sizeof(kernel), "vote%d", P);
      printRow(kernel, "-", "bits", c.name, t, eqBytes);
    }
  }
  free(bits);
  free(copyDst);
  free(copySrc);
  free(other);
  free(elems);
  return 0;
}
