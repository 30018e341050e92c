// SPDX-License-Identifier: MIT
#include "deadline.h"

#include <stdio.h>
#include <string.h>

#include <algorithm>

#include "debug.h"
#include "notice.h"

namespace sv {

namespace {
// Backoff while nothing progresses. Spinning on test() the first 50 us
// keeps small-message latency what a blocking MPI wait gives (MPI's own
// wait spins too); then each poll yields the core (an oversubscribed rank
// lets its peers run) and, past 100 ms, a poll every millisecond, so a rank
// waiting for a straggler costs little CPU. The abort flag and the
// deadline are checked at every step; the notices (a probe to answer, a
// peer's failure) from 100 ms on, when the call is stalled: reading them
// costs a progress call of the transport, which an oversubscribed rank
// waiting a few microseconds would take from its peers (measured: 9% on
// 8-byte calls at P = 4 on 2 cores).
constexpr double kSpinSeconds = 50e-6;
constexpr double kYieldSeconds = 0.1;

// "1, 3" from a list with repeats ("" when empty).
void rankList(std::vector<int> ranks, char* out, size_t len) {
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  size_t n = 0;
  out[0] = '\0';
  for (int p : ranks) {
    if (n + 24 >= len) { snprintf(out + n, len - n, ", ..."); break; }
    n += snprintf(out + n, len - n, "%s%d", n ? ", " : "", p);
  }
}
}  // namespace

Waiter::Waiter(svComm* comm, const char* where)
    : comm_(comm), where_(where), timeout_(comm->config.timeout) {}

svResult_t Waiter::readNotices() {
  if (heard_.empty()) heard_.assign(comm_->nranks, 0);
  serviceNotices(comm_, &heard_);
  if (comm_->peerFailure.rank >= 0 && comm_->peerFailure.call <= comm_->callCount - 1) return peerFailed();
  return svSuccess;
}

double Waiter::probeSeconds(double timeout) { return std::min(2.0, std::max(0.1, 0.1 * timeout)); }

svResult_t Waiter::peerFailed() {
  const PeerFailure& f = comm_->peerFailure;
  comm_->failedByPeer = true;
  // The peer's line without its closing "(<code string>)": ours says it.
  char text[sizeof f.text];
  snprintf(text, sizeof text, "%s", f.text);
  char code[64];
  snprintf(code, sizeof code, " (%s)", svGetErrorString(f.code));
  const size_t n = strlen(text), c = strlen(code);
  if (n >= c && strcmp(text + n - c, code) == 0) text[n - c] = '\0';
  return setError(comm_, f.code, where_, "rank %d failed its call %llu, so this one cannot complete: [%s]", f.rank,
                  static_cast<unsigned long long>(f.call), text);
}

svResult_t Waiter::idle(Request* req, Request* const* inflight, int ninflight, bool* done) {
  *done = false;
  if (comm_->aborted.load(std::memory_order_acquire))
    return setError(comm_, svRemoteError, where_, "the communicator was aborted (svCommAbort) during the call");
  // While spinning (the first kSpinSeconds of idleness) the clock is read
  // every 16th poll only: it is most of a poll's own cost. (Not reading it
  // for the first polls after progress was tried: where each poll yields,
  // 64 polls took a large part of a 0.3 s timeout under qemu, and probes
  // went unanswered.)
  if (idling_ && spinning_ && (++polls_ & 15) != 0) return comm_->transport->testFor(req, 0, done);
  const Clock::time_point now = Clock::now();
  if (!idling_) {
    last_ = now;
    idling_ = true;
  }
  const double idle = std::chrono::duration<double>(now - last_).count();
  spinning_ = idle < kSpinSeconds;
  if (idle >= kYieldSeconds) SVCHECK(readNotices());
  if (timeout_ > 0 && idle >= timeout_) return timedOut(req, inflight, ninflight, done);
  const double slice = idle < kSpinSeconds ? 0 : idle < kYieldSeconds ? 1e-4 : 1e-3;
  return comm_->transport->testFor(req, slice, done);
}

// Probes every peer not heard from during this call and waits a little for
// the answers (answering others' probes meanwhile: every stalled rank is
// probing at about the same time). Progress in that window resumes the call.
svResult_t Waiter::timedOut(Request* req, Request* const* inflight, int ninflight, bool* done) {
  Transport* t = comm_->transport.get();
  const int P = comm_->nranks, me = comm_->rank;
  if (heard_.empty()) heard_.assign(P, 0);
  std::vector<int> silent;
  const double grace = probeSeconds(timeout_);
  const bool probe = t->hasNotices() && P > 1;
  if (probe) {
    noticeAll(comm_, kNoticeProbe, comm_->callCount - 1);
    const Clock::time_point end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(grace));
    for (;;) {
      SVCHECK(t->testFor(req, 1e-3, done));
      if (*done) {
        progressed();
        return svSuccess;
      }
      SVCHECK(readNotices());
      bool all = true;
      for (int p = 0; p < P; ++p) all &= p == me || heard_[p];
      if (all || Clock::now() >= end) break;
    }
    for (int p = 0; p < P; ++p)
      if (p != me && !heard_[p]) silent.push_back(p);
  }
  std::vector<int> from, to;
  for (int i = 0; i < ninflight; ++i) t->pendingPeers(inflight[i], &from, &to);
  char fromList[120], toList[120], silentList[120], waiting[300];
  rankList(from, fromList, sizeof fromList);
  rankList(to, toList, sizeof toList);
  rankList(silent, silentList, sizeof silentList);
  if (from.empty() && to.empty())
    snprintf(waiting, sizeof waiting, "no exchange pending");
  else
    snprintf(waiting, sizeof waiting, "waiting for %s%.120s%s%s%.120s", from.empty() ? "" : "data from rank(s) ",
             fromList, !from.empty() && !to.empty() ? " and " : "", to.empty() ? "" : "sends to rank(s) ", toList);
  if (!probe)
    return setError(comm_, svTimeout, where_, "no progress for %g s (SV_TIMEOUT), %s", timeout_, waiting);
  if (!silent.empty())
    return setError(comm_, svTimeout, where_,
                    "no progress for %g s (SV_TIMEOUT): rank(s) %s did not answer a liveness probe within %.2g s "
                    "(dead, stopped, or not calling on this communicator); %s",
                    timeout_, silentList, grace, waiting);
  return setError(comm_, svTimeout, where_,
                  "no progress for %g s (SV_TIMEOUT), yet every rank answered a liveness probe: the ranks disagree "
                  "on the call (count, datatype, policy or number of calls; SV_CHECK=1 names it); %s",
                  timeout_, waiting);
}

