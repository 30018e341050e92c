// SPDX-License-Identifier: MIT
// svSignumStep, svEFSignStep and svLionStep over MPI, any number of ranks (ctest runs
// P = 1, 3, 4, 8). Every rank regenerates every rank's gradients from a
// seeded PRNG, runs a naive reference of all ranks' steps (the formulas of
// docs/optimizer.md; votes counted as integers, median of the scales; no
// library call), and checks its own params and state bit for bit after each
// step. All ranks then compare a hash of their params: they must be
// identical. Sizes cover one word, a ragged tail, and several chunks of the
// all-to-all. Exit code 0 on success; every failure is printed.
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "signvote.h"
#include "signvote_mpi.h"

namespace {

int gFailures = 0;
int gRank = 0;

#define EXPECT(cond, ...)                                      \
  do {                                                         \
    if (!(cond)) {                                             \
      ++gFailures;                                             \
      fprintf(stderr, "[rank %d] FAILED %s: ", gRank, #cond);  \
      fprintf(stderr, __VA_ARGS__);                            \
      fprintf(stderr, "\n");                                   \
    }                                                          \
  } while (0)

uint64_t mix(uint64_t x) {  // splitmix64
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Gradient of element i, rank r, step k: a quarter-integer in [-1, 1] (zeros
// and exact ties included), or a wider real for `smooth`.
template <typename T>
T grad(uint64_t seed, int r, int k, size_t i, bool smooth) {
  const uint64_t h = mix(seed ^ mix(r * 1000003ull + k * 7919ull) ^ (i * 0x632BE59BD9B4E019ull));
  if (smooth) return static_cast<T>((static_cast<double>(h >> 11) / 9007199254740992.0) * 2 - 1);
  return static_cast<T>(static_cast<int>(h % 9) - 4) * T(0.25);
}

uint64_t fnv(const void* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(p)[i]) * 1099511628211ull;
  return h;
}

enum Opt { kSignum, kEF, kLion };
const char* const kOptNames[] = {"Signum", "EF", "Lion"};

template <typename T>
void runCase(MPI_Comm world, Opt opt, size_t count, int algo, bool smooth, uint64_t seed) {
  const bool ef = opt == kEF;
  int P = 1;
  MPI_Comm_size(world, &P);
  const svDataType_t dt = sizeof(T) == 4 ? svFloat32 : svFloat64;
  const double lrD = 0.05, betaD = 0.8, wdD = 0.01, beta2D = 0.95;  // betaD: Lion's beta1
  const T lr = lrD, beta = betaD, omb = 1.0 - betaD, wd = wdD, decay = lrD * wdD, b2 = beta2D, omb2 = 1.0 - beta2D,
          keep = 1.0 - lrD * wdD;
  const int steps = 4;
  svConfig_t cfg = SV_CONFIG_INITIALIZER;
  cfg.algorithm = algo;
  cfg.chunkBytes = 1024;  // several chunks at the larger counts
  svComm_t comm = nullptr;
  if (svCommInitMPI(&comm, world, &cfg) != svSuccess) {
    EXPECT(false, "svCommInitMPI: %s", svGetLastError(nullptr));
    return;
  }
  // Reference state of every rank; this rank's library state.
  std::vector<std::vector<T>> rx(P, std::vector<T>(count)), rs(P, std::vector<T>(count, T(0)));
  for (size_t i = 0; i < count; ++i)
    for (int r = 0; r < P; ++r) rx[r][i] = grad<T>(seed, -1, -1, i, true);  // same start everywhere
  std::vector<T> x = rx[gRank], st = rs[gRank], g(count);
  std::vector<std::vector<T>> sent(P, std::vector<T>(count));
  for (int k = 0; k < steps; ++k) {
    for (size_t i = 0; i < count; ++i) g[i] = grad<T>(seed, gRank, k, i, smooth);
    const svResult_t rc =
        ef ? svEFSignStep(x.data(), g.data(), st.data(), count, dt, lrD, wdD, comm, nullptr)
        : opt == kLion ? svLionStep(x.data(), g.data(), st.data(), count, dt, lrD, betaD, beta2D, wdD, comm, nullptr)
                       : svSignumStep(x.data(), g.data(), st.data(), count, dt, lrD, betaD, wdD, comm, nullptr);
    EXPECT(rc == svSuccess, "%s step %d count %zu: %s", kOptNames[opt], k, count, svGetLastError(comm));
    // Reference: all ranks.
    std::vector<double> l1(P, 0.0);
    for (int r = 0; r < P; ++r)
      for (size_t i = 0; i < count; ++i) {
        const T gi = grad<T>(seed, r, k, i, smooth);
        sent[r][i] = ef ? lr * gi + rs[r][i] : opt == kLion ? beta * rs[r][i] + omb * gi : omb * gi + beta * rs[r][i];
        l1[r] += std::fabs(static_cast<double>(sent[r][i]));
      }
    std::vector<double> sc(P);
    for (int r = 0; r < P; ++r) sc[r] = count ? l1[r] / static_cast<double>(count) : 0;
    std::vector<double> sorted(sc);
    std::sort(sorted.begin(), sorted.end());
    const T step = static_cast<T>(P % 2 ? sorted[P / 2] : 0.5 * (sorted[P / 2 - 1] + sorted[P / 2]));
    for (size_t i = 0; i < count; ++i) {
      int plus = 0;
      for (int r = 0; r < P; ++r) plus += !(sent[r][i] < 0);  // >= 0 (and -0) votes +1
      const T vote = 2 * plus >= P ? T(1) : T(-1);             // a tie gives +1
      for (int r = 0; r < P; ++r) {
        if (ef) {
          const T s = sent[r][i] < 0 ? T(-1) : T(1);
          rs[r][i] = sent[r][i] - static_cast<T>(sc[r]) * s;
          rx[r][i] = rx[r][i] - step * vote - decay * rx[r][i];
        } else if (opt == kLion) {
          rs[r][i] = b2 * rs[r][i] + omb2 * grad<T>(seed, r, k, i, smooth);
          rx[r][i] = rx[r][i] * keep - lr * vote;
        } else {
          rs[r][i] = sent[r][i];
          rx[r][i] = rx[r][i] - lr * (vote + wd * rx[r][i]);
        }
      }
    }
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < count; ++i)
      if (memcmp(&x[i], &rx[gRank][i], sizeof(T)) != 0 || memcmp(&st[i], &rs[gRank][i], sizeof(T)) != 0)
        if (bad++ == 0) first = i;
    EXPECT(bad == 0, "%s %s step %d count %zu algo %d: %zu elements differ from the reference, first %zu (%g vs %g)",
           kOptNames[opt], sizeof(T) == 4 ? "fp32" : "fp64", k, count, algo, bad, first,
           bad ? static_cast<double>(x[first]) : 0.0, bad ? static_cast<double>(rx[gRank][first]) : 0.0);
  }
  // Identical params on every rank.
  const unsigned long long h = fnv(x.data(), count * sizeof(T));
  unsigned long long hmin = 0, hmax = 0;
  MPI_Allreduce(&h, &hmin, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, world);
  MPI_Allreduce(&h, &hmax, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, world);
  EXPECT(hmin == hmax, "%s count %zu: params differ between ranks", kOptNames[opt], count);
  svCommDestroy(comm);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &gRank);
  int P = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  uint64_t seed = 2024;
  for (Opt opt : {kSignum, kEF, kLion})
    for (size_t count : {size_t(1), size_t(64), size_t(1001), size_t(50000)})
      for (int algo : {SV_ALGO_AUTO, SV_ALGO_ALLTOALL, SV_ALGO_ALLGATHER})
        for (bool smooth : {false, true}) {
          runCase<float>(MPI_COMM_WORLD, opt, count, algo, smooth, ++seed);
          runCase<double>(MPI_COMM_WORLD, opt, count, algo, smooth, ++seed);
        }
  int total = 0;
  MPI_Allreduce(&gFailures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (gRank == 0) printf("mpi_optimizer_test: P=%d, %d failure(s) over all ranks\n", P, total);
  MPI_Finalize();
  return total == 0 ? 0 : 1;
}
