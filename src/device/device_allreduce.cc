// SPDX-License-Identifier: MIT
// The stream executor: svAllReduceSign and friends on a device
// communicator, every step of the call's plan (plan.h) enqueued on the
// caller's stream:
//
//   alltoall : pack -> all-to-all of P equal segments -> vote my segment ->
//              all-gather of the voted segments (in place) -> unpack
//   allgather: pack into my slot -> all-gather (in place) -> fused vote+unpack
//
// The plan (algorithm, planes, segments) is planCall's with
// Executor::kStream (one chunk), its buffers streamLayout's, and the kernels
// run the bit logic of bitlogic.h, exactly as the host executor; so the
// output equals the host backend's bit for bit.
//
// SV_NAN_ERROR: every rank's NaN count is all-gathered on the stream and
// summed on the GPU (device::nanPublish); the unpack is gated on that sum
// (skipIfNonzero), so recvbuff stays untouched on every rank, and the
// failure reaches the host through mapped memory: svCommGetAsyncError
// reports it once the check has executed.
#include <string.h>

#include <algorithm>
#include <vector>

#include "check_signature.h"
#include "comm.h"
#include "datatype.h"
#include "deadline.h"
#include "debug.h"
#include "device/device_comm.h"
#include "group.h"
#include "kernels/cuda/device_kernels.h"
#include "plan.h"

