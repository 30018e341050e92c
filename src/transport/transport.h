// SPDX-License-Identifier: MIT
// The transport interface: moves bytes between the ranks of a communicator,
// nonblocking, and knows nothing of signs. One implementation per file:
// mpi.cc and loopback.cc (ranks as threads, for unit tests), both built on
// the point-to-point exchanges of p2p.h.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "signvote.h"

namespace sv {

// An operation in flight; a transport derives its own.
class Request {
 public:
  virtual ~Request() = default;
};
using RequestPtr = std::unique_ptr<Request>;

class Transport {
 public:
  virtual ~Transport() = default;
  virtual const char* name() const = 0;
  int rank() const { return rank_; }
  int nranks() const { return nranks_; }

  // Every rank r sends sendBytes[s] bytes at send + sendOffs[s] to rank s and
  // receives recvBytes[r] bytes into recv + recvOffs[r]. Ops with the same tag
  // must be started in the same order on every rank. Buffers stay untouched
  // by the caller until the request completes. On failure *req may hold
  // what was already posted, for the caller to cancel(). A non-null *req on
  // entry is a completed request of this transport, which it may reuse
  // rather than allocate (the pipeline keeps its slots' requests).
  virtual svResult_t allToAllv(const void* send, const size_t* sendBytes, const size_t* sendOffs,
                               void* recv, const size_t* recvBytes, const size_t* recvOffs,
                               int tag, RequestPtr* req) = 0;

  // Every rank r contributes sendBytes == recvBytes[r] bytes that land at
  // recv + recvOffs[r] on every rank. In place when send == recv + recvOffs[rank].
  // exclusive: nothing else of this communicator is in flight (and every rank
  // says so alike), so the transport may use a latency-optimised schedule
  // of several rounds on the same tag.
  virtual svResult_t allGatherv(const void* send, void* recv, const size_t* recvBytes,
                                const size_t* recvOffs, int tag, bool exclusive, RequestPtr* req) = 0;

  // Progress req; *done = true once its buffers may be reused. A message
  // of another size than its receive posted is svInvalidUsage (the ranks
  // disagree on the call).
  virtual svResult_t test(Request* req, bool* done) = 0;

  // ---- Failure handling (defaults suit a transport that can only poll) ----

  // test(), and when not done, wait up to `seconds` for progress without
  // spinning if the transport can (a condition variable, a blocking poll);
  // it may return earlier. The engine calls it with growing `seconds` while
  // nothing progresses, and checks its deadline and abort flag in between,
  // so `seconds` must be honoured as an upper bound. Default: test, then
  // yield (seconds < 1 ms) or sleep.
  virtual svResult_t testFor(Request* req, double seconds, bool* done);

  // For the error message of a timeout: the peers whose data for req has
  // not arrived (recvFrom) and those a send of req has not completed to
  // (sendTo). Default: nothing known.
  virtual void pendingPeers(Request* req, std::vector<int>* recvFrom, std::vector<int>* sendTo) {
    (void)req; (void)recvFrom; (void)sendTo;
  }

  // Give up req after a failure: cancel what can be cancelled and release
  // its handles. Returns true when no transfer can touch req's buffers any
  // more; false makes the communicator keep its staging buffers alive until
  // the process exits (leak on purpose). Default: false (nothing is known).
  virtual bool cancel(Request* req) { (void)req; return false; }

  // Notices: small messages outside every exchange (a tag of their own),
  // which the engine uses to probe its peers' liveness after a timeout and
  // to tell them it failed a call (src/notice.h). Best effort: sending never
  // blocks and may be lost to a dead peer; polling returns at once.
  // Defaults: a transport without them (the engine then cannot name a
  // silent rank beyond pendingPeers).
  virtual bool hasNotices() const { return false; }
  virtual void sendNotice(int peer, const void* msg, size_t bytes) { (void)peer; (void)msg; (void)bytes; }
  // One notice that arrived, if any: true with *from set and up to `bytes`
  // bytes copied (a notice of another size is dropped).
  virtual bool pollNotice(int* from, void* msg, size_t bytes) { (void)from; (void)msg; (void)bytes; return false; }

