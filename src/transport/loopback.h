// SPDX-License-Identifier: MIT
// Loopback transport: the ranks are threads of one process, messages are
// copied through a shared mailbox. For unit tests of the algorithms at any
// rank count without a launcher; not part of the public API.
#pragma once

#include <memory>

#include "signvote.h"

namespace sv {

class LoopbackWorld;
// sharedMemory: small exclusive all-gathers through memory all ranks share
// (SharedGather), as MPI communicators on one node do; else messages only.
std::shared_ptr<LoopbackWorld> makeLoopbackWorld(int nranks, bool sharedMemory = false);

// Create rank `rank`'s communicator of the world (no communication needed).
svResult_t commInitLoopback(const std::shared_ptr<LoopbackWorld>& world, int rank, const svConfig_t* config,
                            svComm_t* comm);

// Fault injection for the tests: rank's sends after the next `okSends`
// fail (svSystemError, as a broken link would); -1 turns it off.
void loopbackFailSends(const std::shared_ptr<LoopbackWorld>& world, int rank, long okSends);
// Receives rank has posted that no message matched yet (and that were not
// withdrawn): after a failed call, nothing may stay aimed at its staging.
size_t loopbackPostedRecvs(const std::shared_ptr<LoopbackWorld>& world, int rank);

}  // namespace sv
