// SPDX-License-Identifier: MIT
#include "transport/loopback.h"

#include <string.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "comm.h"
#include "debug.h"
#include "transport/p2p.h"

namespace sv {

// A posted receive; matched to messages of its (src, dst, tag) in order.
struct LoopbackRecv {
  void* buf;
  size_t bytes;
  int src, tag;
  bool done = false;
  bool sizeMismatch = false;
};

class LoopbackWorld {
 public:
  explicit LoopbackWorld(int n) : nranks(n) {}
  const int nranks;

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
  // Blocks until every receive in rs is done (or a timeout, to fail loudly
  // rather than hang a test).
  bool waitAll(const std::vector<std::shared_ptr<LoopbackRecv>>& rs) {
    std::unique_lock<std::mutex> lock(m_);
    return cv_.wait_for(lock, std::chrono::seconds(120), [&] {
      for (auto& r : rs)
        if (r && !r->done) return false;
      return true;
    });
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
      if (msg.size() != r->bytes) r->sizeMismatch = true;
      memcpy(r->buf, msg.data(), std::min(msg.size(), r->bytes));
      r->done = true;
      q.messages.pop_front();
      q.recvs.pop_front();
    }
  }
  std::mutex m_;
  std::condition_variable cv_;
  std::map<std::tuple<int, int, int>, Queue> queues_;
};

namespace {

using Handle = std::shared_ptr<LoopbackRecv>;  // null for a send (complete at once)

class LoopbackTransport final : public P2PTransport<Handle> {
 public:
  LoopbackTransport(std::shared_ptr<LoopbackWorld> world, int rank) : world_(std::move(world)) {
    rank_ = rank;
    nranks_ = world_->nranks;
  }
  const char* name() const override { return "loopback"; }

 protected:
  svResult_t isend(const void* buf, size_t bytes, int peer, int tag, Handle* h) override {
    world_->send(rank_, peer, tag, buf, bytes);  // eager copy
    h->reset();
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
  svResult_t testAll(std::vector<Handle>& hs, bool* done) override {
    *done = world_->allDone(hs);
    return *done ? checkSizes(hs) : svSuccess;
  }
  svResult_t waitAll(std::vector<Handle>& hs) override {
    if (!world_->waitAll(hs)) return setError(nullptr, svTimeout, "loopback transport", "receive timed out");
    return checkSizes(hs);
  }
  bool handleDone(Handle& h) override { return world_->done(h); }
  bool cancelHandle(Handle& h, int role) override {
    if (h) world_->cancel(h->src, rank_, h->tag, h);
    return true;  // sends are copied at once; a withdrawn receive is never written
  }

 public:
  // Sleeps on the mailbox's condition variable instead of polling.
  svResult_t testFor(Request* req, double seconds, bool* done) override {
    auto* r = static_cast<P2PRequest*>(req);
    *done = r->handles.empty() || (seconds > 0 ? world_->waitFor(r->handles, seconds) : world_->allDone(r->handles));
    return *done ? checkSizes(r->handles) : svSuccess;
  }

 private:
  svResult_t checkSizes(const std::vector<Handle>& hs) {
    for (auto& h : hs)
      if (h && h->sizeMismatch)
        return setError(nullptr, svInternalError, "loopback transport", "message size differs from the receive");
    return svSuccess;
  }
  std::shared_ptr<LoopbackWorld> world_;
};

}  // namespace

std::shared_ptr<LoopbackWorld> makeLoopbackWorld(int nranks) { return std::make_shared<LoopbackWorld>(nranks); }

svResult_t commInitLoopback(const std::shared_ptr<LoopbackWorld>& world, int rank, const svConfig_t* config,
                            svComm_t* comm) {
  if (comm == nullptr) return setError(nullptr, svInvalidArgument, "commInitLoopback", "comm is NULL");
  Config cfg;
  char err[kErrorLineMax];
  if (resolveConfig(config, &cfg, err, sizeof(err)) != svSuccess)
    return setError(nullptr, svInvalidArgument, "commInitLoopback", "%s", err);
  return commCreate(std::make_unique<LoopbackTransport>(world, rank), cfg, comm);
}

}  // namespace sv
