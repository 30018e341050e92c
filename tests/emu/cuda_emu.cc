// SPDX-License-Identifier: MIT
// The emulated CUDA runtime (include/cuda_runtime_api.h here; tests only).
//
//  - Memory: cudaMalloc and friends hand out host memory and remember it in a
//    registry, so cudaPointerGetAttributes answers as CUDA does and the
//    emulated kernels and copies check every range they touch
//    (svemu::accessible): a host pointer, freed staging or a range past an
//    allocation faults the context like an illegal address on a GPU. Freed
//    memory is filled with 0xDB before it goes.
//  - Streams: a worker thread per stream runs its operations in order,
//    asynchronously to the host. The legacy default stream (NULL) is one
//    more such stream. cudaFree waits for every stream first (CUDA frees
//    after a device-wide synchronisation).
//  - Events: a record count per event; cudaStreamWaitEvent waits for the
//    record enqueued last before it, as in CUDA.
//  - Capture: operations enqueued on a capturing stream are recorded into the
//    graph; cudaGraphLaunch enqueues them again. A synchronising or
//    allocating call from a thread in global capture mode while a stream
//    captures invalidates the capture (cudaErrorStreamCaptureUnsupported,
//    then cudaErrorStreamCaptureInvalidated from cudaStreamEndCapture).
//  - Faults: sticky; every call after one returns its error.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "cuda_runtime_api.h"
#include "emu_runtime.h"

struct CUgraph_st {
  std::vector<std::function<void()>> ops;
};
struct CUgraphExec_st {
  std::vector<std::function<void()>> ops;
};

namespace {

int envInt(const char* name, int dflt, int lo, int hi) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') return dflt;
  const int x = atoi(v);
  return x < lo ? lo : x > hi ? hi : x;
}
int deviceCount() {
  static const int n = envInt("SV_EMU_DEVICES", 8, 0, 16);
  return n;
}

std::atomic<int> gSticky{cudaSuccess};
thread_local cudaError_t tLastError = cudaSuccess;
thread_local int tDevice = 0;
thread_local cudaStreamCaptureMode tCaptureMode = cudaStreamCaptureModeGlobal;
thread_local svemu::Counters tCounters;  // svemu::threadCounters

cudaError_t ret(cudaError_t e) {
  if (e != cudaSuccess) tLastError = e;
  return e;
}
// Every entry point starts here: a faulted context fails every call.
#define SV_EMU_ENTER()                                                   \
  do {                                                                   \
    ++tCounters.apiCalls;                                                \
    const int sticky_ = gSticky.load(std::memory_order_acquire);         \
    if (sticky_ != cudaSuccess) return ret(static_cast<cudaError_t>(sticky_)); \
  } while (0)

// ---- Memory registry -------------------------------------------------------
enum class Kind { kDevice, kManaged, kPinned, kRegistered };
struct Alloc {
  size_t bytes;
  Kind kind;
  int device;
};
std::mutex gMemMutex;
std::map<uintptr_t, Alloc>& allocs() {
  static auto* m = new std::map<uintptr_t, Alloc>();  // never destroyed: worker threads may outlive main
  return *m;
}

// The allocation holding p, or allocs().end().
std::map<uintptr_t, Alloc>::iterator findAlloc(const void* p) {
  auto& m = allocs();
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = m.upper_bound(a);
  if (it == m.begin()) return m.end();
  --it;
  return a < it->first + std::max<size_t>(it->second.bytes, 1) ? it : m.end();
}

void* allocate(size_t bytes, Kind kind) {
  // 256-byte alignment, as cudaMalloc guarantees.
  const size_t n = (std::max<size_t>(bytes, 1) + 255) / 256 * 256;
  void* p = aligned_alloc(256, n);
  if (p == nullptr) return nullptr;
  memset(p, 0xCD, n);  // uninitialised device memory is not zero
  std::lock_guard<std::mutex> lock(gMemMutex);
  allocs()[reinterpret_cast<uintptr_t>(p)] = Alloc{bytes, kind, tDevice};
  return p;
}

