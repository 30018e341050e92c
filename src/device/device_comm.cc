// SPDX-License-Identifier: MIT
// Device communicator lifetime, the async error and the NaN statistics.
#include "device/device_comm.h"

#include <stdio.h>
#include <string.h>

#include "deadline.h"
#include "debug.h"
#include "transport/transport.h"

namespace sv {
namespace {

// The host transport slot of a device communicator whose device transport
// has no host transport below it (NCCL): every host operation here is a bug.
class DeviceOnlyTransport final : public Transport {
 public:
  DeviceOnlyTransport(int rank, int nranks, const char* name) : name_(name) {
    rank_ = rank;
    nranks_ = nranks;
  }
  const char* name() const override { return name_; }
  svResult_t allToAllv(const void*, const size_t*, const size_t*, void*, const size_t*, const size_t*, int,
                       RequestPtr*) override {
    return bug();
  }
  svResult_t allGatherv(const void*, void*, const size_t*, const size_t*, int, bool, RequestPtr*) override {
    return bug();
  }
  svResult_t test(Request*, bool*) override { return bug(); }

 private:
  static svResult_t bug() {
    return setError(nullptr, svInternalError, "device communicator", "host transport used on a device communicator");
  }
  const char* name_;
};

}  // namespace

svResult_t cudaFail(svComm* comm, const char* where, cudaError_t e, const char* what) {
  return setError(comm, svUnhandledCudaError, where, "%s failed: %s (%s)", what, cudaGetErrorString(e),
                  cudaGetErrorName(e));
}

DeviceState::~DeviceState() {
  DeviceGuard guard(device);
  // Work of this communicator may still be queued: let it finish before its
  // buffers go (cudaFree would wait for the device anyway). The SV_TIMEOUT
  // watchdog still runs meanwhile, so a call whose peer never comes is
  // aborted after the timeout instead of holding svCommDestroy forever.
  if (lastCall != nullptr) {
    if (lastCallRecorded && !aborted) cudaEventSynchronize(lastCall);
    cudaEventDestroy(lastCall);
  }
  watchdog.reset();  // before the transport: its callback uses it
  for (cudaEvent_t e : groupEvents) cudaEventDestroy(e);
  // A failed exchange the transport could not release may still write
  // into the staging: it stays allocated (leak on purpose).
  const bool keepStaging = transport && transport->leaking();
  transport.reset();
  if (!keepStaging) {
    if (packed.ptr) cudaFree(packed.ptr);
    if (recv.ptr) cudaFree(recv.ptr);
    if (result.ptr) cudaFree(result.ptr);
  }
  if (counters) cudaFree(counters);
  if (hostRecord) cudaFreeHost(hostRecord);
}

void DeviceStateDeleter::operator()(DeviceState* d) const { delete d; }

bool deviceSupported() { return true; }

svResult_t resolveCudaDevice(const char* where, int requested, int* device) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    cudaGetLastError();
    return setError(nullptr, svUnhandledCudaError, where, "no CUDA device is visible (cudaGetDeviceCount: %s)",
                    e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
  }
  if (requested >= n)
    return setError(nullptr, svInvalidArgument, where, "config.device / SV_DEVICE = %d, but only %d CUDA device(s)",
                    requested, n);
  if (requested >= 0) {
    *device = requested;
    return svSuccess;
  }
  e = cudaGetDevice(device);
  if (e != cudaSuccess) return cudaFail(nullptr, where, e, "cudaGetDevice");
  return svSuccess;
}

