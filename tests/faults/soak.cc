// SPDX-License-Identifier: MIT
// Soak test (scripts/soak.sh; not part of ctest): N calls of mixed sizes,
// datatypes and policies on P ranks, every result checked against an
// integer vote count, with this process's resident memory and open file
// descriptors sampled along the way. Passes when every call succeeded with
// the right output and RSS and descriptors stay flat after the warm-up
// (each communicator's staging grows to its largest call, then is reused).
//
//   sv_soak [--calls=N] [--seed=S] [--samples=K]
#include <dirent.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "signvote.h"
#include "signvote_mpi.h"

namespace {

uint64_t mix(uint64_t x) {
  x ^= x >> 31; x *= 0x7fb5d329728ea185ull; x ^= x >> 27; x *= 0x81dadef4bc2dd44dull; x ^= x >> 33;
  return x;
}

long rssKiB() {
  long pages = 0, resident = 0;
  FILE* f = fopen("/proc/self/statm", "r");
  if (f) { if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0; fclose(f); }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int openFds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (struct dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n - 1;  // the DIR itself
}

// Element i of rank r in call c: +1.5, -2, 0 or -0 (zeros exercise abstain).
float value(uint64_t seed, uint64_t c, int r, size_t i) {
  const uint64_t h = mix(seed ^ mix(c * 1000003 + r) ^ (i * 0x9E3779B97F4A7C15ull));
  switch (h % 7) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    case 2: case 3: case 4: return 1.5f;
    default: return -2.0f;
  }
}

struct Policy { int tie, zero; const char* name; };
const Policy kPolicies[] = {{SV_TIE_POSITIVE, SV_ZERO_POSITIVE, "default"},
                            {SV_TIE_ZERO, SV_ZERO_ABSTAIN, "tie-zero+abstain"},
                            {SV_TIE_POSITIVE, SV_ZERO_ABSTAIN, "abstain"},
                            {SV_TIE_ZERO, SV_ZERO_POSITIVE, "tie-zero"}};
const size_t kSizes[] = {1, 7, 64, 100, 1000, 4097, 20000, 65536, 300000, 1 << 20};
const unsigned kSizeWeights[] = {14, 12, 12, 12, 12, 10, 10, 8, 6, 4};

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, P = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  long calls = 100000;
  uint64_t seed = 1;
  int samples = 20;
  for (int i = 1; i < argc; ++i) {
    if (!strncmp(argv[i], "--calls=", 8)) calls = atol(argv[i] + 8);
    else if (!strncmp(argv[i], "--seed=", 7)) seed = strtoull(argv[i] + 7, nullptr, 0);
    else if (!strncmp(argv[i], "--samples=", 10)) samples = atoi(argv[i] + 10);
  }
  const int nPol = sizeof(kPolicies) / sizeof(kPolicies[0]);
  std::vector<svComm_t> comms(nPol);
  for (int p = 0; p < nPol; ++p) {
    svConfig_t cfg = SV_CONFIG_INITIALIZER;
    cfg.tiePolicy = kPolicies[p].tie;
    cfg.zeroPolicy = kPolicies[p].zero;
    if (svCommInitMPI(&comms[p], MPI_COMM_WORLD, &cfg) != svSuccess) {
      fprintf(stderr, "init: %s\n", svGetLastError(nullptr));
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
  const size_t maxN = 1 << 20;
  std::vector<float> send(maxN), recv(maxN);
  std::vector<double> recvD(maxN), sendD(maxN);
  unsigned totalW = 0;
  for (unsigned w : kSizeWeights) totalW += w;
  long bad = 0, wrong = 0;
  const long every = calls / samples > 0 ? calls / samples : 1;
  std::vector<long> rss, fds, at;
  const auto t0 = std::chrono::steady_clock::now();
  for (long c = 0; c < calls; ++c) {
    const uint64_t h = mix(seed * 7919 + c);
    unsigned pick = h % totalW, k = 0;
    while (pick >= kSizeWeights[k]) pick -= kSizeWeights[k++];
    const size_t n = kSizes[k];
    const int p = (h >> 20) % nPol;
    const bool dbl = (h >> 30) % 5 == 0;
    const bool inPlace = (h >> 33) % 3 == 0;
    svResult_t rc;
    for (size_t i = 0; i < n; ++i) {
      const float v = value(seed, c, rank, i);
      if (dbl) sendD[i] = v; else send[i] = v;
    }
    if (dbl) rc = svAllReduceSign(sendD.data(), inPlace ? sendD.data() : recvD.data(), n, svFloat64, comms[p], nullptr);
    else rc = svAllReduceSign(send.data(), inPlace ? send.data() : recv.data(), n, svFloat32, comms[p], nullptr);
    if (rc != svSuccess) {
      if (bad++ < 5) fprintf(stderr, "rank %d call %ld: %s\n", rank, c, svGetLastError(comms[p]));
      continue;
    }
    // The oracle: integer vote counts over every rank's regenerated input.
    const Policy& pol = kPolicies[p];
    long wrongHere = 0;
    for (size_t i = 0; i < n; ++i) {
      int pos = 0, neg = 0;
      for (int r = 0; r < P; ++r) {
        const float v = value(seed, c, r, i);
        if (v == 0 && pol.zero == SV_ZERO_ABSTAIN) continue;
        if (v >= 0) ++pos; else ++neg;
      }
      const double want = pos > neg ? 1 : neg > pos ? -1 : pol.tie == SV_TIE_ZERO ? 0 : 1;
      const double got = dbl ? (inPlace ? sendD[i] : recvD[i]) : (inPlace ? send[i] : recv[i]);
      wrongHere += got != want;
    }
    if (wrongHere && wrong == 0) fprintf(stderr, "rank %d call %ld (n=%zu %s): %ld wrong\n", rank, c, n, pol.name, wrongHere);
    wrong += wrongHere;
    if ((c + 1) % every == 0) {
      rss.push_back(rssKiB());
      fds.push_back(openFds());
      at.push_back(c + 1);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  long totals[2] = {bad, wrong}, sums[2];
  MPI_Reduce(totals, sums, 2, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
  // Flat: after the first quarter (staging at its largest), RSS grows by
  // less than 1 MiB and the descriptor count does not change.
  const size_t q = rss.size() / 4;
  long rssGrowth = 0;
  bool fdFlat = true;
  for (size_t i = q; i < rss.size(); ++i) {
    rssGrowth = std::max(rssGrowth, rss[i] - rss[q]);
    fdFlat &= fds[i] == fds[q];
  }
  int flat = rssGrowth < 1024 && fdFlat, allFlat = 0;
  MPI_Reduce(&flat, &allFlat, 1, MPI_INT, MPI_MIN, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    printf("soak: P=%d calls=%ld seconds=%.1f failed-calls=%ld wrong-elements=%ld\n", P, calls, secs, sums[0], sums[1]);
    printf("soak: rank 0 samples (calls: RSS KiB, open fds):");
    for (size_t i = 0; i < rss.size(); ++i) printf("%s %ld: %ld, %ld", i ? ";" : "", at[i], rss[i], fds[i]);
    printf("\nsoak: rank 0 RSS growth after the first quarter %ld KiB; fds %s; all ranks flat: %s\n", rssGrowth,
           fdFlat ? "constant" : "CHANGED", allFlat ? "yes" : "NO");
    printf("soak: %s\n", sums[0] == 0 && sums[1] == 0 && allFlat ? "PASS" : "FAIL");
  }
  for (svComm_t c : comms) svCommDestroy(c);
  MPI_Finalize();
  return 0;
}
