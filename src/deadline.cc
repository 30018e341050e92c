// SPDX-License-Identifier: MIT
#include "deadline.h"

#include <stdio.h>
#include <string.h>

#include <algorithm>

#include "debug.h"

namespace sv {

namespace {
// Backoff while nothing progresses. Spinning on test() the first 50 us
// keeps small-message latency what a blocking MPI wait gives (MPI's own
// wait spins too); then each poll yields the core (an oversubscribed rank
// lets its peers run) and, past 100 ms, a poll every millisecond, so a rank
// waiting for a straggler costs little CPU. The abort flag and the deadline
// are checked at every step, so neither waits longer than a millisecond.
constexpr double kSpinSeconds = 50e-6;
constexpr double kYieldSeconds = 0.1;
}  // namespace

Waiter::Waiter(svComm* comm, const char* where)
    : comm_(comm), where_(where), timeout_(comm->config.timeout), last_(Clock::now()) {}

svResult_t Waiter::idle(Request* req, const std::vector<Request*>& inflight, bool* done) {
  *done = false;
  if (comm_->aborted.load(std::memory_order_acquire))
    return setError(comm_, svRemoteError, where_, "the communicator was aborted (svCommAbort) during the call");
  const double idle = std::chrono::duration<double>(Clock::now() - last_).count();
  if (timeout_ > 0 && idle >= timeout_) {
    std::vector<int> peers;
    for (Request* r : inflight) comm_->transport->pendingPeers(r, &peers);
    std::sort(peers.begin(), peers.end());
    peers.erase(std::unique(peers.begin(), peers.end()), peers.end());
    char list[200] = "";
    size_t len = 0;
    for (int p : peers) {
      if (len + 24 >= sizeof(list)) { snprintf(list + len, sizeof(list) - len, ", ..."); break; }
      len += snprintf(list + len, sizeof(list) - len, p < 0 ? "%sa collective over all ranks" : "%s%d",
                      len ? ", " : "", p);
    }
    return setError(comm_, svTimeout, where_, "no progress for %g s (SV_TIMEOUT); still waiting for rank(s) %s",
                    timeout_, peers.empty() ? "(unknown)" : list);
  }
  const double slice = idle < kSpinSeconds ? 0 : idle < kYieldSeconds ? 1e-4 : 1e-3;
  return comm_->transport->testFor(req, slice, done);
}

svResult_t Waiter::wait(Request* req) {
  bool done = false;
  SVCHECK(comm_->transport->test(req, &done));
  std::vector<Request*> inflight{req};
  while (!done) SVCHECK(idle(req, inflight, &done));
  progressed();
  return svSuccess;
}

svResult_t failComm(svComm* comm, svResult_t code) {
  if (comm->failed == svSuccess) {
    comm->failed = code;
    snprintf(comm->failedError, sizeof(comm->failedError), "%s", threadLastError());
  }
  return code;
}

svResult_t checkNotFailed(svComm* comm, const char* where) {
  if (comm->failed == svSuccess) return svSuccess;
  return setError(comm, comm->failed, where, "the communicator failed in an earlier call; destroy it [%.300s]",
                  comm->failedError);
}

void abandon(svComm* comm, RequestPtr& req) {
  if (!req) return;
  if (!comm->transport->cancel(req.get())) {
    comm->keepStaging = true;
    keepForever(std::shared_ptr<Request>(req.release()));
  }
  req.reset();
}

}  // namespace sv
