// SPDX-License-Identifier: MIT
// The communicator: its transport, resolved config, staging buffers, stats.
#pragma once

#include <stdint.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "config.h"
#include "device/device.h"
#include "notice.h"
#include "plan_hierarchy.h"
#include "signvote.h"
#include "transport/transport.h"

#include "debug.h"

namespace sv {
// Chunks in flight at once in the pipeline.
constexpr int kPipelineDepth = 3;
}  // namespace sv

struct svComm {
  int rank = 0;
  int nranks = 1;
  sv::Config config;
  std::unique_ptr<sv::Transport> transport;

  // Staging, grown to the largest call and reused (64-bit words).
  std::vector<uint64_t> packed;    // this rank's bits, all chunks
  std::vector<uint64_t> result;    // the voted bits, all chunks
  std::vector<uint64_t> recvSlot[sv::kPipelineDepth];  // peers' bits, per chunk
  std::vector<unsigned long long> nanCounts;  // one per rank (SV_NAN_ERROR)
  std::vector<size_t> exchangeSizes;          // the pipeline's per-rank sizes and offsets
  std::vector<const uint64_t*> voteSources;   // the hierarchical vote's count sources (one per node)
  std::vector<int> voteSourceBits;
  // The pipeline slots' requests, kept between calls for the transport to
  // reuse (transport.h); abandon() takes a failed one out.
  sv::RequestPtr slotRequest[sv::kPipelineDepth];

  uint64_t callCount = 0;  // collective calls started (SV_TIE_RANDOM input)
  svCommStats_t stats = {};
  int loggedAlgorithm = -1;
  // Written by the calling thread, read by svGetLastError on any thread.
  std::mutex errorMutex;
  char lastError[sv::kErrorLineMax] = "";

  // Failure handling (docs/reliability.md). refs: the live registry's
  // reference plus one per call in progress, so that svCommAbort/Destroy on
  // another thread never frees the communicator under a running call.
  std::atomic<int> refs{1};
  std::atomic<bool> aborted{false};      // svCommAbort: calls in progress stop
  svResult_t failed = svSuccess;         // a collective failed mid-exchange:
  char failedError[sv::kErrorLineMax] = "";  // later ones return this at once
  sv::PeerFailure peerFailure;           // a peer's failure notice (src/notice.h)
  bool failedByPeer = false;             // failed on that notice: not echoed
  bool keepStaging = false;  // a request could not be cancelled: its buffers outlive the comm
  std::vector<uint64_t> signature;  // SV_CHECK: every rank's call signature

  // Device communicators only (config.device >= 0): staging, streams' events,
  // the stream-ordered transport (src/device/device_comm.h). Declared last so
  // it is freed first, before the host transport.
  sv::DeviceStatePtr device;
  // Ranks sharing this node (found at init where the transport can; empty
  // otherwise).
  std::vector<int> nodeRanks;
  // Every rank's node (commSetNodes; one node unless the init found more):
  // what the hierarchical vote's plan follows (plan_hierarchy.h).
  sv::NodeLayout nodes;
};

namespace sv {

// Wrap a transport into a communicator and register it as live.
// A device communicator also passes its DeviceState (cfg.device >= 0);
// without one, cfg.device must be SV_DEVICE_HOST.
svResult_t commCreate(std::unique_ptr<Transport> transport, const Config& cfg, svComm_t* out,
                      DeviceStatePtr device = DeviceStatePtr());

// Records which node every rank is on (ranks with equal labels share one;
// the same labels on every rank) and logs the layout at INFO. Called by an
// init right after commCreate, before any call.
void commSetNodes(svComm* comm, const std::vector<int>& labels);

// The config of a new communicator (`user` may be NULL: defaults and SV_*),
// or svInvalidArgument naming `where` and the bad field.
svResult_t commConfig(const char* where, const svConfig_t* user, Config* out);

// svSuccess iff comm is a live communicator; else a specific error naming
// `where`. Every entry point taking a communicator calls this first.
svResult_t commCheck(svComm_t comm, const char* where);

// A reference to a live communicator for the duration of a call: it stays
// allocated while held even if another thread destroys or aborts it.
svResult_t commAcquire(svComm_t comm, const char* where);
void commRelease(svComm_t comm);
class CommRef {
 public:
  CommRef(svComm_t comm, const char* where) : rc_(commAcquire(comm, where)), comm_(rc_ == svSuccess ? comm : nullptr) {}
  ~CommRef() { if (comm_ != nullptr) commRelease(comm_); }
  CommRef(const CommRef&) = delete;
  CommRef& operator=(const CommRef&) = delete;
  svResult_t result() const { return rc_; }

 private:
  svResult_t rc_;
  svComm_t comm_;
};

// Sets comm's last error line (svGetLastError may read it on another thread).
void commSetLastError(svComm* comm, const char* line);

}  // namespace sv
