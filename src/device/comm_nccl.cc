// SPDX-License-Identifier: MIT
// The NCCL-based inits (signvote_nccl.h): device communicators whose bytes
// move on NCCL (transport/nccl.h). Checks, config and the device
// communicator are the engine's; the NCCL communicator is the transport's.
#include <string.h>

#include "comm.h"
#include "debug.h"
#include "device/device_comm.h"
#include "signvote_nccl.h"
#include "transport/nccl.h"

namespace sv {
namespace {

// The config of an NCCL-based init: device communicators only.
svResult_t ncclConfig(const char* where, svConfig_t* config, Config* cfg) {
  SVCHECK(commConfig(where, config, cfg));
  if (cfg->deviceSet && cfg->device == SV_DEVICE_HOST)
    return setError(nullptr, svInvalidArgument, where,
                    "config.device / SV_DEVICE = -1 (host): NCCL communicators are device communicators");
  return svSuccess;
}

}  // namespace
}  // namespace sv

using namespace sv;

extern "C" {

svResult_t svGetUniqueId(svUniqueId* uniqueId) {
  if (uniqueId == nullptr) return setError(nullptr, svInvalidArgument, "svGetUniqueId", "uniqueId is NULL");
  return ncclNewUniqueId(uniqueId);
}

svResult_t svCommInitRankConfig(svComm_t* comm, int nranks, svUniqueId commId, int rank, svConfig_t* config) {
  static const char* where = "svCommInitRankConfig";
  if (comm == nullptr) return setError(nullptr, svInvalidArgument, where, "comm is NULL");
  if (nranks < 1) return setError(nullptr, svInvalidArgument, where, "nranks is %d", nranks);
  if (rank < 0 || rank >= nranks)
    return setError(nullptr, svInvalidArgument, where, "rank %d is not in [0, %d)", rank, nranks);
  Config cfg;
  SVCHECK(ncclConfig(where, config, &cfg));
  int device = -1;
  SVCHECK(resolveCudaDevice(where, cfg.deviceSet ? cfg.device : -1, &device));
  cfg.device = device;
  DeviceGuard guard(device);  // NCCL binds the communicator to the current device
  std::unique_ptr<DeviceTransport> t;
  SVCHECK(makeNcclTransport(nranks, commId, rank, &t));
  return deviceCommCreate(where, std::move(t), cfg, comm);
}

svResult_t svCommInitRank(svComm_t* comm, int nranks, svUniqueId commId, int rank) {
  return svCommInitRankConfig(comm, nranks, commId, rank, nullptr);
}

svResult_t svCommInitFromNccl(svComm_t* comm, ncclComm_t ncclComm, svConfig_t* config) {
  static const char* where = "svCommInitFromNccl";
  if (comm == nullptr) return setError(nullptr, svInvalidArgument, where, "comm is NULL");
  if (ncclComm == nullptr) return setError(nullptr, svInvalidArgument, where, "ncclComm is NULL");
  Config cfg;
  SVCHECK(ncclConfig(where, config, &cfg));
  int device = -1;
  std::unique_ptr<DeviceTransport> t;
  SVCHECK(wrapNcclTransport(ncclComm, &device, &t));
  if (cfg.deviceSet && cfg.device != device)
    return setError(nullptr, svInvalidArgument, where,
                    "config.device / SV_DEVICE = %d, but the NCCL communicator is on cuda:%d", cfg.device, device);
  cfg.device = device;
  DeviceGuard guard(device);
  return deviceCommCreate(where, std::move(t), cfg, comm);
}

}  // extern "C"
