// SPDX-License-Identifier: MIT
// What the emulated kernels (kernels_emu.cc) and the emulated NCCL
// (nccl_emu.cc) need of the emulated CUDA runtime (cuda_emu.cc).
#pragma once

#include <stddef.h>

#include <functional>

#include "cuda_runtime_api.h"

namespace svemu {

// Appends `op` to `stream` (NULL: the legacy default stream); it runs on
// the stream's worker thread after everything enqueued before it. Under
// stream capture it is recorded into the graph instead and runs at every
// launch of the graph. An op must not call back into the runtime's
// synchronising functions.
cudaError_t enqueue(cudaStream_t stream, std::function<void()> op);

// Inside an op: true when [p, p + bytes) lies inside memory a kernel may
// touch (device, managed or pinned host memory). Otherwise the context is
// faulted with cudaErrorIllegalAddress, as a GPU would on such an access,
// and `what` names the access in the message.
bool accessible(const void* p, size_t bytes, const char* what);

// Faults the context: every later runtime call returns `e` (a sticky error,
// as after a kernel fault on a GPU). The first fault is printed.
void fault(cudaError_t e, const char* what);

// The calling thread's current device (inside an op: the stream's).
int currentDevice();


// Emulated streaming multiprocessors of a device (SV_EMU_SMS, default 2):
// kernels size their grids by it, so small sizes span several grids.
int multiProcessors();

// What the calling thread has asked of the runtime so far: runtime API
// calls (every cuda* entry point), stream operations enqueued (copies,
// memsets, event records and waits, kernels, NCCL operations) and kernel
// launches among them. The per-call cost of the device engine's host side
// is measured with these (test_device_emulated.cc, "hot path").
struct Counters {
  unsigned long long apiCalls = 0, streamOps = 0, launches = 0;
  unsigned long long hostWaits = 0;  // the calling thread blocked on GPU work (synchronise, cudaFree, cudaMemcpy)
};
Counters threadCounters();
void countLaunch();  // kernels_emu.cc: one kernel launch

// Fault injection (nccl_emu.cc): the calling thread's next `n` NCCL
// collectives or group ends fail with ncclSystemError at enqueue, as a
// broken NCCL communicator would.
void ncclFailNextCalls(int n);
// While set, a non-blocking communicator's calls stay in progress
// (ncclCommGetAsyncError keeps answering ncclInProgress), as while NCCL
// connects to a peer that does not answer.
void ncclHoldInProgress(bool hold);

}  // namespace svemu
