// SPDX-License-Identifier: MIT
// Node-local ranks of an MPI communicator (collective over it).
#pragma once

#include <mpi.h>

#include <vector>

namespace sv {

// The ranks of comm (in comm's numbering, ascending) that share this node,
// by MPI_Comm_split_type(MPI_COMM_TYPE_SHARED). Empty if MPI fails.
std::vector<int> nodeRanksMpi(MPI_Comm comm);

// Every rank's node label (equal labels: the same node), the same on every
// rank: ranks share a node when MPI_Comm_split_type puts them in one
// shared-memory group and their nodeName() (host name, or NCCL_HOSTID)
// is equal. Collective over comm; empty if MPI fails.
std::vector<int> nodeLabelsMpi(MPI_Comm comm, const std::vector<int>& nodeRanks);

}  // namespace sv
