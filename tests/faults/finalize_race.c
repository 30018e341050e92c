/* SPDX-License-Identifier: MIT
 * The Open MPI behaviour behind docs/reliability.md, "Exiting after a peer
 * died", without signvote: rank 1 SIGKILLs itself, the others poll MPI for
 * a second (as ranks waiting for it would) and call MPI_Finalize. Under `mpirun --enable-recovery` with Open MPI
 * 4.1 / PMIx 4.2, about one run in ten never ends: MPI_Finalize's PMIx fence
 * still expects the dead rank. scripts/stress_faults.sh runs it beside the
 * signvote scenarios (with the fence, and with --mca async_mpi_finalize 1),
 * so the figures show whether the launcher in use still does it.
 *
 *   mpirun --enable-recovery -np 4 sv_finalize_race
 */
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  int rank = 0;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 1) kill(getpid(), SIGKILL);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do {  /* busy, as a rank waiting for its peers is */
    int flag = 0;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    clock_gettime(CLOCK_MONOTONIC, &t);
  } while ((t.tv_sec - t0.tv_sec) + 1e-9 * (t.tv_nsec - t0.tv_nsec) < 1.0);
  MPI_Finalize();
  printf("SURVIVOR %d PASS (left MPI_Finalize)\n", rank);
  return 0;
}
