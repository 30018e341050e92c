// SPDX-License-Identifier: MIT
// NCCL transport of device communicators: an all-to-all and ncclAllGather on
// bytes, enqueued on the caller's stream. Fully stream-ordered: no host
// synchronisation, so calls can be captured into CUDA graphs. The NCCL
// communicator is made or wrapped here; the signvote communicator around
// it by the engine (src/device/comm_nccl.cc).
//
// Any NCCL from 2.18 on: libsignvote.so links no NCCL symbol newer than
// 2.18 (ctest nccl_symbols checks), since a process may load an older NCCL
// than the one we were built with (PyTorch wheels bundle their own). Newer
// calls are looked up at run time: ncclAlltoAll (2.28) when the loaded NCCL
// has it, else grouped ncclSend/ncclRecv, which move the same bytes.
#include <dlfcn.h>
#include <nccl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <mutex>

#include "debug.h"
#include "topology.h"
#include "transport/nccl.h"

static_assert(sizeof(svUniqueId) == sizeof(ncclUniqueId), "svUniqueId must be an ncclUniqueId");

namespace sv {
namespace {

// ncclResult_t and svResult_t share their values (0..7).
svResult_t ncclFail(ncclResult_t r, ncclComm_t comm, const char* what) {
  const char* last = ncclGetLastError(comm);
  const svResult_t code = (r >= ncclUnhandledCudaError && r <= ncclInProgress) ? static_cast<svResult_t>(r)
                                                                                 : svInternalError;
  return setError(nullptr, code, "NCCL transport", "%s failed: %s%s%s", what, ncclGetErrorString(r),
                  last && *last ? ": " : "", last ? last : "");
}

// A non-blocking communicator (config.blocking = 0) answers ncclInProgress
// while NCCL finishes the call in the background: wait until it settles,
// as NCCL's documentation prescribes (ncclCommGetAsyncError until it is no
// longer ncclInProgress). Blocking communicators never return it.
ncclResult_t ncclSettle(ncclComm_t comm, ncclResult_t r) {
  while (r == ncclInProgress && comm != nullptr) {
    if (ncclCommGetAsyncError(comm, &r) != ncclSuccess) return ncclInternalError;
    if (r == ncclInProgress) sched_yield();
  }
  return r;
}

#define SV_NCCLCHECK(comm, call)                                            \
  do {                                                                      \
    ncclResult_t sv_nr_ = ncclSettle(comm, (call));                         \
    if (sv_nr_ != ncclSuccess) return ncclFail(sv_nr_, comm, #call);        \
  } while (0)

// SV_NCCL_GROUP_CHECK=1 (read once).
bool groupCheck() {
  static const bool on = [] {
    const char* v = getenv("SV_NCCL_GROUP_CHECK");
    return v != nullptr && strcmp(v, "1") == 0;
  }();
  return on;
}

// ncclAlltoAll of the loaded NCCL, or null where it has none (< 2.28).
using AlltoAllFn = ncclResult_t (*)(const void*, void*, size_t, ncclDataType_t, ncclComm_t, cudaStream_t);
AlltoAllFn loadedAlltoAll() {
  static const AlltoAllFn fn = [] {
    int version = 0;
    if (ncclGetVersion(&version) != ncclSuccess || version < 22800) return AlltoAllFn(nullptr);
    return reinterpret_cast<AlltoAllFn>(dlsym(RTLD_DEFAULT, "ncclAlltoAll"));
  }();
  return fn;
}

// The communicators signvote makes are non-blocking, so that svCommAbort
// and the SV_TIMEOUT watchdog can abort one from their thread while a call
// is in NCCL on another (ProcessGroupNCCL's pattern): no NCCL call blocks,
// and the calling thread waits out ncclInProgress polling, each NCCL call
// and each poll under mu_, which abort() takes too, so ncclCommAbort never
// runs while another thread is inside NCCL on the communicator, and no
// thread touches it after. A wrapped communicator is the caller's (maybe
// blocking, never aborted here): no lock.
class NcclTransport final : public DeviceTransport {
 public:
  NcclTransport(ncclComm_t comm, bool owned, int rank, int nranks) : comm_(comm), owned_(owned), guarded_(owned) {
    rank_ = rank;
    nranks_ = nranks;
  }
  ~NcclTransport() override {
    if (!owned_.load()) return;
    // Finalize (stream-ordered work done, peers released), then free.
    ncclSettle(comm_, ncclCommFinalize(comm_));
    ncclCommDestroy(comm_);
  }
  // From svCommAbort or the SV_TIMEOUT watchdog's thread, maybe both: once.
  void abort() override {
    std::unique_lock<std::mutex> lock = guard();
    if (owned_.exchange(false)) {  // gone: the destructor must not destroy it again
      gone_.store(true);
      ncclCommAbort(comm_);
    }
  }
  const char* name() const override { return "NCCL"; }
  bool synchronisesStream() const override { return false; }

  // SV_NCCL_GROUP_CHECK=1: refuse a call made inside the caller's
  // ncclGroupStart/ncclGroupEnd, where NCCL would defer the exchange past
  // the vote kernels. NCCL has no query for its group depth, so the probe
  // is an ncclGroupEnd: outside a group it only answers ncclInvalidUsage
  // (and NCCL_DEBUG=WARN prints "not in a group call", hence opt-in);
  // inside one it closes the caller's group, so it is reopened at once:
  // the operations the caller queued before this call then run already
  // (the call is refused either way: a program that does this is wrong).
  svResult_t beginCall(const char* where, uint64_t) override {
    if (!groupCheck()) return svSuccess;
    if (ncclGroupEnd() == ncclInvalidUsage) return svSuccess;
    ncclGroupStart();
    return setError(nullptr, svInvalidUsage, where,
                    "called inside ncclGroupStart/ncclGroupEnd: NCCL would run the exchange after the vote; "
                    "call signvote outside NCCL groups (svGroupStart/svGroupEnd fuse votes)");
  }

  svResult_t allToAll(const void* send, void* recv, size_t bytes, cudaStream_t stream) override {
    if (bytes == 0) return svSuccess;
    if (AlltoAllFn alltoall = loadedAlltoAll()) {
      SVCHECK(run("ncclAlltoAll", [&] { return alltoall(send, recv, bytes, ncclUint8, comm_, stream); }));
    } else {
      SVCHECK(run("grouped ncclSend/ncclRecv", [&] {
        ncclResult_t r = ncclGroupStart();
        if (r != ncclSuccess) return r;
        for (int q = 0; q < nranks_ && r == ncclSuccess; ++q) {
          r = ncclSend(static_cast<const char*>(send) + q * bytes, bytes, ncclUint8, q, comm_, stream);
          if (r == ncclSuccess) r = ncclRecv(static_cast<char*>(recv) + q * bytes, bytes, ncclUint8, q, comm_, stream);
        }
        const ncclResult_t end = ncclGroupEnd();  // closes the group even after a failed call in it
        return r != ncclSuccess ? r : end;
      }));
    }
    bytesSent_ += bytes * (nranks_ - 1);
    return svSuccess;
  }

  svResult_t allGather(const void* send, void* recv, size_t bytes, cudaStream_t stream) override {
    if (bytes == 0) return svSuccess;
    SVCHECK(run("ncclAllGather", [&] { return ncclAllGather(send, recv, bytes, ncclUint8, comm_, stream); }));
    bytesSent_ += bytes * (nranks_ - 1);
    return svSuccess;
  }

  svResult_t asyncError() override {
    std::unique_lock<std::mutex> lock = guard();
    if (gone_.load()) return svSuccess;  // aborted: comm_ is freed
    ncclResult_t r = ncclSuccess;
    if (ncclCommGetAsyncError(comm_, &r) != ncclSuccess) return svInternalError;
    return r == ncclSuccess || r == ncclInProgress ? svSuccess : static_cast<svResult_t>(r);
  }

  // Init only: a blocking all-gather of fixed-size names on a private stream.
  svResult_t findNodeRanks(std::vector<int>* ranks) override {
    std::vector<std::string> names;
    SVCHECK(gatherHostNames(&names));
    *ranks = nodeRanksFromNames(names, rank_);
    return svSuccess;
  }

 private:
  svResult_t gatherHostNames(std::vector<std::string>* names) {
    constexpr size_t kLen = 256;
    std::string me = nodeName();
    std::vector<char> host(kLen * nranks_, 0);
    strncpy(&host[kLen * rank_], me.c_str(), kLen - 1);
    void* dev = nullptr;
    cudaStream_t s = nullptr;
    svResult_t rc = svSuccess;
    if (cudaMalloc(&dev, host.size()) != cudaSuccess || cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess) {
      rc = setError(nullptr, svUnhandledCudaError, "NCCL transport", "init: cudaMalloc/cudaStreamCreate failed");
    } else if (cudaMemcpy(static_cast<char*>(dev) + kLen * rank_, &host[kLen * rank_], kLen, cudaMemcpyHostToDevice) !=
               cudaSuccess) {
      rc = setError(nullptr, svUnhandledCudaError, "NCCL transport", "init: cudaMemcpy failed");
    } else {
      rc = run("ncclAllGather (host names)",
               [&] { return ncclAllGather(static_cast<char*>(dev) + kLen * rank_, dev, kLen, ncclUint8, comm_, s); });
      if (rc == svSuccess && (cudaStreamSynchronize(s) != cudaSuccess ||
               cudaMemcpy(host.data(), dev, host.size(), cudaMemcpyDeviceToHost) != cudaSuccess))
        rc = setError(nullptr, svUnhandledCudaError, "NCCL transport", "init: host-name exchange failed");
    }
    if (s) cudaStreamDestroy(s);
    if (dev) cudaFree(dev);
    if (rc != svSuccess) return rc;
    names->clear();
    for (int r = 0; r < nranks_; ++r) names->emplace_back(&host[kLen * r], strnlen(&host[kLen * r], kLen));
    return svSuccess;
  }

  std::unique_lock<std::mutex> guard() {
    return guarded_ ? std::unique_lock<std::mutex>(mu_) : std::unique_lock<std::mutex>();
  }
  // One NCCL call f() (returning ncclResult_t), waited out while in
  // progress; fails once the communicator was aborted.
  template <typename F>
  svResult_t run(const char* what, F&& f) {
    std::unique_lock<std::mutex> lock = guard();
    if (gone_.load()) return aborted(what);
    ncclResult_t r = f();
    while (r == ncclInProgress) {
      if (lock.owns_lock()) lock.unlock();  // abort() may come in here
      sched_yield();
      if (guarded_) lock.lock();
      if (gone_.load()) return aborted(what);
      if (ncclCommGetAsyncError(comm_, &r) != ncclSuccess) r = ncclInternalError;
    }
    return r == ncclSuccess ? svSuccess : ncclFail(r, comm_, what);
  }
  svResult_t aborted(const char* what) {
    return setError(nullptr, svInvalidUsage, "NCCL transport", "%s: the NCCL communicator was aborted", what);
  }

  ncclComm_t comm_;
  std::atomic<bool> owned_;
  const bool guarded_;  // owned: non-blocking, may be aborted from another thread
  std::atomic<bool> gone_{false};
  std::mutex mu_;
};

}  // namespace

svResult_t ncclNewUniqueId(svUniqueId* id) {
  ncclUniqueId nid;
  ncclResult_t r = ncclGetUniqueId(&nid);
  if (r != ncclSuccess) return ncclFail(r, nullptr, "ncclGetUniqueId");
  memcpy(id->internal, nid.internal, sizeof(nid.internal));
  return svSuccess;
}

svResult_t makeNcclTransport(int nranks, const svUniqueId& id, int rank, std::unique_ptr<DeviceTransport>* out) {
  ncclUniqueId nid;
  memcpy(nid.internal, id.internal, sizeof(nid.internal));
  ncclComm_t nc = nullptr;
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // see NcclTransport
  ncclResult_t r = ncclCommInitRankConfig(&nc, nranks, nid, rank, &config);
  if (r == ncclInProgress) r = ncclSettle(nc, r);
  if (r != ncclSuccess) {
    const svResult_t e = ncclFail(r, nc, "ncclCommInitRankConfig");
    if (nc != nullptr) ncclCommAbort(nc);
    return e;
  }
  *out = std::make_unique<NcclTransport>(nc, true, rank, nranks);
  return svSuccess;
}

svResult_t wrapNcclTransport(ncclComm_t comm, int* device, std::unique_ptr<DeviceTransport>* out) {
  int rank = 0, nranks = 0;
  SV_NCCLCHECK(comm, ncclCommCuDevice(comm, device));
  SV_NCCLCHECK(comm, ncclCommUserRank(comm, &rank));
  SV_NCCLCHECK(comm, ncclCommCount(comm, &nranks));
  *out = std::make_unique<NcclTransport>(comm, false, rank, nranks);
  return svSuccess;
}

}  // namespace sv
