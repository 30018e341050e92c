// SPDX-License-Identifier: MIT
#include "transport/loopback.h"

#include <stdlib.h>
#include <string.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "debug.h"
#include "transport/p2p.h"

namespace sv {

// A posted receive; matched to messages of its (src, dst, tag) in order.
struct LoopbackRecv {
  void* buf;
  size_t bytes;
  int src, tag;
  bool done = false;
  size_t got = 0;  // the message's size (copied: min(got, bytes))
};

class LoopbackWorld {
 public:
  LoopbackWorld(int n, bool sharedMemory) : nranks(n) {
    if (!sharedMemory || n < 2) return;
    const size_t bytes = SharedGather::segmentBytes(n);
    shared_.reset(static_cast<char*>(aligned_alloc(64, bytes)));
    if (shared_) memset(shared_.get(), 0, bytes);
  }
  const int nranks;
  std::vector<int> nodeLabels;  // per rank (emulated nodes); empty: one node
  // The memory every rank maps for SharedGather (null: messages only).
  void* sharedBase() const { return shared_.get(); }

  // A message to dst of an exchange of the same call as tag, not received
  // yet (P2PTransport::strayMessage).
  bool strayMessage(int dst, int tag, int* src) {
    std::lock_guard<std::mutex> lock(m_);
    for (auto& q : queues_)
      if (std::get<1>(q.first) == dst && !q.second.messages.empty() && sameCallExchange(std::get<2>(q.first), tag)) {
        *src = std::get<0>(q.first);
        return true;
      }
    return false;
  }

  void send(int src, int dst, int tag, const void* buf, size_t bytes) {
    std::lock_guard<std::mutex> lock(m_);
    Queue& q = queues_[std::make_tuple(src, dst, tag)];
    q.messages.emplace_back(static_cast<const char*>(buf), static_cast<const char*>(buf) + bytes);
    match(q);
    cv_.notify_all();
  }
  void post(int src, int dst, int tag, const std::shared_ptr<LoopbackRecv>& r) {
    std::lock_guard<std::mutex> lock(m_);
    Queue& q = queues_[std::make_tuple(src, dst, tag)];
    q.recvs.push_back(r);
    match(q);
  }
  bool allDone(const std::vector<std::shared_ptr<LoopbackRecv>>& rs) {
    std::lock_guard<std::mutex> lock(m_);
    for (auto& r : rs)
      if (r && !r->done) return false;
    return true;
  }
  // Waits at most `seconds` for every receive in rs; true when all done.
  bool waitFor(const std::vector<std::shared_ptr<LoopbackRecv>>& rs, double seconds) {
    std::unique_lock<std::mutex> lock(m_);
    return cv_.wait_for(lock, std::chrono::duration<double>(seconds), [&] {
      for (auto& r : rs)
        if (r && !r->done) return false;
      return true;
    });
  }
  bool done(const std::shared_ptr<LoopbackRecv>& r) {
    std::lock_guard<std::mutex> lock(m_);
    return !r || r->done;
  }
  // Withdraws a posted receive, so that a late message cannot land in a
  // buffer its owner gave up (it then waits for a future receive).
  // Test hooks (loopback.h).
  void failSends(int rank, long okSends) {
    std::lock_guard<std::mutex> lock(m_);
    okSends_[rank] = okSends;
  }
  bool sendAllowed(int rank) {
    std::lock_guard<std::mutex> lock(m_);
    auto it = okSends_.find(rank);
    if (it == okSends_.end() || it->second < 0) return true;
    if (it->second == 0) return false;
    --it->second;
    return true;
  }
  size_t postedRecvs(int dst) {
    std::lock_guard<std::mutex> lock(m_);
    size_t n = 0;
    for (auto& q : queues_)
      if (std::get<1>(q.first) == dst) n += q.second.recvs.size();
    return n;
  }

  // Notices (Transport::sendNotice): one mailbox per rank, any sender.
  void sendNotice(int src, int dst, const void* msg, size_t bytes) {
    std::lock_guard<std::mutex> lock(m_);
    notices_[dst].push_back({src, std::vector<char>(static_cast<const char*>(msg), static_cast<const char*>(msg) + bytes)});
    cv_.notify_all();
  }
  bool pollNotice(int dst, int* from, void* msg, size_t bytes) {
    std::lock_guard<std::mutex> lock(m_);
    auto& box = notices_[dst];
    while (!box.empty()) {
      auto n = std::move(box.front());
      box.pop_front();
      if (n.second.size() != bytes) continue;
      memcpy(msg, n.second.data(), bytes);
      *from = n.first;
      return true;
    }
    return false;
  }
  void cancel(int src, int dst, int tag, const std::shared_ptr<LoopbackRecv>& r) {
    std::lock_guard<std::mutex> lock(m_);
    if (!r || r->done) return;
    auto it = queues_.find(std::make_tuple(src, dst, tag));
    if (it == queues_.end()) return;
    auto& rs = it->second.recvs;
    for (auto i = rs.begin(); i != rs.end(); ++i)
      if (*i == r) { rs.erase(i); break; }
  }