void* allocPinnedNear(const HwTopology* topo, int numa, size_t bytes) {
  // Bound to the GPU's NUMA node by hwloc, then registered with CUDA; plain
  // cudaHostAlloc when hwloc has no topology.
  if (topo != nullptr && topo->loaded()) {
    void* p = topo->allocOnNode(bytes, numa);
    if (p != nullptr) {
      if (cudaHostRegister(p, bytes, cudaHostRegisterDefault) == cudaSuccess) return p;
      cudaGetLastError();
      topo->freeMemory(p, bytes);
    }
  }
  void* p = nullptr;
  if (cudaHostAlloc(&p, bytes, cudaHostAllocDefault) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return p;
}

void freePinnedNear(const HwTopology* topo, void* p, size_t bytes) {
  if (p == nullptr) return;
  // Memory from hwloc was registered; cudaHostAlloc memory was not.
  if (cudaHostUnregister(p) == cudaSuccess && topo != nullptr && topo->loaded()) {
    topo->freeMemory(p, bytes);
    return;
  }
  cudaGetLastError();
  cudaFreeHost(p);
}

svResult_t deviceCommCreate(const char* where, std::unique_ptr<DeviceTransport> transport, Config cfg,
                            svComm_t* out, std::unique_ptr<Transport> host) {
  // SV_CHECK's signature exchange runs on a host transport, which an NCCL
  // communicator does not have.
  if (cfg.check && !host)
    return setError(nullptr, svInvalidUsage, where,
                    "SV_CHECK / config.check is not supported on NCCL communicators yet; unset it for this one");
  std::unique_ptr<DeviceState> d(new (std::nothrow) DeviceState());
  if (!d) return setError(nullptr, svSystemError, where, "out of memory");
  d->device = cfg.device;
  DeviceGuard guard(d->device);
  const int P = transport->nranks(), me = transport->rank();
  SV_CUDACHECK(nullptr, where, cudaEventCreateWithFlags(&d->lastCall, cudaEventDisableTiming));
  int pools = 0;  // some virtualised or MIG setups have no stream-ordered allocator
  if (cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, d->device) != cudaSuccess) cudaGetLastError();
  d->memPools = pools != 0;
  SV_CUDACHECK(nullptr, where, cudaMalloc(reinterpret_cast<void**>(&d->counters), (kCntAll + P) * sizeof(unsigned long long)));
  SV_CUDACHECK(nullptr, where, cudaMemset(d->counters, 0, (kCntAll + P) * sizeof(unsigned long long)));
  SV_CUDACHECK(nullptr, where, cudaHostAlloc(reinterpret_cast<void**>(&d->hostRecord), sizeof(DeviceNanRecord), cudaHostAllocMapped));
  memset(d->hostRecord, 0, sizeof(DeviceNanRecord));
  SV_CUDACHECK(nullptr, where, cudaHostGetDevicePointer(reinterpret_cast<void**>(&d->hostRecordDev), d->hostRecord, 0));

  // Topology: node-local ranks from the host names (one small all-gather at
  // init), the GPU's NUMA node from its PCI bus id.
  SVCHECK(transport->findNodeRanks(&d->nodeRanks));
  d->topo = std::make_unique<HwTopology>();
  if (cudaDeviceGetPCIBusId(d->pciBusId, sizeof(d->pciBusId), d->device) != cudaSuccess) {
    cudaGetLastError();
    snprintf(d->pciBusId, sizeof(d->pciBusId), "unknown");
  }
  d->numaNode = d->topo->numaNodeOfPci(d->pciBusId);
  transport->setPlacement(d->topo.get(), d->numaNode);
  SV_INFO(me, "topology: %zu of %d ranks on this node (%s), %s; cuda:%d at PCI %s, NUMA node %d of %d%s",
          d->nodeRanks.size(), P, rankList(d->nodeRanks).c_str(), nodeName().c_str(), d->device, d->pciBusId,
          d->numaNode, d->topo->numaNodes(), d->topo->loaded() ? "" : " (hwloc topology not loaded)");
  d->transport = std::move(transport);
  // SV_TIMEOUT: a transport that waits on the host waits under the
  // communicator's timeout itself (host_exchange.h); a stream-ordered one
  // is followed by the watchdog.
  if (cfg.timeout > 0 && !d->transport->synchronisesStream()) {
    DeviceState* dp = d.get();
    const double timeout = cfg.timeout;
    dp->watchdog = std::make_unique<Watchdog>(dp->device, timeout, [dp, me, timeout](uint64_t call, double waited) {
      snprintf(dp->timeoutError, sizeof(dp->timeoutError),
               "SV_TIMEOUT: call %llu on rank %d did not complete on the GPU within %g s (waited %.3g s); the %s "
               "transport was aborted (a peer may be dead, hung or out of step)",
               static_cast<unsigned long long>(call), me, timeout, waited, dp->transport->name());
      dp->timedOut.store(true, std::memory_order_release);
      dp->transport->abort();
    });
  }
  if (!host) host = std::make_unique<DeviceOnlyTransport>(me, P, d->transport->name());
  std::vector<int> nodeRanks = d->nodeRanks;
  DeviceTransport* t = d->transport.get();
  SVCHECK(commCreate(std::move(host), cfg, out, DeviceStatePtr(d.release())));
  t->bind(*out);
  (*out)->nodeRanks = nodeRanks;
  return svSuccess;
}

void deviceTimeoutCheck(svComm* comm, const char* where) {
  DeviceState* d = comm->device.get();
  if (!d->timedOut.load(std::memory_order_acquire) || comm->failed != svSuccess) return;
  setError(comm, svTimeout, where, "%s", d->timeoutError);
  failComm(comm, svTimeout);
}

svResult_t deviceAsyncError(svComm* comm, svResult_t* asyncError) {
  DeviceState* d = comm->device.get();
  if (d->timedOut.load(std::memory_order_acquire)) {
    *asyncError = setError(comm, svTimeout, "svCommGetAsyncError", "%s", d->timeoutError);
    return svSuccess;
  }
  svResult_t t = d->transport->asyncError();
  if (t != svSuccess && t != svInProgress) {
    *asyncError = t;
    setError(comm, t, "svCommGetAsyncError", "%s transport reports an asynchronous error", d->transport->name());
    return svSuccess;
  }
  const volatile DeviceNanRecord* h = d->hostRecord;
  const unsigned long long flagged = h->flaggedCalls;
  if (flagged > d->seenFlagged) {
    const unsigned long long n = flagged - d->seenFlagged, last = h->lastTotal;
    d->seenFlagged = flagged;
    *asyncError = setError(comm, svInvalidArgument, "svCommGetAsyncError",
                           "SV_NAN_ERROR: %llu call(s) found NaN inputs (the last one %llu NaN(s) over all ranks); "
                           "their recvbuff left untouched",
                           n, last);
    return svSuccess;
  }
  *asyncError = t;  // svSuccess, or svInProgress from a nonblocking NCCL comm
  return svSuccess;
}

void deviceAbort(svComm* comm) {
  DeviceState* d = comm->device.get();
  DeviceGuard guard(d->device);
  d->aborted = true;
  d->transport->abort();
}

void deviceRefreshStats(svComm* comm) {
  const volatile DeviceNanRecord* h = comm->device->hostRecord;
  comm->stats.calls = h->calls;
  comm->stats.lastNanCount = h->lastLocal;
  comm->stats.totalNanCount = h->totalLocal;
}

}  // namespace sv