svResult_t Waiter::wait(Request* req) {
  bool done = false;
  SVCHECK(comm_->transport->test(req, &done));
  while (!done) SVCHECK(idle(req, &req, 1, &done));
  progressed();
  return svSuccess;
}

svResult_t failComm(svComm* comm, svResult_t code) {
  if (comm->failed != svSuccess) return code;
  comm->failed = code;
  snprintf(comm->failedError, sizeof(comm->failedError), "%s", threadLastError());
  if (!comm->failedByPeer) noticeAll(comm, kNoticeFailed, comm->callCount - 1, code, comm->failedError);
  // Ranks that disagree on a call are all still there; any other failure
  // means a rank is dead, hung, aborted or out of step.
  const svResult_t cause = comm->failedByPeer ? comm->peerFailure.code : code;
  if (cause != svInvalidUsage) comm->transport->peersFailed();
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

svResult_t controlAllGather(svComm* comm, Waiter& waiter, const void* send, void* recv, size_t bytes, int tag) {
  const int P = comm->nranks;
  std::vector<size_t> sizes(P, bytes), offs(P);
  for (int r = 0; r < P; ++r) offs[r] = r * bytes;
  RequestPtr req;
  svResult_t rc = comm->transport->allGatherv(send, recv, sizes.data(), offs.data(), tag, true, &req);
  if (rc == svSuccess) rc = waiter.wait(req.get());
  if (rc != svSuccess) abandon(comm, req);
  return rc;
}

}  // namespace sv
