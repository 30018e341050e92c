// SPDX-License-Identifier: MIT
// svCommInitMPI: a communicator over MPI. The engine makes it; the MPI
// transport (transport/mpi.cc) only moves its bytes. A host communicator
// runs the host pipeline on that transport; a device communicator
// (config.device / SV_DEVICE >= 0) runs the stream executor, whose
// exchanges reach the same transport through host_exchange.h.
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "comm.h"
#include "debug.h"
#include "signvote_mpi.h"
#include "topology.h"
#include "topology_mpi.h"
#include "transport/mpi.h"
#if SV_WITH_DEVICE
#include "device/device_comm.h"
#include "device/host_exchange.h"
#endif

namespace sv {
namespace {

#if SV_WITH_DEVICE
// Device pointers straight to MPI, or through pinned host staging, and why
// (for the log). setting: config.mpiCudaAware (-1 auto).
bool chooseCudaAware(int setting, const char** why) {
  const int query = mpiCudaSupport();
  if (setting == 1) {
    *why = query == 0 ? "forced by SV_MPI_CUDA_AWARE=1 (MPIX_Query_cuda_support() says no!)"
                      : "forced by SV_MPI_CUDA_AWARE=1";
    return true;
  }
  if (setting == 0) {
    *why = "forced by SV_MPI_CUDA_AWARE=0";
    return false;
  }
  *why = query == 1   ? "MPIX_Query_cuda_support() = 1"
         : query == 0 ? "MPIX_Query_cuda_support() = 0"
                      : "this MPI has no MPIX_Query_cuda_support";
  return query == 1;
}
#endif

// SV_SHM (env only): 1 (default) small all-gathers through shared memory
// when every rank is on this node; 0 messages only (an emulated network
// between ranks of one machine, perf/netem/netem.sh, must not be skipped).
svResult_t sharedMemoryWanted(bool* shm) {
  *shm = true;
  const char* env = getenv("SV_SHM");
  if (env == nullptr) return svSuccess;
  if (!strcmp(env, "0") || !strcasecmp(env, "off")) {
    *shm = false;
  } else if (strcmp(env, "1") != 0 && strcasecmp(env, "on") != 0) {
    return setError(nullptr, svInvalidArgument, "svCommInitMPI", "SV_SHM=%.40s is not understood (0, 1)", env);
  }
  return svSuccess;
}

}  // namespace
}  // namespace sv

extern "C" svResult_t svCommInitMPI(svComm_t* comm, MPI_Comm mpiComm, svConfig_t* config) {
  using namespace sv;
  static const char* where = "svCommInitMPI";
  if (comm == nullptr) return setError(nullptr, svInvalidArgument, where, "comm is NULL");
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized)
    return setError(nullptr, svInvalidUsage, where, "MPI is not initialized (call MPI_Init first)");
  if (mpiComm == MPI_COMM_NULL) return setError(nullptr, svInvalidArgument, where, "mpiComm is MPI_COMM_NULL");
  // Everything a rank can refuse alone comes before the first collective.
  Config cfg;
  SVCHECK(commConfig(where, config, &cfg));
  bool shm = true;
  SVCHECK(sharedMemoryWanted(&shm));
  // A device communicator only when asked for (config.device / SV_DEVICE >=
  // 0): existing callers pass host pointers (docs/gpu.md).
  const bool device = cfg.device != SV_DEVICE_HOST;
#if SV_WITH_DEVICE
  if (device) {
    int dev = -1;
    SVCHECK(resolveCudaDevice(where, cfg.device, &dev));
    cfg.device = dev;
  }
#else
  if (device)
    return setError(nullptr, svInvalidUsage, where,
                    "config.device / SV_DEVICE = %d: signvote was built without CUDA (host communicators only)",
                    cfg.device);
#endif
  MPI_Comm dup = MPI_COMM_NULL;
  int rc = MPI_Comm_dup(mpiComm, &dup);
  if (rc != MPI_SUCCESS) return mpiError(rc, "MPI_Comm_dup");
  MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN);
  std::vector<int> nodeRanks = nodeRanksMpi(dup);  // topology (collective, like the dup)
  const std::vector<int> nodeLabels = nodeLabelsMpi(dup, nodeRanks);
  int nranks = 0;
  MPI_Comm_size(dup, &nranks);
  const bool oneNode = static_cast<int>(nodeRanks.size()) == nranks;
  // A device communicator's exchanges are never exclusive (host_exchange.h),
  // so it maps no shared memory.
  std::unique_ptr<Transport> transport = makeMpiTransport(dup, shm && oneNode && !device);
#if SV_WITH_DEVICE
  if (device) {
    const char* why = "";
    const bool aware = chooseCudaAware(cfg.mpiCudaAware, &why);
    SV_INFO(transport->rank(), "MPI device transport: %s (%s) - MPI is not stream-aware: every exchange synchronises "
                               "the stream",
            aware ? "device pointers to CUDA-aware MPI" : "pinned host staging", why);
    return deviceCommCreateOverHost(where, std::move(transport), aware, std::move(nodeRanks), cfg, comm);
  }
#endif
  const bool shared = mpiTransportSharesMemory(*transport);
  SVCHECK(commCreate(std::move(transport), cfg, comm));
  (*comm)->nodeRanks = nodeRanks;
  commSetNodes(*comm, nodeLabels);
  SV_INFO((*comm)->rank, "topology: %zu of %d ranks on this node (%s), %s; small all-gathers %s", nodeRanks.size(),
          (*comm)->nranks, rankList(nodeRanks).c_str(), nodeName().c_str(),
          shared ? "through shared memory (SV_SHM=0: messages)" : "by messages");
  return svSuccess;
}