 private:
  struct Queue {
    std::deque<std::vector<char>> messages;
    std::deque<std::shared_ptr<LoopbackRecv>> recvs;
  };
  void match(Queue& q) {  // with m_ held
    while (!q.messages.empty() && !q.recvs.empty()) {
      auto& msg = q.messages.front();
      auto& r = q.recvs.front();
      r->got = msg.size();
      memcpy(r->buf, msg.data(), std::min(msg.size(), r->bytes));
      r->done = true;
      q.messages.pop_front();
      q.recvs.pop_front();
    }
  }
  std::mutex m_;
  std::condition_variable cv_;
  std::map<std::tuple<int, int, int>, Queue> queues_;
  std::map<int, std::deque<std::pair<int, std::vector<char>>>> notices_;
  std::map<int, long> okSends_;
  std::unique_ptr<char, decltype(&free)> shared_{nullptr, &free};
};

namespace {

using Handle = std::shared_ptr<LoopbackRecv>;  // null for a send (complete at once)

class LoopbackTransport final : public P2PTransport<Handle> {
 public:
  LoopbackTransport(std::shared_ptr<LoopbackWorld> world, int rank) : world_(std::move(world)) {
    rank_ = rank;
    nranks_ = world_->nranks;
    if (world_->sharedBase() != nullptr)
      shared_ = std::make_unique<SharedGather>(world_->sharedBase(), rank_, nranks_,
                                               SharedGather::spinPollsFor(nranks_));
  }
  const char* name() const override { return "loopback"; }

 protected:
  svResult_t isend(const void* buf, size_t bytes, int peer, int tag, Handle* h) override {
    h->reset();
    if (!world_->sendAllowed(rank_))
      return setError(nullptr, svSystemError, "loopback transport", "send to rank %d failed (injected)", peer);
    world_->send(rank_, peer, tag, buf, bytes);  // eager copy
    return svSuccess;
  }
  svResult_t irecv(void* buf, size_t bytes, int peer, int tag, Handle* h) override {
    *h = std::make_shared<LoopbackRecv>();
    (*h)->buf = buf;
    (*h)->bytes = bytes;
    (*h)->src = peer;
    (*h)->tag = tag;
    world_->post(peer, rank_, tag, *h);
    return svSuccess;
  }
  svResult_t testAll(std::vector<Handle>& hs, const std::vector<Meta>& meta, bool* done) override {
    *done = world_->allDone(hs);
    return *done ? checkSizes(hs, meta) : svSuccess;
  }
  bool handleDone(Handle& h) override { return world_->done(h); }
  bool strayMessage(int tag, int* peer) override { return world_->strayMessage(rank_, tag, peer); }
  bool cancelHandle(Handle& h, int role) override {
    (void)role;
    if (h) world_->cancel(h->src, rank_, h->tag, h);
    return true;  // sends are copied at once; a withdrawn receive is never written
  }

 public:
  // Sleeps on the mailbox's condition variable instead of polling; a
  // shared-memory gather (no handles) backs off as any transport does
  // (Transport::testFor: yield, then sleep), so that waiting thread-ranks
  // leave the cores to the ones that answer probes.
  svResult_t testFor(Request* req, double seconds, bool* done) override {
    auto* r = static_cast<P2PRequest*>(req);
    if (r->handles.empty()) return Transport::testFor(req, seconds, done);
    if (seconds > 0) world_->waitFor(r->handles, seconds);
    return test(req, done);
  }
  bool hasNotices() const override { return true; }
  void sendNotice(int peer, const void* msg, size_t bytes) override { world_->sendNotice(rank_, peer, msg, bytes); }
  bool pollNotice(int* from, void* msg, size_t bytes) override { return world_->pollNotice(rank_, from, msg, bytes); }

 private:
  svResult_t checkSizes(const std::vector<Handle>& hs, const std::vector<Meta>& meta) {
    for (size_t i = 0; i < hs.size(); ++i)
      if (hs[i] && hs[i]->got != hs[i]->bytes)
        return sizeMismatch("loopback transport", meta[i].peer,
                            hs[i]->got > hs[i]->bytes ? -1 : static_cast<long long>(hs[i]->got), hs[i]->bytes);
    return svSuccess;
  }
  std::shared_ptr<LoopbackWorld> world_;
};

}  // namespace

std::shared_ptr<LoopbackWorld> makeLoopbackWorld(int nranks, bool sharedMemory) {
  return std::make_shared<LoopbackWorld>(nranks, sharedMemory);
}

void loopbackSetNodes(const std::shared_ptr<LoopbackWorld>& world, const std::vector<int>& labels) {
  world->nodeLabels = labels;
}
std::vector<int> loopbackNodeLabels(const std::shared_ptr<LoopbackWorld>& world) {
  if (static_cast<int>(world->nodeLabels.size()) == world->nranks) return world->nodeLabels;
  return std::vector<int>(world->nranks, 0);
}

void loopbackFailSends(const std::shared_ptr<LoopbackWorld>& world, int rank, long okSends) {
  world->failSends(rank, okSends);
}
size_t loopbackPostedRecvs(const std::shared_ptr<LoopbackWorld>& world, int rank) { return world->postedRecvs(rank); }

std::unique_ptr<Transport> makeLoopbackTransport(const std::shared_ptr<LoopbackWorld>& world, int rank) {
  return std::make_unique<LoopbackTransport>(world, rank);
}

}  // namespace sv
