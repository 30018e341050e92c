/* SPDX-License-Identifier: MIT
 * The README's snippet: compiled by examples/CMakeLists.txt and run under
 * mpirun by ctest; docs/check_snippets.cmake checks that README.md quotes the
 * lines between the markers verbatim. */
/* [readme-begin] */
#include <stdio.h>
#include <mpi.h>
#include <signvote_mpi.h> /* svCommInitMPI; includes signvote.h */

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);

  svComm_t comm;
  svCommInitMPI(&comm, MPI_COMM_WORLD, NULL); /* NULL: defaults + SV_* env */

  float grad[1000]; /* this rank's gradient */
  for (int i = 0; i < 1000; ++i) grad[i] = (float)((i + rank) % 3) - 1.0f;

  /* In place: grad[i] becomes +1 or -1, the same on every rank. */
  svResult_t res = svAllReduceSign(grad, grad, 1000, svFloat32, comm, NULL);
  if (res != svSuccess) fprintf(stderr, "%s\n", svGetLastError(comm));
  /* signSGD step: w[i] -= lr * grad[i] */

  svCommDestroy(comm);
  MPI_Finalize();
  return res == svSuccess ? 0 : 1;
}
/* [readme-end] */
