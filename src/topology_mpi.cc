// SPDX-License-Identifier: MIT
#include "topology_mpi.h"

#include <algorithm>

namespace sv {

std::vector<int> nodeRanksMpi(MPI_Comm comm) {
  std::vector<int> out;
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm shared = MPI_COMM_NULL;
  if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &shared) != MPI_SUCCESS) return out;
  MPI_Group g, gs;
  int n = 0;
  MPI_Comm_size(shared, &n);
  MPI_Comm_group(comm, &g);
  MPI_Comm_group(shared, &gs);
  std::vector<int> local(n), global(n);
  for (int i = 0; i < n; ++i) local[i] = i;
  MPI_Group_translate_ranks(gs, n, local.data(), g, global.data());
  MPI_Group_free(&g);
  MPI_Group_free(&gs);
  MPI_Comm_free(&shared);
  std::sort(global.begin(), global.end());
  return global;
}

}  // namespace sv
