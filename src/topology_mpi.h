// SPDX-License-Identifier: MIT
// Node-local ranks of an MPI communicator (collective over it).
#pragma once

#include <mpi.h>

#include <vector>

namespace sv {

// The ranks of comm (in comm's numbering, ascending) that share this node,
// by MPI_Comm_split_type(MPI_COMM_TYPE_SHARED). Empty if MPI fails.
std::vector<int> nodeRanksMpi(MPI_Comm comm);

}  // namespace sv
