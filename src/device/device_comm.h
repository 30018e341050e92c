// SPDX-License-Identifier: MIT
// The device side of a communicator: its CUDA device, stream-ordered
// transport, staging (allocated once per communicator, grown, never shrunk),
// NaN counters and topology. Freed by DeviceStateDeleter when the
// communicator's last reference goes (commRelease).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "comm.h"
#include "device/device.h"
#include "kernels/cuda/glue.h"
#include "device/watchdog.h"
#include "topology.h"
#include "transport/device_transport.h"

namespace sv {

// A device allocation that only grows.
struct DeviceBuffer {
  void* ptr = nullptr;
  size_t bytes = 0;
};

// Buffers that passed the device-memory check, remembered (device_allreduce.cc):
// a hash set, so a trainer's group of hundreds of tensors hits too.
constexpr size_t kCheckedPointers = 1024;  // a power of two

struct DeviceState {
  int device = -1;
  char pciBusId[32] = "";
  // Topology first: the transport's pinned staging is placed with it, so it
  // must outlive the transport (members are destroyed in reverse order).
  std::unique_ptr<HwTopology> topo;
  int numaNode = -1;
  std::vector<int> nodeRanks;
  std::unique_ptr<DeviceTransport> transport;

  std::atomic<const void*> checkedPointers[kCheckedPointers] = {};
  std::atomic<size_t> checkedCount{0};

  DeviceBuffer packed, recv, result;  // device staging of a call
  bool stagingFrozen = false;         // a call was captured: staging never moves again
  bool memPools = false;              // cudaMallocAsync works here (cudaDevAttrMemoryPoolsSupported)
  unsigned long long* counters = nullptr;  // device, kCntAll + P entries
  DeviceNanRecord* hostRecord = nullptr;   // mapped pinned host memory
  DeviceNanRecord* hostRecordDev = nullptr;  // its device address
  unsigned long long seenFlagged = 0;      // flaggedCalls already reported

  // Recorded at the end of every call not under stream capture; the next
  // call's stream waits on it, so calls on one communicator never overlap
  // even from different streams (they share the staging).
  cudaEvent_t lastCall = nullptr;
  bool lastCallRecorded = false;
  bool aborted = false;  // svCommAbort: free without waiting for queued work
  // A group's streams other than its first (svGroupEnd): events through
  // which they join the fused call and wait for its end. Made on first use.
  std::vector<cudaEvent_t> groupEvents;

  // SV_TIMEOUT (timeout > 0): watches every collective call's completion;
  // on a timeout it writes timeoutError, sets timedOut and aborts the
  // transport, from its own thread. The next call on the communicator (or
  // svCommGetAsyncError) fails it with svTimeout.
  std::unique_ptr<Watchdog> watchdog;
  std::atomic<bool> timedOut{false};
  char timeoutError[512] = "";

  ~DeviceState();
};

// Makes `device` current for the scope and restores the caller's device.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    if (cudaGetDevice(&prev_) == cudaSuccess && prev_ != device) {
      if (cudaSetDevice(device) == cudaSuccess) changed_ = true;
    }
  }
  ~DeviceGuard() {
    if (changed_) cudaSetDevice(prev_);
  }

 private:
  int prev_ = -1;
  bool changed_ = false;
};

// At the entry of a collective call: a timeout the watchdog saw fails the
// communicator here, on the caller's thread.
void deviceTimeoutCheck(svComm* comm, const char* where);

// svUnhandledCudaError "where: what: cudaGetErrorString".
svResult_t cudaFail(svComm* comm, const char* where, cudaError_t e, const char* what);
#define SV_CUDACHECK(comm, where, call)                                       \
  do {                                                                        \
    cudaError_t sv_ce_ = (call);                                              \
    if (sv_ce_ != cudaSuccess) return ::sv::cudaFail(comm, where, sv_ce_, #call); \
  } while (0)

// Builds a device communicator around `transport` (which knows rank and
// size): topology, counters, events; logs it once at INFO. cfg.device is the
// resolved CUDA device. `host`: the host transport the device transport
// runs on, if any (host_exchange.h), which becomes the communicator's
// transport (its Waiter, notices, SV_CHECK). On failure nothing is left
// allocated.
svResult_t deviceCommCreate(const char* where, std::unique_ptr<DeviceTransport> transport, Config cfg,
                            svComm_t* out, std::unique_ptr<Transport> host = nullptr);

// Pinned host memory near the GPU (the communicator's NUMA node) for the
// MPI staging path; NULL on failure. Free with freePinnedNear.
void* allocPinnedNear(const HwTopology* topo, int numa, size_t bytes);
void freePinnedNear(const HwTopology* topo, void* p, size_t bytes);

}  // namespace sv