cudaError_t release(void* p, bool host) {
  Alloc a;
  {
    std::lock_guard<std::mutex> lock(gMemMutex);
    auto it = allocs().find(reinterpret_cast<uintptr_t>(p));
    if (it == allocs().end() || (host != (it->second.kind == Kind::kPinned))) return cudaErrorInvalidValue;
    a = it->second;
    allocs().erase(it);
  }
  memset(p, 0xDB, a.bytes);
  free(p);
  return cudaSuccess;
}

// ---- Streams ---------------------------------------------------------------
struct StreamState : std::enable_shared_from_this<StreamState> {
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::function<void()>> q;
  uint64_t enqueued = 0, completed = 0;
  bool stop = false;
  int device = 0;
  // Capture.
  CUgraph_st* capture = nullptr;
  cudaStreamCaptureMode captureMode = cudaStreamCaptureModeGlobal;
  std::thread::id captureThread;
  bool invalidated = false;
};

}  // namespace

struct CUstream_st {
  std::shared_ptr<StreamState> s;
};
struct CUevent_st {
  std::shared_ptr<struct EventState> e;
};
struct EventState {
  std::mutex m;
  std::condition_variable cv;
  uint64_t recorded = 0, completed = 0;
};

namespace {

std::mutex gStreamsMutex;
std::set<StreamState*>& liveStreams() {
  static auto* s = new std::set<StreamState*>();
  return *s;
}

void workerLoop(std::shared_ptr<StreamState> s) {
  tDevice = s->device;
  std::unique_lock<std::mutex> lock(s->m);
  for (;;) {
    s->cv.wait(lock, [&] { return !s->q.empty() || s->stop; });
    if (s->q.empty()) break;  // stopped and drained
    std::function<void()> op = std::move(s->q.front());
    s->q.pop_front();
    lock.unlock();
    // A faulted context runs nothing more (its kernels would not launch).
    if (gSticky.load(std::memory_order_acquire) == cudaSuccess) op();
    op = nullptr;
    lock.lock();
    ++s->completed;
    s->cv.notify_all();
  }
  lock.unlock();  // lock order: gStreamsMutex before a stream's mutex
  std::lock_guard<std::mutex> g(gStreamsMutex);
  liveStreams().erase(s.get());
}

std::shared_ptr<StreamState> startStream(int device) {
  auto s = std::make_shared<StreamState>();
  s->device = device;
  {
    std::lock_guard<std::mutex> g(gStreamsMutex);
    liveStreams().insert(s.get());
  }
  std::thread(workerLoop, s).detach();  // the worker ends once destroyed and drained
  return s;
}

// The legacy default stream of the current device (one per device, as in
// CUDA); created at first use, kept as long as the process.
StreamState* legacyStream() {
  static std::mutex m;
  static StreamState* streams[16] = {};
  std::lock_guard<std::mutex> lock(m);
  StreamState*& s = streams[tDevice & 15];
  if (s == nullptr) s = (new std::shared_ptr<StreamState>(startStream(tDevice)))->get();
  return s;
}
StreamState* stateOf(cudaStream_t stream) { return stream == nullptr ? legacyStream() : stream->s.get(); }

bool capturingNow(StreamState* s) {
  std::lock_guard<std::mutex> l(s->m);
  return s->capture != nullptr;
}

void waitDrained(StreamState* s) {
  ++tCounters.hostWaits;
  std::unique_lock<std::mutex> lock(s->m);
  const uint64_t target = s->enqueued;
  s->cv.wait(lock, [&] { return s->completed >= target; });
}

// Streams capturing in a mode that this thread's synchronising call would
// violate: invalidates their captures and returns true.
bool violatesCapture() {
  if (tCaptureMode == cudaStreamCaptureModeRelaxed) return false;
  bool hit = false;
  std::lock_guard<std::mutex> g(gStreamsMutex);
  for (StreamState* s : liveStreams()) {
    std::lock_guard<std::mutex> l(s->m);
    if (s->capture == nullptr) continue;
    const bool applies = s->captureMode == cudaStreamCaptureModeGlobal ||
                         (s->captureMode == cudaStreamCaptureModeThreadLocal &&
                          s->captureThread == std::this_thread::get_id());
    if (applies) {
      s->invalidated = true;
      hit = true;
    }
  }
  return hit;
}
#define SV_EMU_UNSAFE_UNDER_CAPTURE() \
  do {                                \
    if (violatesCapture()) return ret(cudaErrorStreamCaptureUnsupported); \
  } while (0)

// cudaFree and cudaDeviceSynchronize: every stream of the current device
// drained (as NCCL requires, thread-ranks use one device each: two ranks on
// one device would wait for each other here, on a GPU as in the emulation).
void syncAllStreams() {
  std::vector<std::shared_ptr<StreamState>> all;
  {
    // A worker leaves the set before it lets go of its state, so every state
    // found here is alive.
    std::lock_guard<std::mutex> g(gStreamsMutex);
    for (StreamState* s : liveStreams())
      if (s->device == tDevice) all.push_back(s->shared_from_this());
  }
  for (auto& s : all) waitDrained(s.get());
}

std::mutex gFaultMutex;

}  // namespace