namespace sv {
namespace {

constexpr size_t kStagingGranule = 64 * 1024;

// Device memory of this communicator's device, or managed memory. A
// trainer passes the same buffers every step, and the query costs three
// runtime calls, so pointers that passed are remembered and pass again
// without one: an open-addressing hash set of kCheckedPointers slots,
// emptied when half full, so up to kCheckedPointers / 2 buffers (a group
// of hundreds of tensors) always hit from their second call on. NCCL
// checks no pointer at all unless NCCL_CHECK_POINTERS=1.
size_t pointerSlot(const void* p) {
  return static_cast<size_t>((reinterpret_cast<uintptr_t>(p) >> 4) * 0x9e3779b97f4a7c15ull >> 32) &
         (kCheckedPointers - 1);
}
bool pointerChecked(const DeviceState* d, const void* p) {
  for (size_t k = 0, i = pointerSlot(p); k < kCheckedPointers; ++k, i = (i + 1) & (kCheckedPointers - 1)) {
    const void* v = d->checkedPointers[i].load(std::memory_order_relaxed);
    if (v == p) return true;
    if (v == nullptr) return false;
  }
  return false;
}
void rememberPointer(DeviceState* d, const void* p) {
  if (d->checkedCount.load(std::memory_order_relaxed) >= kCheckedPointers / 2) {
    for (auto& slot : d->checkedPointers) slot.store(nullptr, std::memory_order_relaxed);
    d->checkedCount.store(0, std::memory_order_relaxed);
  }
  for (size_t k = 0, i = pointerSlot(p); k < kCheckedPointers; ++k, i = (i + 1) & (kCheckedPointers - 1)) {
    const void* empty = nullptr;
    if (d->checkedPointers[i].compare_exchange_strong(empty, p, std::memory_order_relaxed)) {
      d->checkedCount.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (empty == p) return;
  }
}

svResult_t checkDevicePtr(svComm* comm, const char* where, const void* p, const char* name) {
  DeviceState* d = comm->device.get();
  if (pointerChecked(d, p)) return svSuccess;
  cudaPointerAttributes a;
  memset(&a, 0, sizeof(a));
  // A pure query, but under a global-mode stream capture the runtime may
  // class it as "potentially unsafe" and invalidate the capture: make this
  // thread relaxed for the query only.
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  const bool exchanged = cudaThreadExchangeStreamCaptureMode(&mode) == cudaSuccess;
  cudaError_t e = cudaPointerGetAttributes(&a, p);
  if (exchanged) cudaThreadExchangeStreamCaptureMode(&mode);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return setError(comm, svInvalidArgument, where, "%s=%p: cudaPointerGetAttributes failed (%s)", name, p,
                    cudaGetErrorString(e));
  }
  const int dev = d->device;
  if (a.type == cudaMemoryTypeManaged || (a.type == cudaMemoryTypeDevice && a.device == dev)) {
    rememberPointer(d, p);
    return svSuccess;
  }
  const char* kind = a.type == cudaMemoryTypeDevice ? "device memory of another GPU"
                     : a.type == cudaMemoryTypeHost ? "pinned host memory"
                                                    : "host memory";
  return setError(comm, svInvalidArgument, where,
                  "%s=%p is %s; a device communicator on cuda:%d takes device memory of that GPU", name, p, kind, dev);
}

// The send and receive buffers of an all-reduce (receive only when it is
// another buffer); none when count is 0.
svResult_t checkBuffers(svComm* comm, const char* where, const void* send, const char* sendName, const void* recv,
                        const char* recvName, size_t count) {
  if (count == 0) return svSuccess;
  SVCHECK(checkDevicePtr(comm, where, send, sendName));
  if (recv != send) SVCHECK(checkDevicePtr(comm, where, recv, recvName));
  return svSuccess;
}

// One call's stream bracket: waits for the previous call of this
// communicator (when not capturing), records the end for the next one.
class CallScope {
 public:
  CallScope(svComm* comm, const char* where, cudaStream_t stream) : comm_(comm), where_(where), stream_(stream) {}
  svResult_t begin(uint64_t call) {
    DeviceState* d = comm_->device.get();
    SVCHECK(d->transport->beginCall(where_, call));
    begun_ = true;
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    SV_CUDACHECK(comm_, where_, cudaStreamIsCapturing(stream_, &st));
    capturing_ = st != cudaStreamCaptureStatusNone;
    if (!capturing_ && d->lastCallRecorded) SV_CUDACHECK(comm_, where_, cudaStreamWaitEvent(stream_, d->lastCall, 0));
    sentBefore_ = d->transport->bytesSent();
    return svSuccess;
  }
  svResult_t end() {
    DeviceState* d = comm_->device.get();
    if (!capturing_) {
      SV_CUDACHECK(comm_, where_, cudaEventRecord(d->lastCall, stream_));
      d->lastCallRecorded = true;
    }
    return svSuccess;
  }
  bool capturing() const { return capturing_; }
  const char* where() const { return where_; }
  cudaStream_t stream() const { return stream_; }
  // An svInvalidUsage that every rank meets alike before this call's first
  // exchange (staging that would have to grow under capture or after one,
  // SV_CHECK's verdict): it does not fail the communicator.
  svResult_t agreed(svResult_t r) {
    agreed_ = r == svInvalidUsage;
    return r;
  }
  // The failed-communicator rule (as the host engine's runCall): an error
  // once this call may have enqueued work leaves the ranks out of step (a
  // peer's NCCL operation waits for one of ours that never comes), so the
  // communicator fails, unless every rank refused the call alike before
  // any exchange (agreed()).
  svResult_t finish(svResult_t r) {
    if (r != svSuccess && begun_ && !agreed_) {
      commSetLastError(comm_, threadLastError());
      failComm(comm_, r);
    }
    return r;
  }
  uint64_t sent() const { return comm_->device->transport->bytesSent() - sentBefore_; }
  // SV_TIMEOUT: the watchdog follows this collective call to completion.
  svResult_t watch(uint64_t call) {
    DeviceState* d = comm_->device.get();
    if (capturing_ || !d->watchdog) return svSuccess;
    SV_CUDACHECK(comm_, where_, d->watchdog->track(call, stream_));
    return svSuccess;
  }

