// SPDX-License-Identifier: MIT
// MPI transport: point-to-point messages on a duplicate of the user's
// communicator, with MPI_ERRORS_RETURN so a failure becomes a result code.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
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

class MpiTransport final : public P2PTransport<MPI_Request> {
 public:
  explicit MpiTransport(MPI_Comm comm) : comm_(comm) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &nranks_);
  }
  // A communicator with a request that could not be released (leaking())
  // is not freed: MPI may still complete that request into it.
  ~MpiTransport() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && !leaking()) MPI_Comm_free(&comm_);
  }
  const char* name() const override { return "MPI"; }

  // A small all-gather with nothing else in flight on more than 4 ranks goes
  // through MPI's own collective: its log(P)-round algorithms beat P-1
  // direct messages on latency (measured with the blocking MPI_Allgather on
  // emulated 1 Gbit/s links: 8 B per rank at P=8, 192 us against 347 us).
  // It is nonblocking (MPI_Iallgather[v]) so that the engine's deadline and
  // abort flag bound it like every other exchange; used only when
  // exclusive, since collectives of one communicator must be started in the
  // same order on every rank and must not interleave with the pipeline's
  // other chunks. Up to 4 ranks, direct messages take at most 2 rounds'
  // worth of latency anyway, skip libnbc's schedule overhead (on shared
  // memory at P=2, MPI_Iallgather measured 1.1-1.6x the blocking
  // collective, direct messages 0.8-1.1x; docs/reliability.md), and let a
  // timeout name the silent rank. The rest stays direct point-to-point,
  // overlapping packing and voting.
  svResult_t allGatherv(const void* send, void* recv, const size_t* recvBytes, const size_t* recvOffs, int tag,
                        bool exclusive, RequestPtr* req) override {
    size_t largest = 0;
    for (int r = 0; r < nranks_; ++r) largest = std::max(largest, recvBytes[r]);
    if (!exclusive || largest > kSmallAllGatherBytes || nranks_ <= kDirectMaxRanks)
      return P2PTransport<MPI_Request>::allGatherv(send, recv, recvBytes, recvOffs, tag, exclusive, req);
    auto r = std::make_unique<P2PRequest>();
    r->counts.resize(nranks_);
    r->displs.resize(nranks_);
    for (int i = 0; i < nranks_; ++i) {
      r->counts[i] = static_cast<int>(recvBytes[i]);
      r->displs[i] = static_cast<int>(recvOffs[i]);
    }
    const bool inPlace = send == static_cast<const char*>(recv) + recvOffs[rank_];
    // Equal, back-to-back blocks: MPI_Iallgather, whose algorithms are tuned
    // better than MPI_Iallgatherv's.
    bool regular = true;
    for (int i = 0; i < nranks_ && regular; ++i)
      regular = recvBytes[i] == recvBytes[0] && recvOffs[i] == i * recvBytes[0];
    r->handles.emplace_back();
    r->meta.push_back({-1, kCollective});
    int rc = regular ? MPI_Iallgather(inPlace ? MPI_IN_PLACE : send, r->counts[rank_], MPI_BYTE, recv, r->counts[0],
                                      MPI_BYTE, comm_, &r->handles.back())
                     : MPI_Iallgatherv(inPlace ? MPI_IN_PLACE : send, r->counts[rank_], MPI_BYTE, recv,
                                       r->counts.data(), r->displs.data(), MPI_BYTE, comm_, &r->handles.back());
    if (rc != MPI_SUCCESS) return mpiError(rc, regular ? "MPI_Iallgather" : "MPI_Iallgatherv");
    bytesSent_ += recvBytes[rank_] * (nranks_ - 1);
    *req = std::move(r);
    return svSuccess;
  }

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
  svResult_t testAll(std::vector<MPI_Request>& hs, bool* done) override {
    int flag = 0;
    int rc = MPI_Testall(static_cast<int>(hs.size()), hs.data(), &flag, MPI_STATUSES_IGNORE);
    // An error while completing an exchange is a failed peer or link.
    if (rc != MPI_SUCCESS) return mpiError(rc, "MPI_Testall", svRemoteError);
    *done = flag != 0;
    return svSuccess;
  }
  svResult_t waitAll(std::vector<MPI_Request>& hs) override {
    int rc = MPI_Waitall(static_cast<int>(hs.size()), hs.data(), MPI_STATUSES_IGNORE);
    return rc == MPI_SUCCESS ? svSuccess : mpiError(rc, "MPI_Waitall");
  }
  bool handleDone(MPI_Request& h) override {
    if (h == MPI_REQUEST_NULL) return true;
    int flag = 0;
    return MPI_Test(&h, &flag, MPI_STATUS_IGNORE) == MPI_SUCCESS && flag;
  }
  // A receive is cancelled (MPI_Cancel succeeds for a receive not matched
  // yet) and then completes locally; one already matched to a message that
  // a stopped peer is still sending may not, so it is given a short grace
  // and else released with MPI_Request_free. Open MPI cannot cancel sends:
  // they are released the same way. A nonblocking collective can neither be
  // cancelled nor freed (MPI-3.1 5.12): its handle is dropped. Anything not
  // completed leaves its buffers to MPI: false.
  bool cancelHandle(MPI_Request& h, int role) override {
    if (handleDone(h)) return true;
    if (role == kCollective) return false;
    MPI_Cancel(&h);
    for (int i = 0; i < 100; ++i) {  // ~10 ms: completes at once when the cancel worked
      if (handleDone(h)) return true;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    MPI_Request_free(&h);
    return false;
  }

 private:
  static constexpr size_t kSmallAllGatherBytes = 4096;  // per rank
  static constexpr int kDirectMaxRanks = 4;
  MPI_Comm comm_;
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
