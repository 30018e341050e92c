// SPDX-License-Identifier: MIT
// The stream executor's exchanges on a host transport (host_exchange.h).
// A host transport is not stream-aware, so each exchange first waits for
// the stream's earlier work (which produced the bytes to send), then:
//   device pointers : the transport reads and writes the device buffers
//                     (CUDA-aware MPI); this rank's own block is copied on
//                     the stream beforehand, since the point-to-point
//                     exchanges copy it with memcpy;
//   host staging    : cudaMemcpyAsync into pinned host staging (placed on
//                     the GPU's NUMA node), the exchange in place there,
//                     cudaMemcpyAsync back on the stream.
// The exchange itself is the host engine's: started on the communicator's
// Transport and polled by a Waiter (SV_TIMEOUT, svCommAbort, peers' failure
// notices), abandoned after a failure. So the host thread blocks in every
// exchange (unlike NCCL), and the path cannot be captured into a graph.
#include "device/host_exchange.h"

#include <string>

#include "bitlogic.h"  // roundUp
#include "comm.h"
#include "deadline.h"
#include "debug.h"
#include "device/device_comm.h"
#include "transport/device_transport.h"

namespace sv {
namespace {

class HostExchangeTransport final : public DeviceTransport {
 public:
  HostExchangeTransport(Transport* host, bool devicePointers, std::vector<int> nodeRanks)
      : host_(host), devicePointers_(devicePointers), nodeRanks_(std::move(nodeRanks)) {
    rank_ = host->rank();
    nranks_ = host->nranks();
    name_ = std::string(host->name()) + (devicePointers ? " (device pointers)" : " (host staging)");
    sizes_.resize(4 * nranks_);
  }
  // The host transport outlives this (svComm frees its device state first).
  // Staging a transfer may still write into stays allocated (leaking()).
  ~HostExchangeTransport() override {
    if (h2dRecorded_) cudaEventSynchronize(h2dDone_);
    if (h2dDone_) cudaEventDestroy(h2dDone_);
    if (leaking()) return;
    freePinnedNear(topo_, hostSend_, hostBytes_);
    freePinnedNear(topo_, hostRecv_, hostBytes_);
  }
  const char* name() const override { return name_.c_str(); }
  bool synchronisesStream() const override { return true; }
  void setPlacement(const HwTopology* topo, int numaNode) override {
    topo_ = topo;
    numa_ = numaNode;
  }
  void bind(svComm* comm) override { comm_ = comm; }
  svResult_t beginCall(const char* where, uint64_t call) override {
    where_ = where;
    call_ = call;
    return svSuccess;
  }
  bool leaking() const override { return host_->leaking(); }
  svResult_t findNodeRanks(std::vector<int>* ranks) override {
    *ranks = nodeRanks_;
    return svSuccess;
  }

  svResult_t allToAll(const void* send, void* recv, size_t bytes, cudaStream_t stream) override {
    return exchange(true, send, recv, bytes, stream);
  }
  svResult_t allGather(const void* send, void* recv, size_t bytes, cudaStream_t stream) override {
    return exchange(false, send, recv, bytes, stream);
  }

 private:
  svResult_t exchange(bool allToAll, const void* send, void* recv, size_t bytes, cudaStream_t stream);
  svResult_t begin(cudaStream_t stream);
  svResult_t reservePinned(size_t bytes);

