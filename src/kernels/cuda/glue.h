// SPDX-License-Identifier: MIT
// Small stream-ordered helpers of the device engine (glue.cu): NaN counts
// published to the host, and the 64-bit staging words copied back to the
// caller's 32-bit bit buffers. The sign kernels are src/kernels/cuda/device_kernels.h.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

namespace sv {

// Written by the GPU into mapped pinned host memory; the host reads it
// without synchronising (volatile), so a value is as of some completed call.
struct DeviceNanRecord {
  unsigned long long flaggedCalls;  // SV_NAN_ERROR checks that found NaNs, ever
  unsigned long long lastTotal;     // NaNs over all ranks, last flagged check
  unsigned long long lastLocal;     // this rank's NaNs, last call
  unsigned long long totalLocal;    // this rank's NaNs, all calls
  unsigned long long calls;         // collective calls completed on the GPU (graph replays included)
};

// Device counters of a communicator (device memory), indices:
enum DeviceCounter : int {
  kCntLocal = 0,       // this rank's NaNs in the call in flight (pack adds; nanPublish zeroes it)
  kCntTotal = 1,       // the gate: NaNs over all ranks when the call fails
  kCntFlagged = 2,     // running copy of DeviceNanRecord::flaggedCalls
  kCntTotalLocal = 3,  // running copy of DeviceNanRecord::totalLocal
  kCntCall = 4,        // the call number of the call in flight (random ties); advanced by advanceCall
  kCntAll = 8          // P entries: every rank's kCntLocal (SV_NAN_ERROR)
};

namespace device {

// One thread: total = sum of counts[0..n); cnt[kCntTotal] = flagError ? total
// : 0; folds cnt[kCntLocal] into the running totals, publishes them to
// *host (a device pointer to mapped host memory) and zeroes cnt[kCntLocal]
// for the next call's pack.
cudaError_t nanPublish(unsigned long long* cnt, const unsigned long long* counts, int n, bool flagError,
                       DeviceNanRecord* host, cudaStream_t stream);

// One thread, at the end of every collective call: cnt[kCntCall] += 1 and
// host->calls = that, so the next call (or the next replay of a captured
// one) votes with the next call number, and statistics count replays.
cudaError_t advanceCall(unsigned long long* cnt, DeviceNanRecord* host, cudaStream_t stream);

// dst[i] = 32-bit word i of src for i < n32, the last one ANDed with
// lastMask; writes nothing when skipIfNonzero points at a nonzero value.
cudaError_t copyBits(const uint64_t* src, uint32_t* dst, size_t n32, uint32_t lastMask,
                     const unsigned long long* skipIfNonzero, cudaStream_t stream);

}  // namespace device
}  // namespace sv