// ---- Internal interface (emu_runtime.h) ------------------------------------
namespace svemu {

Counters threadCounters() { return tCounters; }
void countLaunch() { ++tCounters.launches; }

cudaError_t enqueue(cudaStream_t stream, std::function<void()> op) {
  SV_EMU_ENTER();
  --tCounters.apiCalls;  // internal: the calling entry point counted already
  ++tCounters.streamOps;
  StreamState* s = stateOf(stream);
  std::lock_guard<std::mutex> lock(s->m);
  if (s->capture != nullptr) {
    s->capture->ops.push_back(std::move(op));
    return cudaSuccess;
  }
  s->q.push_back(std::move(op));
  ++s->enqueued;
  s->cv.notify_all();
  return cudaSuccess;
}

bool accessible(const void* p, size_t bytes, const char* what) {
  if (bytes == 0) return true;
  {
    std::lock_guard<std::mutex> lock(gMemMutex);
    auto it = findAlloc(p);
    if (it != allocs().end()) {
      const uintptr_t a = reinterpret_cast<uintptr_t>(p);
      if (a + bytes <= it->first + it->second.bytes) return true;
    }
  }
  char msg[256];
  snprintf(msg, sizeof msg, "%s: [%p, +%zu) is not device-accessible memory (host, freed or past an allocation)",
           what, p, bytes);
  fault(cudaErrorIllegalAddress, msg);
  return false;
}

void fault(cudaError_t e, const char* what) {
  std::lock_guard<std::mutex> lock(gFaultMutex);
  int expected = cudaSuccess;
  if (gSticky.compare_exchange_strong(expected, e))
    fprintf(stderr, "svemu: context faulted: %s (%s)\n", what, cudaGetErrorName(e));
}

int currentDevice() { return tDevice; }
int multiProcessors() {
  static const int n = envInt("SV_EMU_SMS", 2, 1, 1024);
  return n;
}

}  // namespace svemu

// Vector accesses of the emulated kernels (src/kernels/cuda/kernel_bodies.h): a GPU
// faults on a misaligned 16-byte load or store.
extern "C" void svemu_check_vector_access(const void* p, size_t bytes) {
  if (reinterpret_cast<uintptr_t>(p) % bytes != 0) {
    char msg[128];
    snprintf(msg, sizeof msg, "%zu-byte vector access at %p", bytes, p);
    svemu::fault(cudaErrorMisalignedAddress, msg);
  }
}

