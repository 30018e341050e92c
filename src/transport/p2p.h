// SPDX-License-Identifier: MIT
// allToAllv and allGatherv built from point-to-point sends and receives, for
// transports whose primitive is a message (MPI, loopback).
//
//   direct  every rank posts its receives, then its sends, one per peer:
//           bytes sent per rank equal a ring's, in one round.
//   log     small exclusive all-gathers on more than kDirectMaxRanks ranks:
//           Bruck's algorithm, ceil(log2 P) rounds of one send and one
//           receive each, so latency grows with log P, not P.
//   shared  small exclusive all-gathers when the transport gave the ranks
//           memory they all map (one node): shared_gather.h, one step.
//
// Every operation is made of cancellable point-to-point requests (never a
// nonblocking MPI collective, which can be neither cancelled nor freed), so
// after a failure nothing of ours stays pending, and a stalled request
// knows which peer it waits for. Every completed receive is checked against
// the size posted: ranks that disagree on the call fail instead of
// computing from bytes that were never sent.
#pragma once

#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "debug.h"
#include "transport/shared_gather.h"
#include "transport/transport.h"

namespace sv {

// The error of a receive whose message was not the size its rank's call
// posted: the ranks disagree on the call (count, datatype, policies).
// got < 0: more than `expected` bytes (the transport truncated it).
inline svResult_t sizeMismatch(const char* where, int peer, long long got, size_t expected) {
  char sent[48];
  if (got < 0) snprintf(sent, sizeof sent, "more than %zu bytes", expected);
  else snprintf(sent, sizeof sent, "%lld bytes", got);
  return setError(nullptr, svInvalidUsage, where,
                  "the ranks disagree on the call: rank %d sent %s where this rank's call expects %zu (count, "
                  "datatype or policy differ; SV_CHECK=1 names the difference)",
                  peer, sent, expected);
}

template <typename Handle>
class P2PTransport : public Transport {
 public:
  // Small all-gathers on more ranks than this take the log-round algorithm
  // (at P = 4 over TCP, 2 rounds of one message beat 3 messages at once).
  static constexpr int kDirectMaxRanks = 3;
  static constexpr size_t kSmallAllGatherBytes = 4096;  // per rank

  svResult_t allToAllv(const void* send, const size_t* sendBytes, const size_t* sendOffs, void* recv,
                       const size_t* recvBytes, const size_t* recvOffs, int tag, RequestPtr* req) override {
    P2PRequest* r = newRequest(req, 2 * (nranks_ - 1));
    const char* s = static_cast<const char*>(send);
    char* d = static_cast<char*>(recv);
    // On failure *req holds what was posted: the engine abandons it.
    SVCHECK(postRecvs(d, recvBytes, recvOffs, tag, r));
    for (int i = 1; i < nranks_; ++i) {
      const int peer = (rank_ + i) % nranks_;
      if (sendBytes[peer] != 0) SVCHECK(post(r, kSend, peer, const_cast<char*>(s) + sendOffs[peer], sendBytes[peer], tag));
    }
    if (recvBytes[rank_] != 0) memcpy(d + recvOffs[rank_], s + sendOffs[rank_], recvBytes[rank_]);
    return svSuccess;
  }

  svResult_t allGatherv(const void* send, void* recv, const size_t* recvBytes, const size_t* recvOffs, int tag,
                        bool exclusive, RequestPtr* req) override {
    if (exclusive && shared_ && shared_->fits(recvBytes)) {
      P2PRequest* r = newRequest(req, 0);
      shared_->start(send, recv, recvBytes, recvOffs);
      r->shared = true;
      r->sharedTag = tag;
      r->sharedPolls = 0;
      bytesSent_ += recvBytes[rank_] * (nranks_ - 1);  // what the peers read
      return svSuccess;
    }
    size_t largest = 0;
    for (int p = 0; p < nranks_; ++p) largest = std::max(largest, recvBytes[p]);
    if (exclusive && nranks_ > kDirectMaxRanks && largest <= kSmallAllGatherBytes)
      return startLogGather(send, recv, recvBytes, recvOffs, tag, req);
    P2PRequest* r = newRequest(req, 2 * (nranks_ - 1));
    char* d = static_cast<char*>(recv);
    SVCHECK(postRecvs(d, recvBytes, recvOffs, tag, r));
    const size_t mine = recvBytes[rank_];
    if (mine != 0) {
      for (int i = 1; i < nranks_; ++i)
        SVCHECK(post(r, kSend, (rank_ + i) % nranks_, const_cast<void*>(send), mine, tag));
      if (send != d + recvOffs[rank_]) memcpy(d + recvOffs[rank_], send, mine);
    }
    return svSuccess;
  }