 private:
  svComm* comm_;
  const char* where_;
  cudaStream_t stream_;
  bool capturing_ = false;
  bool begun_ = false;
  bool agreed_ = false;
  uint64_t sentBefore_ = 0;
};

// Grow a staging buffer to `bytes`. On a stream-ordered transport (NCCL),
// where the device has memory pools, the old buffer is freed and the new
// one allocated on the call's stream (cudaFreeAsync, cudaMallocAsync): no
// host wait, and the stream already waits for this communicator's previous
// call, the last user of the old buffer. On a host exchange (MPI, which may not handle stream-ordered
// pool memory) it waits for the previous call, then cudaFree + cudaMalloc.
// Under stream capture it cannot grow (the graph would keep the old
// address). Once a call was captured, a graph may replay the buffers at any
// time, so staging never moves again: a call needing more is refused.
svResult_t ensure(svComm* comm, CallScope& scope, DeviceBuffer& b, size_t bytes) {
  DeviceState* d = comm->device.get();
  const char* where = scope.where();
  const bool capturing = scope.capturing();
  if (capturing) d->stagingFrozen = true;
  if (b.bytes >= bytes) return svSuccess;
  if (capturing)
    return scope.agreed(setError(comm, svInvalidUsage, where,
                    "staging must grow to %zu bytes during stream capture: run the same call once before "
                    "capturing",
                    bytes));
  if (d->stagingFrozen)
    return scope.agreed(setError(comm, svInvalidUsage, where,
                    "staging must grow to %zu bytes, but a captured CUDA graph may replay the current buffers: "
                    "make the largest call once before the first capture",
                    bytes));
  const bool streamOrdered = d->memPools && !d->transport->synchronisesStream();
  cudaStream_t stream = scope.stream();
  if (b.ptr != nullptr) {
    if (streamOrdered) {
      SV_CUDACHECK(comm, where, cudaFreeAsync(b.ptr, stream));
    } else {
      if (d->lastCallRecorded) SV_CUDACHECK(comm, where, cudaEventSynchronize(d->lastCall));
      SV_CUDACHECK(comm, where, cudaFree(b.ptr));
    }
    b.ptr = nullptr;
    b.bytes = 0;
  }
  const size_t n = roundUp(bytes, kStagingGranule);
  cudaError_t e = streamOrdered ? cudaMallocAsync(&b.ptr, n, stream) : cudaMalloc(&b.ptr, n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    b.ptr = nullptr;
    return setError(comm, svSystemError, where, "%s of %zu bytes of staging failed: %s",
                    streamOrdered ? "cudaMallocAsync" : "cudaMalloc", n, cudaGetErrorString(e));
  }
  b.bytes = n;
  return svSuccess;
}

svResult_t kernel(svComm* comm, const char* where, cudaError_t e, const char* what) {
  return e == cudaSuccess ? svSuccess : cudaFail(comm, where, e, what);
}

VoteParams voteParams(svComm* comm, const CallShape& s, uint64_t call) {
  VoteParams vp;
  vp.nranks = comm->nranks;
  vp.inPlanes = s.inPlanes;
  vp.outPlanes = s.outPlanes;
  vp.tie = comm->config.tie;
  vp.seed = static_cast<uint64_t>(comm->config.seed);
  vp.call = call;
  return vp;
}

void logAlgorithm(svComm* comm, const char* where, const CallShape& s) {
  if (comm->loggedAlgorithm == s.algorithm) return;
  SV_INFO(comm->rank, "%s: algorithm %s for %zu elements on %d ranks (%s), device, one chunk", where,
          algoName(s.algorithm), s.count, comm->nranks,
          comm->config.algorithm != SV_ALGO_AUTO ? "forced by SV_ALGO/config"
          : comm->nranks <= 2                    ? "P <= 2: one round, same bytes"
                                                 : "auto: (P-1) x packed bytes vs SV_ALLGATHER_THRESHOLD");
  comm->loggedAlgorithm = s.algorithm;
}

// SV_CHECK (device communicators over a host transport): the same
// signature exchange as the host engine's, on the host transport, before
// anything of the call is enqueued. A difference is svInvalidUsage on
// every rank alike, which does not fail the communicator.
svResult_t checkCall(svComm* comm, const char* where, int entry, int datatype, const CallShape& s, uint64_t call) {
  if (!comm->config.check) return svSuccess;
  Waiter waiter(comm, where);
  const CallSignature sig = callSignature(comm, entry, s.count, datatype, s.algorithm, s.chunkWords, call);
  return checkSignature(comm, where, waiter, sig, callTag(kTagControl, call));
}

// The end of every collective call, after its last kernel: the device's call
// number (random ties) advances, and with it the count of completed calls
// svCommGetStats reports (deviceRefreshStats), graph replays included; the
// next call's order and the SV_TIMEOUT watchdog follow it. Bytes are counted
// here, at enqueue (a replayed graph adds none).
svResult_t endCollective(svComm* comm, CallScope& scope, uint64_t call, int algorithm) {
  DeviceState* d = comm->device.get();
  SVCHECK(kernel(comm, scope.where(), device::advanceCall(d->counters, d->hostRecordDev, scope.stream()),
                 "advanceCall"));
  SVCHECK(scope.end());
  SVCHECK(scope.watch(call));
  const uint64_t sent = scope.sent();
  comm->stats.bytesSent += sent;
  comm->stats.lastBytesSent = sent;
  comm->stats.lastAlgorithm = algorithm;
  return svSuccess;
}

// The exchange and vote of one call, from this rank's packed bits to the
// voted bits. `fill` writes this rank's ceil(count/64) x inPlanes words at
// the pointer it is given (and counts NaNs into counters[kCntLocal]).
// Returns in *voted where the result words lie (all words x outPlanes),
// or, for the all-gather with fuseUnpack, leaves the unpack to `fused`.
template <typename Fill, typename Fused>
svResult_t exchangeAndVote(svComm* comm, CallScope& scope, const CallShape& s, const VoteParams& vp, const Fill& fill,
                           bool fuseUnpack, const Fused& fused, const uint64_t** voted) {
  DeviceState* d = comm->device.get();
  const char* where = scope.where();
  cudaStream_t stream = scope.stream();
  const int me = comm->rank;
  const size_t op = s.outPlanes;
  DeviceTransport* t = d->transport.get();
  const Chunk c = planChunk(s, comm->nranks, me, 0);  // the stream executor's plan has one chunk
  const StreamLayout l = streamLayout(s, c, comm->nranks, me, !fuseUnpack);
  *voted = nullptr;
  // Staging is grown before anything of this call is enqueued.
  SVCHECK(ensure(comm, scope, d->packed, l.packedWords * 8));
  SVCHECK(ensure(comm, scope, d->recv, l.recvWords * 8));
  SVCHECK(ensure(comm, scope, d->result, l.resultWords * 8));
  uint64_t* packed = static_cast<uint64_t*>(d->packed.ptr);
  uint64_t* recv = static_cast<uint64_t*>(d->recv.ptr);
  uint64_t* result = static_cast<uint64_t*>(d->result.ptr);
  if (s.algorithm == SV_ALGO_ALLTOALL) {
    SVCHECK(fill(packed + l.packAt));
    // Words past c.words are padding: they travel and are voted like the
    // rest, but no unpack ever reads them.
    SVCHECK(t->allToAll(packed, recv, l.firstBlockWords * 8, stream));
    if (c.myLen > 0)
      SVCHECK(kernel(comm, where,
                     device::vote(recv, l.firstBlockWords, c.myLen, vp, c.myBegin, result + c.myBegin * op, stream,
                                  d->counters + kCntCall),
                     "vote"));
    SVCHECK(t->allGather(result + me * l.secondBlockWords, result, l.secondBlockWords * 8, stream));
    *voted = result;
    return svSuccess;
  }
  // All-gather: pack straight into my slot, gather in place.
  SVCHECK(fill(recv + l.packAt));
  SVCHECK(t->allGather(recv + l.packAt, recv, l.firstBlockWords * 8, stream));
  if (fuseUnpack) return fused(recv, l.firstBlockWords);
  SVCHECK(kernel(comm, where, device::vote(recv, l.firstBlockWords, c.words, vp, 0, result, stream, d->counters + kCntCall), "vote"));
  *voted = result;
  return svSuccess;
}

// After pack: SV_NAN_ERROR all-gathers every rank's count and sets the gate
// counters[kCntTotal]; both policies publish this rank's count for stats.
// Returns the gate for the unpack (NULL when there is none).
svResult_t nanCheck(svComm* comm, const char* where, bool nanError, cudaStream_t stream,
                    const unsigned long long** gate) {
  DeviceState* d = comm->device.get();
  unsigned long long* c = d->counters;
  *gate = nullptr;
  if (nanError && comm->nranks > 1) {
    SVCHECK(d->transport->allGather(c + kCntLocal, c + kCntAll, sizeof(unsigned long long), stream));
    SVCHECK(kernel(comm, where, device::nanPublish(c, c + kCntAll, comm->nranks, true, d->hostRecordDev, stream),
                   "nanPublish"));
  } else {
    SVCHECK(
        kernel(comm, where, device::nanPublish(c, c + kCntLocal, 1, nanError, d->hostRecordDev, stream), "nanPublish"));
  }
  if (nanError) *gate = c + kCntTotal;
  return svSuccess;
}

uint32_t lastWordMask(size_t count) { return count % 32 ? (1u << (count % 32)) - 1 : ~0u; }

svResult_t runAllReduceSign(CallScope& scope, svComm* comm, const void* sendbuff, void* recvbuff, size_t count,
                            svDataType_t datatype, cudaStream_t stream) {
  const char* where = scope.where();
  DeviceState* d = comm->device.get();
  DeviceGuard guard(d->device);
  SVCHECK(checkBuffers(comm, where, sendbuff, "sendbuff", recvbuff, "recvbuff", count));
  const uint64_t call = comm->callCount++;  // as the host engine: calls that pass the checks
  const CallShape s = planCall(comm, count, false, Executor::kStream);
  logAlgorithm(comm, where, s);
  SVCHECK(scope.begin(call));
  SVCHECK(scope.agreed(checkCall(comm, where, 1, datatype, s, call)));
  if (count > 0) {
    const VoteParams vp = voteParams(comm, s, call);
    const OutputBits ob = outputBits(datatype, comm->config.scale);
    const bool nanError = comm->config.nan == SV_NAN_ERROR;
    const unsigned long long* gate = nullptr;
    unsigned long long* local = d->counters + kCntLocal;
    auto fill = [&](uint64_t* out) -> svResult_t {
      SVCHECK(kernel(comm, where, device::pack(sendbuff, count, datatype, s.inPlanes, out, local, stream), "pack"));
      return nanCheck(comm, where, nanError, stream, &gate);
    };
    auto fused = [&](const uint64_t* in, size_t rankStride) -> svResult_t {
      return kernel(comm, where,
                    device::voteUnpack(in, rankStride, s.words, vp, 0, count, datatype, ob, recvbuff, gate, stream,
                                         d->counters + kCntCall),
                    "voteUnpack");
    };
    const uint64_t* voted = nullptr;
    SVCHECK(exchangeAndVote(comm, scope, s, vp, fill, true, fused, &voted));
    if (voted != nullptr)
      SVCHECK(kernel(comm, where, device::unpack(voted, s.outPlanes, count, datatype, ob, recvbuff, gate, stream),
                     "unpack"));
  }
  return endCollective(comm, scope, call, s.algorithm);
}

svResult_t runAllReduceSignPacked(CallScope& scope, svComm* comm, const uint32_t* sendbits, uint32_t* recvbits,
                                  size_t count, cudaStream_t stream) {
  const char* where = scope.where();
  DeviceState* d = comm->device.get();
  DeviceGuard guard(d->device);
  SVCHECK(checkBuffers(comm, where, sendbits, "sendbits", recvbits, "recvbits", count));
  const uint64_t call = comm->callCount++;
  const CallShape s = planCall(comm, count, true, Executor::kStream);
  logAlgorithm(comm, where, s);
  SVCHECK(scope.begin(call));
  SVCHECK(scope.agreed(checkCall(comm, where, 2, 0, s, call)));
  if (count > 0) {
    const size_t n32 = divUp(count, 32);
    const VoteParams vp = voteParams(comm, s, call);
    // The caller's words are copied whole; bits past count (and the upper
    // half of an odd last word) vote at positions nobody reads.
    auto fill = [&](uint64_t* out) -> svResult_t {
      SV_CUDACHECK(comm, where, cudaMemcpyAsync(out, sendbits, n32 * 4, cudaMemcpyDeviceToDevice, stream));
      return svSuccess;
    };
    auto noFused = [&](const uint64_t*, size_t) -> svResult_t { return svSuccess; };
    const uint64_t* voted = nullptr;
    SVCHECK(exchangeAndVote(comm, scope, s, vp, fill, false, noFused, &voted));
    SVCHECK(
        kernel(comm, where, device::copyBits(voted, recvbits, n32, lastWordMask(count), nullptr, stream), "copyBits"));
  }
  return endCollective(comm, scope, call, s.algorithm);
}

svResult_t runPackSigns(CallScope& scope, svComm* comm, const void* sendbuff, uint32_t* bits, size_t count,
                        svDataType_t datatype, cudaStream_t stream) {
  const char* where = scope.where();
  DeviceState* d = comm->device.get();
  DeviceGuard guard(d->device);
  SVCHECK(checkDevicePtr(comm, where, sendbuff, "sendbuff"));
  SVCHECK(checkDevicePtr(comm, where, bits, "bits"));
  SVCHECK(scope.begin(comm->callCount));
  // Into 64-bit staging, then the caller's 32-bit words (whose buffer may be
  // 4 bytes shorter than whole 64-bit words), gated under SV_NAN_ERROR.
  const size_t words = divUp(count, kWordBits);
  SVCHECK(ensure(comm, scope, d->packed, words * 8));
  uint64_t* staging = static_cast<uint64_t*>(d->packed.ptr);
  unsigned long long* c = d->counters;
  const bool nanError = comm->config.nan == SV_NAN_ERROR;
  SVCHECK(kernel(comm, where, device::pack(sendbuff, count, datatype, 1, staging, c + kCntLocal, stream), "pack"));
  SVCHECK(kernel(comm, where, device::nanPublish(c, c + kCntLocal, 1, nanError, d->hostRecordDev, stream), "nanPublish"));
  SVCHECK(kernel(
      comm, where,
      device::copyBits(staging, bits, divUp(count, 32), lastWordMask(count), nanError ? c + kCntTotal : nullptr, stream),
      "copyBits"));
  return scope.end();
}

svResult_t runUnpackSigns(CallScope& scope, svComm* comm, const uint32_t* bits, void* recvbuff, size_t count,
                          svDataType_t datatype, cudaStream_t stream) {
  const char* where = scope.where();
  DeviceState* d = comm->device.get();
  DeviceGuard guard(d->device);
  SVCHECK(checkDevicePtr(comm, where, bits, "bits"));
  SVCHECK(checkDevicePtr(comm, where, recvbuff, "recvbuff"));
  SVCHECK(scope.begin(comm->callCount));
  // Through 64-bit staging: the unpack kernel reads whole 64-bit words, and
  // the caller's buffer holds only ceil(count/32) 32-bit ones.
  const size_t words = divUp(count, kWordBits);
  SVCHECK(ensure(comm, scope, d->packed, words * 8));
  uint64_t* staging = static_cast<uint64_t*>(d->packed.ptr);
  SV_CUDACHECK(comm, where, cudaMemcpyAsync(staging, bits, divUp(count, 32) * 4, cudaMemcpyDeviceToDevice, stream));
  const OutputBits ob = outputBits(datatype, comm->config.scale);
  SVCHECK(kernel(comm, where, device::unpack(staging, 1, count, datatype, ob, recvbuff, nullptr, stream), "unpack"));
  return scope.end();
}

// A group's calls (svGroupEnd) as one call of the stream executor, in the
// layout group.cc gives both executors (first[i]: call i's first word), so
// the result is the host group's bit for bit, random ties included. Pack
// and unpack run as list kernels, one launch per datatype and
// kern::kListCap tensors, not one per tensor.
constexpr svDataType_t kGroupTypes[4] = {svFloat16, svFloat32, svFloat64, svBfloat16};  // 6, 7, 8, 9

svResult_t groupStreams(svComm* comm, const char* where, const GroupCall* const* calls, size_t n,
                        std::vector<cudaStream_t>* others) {
  DeviceState* d = comm->device.get();
  for (size_t i = 1; i < n; ++i)
    if (calls[i]->stream != calls[0]->stream &&
        std::find(others->begin(), others->end(), calls[i]->stream) == others->end())
      others->push_back(calls[i]->stream);
  while (d->groupEvents.size() < others->size() + 1) {
    cudaEvent_t e = nullptr;
    SV_CUDACHECK(comm, where, cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    d->groupEvents.push_back(e);
  }
  return svSuccess;
}

svResult_t runGroup(CallScope& scope, svComm* comm, const GroupCall* const* calls, size_t n, const size_t* first) {
  const char* where = scope.where();
  DeviceState* d = comm->device.get();
  DeviceGuard guard(d->device);
  cudaStream_t stream = scope.stream();
  const size_t words = first[n];
  std::vector<device::TensorSlice> slices[4];  // typed calls by datatype (index dt - svFloat16)
  for (size_t i = 0; i < n; ++i)
    if (calls[i]->datatype != kGroupPackedBits && calls[i]->count > 0)
      slices[calls[i]->datatype - svFloat16].push_back({calls[i]->send, calls[i]->recv, calls[i]->count, first[i]});
  std::vector<cudaStream_t> others;
  SVCHECK(groupStreams(comm, where, calls, n, &others));
  const uint64_t call = comm->callCount++;
  const CallShape s = planCall(comm, words * kWordBits, false, Executor::kStream);
  logAlgorithm(comm, where, s);
  SVCHECK(scope.begin(call));
  // The other streams' work before the group comes first.
  for (size_t k = 0; k < others.size(); ++k) {
    SV_CUDACHECK(comm, where, cudaEventRecord(d->groupEvents[k + 1], others[k]));
    SV_CUDACHECK(comm, where, cudaStreamWaitEvent(stream, d->groupEvents[k + 1], 0));
  }
  SVCHECK(scope.agreed(checkCall(comm, where, 2, 0, s, call)));
  const VoteParams vp = voteParams(comm, s, call);
  const bool nanError = comm->config.nan == SV_NAN_ERROR;
  const unsigned long long* gate = nullptr;
  auto fill = [&](uint64_t* out) -> svResult_t {
    for (int k = 0; k < 4; ++k)
      if (!slices[k].empty())
        SVCHECK(kernel(comm, where,
                       device::packList(slices[k].data(), slices[k].size(), kGroupTypes[k], s.inPlanes, out,
                                        d->counters + kCntLocal, stream),
                       "packList"));
    // Packed calls (one plane: the entry refuses the policies that need
    // two): the caller's words copied whole, as a packed call's are.
    for (size_t i = 0; i < n; ++i)
      if (calls[i]->datatype == kGroupPackedBits && calls[i]->count > 0)
        SV_CUDACHECK(comm, where,
                     cudaMemcpyAsync(out + first[i], calls[i]->send, divUp(calls[i]->count, 32) * 4,
                                     cudaMemcpyDeviceToDevice, stream));
    return nanCheck(comm, where, nanError, stream, &gate);
  };
  auto noFused = [&](const uint64_t*, size_t) -> svResult_t { return svSuccess; };
  const uint64_t* voted = nullptr;
  SVCHECK(exchangeAndVote(comm, scope, s, vp, fill, false, noFused, &voted));
  for (int k = 0; k < 4; ++k)
    if (!slices[k].empty())
      SVCHECK(kernel(comm, where,
                     device::unpackList(voted, s.outPlanes, slices[k].data(), slices[k].size(), kGroupTypes[k],
                                        outputBits(kGroupTypes[k], comm->config.scale), gate, stream),
                     "unpackList"));
  for (size_t i = 0; i < n; ++i)
    if (calls[i]->datatype == kGroupPackedBits && calls[i]->count > 0)
      SVCHECK(kernel(comm, where,
                     device::copyBits(voted + first[i], static_cast<uint32_t*>(calls[i]->recv),
                                      divUp(calls[i]->count, 32), lastWordMask(calls[i]->count), gate, stream),
                     "copyBits"));
  SVCHECK(endCollective(comm, scope, call, s.algorithm));
  // ... and their work after the group waits for it.
  if (!others.empty()) {
    SV_CUDACHECK(comm, where, cudaEventRecord(d->groupEvents[0], stream));
    for (cudaStream_t o : others) SV_CUDACHECK(comm, where, cudaStreamWaitEvent(o, d->groupEvents[0], 0));
  }
  return svSuccess;
}

}  // namespace

// The entry points: the failed-communicator rule around each call.
svResult_t deviceAllReduceSign(svComm* comm, const void* sendbuff, void* recvbuff, size_t count, svDataType_t datatype,
                               cudaStream_t stream) {
  deviceTimeoutCheck(comm, "svAllReduceSign");
  SVCHECK(checkNotFailed(comm, "svAllReduceSign"));
  CallScope scope(comm, "svAllReduceSign", stream);
  return scope.finish(runAllReduceSign(scope, comm, sendbuff, recvbuff, count, datatype, stream));
}

svResult_t deviceAllReduceSignPacked(svComm* comm, const uint32_t* sendbits, uint32_t* recvbits, size_t count,
                                     cudaStream_t stream) {
  deviceTimeoutCheck(comm, "svAllReduceSignPacked");
  SVCHECK(checkNotFailed(comm, "svAllReduceSignPacked"));
  CallScope scope(comm, "svAllReduceSignPacked", stream);
  return scope.finish(runAllReduceSignPacked(scope, comm, sendbits, recvbits, count, stream));
}

svResult_t devicePackSigns(svComm* comm, const void* sendbuff, uint32_t* bits, size_t count, svDataType_t datatype,
                           cudaStream_t stream) {
  SVCHECK(checkNotFailed(comm, "svPackSigns"));
  CallScope scope(comm, "svPackSigns", stream);
  return scope.finish(runPackSigns(scope, comm, sendbuff, bits, count, datatype, stream));
}

svResult_t deviceCheckBuffers(svComm* comm, const char* where, const void* send, const char* sendName,
                              const void* recv, const char* recvName, size_t count) {
  return checkBuffers(comm, where, send, sendName, recv, recvName, count);
}

svResult_t deviceAllReduceGroup(svComm* comm, const GroupCall* const* calls, size_t ncalls, const size_t* first) {
  deviceTimeoutCheck(comm, "svGroupEnd");
  SVCHECK(checkNotFailed(comm, "svGroupEnd"));
  CallScope scope(comm, "svGroupEnd", calls[0]->stream);
  return scope.finish(runGroup(scope, comm, calls, ncalls, first));
}

svResult_t deviceUnpackSigns(svComm* comm, const uint32_t* bits, void* recvbuff, size_t count, svDataType_t datatype,
                             cudaStream_t stream) {
  SVCHECK(checkNotFailed(comm, "svUnpackSigns"));
  CallScope scope(comm, "svUnpackSigns", stream);
  return scope.finish(runUnpackSigns(scope, comm, bits, recvbuff, count, datatype, stream));
}

}  // namespace sv
