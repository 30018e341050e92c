// SPDX-License-Identifier: MIT
// MPI transport of device communicators. MPI is not stream-aware, so every
// operation first waits for the stream's earlier work (the data to send is
// produced there), then:
//   CUDA-aware MPI : MPI_Alltoall / MPI_Allgather on the device pointers;
//   otherwise      : cudaMemcpyAsync to pinned host staging (placed on the
//                    GPU's NUMA node), cudaStreamSynchronize, MPI on the host
//                    copies, cudaMemcpyAsync back on the stream.
// The host thus blocks in every call (unlike NCCL), and the path cannot be
// captured into a CUDA graph. Chosen at init: SV_MPI_CUDA_AWARE /
// config.mpiCudaAware, auto = MPIX_Query_cuda_support() (mpi-ext.h).
#include <mpi.h>
#if __has_include(<mpi-ext.h>)
#include <mpi-ext.h>
#endif
#include <limits.h>
#include <string.h>

#include "comm.h"
#include "debug.h"
#include "device/device_comm.h"
#include "topology_mpi.h"
#include "transport/device_transport.h"
#include "transport/mpi_device.h"

namespace sv {
namespace {

svResult_t mpiFail(int rc, const char* what) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  return setError(nullptr, svSystemError, "MPI device transport", "%s failed: %s", what, msg);
}
svResult_t cudaErr(cudaError_t e, const char* what) {
  cudaGetLastError();
  return setError(nullptr, svUnhandledCudaError, "MPI device transport", "%s failed: %s", what, cudaGetErrorString(e));
}
#define SV_MPI_CUDA(call)                          \
  do {                                             \
    cudaError_t e_ = (call);                       \
    if (e_ != cudaSuccess) return cudaErr(e_, #call); \
  } while (0)

class MpiDeviceTransport final : public DeviceTransport {
 public:
  MpiDeviceTransport(MPI_Comm comm, bool cudaAware) : comm_(comm), cudaAware_(cudaAware) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &nranks_);
    // Sizes are whole 8-byte words: counting words keeps int counts up to 16 GiB.
    MPI_Type_contiguous(8, MPI_BYTE, &word_);
    MPI_Type_commit(&word_);
  }
  ~MpiDeviceTransport() override {
    if (h2dRecorded_) cudaEventSynchronize(h2dDone_);
    if (h2dDone_) cudaEventDestroy(h2dDone_);
    freePinnedNear(topo_, hostSend_, hostBytes_);
    freePinnedNear(topo_, hostRecv_, hostBytes_);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) {
      MPI_Type_free(&word_);
      MPI_Comm_free(&comm_);
    }
  }
  const char* name() const override { return cudaAware_ ? "MPI (CUDA-aware)" : "MPI (host staging)"; }
  bool synchronisesStream() const override { return true; }
  void setPlacement(const HwTopology* topo, int numaNode) override {
    topo_ = topo;
    numa_ = numaNode;
  }

  svResult_t allToAll(const void* send, void* recv, size_t bytes, cudaStream_t stream) override {
    if (bytes == 0) return svSuccess;
    int n = 0;
    SVCHECK(words(bytes, &n));
    SVCHECK(begin(stream));
    const size_t total = bytes * nranks_;
    if (cudaAware_) {
      int rc = MPI_Alltoall(send, n, word_, recv, n, word_, comm_);
      if (rc != MPI_SUCCESS) return mpiFail(rc, "MPI_Alltoall");
    } else {
      SVCHECK(reservePinned(total));
      SV_MPI_CUDA(cudaMemcpyAsync(hostSend_, send, total, cudaMemcpyDeviceToHost, stream));
      SV_MPI_CUDA(cudaStreamSynchronize(stream));
      int rc = MPI_Alltoall(hostSend_, n, word_, hostRecv_, n, word_, comm_);
      if (rc != MPI_SUCCESS) return mpiFail(rc, "MPI_Alltoall");
      SVCHECK(copyBack(recv, total, stream));
    }
    bytesSent_ += bytes * (nranks_ - 1);
    return svSuccess;
  }

  svResult_t allGather(const void* send, void* recv, size_t bytes, cudaStream_t stream) override {
    if (bytes == 0) return svSuccess;
    int n = 0;
    SVCHECK(words(bytes, &n));
    SVCHECK(begin(stream));
    const size_t total = bytes * nranks_;
    const bool inPlace = send == static_cast<const char*>(recv) + bytes * rank_;
    if (cudaAware_) {
      int rc = MPI_Allgather(inPlace ? MPI_IN_PLACE : send, n, word_, recv, n, word_, comm_);
      if (rc != MPI_SUCCESS) return mpiFail(rc, "MPI_Allgather");
    } else {
      SVCHECK(reservePinned(total));
      char* mine = static_cast<char*>(hostRecv_) + bytes * rank_;
      SV_MPI_CUDA(cudaMemcpyAsync(mine, send, bytes, cudaMemcpyDeviceToHost, stream));
      SV_MPI_CUDA(cudaStreamSynchronize(stream));
      int rc = MPI_Allgather(MPI_IN_PLACE, n, word_, hostRecv_, n, word_, comm_);
      if (rc != MPI_SUCCESS) return mpiFail(rc, "MPI_Allgather");
      SVCHECK(copyBack(recv, total, stream));
    }
    bytesSent_ += bytes * (nranks_ - 1);
    return svSuccess;
  }

  svResult_t findNodeRanks(std::vector<int>* ranks) override {
    *ranks = nodeRanksMpi(comm_);
    if (ranks->empty()) return setError(nullptr, svSystemError, "MPI device transport", "MPI_Comm_split_type failed");
    return svSuccess;
  }

 private:
  svResult_t words(size_t bytes, int* n) {
    if (bytes % 8 != 0 || bytes / 8 > static_cast<size_t>(INT_MAX))
      return setError(nullptr, svInternalError, "MPI device transport", "message of %zu bytes", bytes);
    *n = static_cast<int>(bytes / 8);
    return svSuccess;
  }
  // MPI reads and writes the buffers as soon as it is called: the stream's
  // earlier work (which produced them) must be done. Refused under capture.
  svResult_t begin(cudaStream_t stream) {
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    SV_MPI_CUDA(cudaStreamIsCapturing(stream, &st));
    if (st != cudaStreamCaptureStatusNone)
      return setError(nullptr, svInvalidUsage, "MPI device transport",
                      "MPI is not stream-aware and blocks the host: it cannot be captured into a CUDA graph "
                      "(use an NCCL communicator)");
    if (cudaAware_) SV_MPI_CUDA(cudaStreamSynchronize(stream));
    // The previous operation's copy out of hostRecv_ must be done before
    // anything overwrites it (it may have been on another stream).
    if (h2dRecorded_) SV_MPI_CUDA(cudaEventSynchronize(h2dDone_));
    return svSuccess;
  }
  svResult_t copyBack(void* recv, size_t total, cudaStream_t stream) {
    SV_MPI_CUDA(cudaMemcpyAsync(recv, hostRecv_, total, cudaMemcpyHostToDevice, stream));
    if (h2dDone_ == nullptr) SV_MPI_CUDA(cudaEventCreateWithFlags(&h2dDone_, cudaEventDisableTiming));
    SV_MPI_CUDA(cudaEventRecord(h2dDone_, stream));
    h2dRecorded_ = true;
    return svSuccess;
  }
  svResult_t reservePinned(size_t bytes) {
    if (hostBytes_ >= bytes) return svSuccess;
    freePinnedNear(topo_, hostSend_, hostBytes_);
    freePinnedNear(topo_, hostRecv_, hostBytes_);
    hostSend_ = hostRecv_ = nullptr;
    hostBytes_ = 0;
    const size_t page = 1 << 16;
    const size_t n = (bytes + page - 1) / page * page;
    hostSend_ = allocPinnedNear(topo_, numa_, n);
    hostRecv_ = allocPinnedNear(topo_, numa_, n);
    if (hostSend_ == nullptr || hostRecv_ == nullptr) {
      freePinnedNear(topo_, hostSend_, n);
      freePinnedNear(topo_, hostRecv_, n);
      hostSend_ = hostRecv_ = nullptr;
      return setError(nullptr, svSystemError, "MPI device transport", "no pinned host memory for %zu bytes", n);
    }
    hostBytes_ = n;
    return svSuccess;
  }

  MPI_Comm comm_;
  MPI_Datatype word_ = MPI_DATATYPE_NULL;
  bool cudaAware_;
  const HwTopology* topo_ = nullptr;
  int numa_ = -1;
  void* hostSend_ = nullptr;
  void* hostRecv_ = nullptr;
  size_t hostBytes_ = 0;
  cudaEvent_t h2dDone_ = nullptr;
  bool h2dRecorded_ = false;
};

