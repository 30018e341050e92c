// SPDX-License-Identifier: MIT
// How packList/unpackList (device_kernels.h) cut a group's tensors into
// launches: consecutive non-empty tensors, kern::kListCap to a launch, each
// batch a kern::KernelList. Shared by the CUDA launchers and the host
// emulation's (tests/emu/kernels_emu.cc), so both launch the same lists.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "kernels/cuda/device_kernels.h"
#include "kernels/cuda/kernel_bodies.h"

namespace sv {
namespace device {

// The checks both list launchers make before anything is enqueued.
inline bool tensorListValid(const TensorSlice* ts, size_t count, svDataType_t dt, int planes, bool pack) {
  if (!dtValid(dt) || (planes != 1 && planes != 2) || (count > 0 && ts == nullptr)) return false;
  for (size_t i = 0; i < count; ++i)
    if (ts[i].n > 0 && (pack ? ts[i].src : ts[i].dst) == nullptr) return false;
  return true;
}

// Calls launch(list) for each batch; stops at the first error. `pack`:
// the alignment that matters is the source's, else the destination's.
template <typename U, typename Launch>
cudaError_t forEachList(const TensorSlice* ts, size_t count, bool pack, Launch&& launch) {
  kern::KernelList l;
  l.count = 0;
  for (size_t i = 0; i < count; ++i) {
    if (ts[i].n == 0) continue;
    const bool aligned = (reinterpret_cast<uintptr_t>(pack ? ts[i].src : ts[i].dst) & 15u) == 0;
    if (kern::listAppend<U>(l, ts[i].src, ts[i].dst, ts[i].n, ts[i].word, aligned)) {
      const cudaError_t e = launch(l);
      if (e != cudaSuccess) return e;
      l.count = 0;
    }
  }
  return l.count > 0 ? launch(l) : cudaSuccess;
}

}  // namespace device
}  // namespace sv
