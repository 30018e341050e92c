// SPDX-License-Identifier: MIT
// allToAllv and allGatherv built from point-to-point sends and receives, for
// transports whose primitive is a message (MPI, loopback). Direct exchange:
// every rank posts its receives, then its sends, one per peer; bytes sent
// per rank equal a ring's, with one round instead of P-1.
#pragma once

#include <string.h>

#include <vector>

#include "debug.h"
#include "transport/transport.h"

namespace sv {

template <typename Handle>
class P2PTransport : public Transport {
 public:
  svResult_t allToAllv(const void* send, const size_t* sendBytes, const size_t* sendOffs, void* recv,
                       const size_t* recvBytes, const size_t* recvOffs, int tag,
                       RequestPtr* req) override {
    auto r = std::make_unique<P2PRequest>();
    r->reserve(2 * (nranks_ - 1));
    const char* s = static_cast<const char*>(send);
    char* d = static_cast<char*>(recv);
    SVCHECK(postRecvs(d, recvBytes, recvOffs, tag, r.get()));
    for (int i = 1; i < nranks_; ++i) {
      const int peer = (rank_ + i) % nranks_;
      if (sendBytes[peer] == 0) continue;
      r->handles.emplace_back();
      r->meta.push_back({peer, kSend});
      SVCHECK(isend(s + sendOffs[peer], sendBytes[peer], peer, tag, &r->handles.back()));
      bytesSent_ += sendBytes[peer];
    }
    if (recvBytes[rank_] != 0) memcpy(d + recvOffs[rank_], s + sendOffs[rank_], recvBytes[rank_]);
    *req = std::move(r);
    return svSuccess;
  }

  svResult_t allGatherv(const void* send, void* recv, const size_t* recvBytes, const size_t* recvOffs,
                        int tag, bool exclusive, RequestPtr* req) override {
    auto r = std::make_unique<P2PRequest>();
    r->reserve(2 * (nranks_ - 1));
    char* d = static_cast<char*>(recv);
    SVCHECK(postRecvs(d, recvBytes, recvOffs, tag, r.get()));
    const size_t mine = recvBytes[rank_];
    if (mine != 0) {
      for (int i = 1; i < nranks_; ++i) {
        const int peer = (rank_ + i) % nranks_;
        r->handles.emplace_back();
        r->meta.push_back({peer, kSend});
        SVCHECK(isend(send, mine, peer, tag, &r->handles.back()));
        bytesSent_ += mine;
      }
      if (send != d + recvOffs[rank_]) memcpy(d + recvOffs[rank_], send, mine);
    }
    *req = std::move(r);
    return svSuccess;
  }

  svResult_t test(Request* req, bool* done) override {
    auto* r = static_cast<P2PRequest*>(req);
    if (r->handles.empty()) { *done = true; return svSuccess; }
    return testAll(r->handles, done);
  }

  svResult_t wait(Request* req) override {
    auto* r = static_cast<P2PRequest*>(req);
    if (r->handles.empty()) return svSuccess;
    return waitAll(r->handles);
  }

  void pendingPeers(Request* req, std::vector<int>* recvFrom, std::vector<int>* sendTo) override {
    auto* r = static_cast<P2PRequest*>(req);
    for (size_t i = 0; i < r->handles.size(); ++i) {
      if (handleDone(r->handles[i])) continue;
      if (r->meta[i].role == kSend) sendTo->push_back(r->meta[i].peer);
      else recvFrom->push_back(r->meta[i].role == kCollective ? -1 : r->meta[i].peer);
    }
  }

  bool cancel(Request* req) override {
    auto* r = static_cast<P2PRequest*>(req);
    bool quiet = true;
    for (size_t i = 0; i < r->handles.size(); ++i) quiet &= cancelHandle(r->handles[i], r->meta[i].role);
    r->handles.clear();
    r->meta.clear();
    if (!quiet) leaking_ = true;
    return quiet;
  }

 protected:
  struct P2PRequest : Request {
    std::vector<Handle> handles;
    struct Meta {
      int peer;  // the other rank (-1: all)
      int role;  // kRecv, kSend, kCollective
    };
    std::vector<Meta> meta;  // per handle
    void reserve(size_t n) {
      handles.reserve(n);
      meta.reserve(n);
    }
    std::vector<int> counts, displs;  // argument arrays a nonblocking collective keeps
  };
  static constexpr int kRecv = 0, kSend = 1, kCollective = 2;
  // A receive from every peer with bytes to send us, posted before any send.
  svResult_t postRecvs(char* recv, const size_t* recvBytes, const size_t* recvOffs, int tag, P2PRequest* r) {
    for (int i = 1; i < nranks_; ++i) {
      const int peer = (rank_ + nranks_ - i) % nranks_;
      if (recvBytes[peer] == 0) continue;
      r->handles.emplace_back();
      r->meta.push_back({peer, kRecv});
      SVCHECK(irecv(recv + recvOffs[peer], recvBytes[peer], peer, tag, &r->handles.back()));
    }
    return svSuccess;
  }
  virtual svResult_t isend(const void* buf, size_t bytes, int peer, int tag, Handle* h) = 0;
  virtual svResult_t irecv(void* buf, size_t bytes, int peer, int tag, Handle* h) = 0;
  virtual svResult_t testAll(std::vector<Handle>& hs, bool* done) = 0;
  virtual svResult_t waitAll(std::vector<Handle>& hs) = 0;
  // Whether one handle has completed (may progress it).
  virtual bool handleDone(Handle& h) = 0;
  // Cancel or release one handle after a failure; true when its buffers are
  // no longer touched by the transport.
  virtual bool cancelHandle(Handle& h, int role) = 0;
};

}  // namespace sv
