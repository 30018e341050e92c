// SPDX-License-Identifier: MIT
// Device communicators whose bytes move through a host transport (MPI; the
// loopback transport in tests): the stream executor's exchanges on the
// communicator's own Transport, waited for by the engine's Waiter, so
// SV_TIMEOUT, svCommAbort, failure notices and the failed-communicator rule
// work exactly as on host communicators.
#pragma once

#include <memory>
#include <vector>

#include "config.h"
#include "signvote.h"
#include "transport/transport.h"

namespace sv {

// Makes a device communicator on cfg.device (resolved, >= 0) whose host
// transport is `host`. devicePointers: the transport reads and writes
// device memory itself (CUDA-aware MPI); else every exchange goes through
// pinned host staging. nodeRanks: the ranks on this node (ascending).
svResult_t deviceCommCreateOverHost(const char* where, std::unique_ptr<Transport> host, bool devicePointers,
                                    std::vector<int> nodeRanks, Config cfg, svComm_t* out);

}  // namespace sv
