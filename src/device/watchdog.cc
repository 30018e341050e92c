// SPDX-License-Identifier: MIT
#include "device/watchdog.h"

namespace sv {

Watchdog::Watchdog(int device, double timeoutSeconds, OnTimeout onTimeout)
    : device_(device), timeout_(timeoutSeconds), onTimeout_(std::move(onTimeout)), thread_([this] { loop(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(m_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (Pending& p : pending_) cudaEventDestroy(p.event);
  for (cudaEvent_t e : free_) cudaEventDestroy(e);
}

cudaError_t Watchdog::track(uint64_t call, cudaStream_t stream) {
  cudaEvent_t e = nullptr;
  {
    std::lock_guard<std::mutex> lock(m_);
    if (!free_.empty()) {
      e = free_.back();
      free_.pop_back();
    }
  }
  if (e == nullptr) {
    const cudaError_t r = cudaEventCreateWithFlags(&e, cudaEventDisableTiming);
    if (r != cudaSuccess) return r;
  }
  const cudaError_t r = cudaEventRecord(e, stream);
  if (r != cudaSuccess) {
    cudaEventDestroy(e);
    return r;
  }
  {
    std::lock_guard<std::mutex> lock(m_);
    pending_.push_back(Pending{e, call, std::chrono::steady_clock::now()});
  }
  cv_.notify_all();
  return cudaSuccess;
}

void Watchdog::loop() {
  cudaSetDevice(device_);
  std::unique_lock<std::mutex> lock(m_);
  while (!stop_) {
    if (pending_.empty() || fired_) {
      cv_.wait(lock, [&] { return stop_ || (!pending_.empty() && !fired_); });
      continue;
    }
    const Pending front = pending_.front();
    lock.unlock();
    const cudaError_t q = cudaEventQuery(front.event);
    lock.lock();
    if (q == cudaSuccess) {
      pending_.pop_front();
      free_.push_back(front.event);
      continue;
    }
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - front.enqueued).count();
    if (q != cudaErrorNotReady || waited > timeout_) {
      // A timeout, or a device fault (a sticky error): either way the call
      // will not complete; the communicator fails once.
      fired_ = true;
      lock.unlock();
      onTimeout_(front.call, waited);
      lock.lock();
      continue;
    }
    // Poll: a millisecond at first, up to 10 ms for a long wait.
    cv_.wait_for(lock, std::chrono::milliseconds(waited < 0.05 ? 1 : 10), [&] { return stop_; });
  }
}

}  // namespace sv