  svResult_t test(Request* req, bool* done) override {
    auto* r = static_cast<P2PRequest*>(req);
    *done = false;
    if (r->shared) {
      int bad = -1;
      size_t got = 0;
      shared_->poll(done, &bad, &got);
      if (bad >= 0) return sizeMismatch(name(), bad, static_cast<long long>(got), shared_->expected(bad));
      if (*done) {
        r->shared = false;
      } else if ((++r->sharedPolls & 63) == 0 && strayMessage(r->sharedTag, &bad)) {
        // A peer sends this call's data where this rank gathers through
        // memory: its call's blocks are larger than a slot.
        return setError(nullptr, svInvalidUsage, name(),
                        "the ranks disagree on the call: rank %d exchanges its data by messages where this rank's "
                        "call gathers at most %zu bytes per rank through shared memory (count, datatype or policy "
                        "differ; SV_CHECK=1 names the difference)",
                        bad, SharedGather::kMaxBytes);
      }
      return svSuccess;
    }
    for (;;) {
      if (!r->handles.empty()) {
        bool roundDone = false;
        SVCHECK(testAll(r->handles, r->meta, &roundDone));
        if (!roundDone) return svSuccess;
        r->handles.clear();
        r->meta.clear();
      }
      if (!r->log) break;
      SVCHECK(nextLogRound(r));
      if (r->log == nullptr) break;  // the last round completed and was copied out
    }
    *done = true;
    return svSuccess;
  }

  void pendingPeers(Request* req, std::vector<int>* recvFrom, std::vector<int>* sendTo) override {
    auto* r = static_cast<P2PRequest*>(req);
    if (r->shared) shared_->pendingPeers(recvFrom);
    for (size_t i = 0; i < r->handles.size(); ++i) {
      if (handleDone(r->handles[i])) continue;
      (r->meta[i].role == kSend ? sendTo : recvFrom)->push_back(r->meta[i].peer);
    }
  }

  bool cancel(Request* req) override {
    auto* r = static_cast<P2PRequest*>(req);
    r->shared = false;  // a shared gather given up: only its poll wrote, and it stops
    bool quiet = !r->leaked;
    for (size_t i = 0; i < r->handles.size(); ++i) quiet &= cancelHandle(r->handles[i], r->meta[i].role);
    r->handles.clear();
    r->meta.clear();
    if (!quiet) {
      r->leaked = true;
      leaking_ = true;
    }
    return quiet;
  }

 protected:
  static constexpr int kRecv = 0, kSend = 1;
  struct Meta {
    int peer;      // the other rank
    int role;      // kRecv or kSend
    size_t bytes;  // posted
  };

  // Bruck's all-gather: blocks are kept rotated so that this rank's is
  // first; after the round of distance d it holds the blocks of ranks
  // rank..rank+2d-1 (mod P), contiguous. Round d sends the first
  // min(d, P-d) blocks to rank-d and receives as many from rank+d.
  struct LogGather {
    std::vector<char> scratch;
    std::vector<size_t> offs;  // offs[j]: block of rank (me+j)%P in scratch; offs[P]: total
    char* recv;
    std::vector<size_t> recvBytes, recvOffs;
    int dist = 1;  // of the next round
    int tag;
  };

  struct P2PRequest : Request {
    std::vector<Handle> handles;  // the round in flight
    std::vector<Meta> meta;       // per handle
    std::unique_ptr<LogGather> log;       // the all-gather in progress, if log-round
    std::unique_ptr<LogGather> spareLog;  // a finished one, for the next to reuse
    bool leaked = false;  // a cancel left some handle to the transport
    bool shared = false;  // a gather of shared_ in flight
    int sharedTag = 0;
    unsigned sharedPolls = 0;
  };

  // A completed request passed back in is reused with its vectors' capacity
  // (transport.h): a small call then allocates nothing.
  P2PRequest* newRequest(RequestPtr* req, size_t handles) {
    P2PRequest* r = static_cast<P2PRequest*>(req->get());
    if (r == nullptr) {
      *req = std::make_unique<P2PRequest>();
      r = static_cast<P2PRequest*>(req->get());
    }
    r->handles.clear();
    r->meta.clear();
    r->shared = false;
    r->handles.reserve(handles);
    r->meta.reserve(handles);
    return r;
  }

