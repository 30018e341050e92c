// SPDX-License-Identifier: MIT
// Communicator lifetime, the live-handle registry, and the small getters.
#include "comm.h"

#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "bitlogic.h"
#include "debug.h"

namespace sv {
namespace {

// Live communicators, so that a destroyed or foreign handle is reported
// instead of dereferenced. Every call looks its handle up, so this is a
// spinlock over a small array (a process holds a handful of communicators),
// not a std::mutex around a hash set: 4 B calls at P = 1 took 275 ns with
// that, most of it here. Sections under the lock are a few loads long.
class Registry {
 public:
  class Guard {
   public:
    explicit Guard(Registry& r) : r_(r) {
      while (r_.locked_.exchange(true, std::memory_order_acquire)) {
        for (int spins = 0; r_.locked_.load(std::memory_order_relaxed); ++spins)
          if (spins >= 64) std::this_thread::yield();  // the holder may be descheduled
      }
    }
    ~Guard() { r_.locked_.store(false, std::memory_order_release); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    Registry& r_;
  };
  // Callers hold a Guard.
  bool contains(const svComm* c) const { return std::find(live_.begin(), live_.end(), c) != live_.end(); }
  void insert(svComm* c) { live_.push_back(c); }  // may throw std::bad_alloc
  bool erase(const svComm* c) {
    auto it = std::find(live_.begin(), live_.end(), c);
    if (it == live_.end()) return false;
    *it = live_.back();
    live_.pop_back();
    return true;
  }

