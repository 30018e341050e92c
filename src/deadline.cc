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

// "1, 3" from a list with repeats ("" when empty; "all" for the unknown
// peer of a collective, -1). Returns whether -1 was in the list.
bool rankList(std::vector<int>& ranks, char* out, size_t len) {
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  size_t n = 0;
  out[0] = '\0';
  for (int p : ranks) {
    if (n + 24 >= len) { snprintf(out + n, len - n, ", ..."); break; }
    n += p < 0 ? snprintf(out + n, len - n, "%sall", n ? ", " : "") : snprintf(out + n, len - n, "%s%d", n ? ", " : "", p);
  }
  return !ranks.empty() && ranks[0] < 0;
}
}  // namespace

Waiter::Waiter(svComm* comm, const char* where)
    : comm_(comm), where_(where), timeout_(comm->config.timeout), last_(Clock::now()) {}

svResult_t Waiter::idle(Request* req, Request* const* inflight, int ninflight, bool* done) {
  *done = false;
  if (comm_->aborted.load(std::memory_order_acquire))
    return setError(comm_, svRemoteError, where_, "the communicator was aborted (svCommAbort) during the call");
  const double idle = std::chrono::duration<double>(Clock::now() - last_).count();
  if (timeout_ > 0 && idle >= timeout_) {
    std::vector<int> from, to;
    for (int i = 0; i < ninflight; ++i) comm_->transport->pendingPeers(inflight[i], &from, &to);
    char fromList[120], toList[120], what[300];
    const bool collective = rankList(from, fromList, sizeof fromList);
    rankList(to, toList, sizeof toList);
    if (collective && from.size() == 1 && to.empty())
      snprintf(what, sizeof what, "waiting for a collective over all ranks (which rank is missing is not known)");
    else if (from.empty() && to.empty())
      snprintf(what, sizeof what, "no rank identified");
    else
      snprintf(what, sizeof what, "waiting for %s%.120s%s%s%.120s", from.empty() ? "" : "data from rank(s) ",
               fromList, !from.empty() && !to.empty() ? " and " : "", to.empty() ? "" : "sends to rank(s) ", toList);
    return setError(comm_, svTimeout, where_, "no progress for %g s (SV_TIMEOUT), %s", timeout_, what);
  }
  const double slice = idle < kSpinSeconds ? 0 : idle < kYieldSeconds ? 1e-4 : 1e-3;
  return comm_->transport->testFor(req, slice, done);
}

svResult_t Waiter::wait(Request* req) {
  bool done = false;
  SVCHECK(comm_->transport->test(req, &done));
  while (!done) SVCHECK(idle(req, &req, 1, &done));
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