  svResult_t post(P2PRequest* r, int role, int peer, void* buf, size_t bytes, int tag) {
    r->handles.emplace_back();
    r->meta.push_back({peer, role, bytes});
    if (role == kRecv) return irecv(buf, bytes, peer, tag, &r->handles.back());
    countSend(peer, bytes);
    return isend(buf, bytes, peer, tag, &r->handles.back());
  }

  // A receive from every peer with bytes to send us, posted before any send.
  svResult_t postRecvs(char* recv, const size_t* recvBytes, const size_t* recvOffs, int tag, P2PRequest* r) {
    for (int i = 1; i < nranks_; ++i) {
      const int peer = (rank_ + nranks_ - i) % nranks_;
      if (recvBytes[peer] != 0) SVCHECK(post(r, kRecv, peer, recv + recvOffs[peer], recvBytes[peer], tag));
    }
    return svSuccess;
  }

  svResult_t startLogGather(const void* send, void* recv, const size_t* recvBytes, const size_t* recvOffs, int tag,
                            RequestPtr* req) {
    P2PRequest* r = newRequest(req, 2);
    std::unique_ptr<LogGather> g = std::move(r->spareLog);  // reused like the request
    if (!g) g = std::make_unique<LogGather>();
    g->dist = 1;
    const int P = nranks_;
    g->offs.resize(P + 1);
    g->offs[0] = 0;
    for (int j = 0; j < P; ++j) g->offs[j + 1] = g->offs[j] + recvBytes[(rank_ + j) % P];
    try {
      g->scratch.resize(g->offs[P]);
    } catch (const std::bad_alloc&) {
      return setError(nullptr, svSystemError, name(), "out of memory for an all-gather of %zu bytes", g->offs[P]);
    }
    if (recvBytes[rank_] != 0) memcpy(g->scratch.data(), send, recvBytes[rank_]);
    g->recv = static_cast<char*>(recv);
    g->recvBytes.assign(recvBytes, recvBytes + P);
    g->recvOffs.assign(recvOffs, recvOffs + P);
    g->tag = tag;
    r->log = std::move(g);
    return nextLogRound(r);
  }

  // Starts the next round of r's all-gather, or, after the last, copies the
  // blocks to their places and drops the state.
  svResult_t nextLogRound(P2PRequest* r) {
    LogGather& g = *r->log;
    const int P = nranks_, d = g.dist;
    if (d >= P) {
      for (int j = 0; j < P; ++j) {
        const int p = (rank_ + j) % P;
        if (g.recvBytes[p] != 0) memcpy(g.recv + g.recvOffs[p], g.scratch.data() + g.offs[j], g.recvBytes[p]);
      }
      r->spareLog = std::move(r->log);
      return svSuccess;
    }
    const int n = std::min(d, P - d);
    g.dist = 2 * d;
    const size_t inBytes = g.offs[d + n] - g.offs[d], outBytes = g.offs[n];
    if (inBytes != 0) SVCHECK(post(r, kRecv, (rank_ + d) % P, g.scratch.data() + g.offs[d], inBytes, g.tag));
    if (outBytes != 0) SVCHECK(post(r, kSend, (rank_ + P - d) % P, g.scratch.data(), outBytes, g.tag));
    return svSuccess;
  }

  // Small exclusive all-gathers go through this when a transport sets it
  // (ranks that map common memory).
  std::unique_ptr<SharedGather> shared_;

  virtual svResult_t isend(const void* buf, size_t bytes, int peer, int tag, Handle* h) = 0;
  virtual svResult_t irecv(void* buf, size_t bytes, int peer, int tag, Handle* h) = 0;
  // *done once every handle completed; then every receive's size is checked
  // against meta (sizeMismatch otherwise).
  virtual svResult_t testAll(std::vector<Handle>& hs, const std::vector<Meta>& meta, bool* done) = 0;
  // Whether a message of an exchange of the same call as `tag` waits to be
  // received (sameCallExchange), and from whom: polled while a shared
  // gather waits, since a peer whose call is larger takes messages instead.
  // Default: no way to tell.
  virtual bool strayMessage(int tag, int* peer) { (void)tag; (void)peer; return false; }
  // Whether one handle has completed, without releasing it.
  virtual bool handleDone(Handle& h) = 0;
  // Cancel or release one handle after a failure; true when its buffers are
  // no longer touched by the transport.
  virtual bool cancelHandle(Handle& h, int role) = 0;
};

}  // namespace sv
