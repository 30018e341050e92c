// SPDX-License-Identifier: MIT
// The NCCL transport (nccl.cc): makes or wraps an NCCL communicator and
// moves device bytes on it. The signvote communicator around it is the
// engine's (src/device/comm_nccl.cc).
#pragma once

#include <nccl.h>

#include <memory>

#include "signvote.h"
#include "transport/device_transport.h"

namespace sv {

// ncclGetUniqueId as an svUniqueId.
svResult_t ncclNewUniqueId(svUniqueId* id);

// A new non-blocking NCCL communicator (ncclCommInitRankConfig, blocking =
// 0) on the current device; the transport owns (and at the end finalizes
// and destroys, or on abort aborts) it.
svResult_t makeNcclTransport(int nranks, const svUniqueId& id, int rank, std::unique_ptr<DeviceTransport>* out);

// A transport on the caller's NCCL communicator, which stays the caller's
// (never destroyed or aborted here); *device is its CUDA device.
svResult_t wrapNcclTransport(ncclComm_t comm, int* device, std::unique_ptr<DeviceTransport>* out);

}  // namespace sv
