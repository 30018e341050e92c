// SPDX-License-Identifier: MIT
// MPI transport: point-to-point messages on a duplicate of the user's
// communicator, with MPI_ERRORS_RETURN so a failure becomes a result code.
// Only point-to-point requests, so each can be cancelled or released after
// a failure (p2p.h).
#include <dlfcn.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <chrono>
#include <climits>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "comm.h"
#include "debug.h"
#include "signvote_mpi.h"
#include "topology.h"
#include "topology_mpi.h"
#include "transport/p2p.h"
#if SV_WITH_DEVICE
#include "transport/mpi_device.h"
#endif

namespace sv {
namespace {

svResult_t mpiError(int rc, const char* what, svResult_t code = svSystemError) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  return setError(nullptr, code, "MPI transport", "%s failed: %s", what, msg);
}

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

class MpiTransport final : public P2PTransport<MPI_Request> {
 public:
  explicit MpiTransport(MPI_Comm comm) : comm_(comm) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &nranks_);
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
  std::vector<MPI_Status> statuses_;  // testAll's, reused
  std::deque<OutNotice> notices_;     // sent, not yet complete (oldest first)
};

}  // namespace
}  // namespace sv

extern "C" svResult_t svCommInitMPI(svComm_t* comm, MPI_Comm mpiComm, svConfig_t* config) {
  using namespace sv;
  if (comm == nullptr) return setError(nullptr, svInvalidArgument, "svCommInitMPI", "comm is NULL");
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized)
    return setError(nullptr, svInvalidUsage, "svCommInitMPI", "MPI is not initialized (call MPI_Init first)");
  if (mpiComm == MPI_COMM_NULL)
    return setError(nullptr, svInvalidArgument, "svCommInitMPI", "mpiComm is MPI_COMM_NULL");
  // Resolve the config before any collective, so a bad config fails alone.
  Config cfg;
  char err[kErrorLineMax];
  if (resolveConfig(config, &cfg, err, sizeof(err)) != svSuccess)
    return setError(nullptr, svInvalidArgument, "svCommInitMPI", "%s", err);
  // A device communicator only when asked for (config.device / SV_DEVICE >=
  // 0): existing callers pass host pointers (docs/gpu.md).
  if (cfg.device != SV_DEVICE_HOST) {
#if SV_WITH_DEVICE
    return deviceInitMpi(mpiComm, cfg, comm);
#else
    return setError(nullptr, svInvalidUsage, "svCommInitMPI",
                    "config.device / SV_DEVICE = %d: signvote was built without CUDA (host communicators only)",
                    cfg.device);
#endif
  }
  MPI_Comm dup = MPI_COMM_NULL;
  int rc = MPI_Comm_dup(mpiComm, &dup);
  if (rc != MPI_SUCCESS) return mpiError(rc, "MPI_Comm_dup");
  MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN);
  std::vector<int> nodeRanks = nodeRanksMpi(dup);  // topology (collective, like the dup)
  SVCHECK(commCreate(std::make_unique<MpiTransport>(dup), cfg, comm));
  (*comm)->nodeRanks = nodeRanks;
  SV_INFO((*comm)->rank, "topology: %zu of %d ranks on this node (%s), %s", nodeRanks.size(), (*comm)->nranks,
          rankList(nodeRanks).c_str(), nodeName().c_str());
  return svSuccess;
}
