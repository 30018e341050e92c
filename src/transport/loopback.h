// SPDX-License-Identifier: MIT
// Loopback transport: the ranks are threads of one process, messages are
// copied through a shared mailbox. For unit tests of the algorithms at any
// rank count without a launcher; not part of the public API.
#pragma once

#include <memory>
#include <vector>

#include "signvote.h"
#include "transport/transport.h"

namespace sv {

class LoopbackWorld;
// sharedMemory: small exclusive all-gathers through memory all ranks share
// (SharedGather), as MPI communicators on one node do; else messages only.
std::shared_ptr<LoopbackWorld> makeLoopbackWorld(int nranks, bool sharedMemory = false);

// Rank `rank`'s transport of the world (no communication needed).
std::unique_ptr<Transport> makeLoopbackTransport(const std::shared_ptr<LoopbackWorld>& world, int rank);

// Rank `rank`'s communicator of the world (src/comm_loopback.cc). With
// config.device >= 0, a device communicator on that CUDA device whose
// exchanges run on the loopback transport (host_exchange.h); config
// mpiCudaAware = 1 hands it device pointers, else host staging.
svResult_t commInitLoopback(const std::shared_ptr<LoopbackWorld>& world, int rank, const svConfig_t* config,
                            svComm_t* comm);

// Emulated nodes: rank r is on the node labelled labels[r] (ranks with
// equal labels share a node), as the hierarchical vote sees it; set before
// the communicators are created. Default: every rank on one node.
void loopbackSetNodes(const std::shared_ptr<LoopbackWorld>& world, const std::vector<int>& labels);
std::vector<int> loopbackNodeLabels(const std::shared_ptr<LoopbackWorld>& world);

// Fault injection for the tests: rank's sends after the next `okSends`
// fail (svSystemError, as a broken link would); -1 turns it off.
void loopbackFailSends(const std::shared_ptr<LoopbackWorld>& world, int rank, long okSends);
// Receives rank has posted that no message matched yet (and that were not
// withdrawn): after a failed call, nothing may stay aimed at its staging.
size_t loopbackPostedRecvs(const std::shared_ptr<LoopbackWorld>& world, int rank);

}  // namespace sv