 private:
  std::atomic<bool> locked_{false};
  std::vector<svComm*> live_;
};

Registry& registry() {
  static auto* live = new Registry();  // never destroyed: safe at exit
  return *live;
}

}  // namespace

svResult_t commConfig(const char* where, const svConfig_t* user, Config* out) {
  char err[kErrorLineMax];
  if (resolveConfig(user, out, err, sizeof(err)) != svSuccess)
    return setError(nullptr, svInvalidArgument, where, "%s", err);
  return svSuccess;
}

svResult_t commCreate(std::unique_ptr<Transport> transport, const Config& cfg, svComm_t* out,
                      DeviceStatePtr device) {
  if (!device && cfg.device != SV_DEVICE_HOST)
    return setError(nullptr, svInvalidUsage, "commCreate",
                    "config.device=%d (SV_DEVICE): this init makes host communicators only", cfg.device);
  if (transport->nranks() >= (1 << kMaxCounterBits))
    return setError(nullptr, svInvalidUsage, "commCreate", "%d ranks: at most %d are supported", transport->nranks(),
                    (1 << kMaxCounterBits) - 1);
  svComm* c = new (std::nothrow) svComm();
  if (c == nullptr) return setError(nullptr, svSystemError, "commCreate", "out of memory");
  c->rank = transport->rank();
  c->nranks = transport->nranks();
  c->config = cfg;
  c->transport = std::move(transport);
  c->nanCounts.assign(c->nranks, 0);
  c->device = std::move(device);
  try {
    c->nodes = NodeLayout::fromLabels(std::vector<int>(c->nranks, 0));
  } catch (const std::bad_alloc&) {
    delete c;
    return setError(nullptr, svSystemError, "commCreate", "out of memory");
  }
  try {
    Registry::Guard lock(registry());
    registry().insert(c);
  } catch (const std::bad_alloc&) {
    delete c;
    return setError(nullptr, svSystemError, "commCreate", "out of memory");
  }
  if (logLevel() >= kLogInfo) {
    char desc[512];
    describeConfig(cfg, desc, sizeof(desc));
    char dev[16] = "host";
    if (c->device) snprintf(dev, sizeof(dev), "cuda:%d", cfg.device);
    SV_INFO(c->rank, "signvote %d.%d.%d comm %p rank %d nranks %d transport %s device %s; %s",
            SIGNVOTE_VERSION_MAJOR, SIGNVOTE_VERSION_MINOR, SIGNVOTE_VERSION_PATCH, (void*)c, c->rank,
            c->nranks, c->transport->name(), dev, desc);
  }
  *out = c;
  return svSuccess;
}

void commSetNodes(svComm* comm, const std::vector<int>& labels) {
  if (static_cast<int>(labels.size()) != comm->nranks) return;
  comm->nodes = NodeLayout::fromLabels(labels);
  const NodeLayout& t = comm->nodes;
  std::vector<bool> other(comm->nranks);
  for (int r = 0; r < comm->nranks; ++r) other[r] = t.nodeOf[r] != t.nodeOf[comm->rank];
  comm->transport->setOtherNodes(std::move(other));
  if (logLevel() < kLogInfo) return;
  char sizes[128] = "";
  size_t len = 0;
  for (int n = 0; n < t.nodes() && len + 16 < sizeof(sizes); ++n)
    len += snprintf(sizes + len, sizeof(sizes) - len, "%s%d", n ? "+" : "", t.size(n));
  const int h = comm->config.hierarchy;
  SV_INFO(comm->rank, "nodes: %d (ranks per node %s), this rank is %d of node %d; hierarchical vote %s", t.nodes(),
          sizes, t.localOf[comm->rank], t.nodeOf[comm->rank],
          t.nodes() < 2 ? "not used (one node)"
          : comm->device ? "not used (device communicator: flat vote)"
          : h == 0       ? "off (SV_HIERARCHY=0)"
          : h == 1       ? "on (SV_HIERARCHY=1)"
                         : "auto (calls the all-to-all would take, when a node holds 2+ ranks)");
}

svResult_t commCheck(svComm_t comm, const char* where) {
  if (comm == nullptr) return setError(nullptr, svInvalidArgument, where, "comm is NULL");
  bool live;
  {
    Registry::Guard lock(registry());
    live = registry().contains(comm);
  }
  if (!live)
    return setError(nullptr, svInvalidUsage, where,
                    "comm %p is not a live communicator (destroyed, aborted, or never created)", (void*)comm);
  return svSuccess;
}

void commSetLastError(svComm* comm, const char* line) {
  std::lock_guard<std::mutex> lock(comm->errorMutex);
  if (strcmp(comm->lastError, line) != 0) snprintf(comm->lastError, sizeof(comm->lastError), "%s", line);
}

void keepForever(std::shared_ptr<void> p) {
  static std::mutex m;
  static auto* kept = new std::vector<std::shared_ptr<void>>();  // never destroyed
  std::lock_guard<std::mutex> lock(m);
  kept->push_back(std::move(p));
}

svResult_t commAcquire(svComm_t comm, const char* where) {
  if (comm == nullptr) return setError(nullptr, svInvalidArgument, where, "comm is NULL");
  {
    Registry::Guard lock(registry());
    if (registry().contains(comm)) {
      comm->refs.fetch_add(1, std::memory_order_relaxed);
      return svSuccess;
    }
  }
  return setError(nullptr, svInvalidUsage, where,
                  "comm %p is not a live communicator (destroyed, aborted, or never created)", (void*)comm);
}

void commRelease(svComm_t comm) {
  if (comm->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (comm->keepStaging) {
    // A cancelled request may still be completed by the transport into
    // these buffers: they live on (docs/reliability.md, "leaks on purpose").
    struct Staging {
      std::vector<uint64_t> packed, result, slots[kPipelineDepth], signature;
      std::vector<unsigned long long> nanCounts;
    };
    auto k = std::make_shared<Staging>();
    k->packed.swap(comm->packed);
    k->result.swap(comm->result);
    for (int i = 0; i < kPipelineDepth; ++i) k->slots[i].swap(comm->recvSlot[i]);
    k->signature.swap(comm->signature);
    k->nanCounts.swap(comm->nanCounts);
    keepForever(k);
  }
  delete comm;
}

namespace {
// Takes comm out of the live set; false if it was not there (raced with
// another Destroy/Abort).
bool commRetire(svComm_t comm) {
  Registry::Guard lock(registry());
  return registry().erase(comm);
}
}  // namespace

}  // namespace sv

using namespace sv;

extern "C" {

svResult_t svGetVersion(int* version) {
  if (version == nullptr) return setError(nullptr, svInvalidArgument, "svGetVersion", "version is NULL");
  *version = SIGNVOTE_VERSION_CODE;
  return svSuccess;
}

const char* svGetErrorString(svResult_t r) {
  switch (r) {
    case svSuccess: return "no error";
    case svUnhandledCudaError: return "unhandled cuda error";
    case svSystemError: return "unhandled system error";
    case svInternalError: return "internal error - please report this issue to the signvote developers";
    case svInvalidArgument: return "invalid argument";
    case svInvalidUsage: return "invalid usage";
    case svRemoteError: return "remote process exited or there was a network error";
    case svInProgress: return "signvote operation in progress";
    case svTimeout: return "operation timed out";
    default: return "unknown result code";
  }
}

// A copy, so that the line stays readable when another thread destroys the
// communicator (it is the caller thread's until its next svGetLastError).
const char* svGetLastError(svComm_t comm) {
  static thread_local char copy[kErrorLineMax];
  if (comm != nullptr) {
    Registry::Guard lock(registry());
    if (registry().contains(comm)) {
      std::lock_guard<std::mutex> elock(comm->errorMutex);
      memcpy(copy, comm->lastError, sizeof(copy));
      return copy;
    }
  }
  return threadLastError();
}

// Destroy and Abort retire the handle at once; the memory goes with the last
// reference (a call still running on another thread holds one). Neither
// communicates: a failed communicator is released without waiting on peers.
svResult_t svCommDestroy(svComm_t comm) {
  SVCHECK(commCheck(comm, "svCommDestroy"));
  if (!commRetire(comm)) return commCheck(comm, "svCommDestroy");
  if (comm->device) deviceRefreshStats(comm);
  SV_INFO(comm->rank, "comm %p destroyed after %llu calls", (void*)comm, comm->stats.calls);
  commRelease(comm);
  return svSuccess;
}

svResult_t svCommAbort(svComm_t comm) {
  SVCHECK(commCheck(comm, "svCommAbort"));
  if (!commRetire(comm)) return commCheck(comm, "svCommAbort");
  SV_INFO(comm->rank, "comm %p aborted", (void*)comm);
  // A call in progress on another thread sees the flag within a millisecond
  // of polling and returns svRemoteError; the transport's hook stops waits
  // that do not poll.
  comm->aborted.store(true, std::memory_order_release);
  comm->transport->abort();
  if (comm->device) deviceAbort(comm);  // the device transport's abort (ncclCommAbort)
  commRelease(comm);
  return svSuccess;
}

#define SV_GETTER(fn, type, arg, expr)                                          \
  svResult_t fn(const svComm_t comm, type* arg) {                               \
    CommRef ref(comm, #fn);                                                     \
    SVCHECK(ref.result());                                                      \
    if (arg == nullptr) return setError(comm, svInvalidArgument, #fn, #arg " is NULL"); \
    *arg = (expr);                                                              \
    return svSuccess;                                                           \
  }

SV_GETTER(svCommCount, int, count, comm->nranks)
SV_GETTER(svCommUserRank, int, rank, comm->rank)
SV_GETTER(svCommCuDevice, int, device, comm->config.device)
SV_GETTER(svCommGetStats, svCommStats_t, stats, (comm->device ? deviceRefreshStats(comm) : (void)0, comm->stats))

svResult_t svCommGetAsyncError(svComm_t comm, svResult_t* asyncError) {
  CommRef ref(comm, "svCommGetAsyncError");  // safe against a concurrent destroy
  SVCHECK(ref.result());
  if (asyncError == nullptr) return setError(comm, svInvalidArgument, "svCommGetAsyncError", "asyncError is NULL");
  if (comm->device) return deviceAsyncError(comm, asyncError);
  *asyncError = svSuccess;  // host calls return their errors themselves
  return svSuccess;
}

}  // extern "C"