// CUDA-aware or not, and why, for the log.
bool chooseCudaAware(int setting, const char** why) {
  int query = -1;  // -1: this MPI cannot say
#if defined(MPIX_CUDA_AWARE_SUPPORT) && MPIX_CUDA_AWARE_SUPPORT
  query = MPIX_Query_cuda_support();
#endif
  if (setting == 1) {
    *why = query == 0 ? "forced by SV_MPI_CUDA_AWARE=1 (MPIX_Query_cuda_support() says no!)"
                      : "forced by SV_MPI_CUDA_AWARE=1";
    return true;
  }
  if (setting == 0) {
    *why = "forced by SV_MPI_CUDA_AWARE=0";
    return false;
  }
  *why = query == 1 ? "MPIX_Query_cuda_support() = 1"
         : query == 0 ? "MPIX_Query_cuda_support() = 0"
                      : "this MPI has no MPIX_Query_cuda_support";
  return query == 1;
}

}  // namespace

svResult_t deviceInitMpi(MPI_Comm mpiComm, Config cfg, svComm_t* out) {
  static const char* where = "svCommInitMPI";
  int device = -1;
  SVCHECK(resolveCudaDevice(where, cfg.device, &device));
  cfg.device = device;
  DeviceGuard guard(device);
  const char* why = "";
  const bool aware = chooseCudaAware(cfg.mpiCudaAware, &why);
  MPI_Comm dup = MPI_COMM_NULL;
  int rc = MPI_Comm_dup(mpiComm, &dup);
  if (rc != MPI_SUCCESS) return mpiFail(rc, "MPI_Comm_dup");
  MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN);
  auto t = std::make_unique<MpiDeviceTransport>(dup, aware);
  SV_INFO(t->rank(), "MPI device transport: %s (%s)%s", aware ? "device pointers to CUDA-aware MPI" : "pinned host staging",
          why, " - MPI is not stream-aware: every exchange synchronises the stream");
  return deviceCommCreate(where, std::move(t), cfg, out);
}

}  // namespace sv