  Transport* host_;
  bool devicePointers_;
  std::vector<int> nodeRanks_;
  std::string name_;
  svComm* comm_ = nullptr;
  const char* where_ = "device exchange";
  uint64_t call_ = 0;
  std::vector<size_t> sizes_;  // per-rank send sizes, offsets, receive sizes, offsets
  RequestPtr req_;             // reused between exchanges (transport.h)
  const HwTopology* topo_ = nullptr;
  int numa_ = -1;
  void* hostSend_ = nullptr;
  void* hostRecv_ = nullptr;
  size_t hostBytes_ = 0;
  cudaEvent_t h2dDone_ = nullptr;
  bool h2dRecorded_ = false;
};

// The host reads and writes the buffers as soon as the exchange starts: the
// stream's earlier work must be done. Refused under capture.
svResult_t HostExchangeTransport::begin(cudaStream_t stream) {
  cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
  SV_CUDACHECK(nullptr, name(), cudaStreamIsCapturing(stream, &st));
  if (st != cudaStreamCaptureStatusNone)
    return setError(nullptr, svInvalidUsage, name_.c_str(),
                    "a host transport is not stream-aware and blocks the host: it cannot be captured into a CUDA "
                    "graph (use an NCCL communicator)");
  // The previous exchange's copy out of hostRecv_ must be done before
  // anything overwrites it (it may have been on another stream).
  if (h2dRecorded_) SV_CUDACHECK(nullptr, name(), cudaEventSynchronize(h2dDone_));
  return svSuccess;
}

svResult_t HostExchangeTransport::exchange(bool allToAll, const void* send, void* recv, size_t bytes,
                                           cudaStream_t stream) {
  if (bytes == 0) return svSuccess;
  if (comm_ == nullptr)
    return setError(nullptr, svInternalError, name_.c_str(), "exchange before the communicator exists");
  SVCHECK(begin(stream));
  const int P = nranks_, me = rank_;
  const size_t total = bytes * P;
  char* mine = static_cast<char*>(recv) + bytes * me;  // this rank's block of recv
  const char* sendFrom = static_cast<const char*>(send);
  char* recvInto = static_cast<char*>(recv);
  if (devicePointers_) {
    // This rank's block travels on the stream, not through the transport.
    const void* own = allToAll ? sendFrom + bytes * me : send;
    if (own != mine) SV_CUDACHECK(nullptr, name(), cudaMemcpyAsync(mine, own, bytes, cudaMemcpyDeviceToDevice, stream));
    SV_CUDACHECK(nullptr, name(), cudaStreamSynchronize(stream));
  } else {
    SVCHECK(reservePinned(total));
    recvInto = static_cast<char*>(hostRecv_);
    if (allToAll) {
      SV_CUDACHECK(nullptr, name(), cudaMemcpyAsync(hostSend_, send, total, cudaMemcpyDeviceToHost, stream));
      sendFrom = static_cast<const char*>(hostSend_);
    } else {
      SV_CUDACHECK(nullptr, name(), cudaMemcpyAsync(recvInto + bytes * me, send, bytes, cudaMemcpyDeviceToHost, stream));
    }
    SV_CUDACHECK(nullptr, name(), cudaStreamSynchronize(stream));
  }
  size_t* sendBytes = sizes_.data();
  size_t* sendOffs = sendBytes + P;
  size_t* recvBytes = sendOffs + P;
  size_t* recvOffs = recvBytes + P;
  for (int r = 0; r < P; ++r) {
    sendBytes[r] = recvBytes[r] = bytes;
    sendOffs[r] = recvOffs[r] = bytes * r;
  }
  const uint64_t sentBefore = host_->bytesSent();
  svResult_t rc;
  if (allToAll) {
    if (devicePointers_) sendBytes[me] = recvBytes[me] = 0;  // copied above
    rc = host_->allToAllv(sendFrom, sendBytes, sendOffs, recvInto, recvBytes, recvOffs,
                          callTag(kTagAllToAll, call_), &req_);
  } else {
    // In place, and never exclusive: the latency-optimised schedules copy
    // blocks with memcpy, which device pointers do not allow, and every
    // rank must choose the same schedule.
    rc = host_->allGatherv(recvInto + bytes * me, recvInto, recvBytes, recvOffs, callTag(kTagAllGather, call_),
                           false, &req_);
  }
  if (rc == svSuccess) {
    Waiter waiter(comm_, where_);
    rc = waiter.wait(req_.get());
  }
  bytesSent_ += host_->bytesSent() - sentBefore;
  if (rc != svSuccess) {
    abandon(comm_, req_);
    return rc;
  }
  if (!devicePointers_) {
    SV_CUDACHECK(nullptr, name(), cudaMemcpyAsync(recv, hostRecv_, total, cudaMemcpyHostToDevice, stream));
    if (h2dDone_ == nullptr) SV_CUDACHECK(nullptr, name(), cudaEventCreateWithFlags(&h2dDone_, cudaEventDisableTiming));
    SV_CUDACHECK(nullptr, name(), cudaEventRecord(h2dDone_, stream));
    h2dRecorded_ = true;
  }
  return svSuccess;
}

svResult_t HostExchangeTransport::reservePinned(size_t bytes) {
  if (hostBytes_ >= bytes) return svSuccess;
  freePinnedNear(topo_, hostSend_, hostBytes_);
  freePinnedNear(topo_, hostRecv_, hostBytes_);
  hostSend_ = hostRecv_ = nullptr;
  hostBytes_ = 0;
  const size_t n = roundUp(bytes, size_t(1) << 16);
  hostSend_ = allocPinnedNear(topo_, numa_, n);
  hostRecv_ = allocPinnedNear(topo_, numa_, n);
  if (hostSend_ == nullptr || hostRecv_ == nullptr) {
    freePinnedNear(topo_, hostSend_, n);
    freePinnedNear(topo_, hostRecv_, n);
    hostSend_ = hostRecv_ = nullptr;
    return setError(nullptr, svSystemError, name_.c_str(), "no pinned host memory for %zu bytes", n);
  }
  hostBytes_ = n;
  return svSuccess;
}

}  // namespace

svResult_t deviceCommCreateOverHost(const char* where, std::unique_ptr<Transport> host, bool devicePointers,
                                    std::vector<int> nodeRanks, Config cfg, svComm_t* out) {
  auto exchange = std::make_unique<HostExchangeTransport>(host.get(), devicePointers, std::move(nodeRanks));
  return deviceCommCreate(where, std::move(exchange), cfg, out, std::move(host));
}

}  // namespace sv
