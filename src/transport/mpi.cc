// SPDX-License-Identifier: MIT
// MPI transport: point-to-point messages on a duplicate of the user's
// communicator, with MPI_ERRORS_RETURN so a failure becomes a result code.
// The one MPI implementation: host communicators use it directly, device
// communicators over MPI through src/device/host_exchange.h.
// Only point-to-point requests, so each can be cancelled or released after
// a failure (p2p.h). When every rank is on one node, small all-gathers go
// through memory they all map instead (shared_gather.h; SV_SHM=0: not).
#include <dlfcn.h>
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if __has_include(<mpi-ext.h>)
#include <mpi-ext.h>
#endif

#include "debug.h"
#include "transport/mpi.h"
#include "transport/p2p.h"

namespace sv {

svResult_t mpiError(int rc, const char* what, svResult_t code) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  return setError(nullptr, code, "MPI transport", "%s failed: %s", what, msg);
}

namespace {

// Open MPI 4.x begins MPI_Finalize with a PMIx fence over every process of
// the job. With PMIx 4.2 (Debian 12's Open MPI 4.1.4) that fence never
// completes in about one run in ten after a rank was SIGKILLed: when
// mpirun's waitpid handler deregisters the dead client before the PMIx
// server has read its closed socket, the server marks it finalized without
// lowering the job's local process count, so every later fence waits for
// it (reproduced without signvote: docs/reliability.md, "Exiting after a
// peer died"). Once a communicator has failed on its peers this rank is
// leaving a broken job, so it skips that fence, as `--mca
// async_mpi_finalize 1` would; SV_MPI_FINALIZE_FENCE=keep leaves it.
void skipFinalizeFenceAfterFailure(int rank) {
  static std::once_flag once;
  std::call_once(once, [rank] {
    const char* env = getenv("SV_MPI_FINALIZE_FENCE");
    if (env != nullptr && strcasecmp(env, "keep") == 0) return;
    char version[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int len = 0;
    MPI_Get_library_version(version, &len);
    if (strncmp(version, "Open MPI v4.", 12) != 0) return;
    // The flag lives in libmpi, which is already loaded: find it through
    // the object that holds MPI_Finalize (works under RTLD_LOCAL too).
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&MPI_Finalize), &info) == 0 || info.dli_fname == nullptr) return;
    void* lib = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (lib == nullptr) return;
    auto* async = static_cast<bool*>(dlsym(lib, "ompi_async_mpi_finalize"));
    if (async != nullptr) {
      *async = true;
      SV_INFO(rank, "a communicator failed on its peers: MPI_Finalize will skip Open MPI's final fence "
                    "(SV_MPI_FINALIZE_FENCE=keep to keep it)");
    }
    dlclose(lib);
  });
}

// Memory that every rank of a communicator maps, for SharedGather. Rank 0
// creates a POSIX shared-memory object, the others open it by name, and it
// is unlinked as soon as all have mapped it, so nothing stays in /dev/shm
// whatever happens to the job later. Unmapping (at destroy) involves no
// peer, so a failed communicator is still released without communicating.
class SharedSegment {
 public:
  // Collective over comm. Null on every rank alike when any rank does not
  // want it or cannot map it.
  static std::unique_ptr<SharedSegment> map(MPI_Comm comm, size_t bytes, bool want) {
    int rank = 0, all = 0, mine = want ? 1 : 0;
    MPI_Comm_rank(comm, &rank);
    if (MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS || !all) return nullptr;
    static std::atomic<unsigned> counter{0};
    char name[64] = "";
    std::unique_ptr<SharedSegment> seg;
    if (rank == 0) {
      snprintf(name, sizeof name, "/signvote.%d.%u", static_cast<int>(getpid()), counter.fetch_add(1));
      seg = open(name, bytes, true);
      if (!seg) name[0] = '\0';
    }
    if (MPI_Bcast(name, sizeof name, MPI_CHAR, 0, comm) != MPI_SUCCESS) name[0] = '\0';
    if (rank != 0 && name[0] != '\0') seg = open(name, bytes, false);
    mine = seg ? 1 : 0;
    if (MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS) all = 0;
    if (rank == 0 && name[0] != '\0') shm_unlink(name);
    if (!all) seg.reset();
    return seg;
  }
  ~SharedSegment() { munmap(base_, bytes_); }
  void* base() const { return base_; }