// ---- The runtime API -------------------------------------------------------
namespace {

struct ErrName {
  cudaError_t e;
  const char* name;
  const char* text;
};
const ErrName kErrors[] = {
    {cudaSuccess, "cudaSuccess", "no error"},
    {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
    {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
    {cudaErrorInitializationError, "cudaErrorInitializationError", "initialization error"},
    {cudaErrorInsufficientDriver, "cudaErrorInsufficientDriver",
     "CUDA driver version is insufficient for CUDA runtime version"},
    {cudaErrorNoDevice, "cudaErrorNoDevice", "no CUDA-capable device is detected"},
    {cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal"},
    {cudaErrorInvalidResourceHandle, "cudaErrorInvalidResourceHandle", "invalid resource handle"},
    {cudaErrorNotReady, "cudaErrorNotReady", "device not ready"},
    {cudaErrorIllegalAddress, "cudaErrorIllegalAddress", "an illegal memory access was encountered"},
    {cudaErrorMisalignedAddress, "cudaErrorMisalignedAddress", "misaligned address"},
    {cudaErrorLaunchFailure, "cudaErrorLaunchFailure", "unspecified launch failure"},
    {cudaErrorStreamCaptureUnsupported, "cudaErrorStreamCaptureUnsupported",
     "operation not permitted when stream is capturing"},
    {cudaErrorStreamCaptureInvalidated, "cudaErrorStreamCaptureInvalidated",
     "operation failed due to a previous error during capture"},
    {cudaErrorStreamCaptureUnmatched, "cudaErrorStreamCaptureUnmatched", "capture was not initiated in this stream"},
    {cudaErrorStreamCaptureWrongThread, "cudaErrorStreamCaptureWrongThread",
     "attempt to terminate a thread-local capture sequence from another thread"},
    {cudaErrorUnknown, "cudaErrorUnknown", "unknown error"},
};
const ErrName* errOf(cudaError_t e) {
  for (const ErrName& x : kErrors)
    if (x.e == e) return &x;
  return &kErrors[sizeof(kErrors) / sizeof(kErrors[0]) - 1];
}

bool validDevice(int d) { return d >= 0 && d < deviceCount(); }

// Device-accessible memory for a copy's device side (the check CUDA makes
// from the pointer's attributes, before the copy is enqueued).
bool deviceSide(const void* p, size_t n) {
  if (n == 0) return true;
  std::lock_guard<std::mutex> lock(gMemMutex);
  auto it = findAlloc(p);
  return it != allocs().end() && reinterpret_cast<uintptr_t>(p) + n <= it->first + it->second.bytes;
}
bool pinnedOrDevice(const void* p) {
  std::lock_guard<std::mutex> lock(gMemMutex);
  return findAlloc(p) != allocs().end();
}

cudaError_t checkCopy(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  if (n == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr) return cudaErrorInvalidValue;
  const bool dstDev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool srcDev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if ((dstDev && !deviceSide(dst, n)) || (srcDev && !deviceSide(src, n))) return cudaErrorInvalidValue;
  if (kind > cudaMemcpyDefault) return cudaErrorInvalidValue;
  return cudaSuccess;
}

}  // namespace

extern "C" {

const char* cudaGetErrorString(cudaError_t error) { return errOf(error)->text; }
const char* cudaGetErrorName(cudaError_t error) { return errOf(error)->name; }
cudaError_t cudaGetLastError(void) {
  ++tCounters.apiCalls;
  const int sticky = gSticky.load();
  if (sticky != cudaSuccess) return static_cast<cudaError_t>(sticky);
  const cudaError_t e = tLastError;
  tLastError = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError(void) {
  ++tCounters.apiCalls;
  const int sticky = gSticky.load();
  return sticky != cudaSuccess ? static_cast<cudaError_t>(sticky) : tLastError;
}

cudaError_t cudaDriverGetVersion(int* version) {
  if (version == nullptr) return ret(cudaErrorInvalidValue);
  *version = 13000;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* version) { return cudaDriverGetVersion(version); }
cudaError_t cudaGetDeviceCount(int* count) {
  ++tCounters.apiCalls;
  if (count == nullptr) return ret(cudaErrorInvalidValue);
  *count = deviceCount();
  return deviceCount() == 0 ? ret(cudaErrorNoDevice) : cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  SV_EMU_ENTER();
  if (device == nullptr) return ret(cudaErrorInvalidValue);
  if (deviceCount() == 0) return ret(cudaErrorNoDevice);
  *device = tDevice;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  SV_EMU_ENTER();
  if (!validDevice(device)) return ret(cudaErrorInvalidDevice);
  tDevice = device;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  SV_EMU_ENTER();
  if (value == nullptr || !validDevice(device)) return ret(cudaErrorInvalidValue);
  if (attr == cudaDevAttrMemoryPoolsSupported) {
    *value = 1;  // cudaMallocAsync / cudaFreeAsync are modelled
    return cudaSuccess;
  }
  if (attr != cudaDevAttrMultiProcessorCount) return ret(cudaErrorInvalidValue);
  *value = svemu::multiProcessors();
  return cudaSuccess;
}
cudaError_t cudaDeviceGetPCIBusId(char* pciBusId, int len, int device) {
  SV_EMU_ENTER();
  if (pciBusId == nullptr || len <= 0 || !validDevice(device)) return ret(cudaErrorInvalidValue);
  snprintf(pciBusId, static_cast<size_t>(len), "0000:e%d:00.0", device);  // no such bus: topology unknown
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) {
  SV_EMU_ENTER();
  SV_EMU_UNSAFE_UNDER_CAPTURE();
  syncAllStreams();
  SV_EMU_ENTER();
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** ptr, size_t size) {
  SV_EMU_ENTER();
  if (ptr == nullptr) return ret(cudaErrorInvalidValue);
  SV_EMU_UNSAFE_UNDER_CAPTURE();
  *ptr = allocate(size, Kind::kDevice);
  return *ptr ? cudaSuccess : ret(cudaErrorMemoryAllocation);
}
// Stream-ordered allocation: the memory exists at once (work ordered after
// the call may use it), and cudaFreeAsync releases it when the stream gets
// there. Under capture (a graph memory node in CUDA) it is refused here.
cudaError_t cudaMallocAsync(void** ptr, size_t size, cudaStream_t stream) {
  SV_EMU_ENTER();
  if (ptr == nullptr) return ret(cudaErrorInvalidValue);
  if (capturingNow(stateOf(stream))) return ret(cudaErrorStreamCaptureUnsupported);
  *ptr = allocate(size, Kind::kDevice);
  if (*ptr == nullptr) return ret(cudaErrorMemoryAllocation);
  return ret(svemu::enqueue(stream, [] {}));
}
cudaError_t cudaFreeAsync(void* ptr, cudaStream_t stream) {
  SV_EMU_ENTER();
  if (ptr == nullptr) return cudaSuccess;
  if (capturingNow(stateOf(stream))) return ret(cudaErrorStreamCaptureUnsupported);
  return ret(svemu::enqueue(stream, [ptr] { release(ptr, false); }));
}
cudaError_t cudaMallocManaged(void** ptr, size_t size, unsigned int) {
  SV_EMU_ENTER();
  if (ptr == nullptr) return ret(cudaErrorInvalidValue);
  SV_EMU_UNSAFE_UNDER_CAPTURE();
  *ptr = allocate(size, Kind::kManaged);
  return *ptr ? cudaSuccess : ret(cudaErrorMemoryAllocation);
}
cudaError_t cudaFree(void* ptr) {
  SV_EMU_ENTER();
  if (ptr == nullptr) return cudaSuccess;
  SV_EMU_UNSAFE_UNDER_CAPTURE();
  syncAllStreams();  // as CUDA: the device is idle before memory goes
  return ret(release(ptr, false));
}
cudaError_t cudaHostAlloc(void** ptr, size_t size, unsigned int) {
  SV_EMU_ENTER();
  if (ptr == nullptr) return ret(cudaErrorInvalidValue);
  SV_EMU_UNSAFE_UNDER_CAPTURE();
  *ptr = allocate(size, Kind::kPinned);
  return *ptr ? cudaSuccess : ret(cudaErrorMemoryAllocation);
}
cudaError_t cudaMallocHost(void** ptr, size_t size) { return cudaHostAlloc(ptr, size, cudaHostAllocDefault); }
cudaError_t cudaFreeHost(void* ptr) {
  SV_EMU_ENTER();
  if (ptr == nullptr) return cudaSuccess;
  syncAllStreams();
  return ret(release(ptr, true));
}
cudaError_t cudaHostGetDevicePointer(void** pDevice, void* pHost, unsigned int) {
  SV_EMU_ENTER();
  if (pDevice == nullptr || !pinnedOrDevice(pHost)) return ret(cudaErrorInvalidValue);
  *pDevice = pHost;  // unified addressing: the same address
  return cudaSuccess;
}
cudaError_t cudaHostRegister(void* ptr, size_t size, unsigned int) {
  SV_EMU_ENTER();
  if (ptr == nullptr || size == 0) return ret(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> lock(gMemMutex);
  if (findAlloc(ptr) != allocs().end()) return ret(cudaErrorInvalidValue);
  allocs()[reinterpret_cast<uintptr_t>(ptr)] = Alloc{size, Kind::kRegistered, tDevice};
  return cudaSuccess;
}
cudaError_t cudaHostUnregister(void* ptr) {
  SV_EMU_ENTER();
  std::lock_guard<std::mutex> lock(gMemMutex);
  auto it = allocs().find(reinterpret_cast<uintptr_t>(ptr));
  if (it == allocs().end() || it->second.kind != Kind::kRegistered) return ret(cudaErrorInvalidValue);
  allocs().erase(it);
  return cudaSuccess;
}
cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* a, const void* ptr) {
  SV_EMU_ENTER();
  if (a == nullptr) return ret(cudaErrorInvalidValue);
  SV_EMU_UNSAFE_UNDER_CAPTURE();
  memset(a, 0, sizeof(*a));
  a->device = -2;
  std::lock_guard<std::mutex> lock(gMemMutex);
  auto it = findAlloc(ptr);
  if (it == allocs().end()) {
    a->type = cudaMemoryTypeUnregistered;
    a->hostPointer = const_cast<void*>(ptr);
    return cudaSuccess;
  }
  const Kind k = it->second.kind;
  a->type = k == Kind::kDevice ? cudaMemoryTypeDevice : k == Kind::kManaged ? cudaMemoryTypeManaged : cudaMemoryTypeHost;
  a->device = it->second.device;
  a->devicePointer = const_cast<void*>(ptr);
  a->hostPointer = k == Kind::kDevice ? nullptr : const_cast<void*>(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t stream) {
  SV_EMU_ENTER();
  const cudaError_t e = checkCopy(dst, src, n, kind);
  if (e != cudaSuccess || n == 0) return ret(e);
  // From pageable host memory CUDA copies the source before it returns; to
  // pageable host memory the copy is synchronous. Pinned memory is async.
  if (kind == cudaMemcpyHostToDevice && !pinnedOrDevice(src)) {
    auto copy = std::make_shared<std::vector<char>>(static_cast<const char*>(src), static_cast<const char*>(src) + n);
    return ret(svemu::enqueue(stream, [=] {
      if (svemu::accessible(dst, n, "cudaMemcpyAsync destination")) memcpy(dst, copy->data(), n);
    }));
  }
  const bool toPageable = kind == cudaMemcpyDeviceToHost && !pinnedOrDevice(dst);
  const bool dstDev = kind != cudaMemcpyDeviceToHost && kind != cudaMemcpyHostToHost;
  const bool srcDev = kind != cudaMemcpyHostToDevice && kind != cudaMemcpyHostToHost;
  cudaError_t r = svemu::enqueue(stream, [=] {
    if (dstDev && kind != cudaMemcpyDefault && !svemu::accessible(dst, n, "cudaMemcpyAsync destination")) return;
    if (srcDev && kind != cudaMemcpyDefault && !svemu::accessible(src, n, "cudaMemcpyAsync source")) return;
    memmove(dst, src, n);
  });
  if (r == cudaSuccess && toPageable) {
    StreamState* s = stateOf(stream);
    if (!capturingNow(s)) waitDrained(s);
  }
  return ret(r);
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  SV_EMU_ENTER();
  SV_EMU_UNSAFE_UNDER_CAPTURE();
  const cudaError_t e = checkCopy(dst, src, n, kind);
  if (e != cudaSuccess || n == 0) return ret(e);
  waitDrained(legacyStream());
  memmove(dst, src, n);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t n, cudaStream_t stream) {
  SV_EMU_ENTER();
  if (n == 0) return cudaSuccess;
  if (!deviceSide(ptr, n)) return ret(cudaErrorInvalidValue);
  return ret(svemu::enqueue(stream, [=] {
    if (svemu::accessible(ptr, n, "cudaMemsetAsync")) memset(ptr, value, n);
  }));
}
cudaError_t cudaMemset(void* ptr, int value, size_t n) {
  SV_EMU_ENTER();
  SV_EMU_UNSAFE_UNDER_CAPTURE();
  if (n == 0) return cudaSuccess;
  if (!deviceSide(ptr, n)) return ret(cudaErrorInvalidValue);
  waitDrained(legacyStream());
  memset(ptr, value, n);
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int) {
  SV_EMU_ENTER();
  if (stream == nullptr) return ret(cudaErrorInvalidValue);
  *stream = new CUstream_st{startStream(tDevice)};
  return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  SV_EMU_ENTER();
  if (stream == nullptr) return ret(cudaErrorInvalidResourceHandle);
  {
    // As CUDA: returns at once; queued work still runs, then the worker ends.
    std::lock_guard<std::mutex> lock(stream->s->m);
    stream->s->stop = true;
    stream->s->cv.notify_all();
  }
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  SV_EMU_ENTER();
  StreamState* s = stateOf(stream);
  {
    std::lock_guard<std::mutex> l(s->m);
    if (s->capture != nullptr) {
      s->invalidated = true;
      return ret(cudaErrorStreamCaptureUnsupported);
    }
  }
  SV_EMU_UNSAFE_UNDER_CAPTURE();
  waitDrained(s);
  SV_EMU_ENTER();  // a fault in the work just finished
  return cudaSuccess;
}
cudaError_t cudaStreamQuery(cudaStream_t stream) {
  SV_EMU_ENTER();
  StreamState* s = stateOf(stream);
  std::lock_guard<std::mutex> l(s->m);
  return s->completed >= s->enqueued ? cudaSuccess : cudaErrorNotReady;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int) {
  SV_EMU_ENTER();
  if (event == nullptr) return ret(cudaErrorInvalidResourceHandle);
  std::shared_ptr<EventState> e = event->e;
  uint64_t target;
  {
    std::lock_guard<std::mutex> l(e->m);
    target = e->recorded;
  }
  if (target == 0) return cudaSuccess;  // never recorded: nothing to wait for
  return ret(svemu::enqueue(stream, [e, target] {
    std::unique_lock<std::mutex> l(e->m);
    e->cv.wait(l, [&] { return e->completed >= target; });
  }));
}
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  SV_EMU_ENTER();
  if (status == nullptr) return ret(cudaErrorInvalidValue);
  StreamState* s = stateOf(stream);
  std::lock_guard<std::mutex> l(s->m);
  *status = s->capture == nullptr ? cudaStreamCaptureStatusNone
            : s->invalidated      ? cudaStreamCaptureStatusInvalidated
                                  : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  SV_EMU_ENTER();
  if (stream == nullptr) return ret(cudaErrorStreamCaptureUnsupported);  // not the legacy stream
  StreamState* s = stateOf(stream);
  std::lock_guard<std::mutex> l(s->m);
  if (s->capture != nullptr) return ret(cudaErrorInvalidValue);
  s->capture = new CUgraph_st();
  s->captureMode = mode;
  s->captureThread = std::this_thread::get_id();
  s->invalidated = false;
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  SV_EMU_ENTER();
  if (graph == nullptr || stream == nullptr) return ret(cudaErrorInvalidValue);
  StreamState* s = stateOf(stream);
  std::lock_guard<std::mutex> l(s->m);
  if (s->capture == nullptr) return ret(cudaErrorStreamCaptureUnmatched);
  if (s->captureMode == cudaStreamCaptureModeThreadLocal && s->captureThread != std::this_thread::get_id())
    return ret(cudaErrorStreamCaptureWrongThread);
  CUgraph_st* g = s->capture;
  s->capture = nullptr;
  if (s->invalidated) {
    delete g;
    *graph = nullptr;
    return ret(cudaErrorStreamCaptureInvalidated);
  }
  *graph = g;
  return cudaSuccess;
}
cudaError_t cudaThreadExchangeStreamCaptureMode(cudaStreamCaptureMode* mode) {
  ++tCounters.apiCalls;
  if (mode == nullptr) return ret(cudaErrorInvalidValue);
  std::swap(*mode, tCaptureMode);
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int) {
  SV_EMU_ENTER();
  if (event == nullptr) return ret(cudaErrorInvalidValue);
  *event = new CUevent_st{std::make_shared<EventState>()};
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, cudaEventDefault); }
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  SV_EMU_ENTER();
  if (event == nullptr) return ret(cudaErrorInvalidResourceHandle);
  delete event;  // pending records and waits keep the state alive
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  SV_EMU_ENTER();
  if (event == nullptr) return ret(cudaErrorInvalidResourceHandle);
  std::shared_ptr<EventState> e = event->e;
  uint64_t target = 0;
  if (!capturingNow(stateOf(stream))) {
    std::lock_guard<std::mutex> l(e->m);
    target = ++e->recorded;
  }
  return ret(svemu::enqueue(stream, [e, target] {
    std::lock_guard<std::mutex> l(e->m);
    e->completed = std::max(e->completed, target ? target : e->recorded);
    e->cv.notify_all();
  }));
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  SV_EMU_ENTER();
  if (event == nullptr) return ret(cudaErrorInvalidResourceHandle);
  SV_EMU_UNSAFE_UNDER_CAPTURE();
  std::shared_ptr<EventState> e = event->e;
  ++tCounters.hostWaits;
  {
    std::unique_lock<std::mutex> l(e->m);
    const uint64_t target = e->recorded;
    e->cv.wait(l, [&] { return e->completed >= target; });
  }
  SV_EMU_ENTER();
  return cudaSuccess;
}
cudaError_t cudaEventQuery(cudaEvent_t event) {
  SV_EMU_ENTER();
  if (event == nullptr) return ret(cudaErrorInvalidResourceHandle);
  std::lock_guard<std::mutex> l(event->e->m);
  return event->e->completed >= event->e->recorded ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  SV_EMU_ENTER();
  if (exec == nullptr || graph == nullptr) return ret(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->ops};
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  SV_EMU_ENTER();
  if (exec == nullptr) return ret(cudaErrorInvalidValue);
  for (const auto& op : exec->ops) {
    const cudaError_t e = svemu::enqueue(stream, op);
    if (e != cudaSuccess) return ret(e);
  }
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

}  // extern "C"
