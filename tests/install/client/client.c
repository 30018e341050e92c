/* SPDX-License-Identifier: MIT
 * A plain C (C99) consumer of an installed signvote, built by
 * tests/install/run_install_test.sh twice: through find_package(signvote)
 * and through pkg-config. Run under mpirun (3 ranks). Each rank votes on a
 * few float and double arrays whose inputs every rank can recompute, and
 * checks the result against its own naive vote. Exits non-zero on any
 * failure (on every rank). */
#include <signvote_mpi.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank = 0, nranks = 1, failures = 0;

#define EXPECT(cond, ...)                                                   \
  do {                                                                      \
    if (!(cond)) {                                                          \
      ++failures;                                                           \
      fprintf(stderr, "client rank %d: FAIL (line %d): ", rank, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                                         \
      fputc('\n', stderr);                                                  \
    }                                                                       \
  } while (0)

/* Input of rank r at index i: ordinary values, some +0 and -0. */
static double input(int r, size_t i) {
  uint32_t h = (uint32_t)(i * 2654435761u) ^ (uint32_t)(r * 40503u + 0x9e37u);
  h ^= h >> 15;
  h *= 0x2c1b3c6du;
  h ^= h >> 12;
  if (h % 17 == 0) return 0.0;
  if (h % 19 == 0) return -0.0;
  return ((double)(h % 2001) - 1000.0) / 7.0;
}

/* The majority of sign votes (x >= 0 votes +1, -0 included) times scale;
 * a tie (even rank counts) is +1, the default. */
static double expected(size_t i, double scale) {
  int plus = 0, r;
  for (r = 0; r < nranks; ++r) plus += input(r, i) >= 0.0;
  return 2 * plus >= nranks ? scale : -scale;
}

static void vote(svComm_t comm, int isDouble, size_t count, int inPlace, double scale) {
  const size_t esz = isDouble ? sizeof(double) : sizeof(float);
  /* One spare element after the output, which must be left alone. */
  unsigned char* send = (unsigned char*)malloc((count + 1) * esz);
  unsigned char* recv = (unsigned char*)malloc((count + 1) * esz);
  size_t i, bad = 0;
  svResult_t rc;
  if (!send || !recv) {
    EXPECT(0, "out of memory");
    exit(1);
  }
  memset(recv, 0x77, (count + 1) * esz);
  for (i = 0; i < count; ++i) {
    if (isDouble) ((double*)(inPlace ? recv : send))[i] = input(rank, i);
    else ((float*)(inPlace ? recv : send))[i] = (float)input(rank, i);
  }
  rc = svAllReduceSign(inPlace ? recv : send, recv, count, isDouble ? svDouble : svFloat, comm, NULL);
  EXPECT(rc == svSuccess, "svAllReduceSign(%s, %lu) returned %d (%s): %s", isDouble ? "double" : "float",
         (unsigned long)count, (int)rc, svGetErrorString(rc), svGetLastError(comm));
  for (i = 0; i < count && rc == svSuccess; ++i) {
    const double want = expected(i, scale);
    const double got = isDouble ? ((double*)recv)[i] : (double)((float*)recv)[i];
    if (got != (isDouble ? want : (double)(float)want) && bad++ == 0)
      EXPECT(0, "%s count %lu element %lu: got %g, expected %g", isDouble ? "double" : "float", (unsigned long)count,
             (unsigned long)i, got, want);
  }
  EXPECT(bad == 0, "%lu wrong element(s)", (unsigned long)bad);
  for (i = 0; i < esz; ++i) EXPECT(recv[count * esz + i] == 0x77, "byte after the output was written");
  free(send);
  free(recv);
}

int main(int argc, char** argv) {
  static const size_t counts[] = {0, 1, 1001, 4099};
  svComm_t comm = NULL, scaled = NULL;
  svConfig_t cfg = SV_CONFIG_INITIALIZER;
  int version = 0, n = 0, total = 0;
  size_t c;
  svResult_t rc;
  float in[8] = {1, -1, 2, -2, 3, -3, 4, -4}, out[8];

  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);

  EXPECT(svGetVersion(&version) == svSuccess, "svGetVersion failed");
  EXPECT(version == SIGNVOTE_VERSION_CODE, "svGetVersion %d != SIGNVOTE_VERSION_CODE %d", version,
         SIGNVOTE_VERSION_CODE);
#ifdef SV_EXPECT_VERSION_CODE
  EXPECT(SIGNVOTE_VERSION_CODE == SV_EXPECT_VERSION_CODE, "installed header has version %d, the build %d",
         SIGNVOTE_VERSION_CODE, SV_EXPECT_VERSION_CODE);
#endif

  rc = svCommInitMPI(&comm, MPI_COMM_WORLD, NULL);
  EXPECT(rc == svSuccess, "svCommInitMPI: %d %s", (int)rc, svGetLastError(NULL));
  cfg.scale = 0.5;
  cfg.algorithm = SV_ALGO_ALLTOALL;
  rc = svCommInitMPI(&scaled, MPI_COMM_WORLD, &cfg);
  EXPECT(rc == svSuccess, "svCommInitMPI(config): %d %s", (int)rc, svGetLastError(NULL));
  if (comm == NULL || scaled == NULL) {
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  EXPECT(svCommCount(comm, &n) == svSuccess && n == nranks, "svCommCount %d, expected %d", n, nranks);

  for (c = 0; c < sizeof counts / sizeof counts[0]; ++c) {
    vote(comm, 0, counts[c], 0, 1.0);
    vote(comm, 1, counts[c], 1, 1.0);
    vote(scaled, 1, counts[c], 0, 0.5);
    vote(scaled, 0, counts[c], 1, 0.5);
  }

  /* Bad arguments: an error, and the output left alone (every rank makes
   * the same bad call, so no one waits). */
  memset(out, 0, sizeof out);
  out[0] = 42.0f;
  rc = svAllReduceSign(in, out, 8, (svDataType_t)42, comm, NULL);
  EXPECT(rc != svSuccess, "an unknown datatype was accepted");
  EXPECT(out[0] == 42.0f && out[1] == 0.0f, "output written by a failing call");
  EXPECT(strlen(svGetLastError(comm)) > 0, "no last error after a failing call");
  rc = svAllReduceSign(NULL, out, 8, svFloat, comm, NULL);
  EXPECT(rc == svInvalidArgument, "NULL sendbuff returned %d", (int)rc);
  EXPECT(out[0] == 42.0f, "output written by a failing call");

  EXPECT(svCommDestroy(scaled) == svSuccess, "svCommDestroy");
  EXPECT(svCommDestroy(comm) == svSuccess, "svCommDestroy");
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) printf("install client: %d rank(s), %d failure(s), signvote %d\n", nranks, total, version);
  MPI_Finalize();
  return total == 0 ? 0 : 1;
}