 private:
  SharedSegment(void* base, size_t bytes) : base_(base), bytes_(bytes) {}
  static std::unique_ptr<SharedSegment> open(const char* name, size_t bytes, bool create) {
    const int fd = shm_open(name, create ? O_CREAT | O_EXCL | O_RDWR : O_RDWR, 0600);
    if (fd < 0) return nullptr;
    void* p = MAP_FAILED;
    if (!create || ftruncate(fd, static_cast<off_t>(bytes)) == 0)  // a new object reads as zeros
      p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
      if (create) shm_unlink(name);
      return nullptr;
    }
    return std::unique_ptr<SharedSegment>(new SharedSegment(p, bytes));
  }
  void* base_;
  size_t bytes_;
};

class MpiTransport final : public P2PTransport<MPI_Request> {
 public:
  MpiTransport(MPI_Comm comm, std::unique_ptr<SharedSegment> segment) : comm_(comm), segment_(std::move(segment)) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &nranks_);
    // The segment exists only when every rank is on this node.
    if (segment_)
      shared_ = std::make_unique<SharedGather>(segment_->base(), rank_, nranks_, SharedGather::spinPollsFor(nranks_));
  }
  // A communicator with a request that could not be released (leaking())
  // is not freed: MPI may still complete that request into it. Notices
  // still in flight to a dead peer are released, their buffers kept.
  ~MpiTransport() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    reapNotices();
    if (!notices_.empty()) {
      auto kept = std::make_shared<std::deque<OutNotice>>();
      for (OutNotice& n : notices_) {
        MPI_Request_free(&n.req);
        kept->push_back(std::move(n));
      }
      keepForever(kept);
    }
    if (!leaking()) MPI_Comm_free(&comm_);
  }
  const char* name() const override { return "MPI"; }
  bool sharesMemory() const { return shared_ != nullptr; }

  bool hasNotices() const override { return true; }
  void sendNotice(int peer, const void* msg, size_t bytes) override {
    reapNotices();
    OutNotice n;
    n.bytes.assign(static_cast<const char*>(msg), static_cast<const char*>(msg) + bytes);
    if (MPI_Isend(n.bytes.data(), static_cast<int>(bytes), MPI_BYTE, peer, kTagNotice, comm_, &n.req) == MPI_SUCCESS)
      notices_.push_back(std::move(n));
  }
  bool pollNotice(int* from, void* msg, size_t bytes) override {
    reapNotices();
    int flag = 0;
    MPI_Message m;
    MPI_Status st;
    if (MPI_Improbe(MPI_ANY_SOURCE, kTagNotice, comm_, &flag, &m, &st) != MPI_SUCCESS || !flag) return false;
    int n = 0;
    MPI_Get_count(&st, MPI_BYTE, &n);
    std::vector<char> buf(n > 0 ? n : 1);
    if (MPI_Mrecv(buf.data(), n, MPI_BYTE, &m, MPI_STATUS_IGNORE) != MPI_SUCCESS) return false;
    if (static_cast<size_t>(n) != bytes) return false;
    memcpy(msg, buf.data(), bytes);
    *from = st.MPI_SOURCE;
    return true;
  }
  void peersFailed() override { skipFinalizeFenceAfterFailure(rank_); }

 protected:
  svResult_t isend(const void* buf, size_t bytes, int peer, int tag, MPI_Request* h) override {
    if (bytes > INT_MAX) return setError(nullptr, svInternalError, "MPI transport", "message of %zu bytes", bytes);
    int rc = MPI_Isend(buf, static_cast<int>(bytes), MPI_BYTE, peer, tag, comm_, h);
    return rc == MPI_SUCCESS ? svSuccess : mpiError(rc, "MPI_Isend");
  }
  svResult_t irecv(void* buf, size_t bytes, int peer, int tag, MPI_Request* h) override {
    if (bytes > INT_MAX) return setError(nullptr, svInternalError, "MPI transport", "message of %zu bytes", bytes);
    int rc = MPI_Irecv(buf, static_cast<int>(bytes), MPI_BYTE, peer, tag, comm_, h);
    return rc == MPI_SUCCESS ? svSuccess : mpiError(rc, "MPI_Irecv");
  }
  svResult_t testAll(std::vector<MPI_Request>& hs, const std::vector<Meta>& meta, bool* done) override {
    if (statuses_.size() < hs.size()) statuses_.resize(hs.size());
    int flag = 0;
    int rc = MPI_Testall(static_cast<int>(hs.size()), hs.data(), &flag, statuses_.data());
    if (rc == MPI_ERR_IN_STATUS) {
      for (size_t i = 0; i < hs.size(); ++i) {
        const int e = statuses_[i].MPI_ERROR;
        if (e == MPI_SUCCESS || e == MPI_ERR_PENDING) continue;
        int cls = 0;
        MPI_Error_class(e, &cls);
        if (cls == MPI_ERR_TRUNCATE && meta[i].role == kRecv)
          return sizeMismatch("MPI transport", meta[i].peer, -1, meta[i].bytes);
        return mpiError(e, meta[i].role == kRecv ? "a receive" : "a send", svRemoteError);
      }
    }
    // Any other error while completing an exchange is a failed peer or link.
    if (rc != MPI_SUCCESS) return mpiError(rc, "MPI_Testall", svRemoteError);
    *done = flag != 0;
    if (!flag) return svSuccess;
    for (size_t i = 0; i < hs.size(); ++i) {
      if (meta[i].role != kRecv) continue;
      int n = 0;
      MPI_Get_count(&statuses_[i], MPI_BYTE, &n);
      if (static_cast<size_t>(n) != meta[i].bytes) return sizeMismatch("MPI transport", meta[i].peer, n, meta[i].bytes);
    }
    return svSuccess;
  }
  bool strayMessage(int tag, int* peer) override {
    int flag = 0;
    MPI_Status st;
    if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &flag, &st) != MPI_SUCCESS || !flag) return false;
    if (!sameCallExchange(st.MPI_TAG, tag)) return false;
    *peer = st.MPI_SOURCE;
    return true;
  }
  // MPI_Request_get_status leaves the request alive, so a later
  // MPI_Testall still sees its status (and checks its size).
  bool handleDone(MPI_Request& h) override {
    if (h == MPI_REQUEST_NULL) return true;
    int flag = 0;
    return MPI_Request_get_status(h, &flag, MPI_STATUS_IGNORE) == MPI_SUCCESS && flag;
  }
  // A receive is cancelled (MPI_Cancel succeeds for a receive not matched
  // yet) and then completes locally; one already matched to a message that
  // a stopped peer is still sending may not, so it is given a short grace
  // and else released with MPI_Request_free. Open MPI cannot cancel sends:
  // they are released the same way. Anything not completed leaves its
  // buffers to MPI: false.
  bool cancelHandle(MPI_Request& h, int role) override {
    (void)role;
    if (h == MPI_REQUEST_NULL) return true;
    if (complete(h)) return true;
    MPI_Cancel(&h);
    for (int i = 0; i < 100; ++i) {  // ~10 ms: completes at once when the cancel worked
      if (complete(h)) return true;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    MPI_Request_free(&h);
    return false;
  }

 private:
  struct OutNotice {
    std::vector<char> bytes;
    MPI_Request req = MPI_REQUEST_NULL;
  };
  // Completes and releases h if it is done.
  static bool complete(MPI_Request& h) {
    int flag = 0;
    return MPI_Test(&h, &flag, MPI_STATUS_IGNORE) == MPI_SUCCESS && flag;
  }
  void reapNotices() {
    while (!notices_.empty() && complete(notices_.front().req)) notices_.pop_front();
  }
  MPI_Comm comm_;
  std::unique_ptr<SharedSegment> segment_;  // shared_'s memory
  std::vector<MPI_Status> statuses_;  // testAll's, reused
  std::deque<OutNotice> notices_;     // sent, not yet complete (oldest first)
};

}  // namespace

std::unique_ptr<Transport> makeMpiTransport(MPI_Comm comm, bool sharedGathers) {
  int nranks = 0;
  MPI_Comm_size(comm, &nranks);
  auto segment = SharedSegment::map(comm, SharedGather::segmentBytes(nranks), sharedGathers && nranks > 1);
  return std::make_unique<MpiTransport>(comm, std::move(segment));
}

bool mpiTransportSharesMemory(const Transport& t) { return static_cast<const MpiTransport&>(t).sharesMemory(); }

int mpiCudaSupport() {
#if defined(MPIX_CUDA_AWARE_SUPPORT) && MPIX_CUDA_AWARE_SUPPORT
  return MPIX_Query_cuda_support();
#else
  return -1;
#endif
}

}  // namespace sv
