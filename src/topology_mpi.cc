// SPDX-License-Identifier: MIT
#include "topology_mpi.h"

#include <string.h>

#include <algorithm>
#include <string>

#include "topology.h"

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

std::vector<int> nodeLabelsMpi(MPI_Comm comm, const std::vector<int>& nodeRanks) {
  constexpr int kName = 64;  // a node name's bytes compared (longer names: their first 63)
  struct Entry {
    int sharedLow;  // lowest rank of this rank's shared-memory group
    char name[kName];
  };
  int P = 0, rank = 0;
  MPI_Comm_size(comm, &P);
  MPI_Comm_rank(comm, &rank);
  Entry mine{};
  mine.sharedLow = nodeRanks.empty() ? rank : nodeRanks.front();
  strncpy(mine.name, nodeName().c_str(), kName - 1);
  std::vector<Entry> all(P);
  if (MPI_Allgather(&mine, sizeof(Entry), MPI_BYTE, all.data(), sizeof(Entry), MPI_BYTE, comm) != MPI_SUCCESS)
    return {};
  std::vector<int> label(P);
  for (int r = 0; r < P; ++r) {
    label[r] = r;
    for (int q = 0; q < r; ++q)
      if (all[q].sharedLow == all[r].sharedLow && strncmp(all[q].name, all[r].name, kName) == 0) {
        label[r] = label[q];
        break;
      }
  }
  return label;
}

}  // namespace sv
