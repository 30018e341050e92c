// SPDX-License-Identifier: MIT
// The bodies of the glue kernels (glue.cu), shared with the emulated
// runtime's launchers (tests/emu/kernels_emu.cc).
#pragma once

#include "bitlogic.h"  // SV_HOST_DEVICE
#include "glue.h"

namespace sv {
namespace device {

SV_HOST_DEVICE void systemFence() {
#if defined(__CUDA_ARCH__)
  __threadfence_system();
#else
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

// One thread (see nanPublish in glue.h).
SV_HOST_DEVICE void nanPublishBody(unsigned long long* cnt, const unsigned long long* counts, int n, bool flagError,
                                   DeviceNanRecord* host) {
  unsigned long long total = 0;
  for (int i = 0; i < n; ++i) total += counts[i];
  const unsigned long long local = cnt[kCntLocal];
  cnt[kCntTotalLocal] += local;
  volatile DeviceNanRecord* h = host;
  h->lastLocal = local;
  h->totalLocal = cnt[kCntTotalLocal];
  if (flagError && total != 0) {
    cnt[kCntTotal] = total;
    cnt[kCntFlagged] += 1;
    h->lastTotal = total;
    systemFence();  // lastTotal before the count that announces it
    h->flaggedCalls = cnt[kCntFlagged];
  } else {
    cnt[kCntTotal] = 0;
  }
  cnt[kCntLocal] = 0;  // the next call's pack counts from zero (no memset per call)
  systemFence();
}

// One thread (see advanceCall in glue.h).
SV_HOST_DEVICE void advanceCallBody(unsigned long long* cnt, DeviceNanRecord* host) {
  cnt[kCntCall] += 1;
  volatile DeviceNanRecord* h = host;
  h->calls = cnt[kCntCall];
  systemFence();
}

// Word i of copyBits.
SV_HOST_DEVICE void copyBitsWord(const uint32_t* src, uint32_t* dst, size_t i, size_t n32, uint32_t lastMask) {
  const uint32_t w = src[i];
  dst[i] = i + 1 == n32 ? (w & lastMask) : w;
}

}  // namespace device
}  // namespace sv
