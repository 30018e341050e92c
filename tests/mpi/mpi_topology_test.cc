// SPDX-License-Identifier: MIT
// Node-local rank discovery under mpirun: nodeRanksMpi
// (MPI_Comm_split_type) must name exactly the ranks whose host name equals
// this rank's (gathered here with MPI_Allgather, the independent check), on
// MPI_COMM_WORLD and on a split communicator (its own rank numbering).
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "topology.h"
#include "topology_mpi.h"

namespace {
int failures = 0;

void check(MPI_Comm comm, const char* what) {
  int rank = 0, size = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  char name[256] = "";
  gethostname(name, sizeof(name) - 1);
  std::vector<char> all(256 * size);
  MPI_Allgather(name, 256, MPI_CHAR, all.data(), 256, MPI_CHAR, comm);
  std::vector<std::string> names;
  for (int r = 0; r < size; ++r) names.emplace_back(&all[256 * r]);
  const std::vector<int> want = sv::nodeRanksFromNames(names, rank);
  const std::vector<int> got = sv::nodeRanksMpi(comm);
  if (got != want) {
    ++failures;
    fprintf(stderr, "FAIL %s rank %d: nodeRanksMpi = {%s}, host names say {%s}\n", what, rank,
            sv::rankList(got).c_str(), sv::rankList(want).c_str());
  }
  bool self = false;
  for (int r : got) self |= r == rank;
  if (!self) {
    ++failures;
    fprintf(stderr, "FAIL %s rank %d: not among its own node's ranks\n", what, rank);
  }
}
}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  check(MPI_COMM_WORLD, "world");
  MPI_Comm half;
  MPI_Comm_split(MPI_COMM_WORLD, rank % 2, -rank, &half);  // reversed order inside
  check(half, "split");
  MPI_Comm_free(&half);
  int total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) printf("topology: %s\n", total ? "FAILED" : "ok");
  MPI_Finalize();
  return total ? 1 : 0;
}
