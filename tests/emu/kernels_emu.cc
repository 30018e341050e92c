// SPDX-License-Identifier: MIT
// The launchers of src/kernels/cuda/device_kernels.h and src/kernels/cuda/glue.h for the
// emulated runtime: the same argument checks and grid sizes as the CUDA
// launchers, and a launch is one operation on the emulated stream that runs
// the kernel over every block, warp and lane (kernel_launch_emu.h). Before it
// runs, every range the kernel touches is checked against the runtime's
// memory registry, so a kernel handed host memory, freed staging or a short
// buffer faults the context (cudaErrorIllegalAddress) instead of passing.
#include <stdio.h>

#include "kernels/cuda/glue.h"
#include "kernels/cuda/glue_bodies.h"
#include "kernels/cuda/device_kernels.h"
#include "kernels/cuda/tensor_list.h"
#include "emu_runtime.h"

#define SV_EMU_REQUIRE(cond) \
  do {                       \
    if (!(cond)) ::svemu::fault(cudaErrorLaunchFailure, "launch invariant broken: " #cond); \
  } while (0)
#include "kernel_launch_emu.h"

namespace sv {
namespace {

// As the CUDA launchers: the current device's SM count (cudaGetDevice per
// launch, the attribute cached), and the launch's own result (as
// cudaLaunchKernelEx returns it, src/kernels/cuda/launch.h), so the runtime calls
// counted here are the ones a GPU build makes.
unsigned maxBlocks() {
  int dev = 0;
  cudaGetDevice(&dev);
  return static_cast<unsigned>(svemu::multiProcessors()) * kern::kBlocksPerSm;
}

size_t elemBytes(svDataType_t dt) { return dt == svFloat64 ? 8 : dt == svFloat32 ? 4 : 2; }

cudaError_t launch(cudaStream_t stream, std::function<void()> body) {
  svemu::countLaunch();
  return svemu::enqueue(stream, std::move(body));
}

bool gateOk(const unsigned long long* gate) {
  return gate == nullptr || svemu::accessible(gate, sizeof(*gate), "kernel gate (skipIfNonzero)");
}

// The words a vote over `words` words of every rank reads.
size_t voteInWords(size_t rankStride, size_t words, const VoteParams& p) {
  return static_cast<size_t>(p.nranks - 1) * rankStride + words * p.inPlanes;
}

}  // namespace

namespace device {

cudaError_t pack(const void* x, size_t n, svDataType_t dt, int planes, uint64_t* out, unsigned long long* nanCount,
                 cudaStream_t stream) {
  if (!dtValid(dt) || (planes != 1 && planes != 2)) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (x == nullptr || out == nullptr) return cudaErrorInvalidValue;
  const unsigned mb = maxBlocks();
  return launch(stream, [=] {
    if (!svemu::accessible(x, n * elemBytes(dt), "pack input") ||
        !svemu::accessible(out, divUp(n, kWordBits) * planes * 8, "pack output") ||
        (nanCount != nullptr && !svemu::accessible(nanCount, 8, "pack NaN counter")))
      return;
    svemu::emuPackDt(x, n, dt, planes, out, nanCount, mb);
  });
}

// The call number as the kernel sees it when it runs (device::vote).
static bool callOf(const VoteParams& p, const unsigned long long* callDev, VoteParams* q) {
  *q = p;
  if (callDev == nullptr) return true;
  if (!svemu::accessible(callDev, sizeof(*callDev), "vote call counter")) return false;
  q->call = *callDev;
  return true;
}

cudaError_t vote(const uint64_t* in, size_t rankStride, size_t words, const VoteParams& p, uint64_t firstWord,
                 uint64_t* out, cudaStream_t stream, const unsigned long long* callDev) {
  if (!kern::voteParamsValid(p)) return cudaErrorInvalidValue;
  if (words == 0) return cudaSuccess;
  if (in == nullptr || out == nullptr) return cudaErrorInvalidValue;
  const unsigned mb = maxBlocks();
  return launch(stream, [=] {
    if (!svemu::accessible(in, voteInWords(rankStride, words, p) * 8, "vote input") ||
        !svemu::accessible(out, words * p.outPlanes * 8, "vote output"))
      return;
    VoteParams q;
    if (callOf(p, callDev, &q)) svemu::emuVote(in, rankStride, words, q, firstWord, out, mb);
  });
}

cudaError_t unpack(const uint64_t* in, int planes, size_t n, svDataType_t dt, const OutputBits& bits, void* out,
                   const unsigned long long* skipIfNonzero, cudaStream_t stream) {
  if (!dtValid(dt) || (planes != 1 && planes != 2)) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (in == nullptr || out == nullptr) return cudaErrorInvalidValue;
  const unsigned mb = maxBlocks();
  return launch(stream, [=] {
    if (!gateOk(skipIfNonzero) || !svemu::accessible(in, divUp(n, kWordBits) * planes * 8, "unpack input") ||
        !svemu::accessible(out, n * elemBytes(dt), "unpack output"))
      return;
    svemu::emuUnpackDt(in, planes, n, dt, bits, out, skipIfNonzero, mb);
  });
}

cudaError_t voteUnpack(const uint64_t* in, size_t rankStride, size_t words, const VoteParams& p, uint64_t firstWord,
                       size_t n, svDataType_t dt, const OutputBits& bits, void* out,
                       const unsigned long long* skipIfNonzero, cudaStream_t stream,
                       const unsigned long long* callDev) {
  if (!dtValid(dt) || !kern::voteParamsValid(p) || n > words * static_cast<size_t>(kWordBits))
    return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (in == nullptr || out == nullptr) return cudaErrorInvalidValue;
  const unsigned mb = maxBlocks();
  return launch(stream, [=] {
    if (!gateOk(skipIfNonzero) || !svemu::accessible(in, voteInWords(rankStride, words, p) * 8, "voteUnpack input") ||
        !svemu::accessible(out, n * elemBytes(dt), "voteUnpack output"))
      return;
    VoteParams q;
    if (callOf(p, callDev, &q))
      svemu::emuVoteUnpackDt(in, rankStride, words, q, firstWord, n, dt, bits, out, skipIfNonzero, mb);
  });
}

// The list launchers: forEachList cuts the launches as on the GPU; each
// launch checks every tensor's ranges when it runs.
template <typename U>
cudaError_t packListT(const TensorSlice* ts, size_t count, svDataType_t dt, int planes, uint64_t* out,
                      unsigned long long* nanCount, cudaStream_t stream) {
  const unsigned mb = maxBlocks();
  return forEachList<U>(ts, count, true, [&](const kern::KernelList& l) {
    return launch(stream, [=] {
      for (int j = 0; j < l.count; ++j)
        if (!svemu::accessible(l.item[j].src, l.item[j].n * sizeof(U), "packList input") ||
            !svemu::accessible(out + l.item[j].word * planes, divUp(l.item[j].n, kWordBits) * planes * 8,
                               "packList output"))
          return;
      if (nanCount != nullptr && !svemu::accessible(nanCount, 8, "packList NaN counter")) return;
      svemu::emuPackListDt(l, dt, planes, out, nanCount, mb);
    });
  });
}

template <typename U>
cudaError_t unpackListT(const uint64_t* in, int planes, const TensorSlice* ts, size_t count, svDataType_t dt,
                        const OutputBits& bits, const unsigned long long* skipIfNonzero, cudaStream_t stream) {
  const unsigned mb = maxBlocks();
  return forEachList<U>(ts, count, false, [&](const kern::KernelList& l) {
    return launch(stream, [=] {
      if (!gateOk(skipIfNonzero)) return;
      for (int j = 0; j < l.count; ++j)
        if (!svemu::accessible(in + l.item[j].word * planes, divUp(l.item[j].n, kWordBits) * planes * 8,
                               "unpackList input") ||
            !svemu::accessible(l.item[j].dst, l.item[j].n * sizeof(U), "unpackList output"))
          return;
      svemu::emuUnpackListDt(in, planes, l, dt, bits, skipIfNonzero, mb);
    });
  });
}

cudaError_t packList(const TensorSlice* ts, size_t count, svDataType_t dt, int planes, uint64_t* out,
                     unsigned long long* nanCount, cudaStream_t stream) {
  if (!tensorListValid(ts, count, dt, planes, true) || out == nullptr) return cudaErrorInvalidValue;
  switch (elemBytes(dt)) {
    case 2: return packListT<uint16_t>(ts, count, dt, planes, out, nanCount, stream);
    case 4: return packListT<uint32_t>(ts, count, dt, planes, out, nanCount, stream);
    default: return packListT<uint64_t>(ts, count, dt, planes, out, nanCount, stream);
  }
}

cudaError_t unpackList(const uint64_t* in, int planes, const TensorSlice* ts, size_t count, svDataType_t dt,
                       const OutputBits& bits, const unsigned long long* skipIfNonzero, cudaStream_t stream) {
  if (!tensorListValid(ts, count, dt, planes, false) || in == nullptr) return cudaErrorInvalidValue;
  switch (elemBytes(dt)) {
    case 2: return unpackListT<uint16_t>(in, planes, ts, count, dt, bits, skipIfNonzero, stream);
    case 4: return unpackListT<uint32_t>(in, planes, ts, count, dt, bits, skipIfNonzero, stream);
    default: return unpackListT<uint64_t>(in, planes, ts, count, dt, bits, skipIfNonzero, stream);
  }
}

}  // namespace device

namespace device {

cudaError_t nanPublish(unsigned long long* cnt, const unsigned long long* counts, int n, bool flagError,
                       DeviceNanRecord* host, cudaStream_t stream) {
  return launch(stream, [=] {
    if (!svemu::accessible(cnt, (kCntTotalLocal + 1) * sizeof(*cnt), "nanPublish counters") ||
        !svemu::accessible(counts, n * sizeof(*counts), "nanPublish counts") ||
        !svemu::accessible(host, sizeof(*host), "nanPublish host record"))
      return;
    nanPublishBody(cnt, counts, n, flagError, host);
  });
}

cudaError_t advanceCall(unsigned long long* cnt, DeviceNanRecord* host, cudaStream_t stream) {
  return launch(stream, [=] {
    if (!svemu::accessible(cnt, (kCntCall + 1) * sizeof(*cnt), "advanceCall counters") ||
        !svemu::accessible(host, sizeof(*host), "advanceCall host record"))
      return;
    advanceCallBody(cnt, host);
  });
}

cudaError_t copyBits(const uint64_t* src, uint32_t* dst, size_t n32, uint32_t lastMask,
                     const unsigned long long* skipIfNonzero, cudaStream_t stream) {
  if (n32 == 0) return cudaSuccess;
  return launch(stream, [=] {
    if (!gateOk(skipIfNonzero) || !svemu::accessible(src, n32 * 4, "copyBits input") ||
        !svemu::accessible(dst, n32 * 4, "copyBits output"))
      return;
    if (skipIfNonzero != nullptr && *skipIfNonzero != 0) return;
    const uint32_t* s = reinterpret_cast<const uint32_t*>(src);
    for (size_t i = 0; i < n32; ++i) copyBitsWord(s, dst, i, n32, lastMask);
  });
}

}  // namespace device
}  // namespace sv
