// SPDX-License-Identifier: MIT
// Waiting for exchanges without hanging: a Waiter polls transport requests
// against the communicator's timeout (SV_TIMEOUT, measured from the last
// progress) and abort flag (svCommAbort from another thread), backing off
// from spinning to yielding to sleeping while nothing moves.
#pragma once

#include <chrono>
#include <vector>

#include "comm.h"

namespace sv {

class Waiter {
 public:
  Waiter(svComm* comm, const char* where);

  // Something completed: restart the no-progress clock and the backoff.
  void progressed() { last_ = Clock::now(); }

  // Nothing progressed: wait a little for req (the oldest exchange), then
  // return so the caller re-polls everything. *done when req completed.
  // Fails with svRemoteError once the communicator is aborted, svTimeout
  // once nothing progressed for the timeout; the message names the ranks
  // whose data any of `inflight` still lacks.
  svResult_t idle(Request* req, Request* const* inflight, int ninflight, bool* done);

  // Poll req to completion under the same rules.
  svResult_t wait(Request* req);

 private:
  using Clock = std::chrono::steady_clock;
  svComm* comm_;
  const char* where_;
  double timeout_;
  Clock::time_point last_;
};

// Marks comm failed with the error just raised (the calling thread's last
// error): later collective calls return `code` at once.
svResult_t failComm(svComm* comm, svResult_t code);

// svSuccess, or the failed communicator's error, raised again.
svResult_t checkNotFailed(svComm* comm, const char* where);

// After a failure: gives up a request in flight (cancels what can be
// cancelled); when the transport cannot release it, the request and the
// communicator's staging are kept alive until exit.
void abandon(svComm* comm, RequestPtr& req);

}  // namespace sv
