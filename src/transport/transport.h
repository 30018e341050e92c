// SPDX-License-Identifier: MIT
// The transport interface: moves bytes between the ranks of a communicator,
// nonblocking, and knows nothing of signs. One implementation per file:
// mpi.cc, loopback.cc (ranks as threads, for unit tests), and nccl.cc later.
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
  // by the caller until the request completes.
  virtual svResult_t allToAllv(const void* send, const size_t* sendBytes, const size_t* sendOffs,
                               void* recv, const size_t* recvBytes, const size_t* recvOffs,
                               int tag, RequestPtr* req) = 0;

  // Every rank r contributes sendBytes == recvBytes[r] bytes that land at
  // recv + recvOffs[r] on every rank. In place when send == recv + recvOffs[rank].
  // exclusive: nothing else of this communicator is in flight (and every rank
  // says so alike), so the transport may complete the operation before
  // returning, with a latency-optimised collective.
  virtual svResult_t allGatherv(const void* send, void* recv, const size_t* recvBytes,
                                const size_t* recvOffs, int tag, bool exclusive, RequestPtr* req) = 0;

  // Progress req; *done = true once its buffers may be reused.
  virtual svResult_t test(Request* req, bool* done) = 0;

  // Block until req completes (no deadline: the engine polls with testFor).
  virtual svResult_t wait(Request* req) = 0;

  // ---- Failure handling (defaults suit a transport that can only poll) ----

  // test(), and when not done, wait up to `seconds` for progress without
  // spinning if the transport can (a condition variable, a blocking poll);
  // it may return earlier. The engine calls it with growing `seconds` while
  // nothing progresses, and checks its deadline and abort flag in between,
  // so `seconds` must be honoured as an upper bound. Default: test, then
  // yield (seconds < 1 ms) or sleep.
  virtual svResult_t testFor(Request* req, double seconds, bool* done);

  // For the error message of a timeout (best effort): the ranks whose data
  // for req has not arrived (recvFrom) and those a send of req has not
  // completed to (sendTo); -1 in recvFrom: a collective the transport cannot
  // attribute to a rank. Default: nothing known.
  virtual void pendingPeers(Request* req, std::vector<int>* recvFrom, std::vector<int>* sendTo) {
    (void)req; (void)recvFrom; (void)sendTo;
  }

  // Give up req after a failure: cancel what can be cancelled and release
  // its handles. Returns true when no transfer can touch req's buffers any
  // more; false makes the communicator keep its staging buffers alive until
  // the process exits (leak on purpose). Default: false (nothing is known).
  virtual bool cancel(Request* req) { (void)req; return false; }

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

  // Bytes handed over for other ranks since creation.
  uint64_t bytesSent() const { return bytesSent_; }

 protected:
  int rank_ = 0, nranks_ = 1;
  uint64_t bytesSent_ = 0;
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

// Tags of the operations the algorithm issues (see Transport::allToAllv).
enum Tag : int { kTagAllToAll = 1, kTagAllGather = 2, kTagControl = 3 };

}  // namespace sv
