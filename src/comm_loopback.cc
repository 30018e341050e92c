// SPDX-License-Identifier: MIT
// commInitLoopback: communicators whose ranks are threads of one process
// (transport/loopback.h), for the tests. Host communicators by default; a
// device communicator over the same transport with config.device >= 0.
#include "comm.h"
#include "debug.h"
#include "device/device.h"
#include "transport/loopback.h"
#if SV_WITH_DEVICE
#include "device/host_exchange.h"
#endif

namespace sv {

svResult_t commInitLoopback(const std::shared_ptr<LoopbackWorld>& world, int rank, const svConfig_t* config,
                            svComm_t* comm) {
  static const char* where = "commInitLoopback";
  if (comm == nullptr) return setError(nullptr, svInvalidArgument, where, "comm is NULL");
  Config cfg;
  SVCHECK(commConfig(where, config, &cfg));
  if (cfg.device == SV_DEVICE_HOST) {
    SVCHECK(commCreate(makeLoopbackTransport(world, rank), cfg, comm));
    commSetNodes(*comm, loopbackNodeLabels(world));
    return svSuccess;
  }
#if SV_WITH_DEVICE
  int device = -1;
  SVCHECK(resolveCudaDevice(where, cfg.device, &device));
  cfg.device = device;
  std::unique_ptr<Transport> t = makeLoopbackTransport(world, rank);
  std::vector<int> all(t->nranks());  // one process: one node
  for (int r = 0; r < t->nranks(); ++r) all[r] = r;
  return deviceCommCreateOverHost(where, std::move(t), cfg.mpiCudaAware == 1, std::move(all), cfg, comm);
#else
  return setError(nullptr, svInvalidUsage, where, "config.device = %d: built without CUDA", cfg.device);
#endif
}

}  // namespace sv
