// SPDX-License-Identifier: MIT
// Waiting for exchanges without hanging: a Waiter polls transport requests
// against the communicator's timeout (SV_TIMEOUT, measured from the last
// progress), its abort flag (svCommAbort from another thread) and its
// peers' failure notices (src/notice.h), backing off from spinning to
// yielding to sleeping while nothing moves. After a timeout it probes the
// peers, so the error names the ranks that are silent.
#pragma once

#include <chrono>
#include <vector>

#include "comm.h"

namespace sv {

class Waiter {
 public:
  Waiter(svComm* comm, const char* where);

  // Something completed: restart the no-progress clock and the backoff.
  // The clock is read at the next idle() (an exchange that completes on its
  // first test never reads it: a clock read costs as much as a small call's
  // bookkeeping on some VMs).
  void progressed() { idling_ = false; }

  // Nothing progressed: wait a little for req (the oldest exchange), then
  // return so the caller re-polls everything. *done when req completed.
  // Fails with svRemoteError once the communicator is aborted; with a
  // peer's code once a peer reported that it failed this call (or an
  // earlier one); with svTimeout once nothing progressed for the timeout,
  // naming the ranks that did not answer a liveness probe and those whose
  // data any of `inflight` still lacks.
  svResult_t idle(Request* req, Request* const* inflight, int ninflight, bool* done);

  // Poll req to completion under the same rules.
  svResult_t wait(Request* req);

  // Seconds a timed-out rank waits for its peers' answers to a probe.
  static double probeSeconds(double timeout);

 private:
  using Clock = std::chrono::steady_clock;
  svResult_t timedOut(Request* req, Request* const* inflight, int ninflight, bool* done);
  svResult_t readNotices();  // answers probes; fails once a peer failed this call
  svResult_t peerFailed();
  svComm* comm_;
  const char* where_;
  double timeout_;
  Clock::time_point last_;  // the first idle() since the last progress
  bool idling_ = false;
  bool spinning_ = false;  // the last clock read was within the spin phase
  unsigned polls_ = 0;
  std::vector<char> heard_;  // per rank: a notice came from it during this call (made when first read)
};

// Marks comm failed with the error just raised (the calling thread's last
// error): later collective calls return `code` at once. Tells the peers
// (a failure notice) unless a peer's notice caused it.
svResult_t failComm(svComm* comm, svResult_t code);

// svSuccess, or the failed communicator's error, raised again.
svResult_t checkNotFailed(svComm* comm, const char* where);

// After a failure: gives up a request in flight (cancels what can be
// cancelled); when the transport cannot release it, the request and the
// communicator's staging are kept alive until exit.
void abandon(svComm* comm, RequestPtr& req);

// A small all-gather outside the pipeline (NaN counts, call signatures,
// optimizer scales) on `tag`: every rank's `bytes` at send land at
// recv + r*bytes. Waits under waiter's rules; on failure the exchange is
// abandoned.
svResult_t controlAllGather(svComm* comm, Waiter& waiter, const void* send, void* recv, size_t bytes, int tag);

}  // namespace sv
