// SPDX-License-Identifier: MIT
// SV_TIMEOUT on device communicators: a thread that watches the completion
// events of a communicator's calls (the pattern of PyTorch's
// ProcessGroupNCCL watchdog). A call enqueued more than `timeout` seconds
// ago whose event has not completed fires `onTimeout` once, on the watchdog
// thread; the communicator then aborts its transport (so the stream's
// exchange returns) and fails. Calls are tracked in order: calls of one
// communicator never overlap (each waits for the previous one's event).
#pragma once

#include <stdint.h>

#include <cuda_runtime_api.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sv {

class Watchdog {
 public:
  // onTimeout(call, seconds waited) runs on the watchdog thread.
  using OnTimeout = std::function<void(uint64_t call, double waited)>;
  Watchdog(int device, double timeoutSeconds, OnTimeout onTimeout);
  ~Watchdog();  // stops the thread; pending calls are no longer watched
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // At the end of call `call`, not under capture: records an event on
  // stream after the call's work and watches it.
  cudaError_t track(uint64_t call, cudaStream_t stream);

 private:
  struct Pending {
    cudaEvent_t event;
    uint64_t call;
    std::chrono::steady_clock::time_point enqueued;
  };
  void loop();

  const int device_;
  const double timeout_;
  const OnTimeout onTimeout_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Pending> pending_;
  std::vector<cudaEvent_t> free_;  // completed events, reused
  bool stop_ = false, fired_ = false;
  std::thread thread_;
};

}  // namespace sv