  // The communicator failed because of its peers (a timeout, an abort, a
  // peer's failure notice): the job is about to lose or has lost a rank.
  // Called once, on the thread of the failing call.
  virtual void peersFailed() {}

  // svCommAbort: may be called from any thread, also while another thread is
  // inside test()/testFor() of this transport; must make that call return
  // promptly (an error is fine). Default: nothing, since the engine's poll
  // loop already checks the communicator's abort flag between testFor calls
  // bounded by a millisecond. A transport whose waits block without bound
  // (NCCL: ncclCommAbort) implements it.
  virtual void abort() noexcept {}

  // True once cancel() has failed to release some request: the transport's
  // own handle (MPI communicator) must then not be freed either.
  bool leaking() const { return leaking_; }

  // Bytes handed over for other ranks since creation, and the part of them
  // for ranks on other nodes (those setOtherNodes marked; none by default).
  uint64_t bytesSent() const { return bytesSent_; }
  uint64_t bytesSentOtherNodes() const { return bytesSentOther_; }
  void setOtherNodes(std::vector<bool> otherNode) { otherNode_ = std::move(otherNode); }

 protected:
  // Accounts one send of `bytes` to `peer`.
  void countSend(int peer, size_t bytes) {
    bytesSent_ += bytes;
    if (peer >= 0 && peer < static_cast<int>(otherNode_.size()) && otherNode_[peer]) bytesSentOther_ += bytes;
  }
  int rank_ = 0, nranks_ = 1;
  uint64_t bytesSent_ = 0, bytesSentOther_ = 0;
  std::vector<bool> otherNode_;  // per peer: on another node
  bool leaking_ = false;
};

inline svResult_t Transport::testFor(Request* req, double seconds, bool* done) {
  svResult_t r = test(req, done);
  if (r != svSuccess || *done || seconds <= 0) return r;
  if (seconds < 1e-3)
    std::this_thread::yield();
  else
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  return svSuccess;
}

// Keeps an object alive (and reachable, for leak checkers) until exit: what
// a transport may still write into after a failure (defined in comm.cc).
void keepForever(std::shared_ptr<void> p);

// Tags of the operations the algorithm issues (see Transport::allToAllv),
// with bits the engine adds so that ranks out of step never match each
// other's messages silently: the call's parity (a rank that ran ahead into
// the next call), and for pipeline chunks the chunk index mod 4 and a bit
// for a last chunk that is full (ranks that disagree on the count by whole
// chunks; the size check of every receive catches the rest).
//   tag = kind | (call & 1) << 3 | (chunk & 3) << 4 | lastFull << 6
// All fit MPI's smallest MPI_TAG_UB (32767). Notices have a tag of their own.
// The hierarchical vote's exchanges B (counts) and C (voted bits) between
// nodes have kinds of their own.
enum Tag : int { kTagAllToAll = 1, kTagAllGather = 2, kTagControl = 3, kTagNotice = 4, kTagCounts = 5, kTagVoted = 6 };
inline int callTag(Tag kind, uint64_t call) { return kind | static_cast<int>(call & 1) << 3; }
inline int chunkTag(Tag kind, uint64_t call, size_t chunk, bool lastFull) {
  return callTag(kind, call) | static_cast<int>(chunk & 3) << 4 | (lastFull ? 1 << 6 : 0);
}
// Whether a message's tag is of an exchange of the same call as `tag` (the
// parity bit): a transport waiting in one call can tell a peer's message of
// that call from one of the next call of a peer that ran ahead.
inline bool sameCallExchange(int messageTag, int tag) {
  return messageTag != kTagNotice && ((messageTag ^ tag) & (1 << 3)) == 0;
}

}  // namespace sv
