// SPDX-License-Identifier: MIT
// The transport interface: moves bytes between the ranks of a communicator,
// nonblocking, and knows nothing of signs. One implementation per file:
// mpi.cc, loopback.cc (ranks as threads, for unit tests), and nccl.cc later.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <memory>

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

  // Block until req completes.
  virtual svResult_t wait(Request* req) = 0;

  // Bytes handed over for other ranks since creation.
  uint64_t bytesSent() const { return bytesSent_; }

 protected:
  int rank_ = 0, nranks_ = 1;
  uint64_t bytesSent_ = 0;
};

// Tags of the operations the algorithm issues (see Transport::allToAllv).
enum Tag : int { kTagAllToAll = 1, kTagAllGather = 2, kTagControl = 3 };

}  // namespace sv
