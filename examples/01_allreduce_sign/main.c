/* SPDX-License-Identifier: MIT
 * Example 01: one sign-majority all-reduce over MPI_COMM_WORLD.
 *
 * Every rank builds a float "gradient" that differs per rank (a shared
 * signal plus rank-specific noise), calls svAllReduceSign, and gets back the
 * element-wise majority of the ranks' signs as +1.0f / -1.0f. Rank 0 prints a
 * few voted elements beside the votes that produced them, and every rank's
 * bytes sent beside what an fp32 ring all-reduce of the same gradient sends.
 *
 *   mpirun -np 4 ./sv_example_01_allreduce_sign [count]
 *
 * Copy this file freely: it uses only the public API (signvote.h and
 * signvote_mpi.h) and MPI. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <mpi.h>
#include <signvote.h>
#include <signvote_mpi.h> /* svCommInitMPI */

/* Check a signvote call; on failure print the result code and the library's
 * one-line description of what went wrong, then abort every rank. */
#define CHECK(call)                                                          \
  do {                                                                       \
    svResult_t r_ = (call);                                                  \
    if (r_ != svSuccess) {                                                   \
      fprintf(stderr, "rank %d: %s failed: %s\n  %s\n", rank, #call,         \
              svGetErrorString(r_), svGetLastError(comm));                   \
      MPI_Abort(MPI_COMM_WORLD, 1);                                          \
    }                                                                        \
  } while (0)

/* The input of rank r at element i. Deterministic, so any rank can
 * regenerate any other rank's input (rank 0 does, to show the votes and to
 * check the result). A shared signal sin(i/100) plus uniform noise in
 * [-0.75, 0.75) that differs per rank: ranks often disagree. */
static float gradient(int r, size_t i) {
  uint64_t h = (uint64_t)i * 0x9e3779b97f4a7c15ull + (uint64_t)(r + 1) * 0xbf58476d1ce4e5b9ull;
  h ^= h >> 31;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 29;
  const float noise = (float)(h >> 40) / (float)(1u << 24) - 0.5f; /* [-0.5, 0.5) */
  return sinf((float)i * 0.01f) + 1.5f * noise;
}

int main(int argc, char** argv) {
  int rank = 0, nranks = 1;
  svComm_t comm = NULL; /* NULL until created: svGetLastError(NULL) still works */
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);

  /* Large enough that the 32x byte saving is plain to see. */
  const size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 0) : (size_t)1 << 22;

  /* 1. A communicator over the MPI ranks. NULL config: defaults, or the SV_*
   *    environment variables (docs/env.md). MPI_COMM_WORLD is duplicated
   *    inside, so signvote's messages never mix with ours. */
  CHECK(svCommInitMPI(&comm, MPI_COMM_WORLD, NULL));

  /* 2. This rank's gradient. */
  float* grad = (float*)malloc(n * sizeof(float) + 1); /* +1: never a NULL malloc(0) */
  float* vote = (float*)malloc(n * sizeof(float) + 1);
  if (grad == NULL || vote == NULL) {
    fprintf(stderr, "rank %d: out of memory\n", rank);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  for (size_t i = 0; i < n; ++i) grad[i] = gradient(rank, i);

  /* 3. The vote. Every rank gets the same n floats, each +1.0f or -1.0f:
   *    +1 where at least as many ranks have x >= 0 as have x < 0 (a tie goes
   *    to +1 by default). Host communicator: host pointers, no stream, and
   *    the call returns when vote[] is final. In place (grad, grad) works too. */
  CHECK(svAllReduceSign(grad, vote, n, svFloat32, comm, NULL));

  /* 4. What it cost: bytes this rank handed to the network in that call. */
  svCommStats_t stats;
  CHECK(svCommGetStats(comm, &stats));
  unsigned long long mine = stats.lastBytesSent;
  unsigned long long* sent = (unsigned long long*)malloc(sizeof(unsigned long long) * (size_t)nranks);
  MPI_Gather(&mine, 1, MPI_UNSIGNED_LONG_LONG, sent, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);

  /* 5. Check against a plain reference: count the +1 votes per element.
   *    A clear majority must give its sign; a tie (possible with an even
   *    number of ranks) is the tie policy's to decide: +1 by default, 0 with
   *    SV_TIE=zero, +-1 with SV_TIE=random. Signs only, so SV_SCALE may be
   *    set too. */
  size_t wrong = 0;
  for (size_t i = 0; i < n; ++i) {
    int pos = 0;
    for (int r = 0; r < nranks; ++r) pos += gradient(r, i) >= 0.0f;
    if (2 * pos > nranks) wrong += !(vote[i] > 0.0f);
    else if (2 * pos < nranks) wrong += !(vote[i] < 0.0f);
  }
  unsigned long long wrongAll = 0, wrongMine = wrong;
  MPI_Reduce(&wrongMine, &wrongAll, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);

  if (rank == 0) {
    printf("signvote: sign-majority all-reduce of %zu floats on %d ranks\n\n", n, nranks);
    printf("  element  votes (rank 0..%d)  result\n", nranks - 1);
    const size_t show[] = {0, 1, 2, 3, 150, 151, 314, 315};
    for (size_t k = 0; k < sizeof(show) / sizeof(show[0]) && show[k] < n; ++k) {
      const size_t i = show[k];
      char votes[64] = "";
      int len = 0, pos = 0;
      for (int r = 0; r < nranks; ++r) {
        pos += gradient(r, i) >= 0.0f;
        if (len < 56) len += sprintf(votes + len, " %c", gradient(r, i) >= 0.0f ? '+' : '-');
      }
      printf("  %7zu  %-20s %+g%s\n", i, votes, vote[i], 2 * pos == nranks ? "  (a tie: +1 unless SV_TIE says otherwise)" : "");
    }
    printf("\n  algorithm: %s\n\n", stats.lastAlgorithm == SV_ALGO_ALLTOALL ? "all-to-all, vote, all-gather"
                                                                         : "all-gather, local vote");
    /* An fp32 ring all-reduce sends 2(P-1)/P * 4n bytes per rank. */
    const double ring = 2.0 * (nranks - 1) / nranks * 4.0 * (double)n;
    printf("  rank  bytes sent (signvote)  bytes sent (fp32 ring all-reduce)  ratio\n");
    for (int r = 0; r < nranks; ++r) {
      if (sent[r] > 0)
        printf("  %4d  %21llu  %33.0f  %5.1fx fewer\n", r, sent[r], ring, ring / (double)sent[r]);
      else
        printf("  %4d  %21llu  %33.0f      -\n", r, sent[r], ring);
    }
    printf("\n  %s: %llu of %zu outputs (%zu on each of %d ranks) differ from a naive reference vote\n",
           wrongAll ? "FAILED" : "OK", wrongAll, n * (size_t)nranks, n, nranks);
  }

  /* 6. Tear down: the communicator before MPI. */
  CHECK(svCommDestroy(comm));
  free(sent);
  free(vote);
  free(grad);
  MPI_Finalize();
  return wrongAll ? 1 : 0; /* only rank 0 knows the total; the others return 0 */
}
