// SPDX-License-Identifier: MIT
// The emulated NCCL (include/nccl.h here; tests only): communicators of
// thread-ranks in one process. Every collective, and every group of
// ncclSend/ncclRecv, is one operation on the caller's emulated stream; when
// the stream runs it, the ranks meet in a rendezvous (the k-th operation of
// each rank's communicator with the k-th of every other, as NCCL matches
// them by order), each pulls what it receives from its peers' send buffers,
// and none leaves before all have read its buffers. A group must involve
// every rank of the communicator (true of the all-to-all and all-gather
// signvote issues).
//
// A non-blocking communicator (ncclCommInitRankConfig, blocking = 0)
// answers ncclInProgress to its init, to each collective and group end and
// to ncclCommFinalize, and ncclCommGetAsyncError says ncclInProgress for the
// next two polls, as NCCL does while it finishes the call in the
// background. The operation itself is enqueued at once.
//
// ncclCommAbort wakes this rank's waiting operations, which give up; peers
// still waiting for it keep waiting, as with NCCL, until they abort too.
// ncclGetVersion reports SV_EMU_NCCL_VERSION (default 21800, the oldest NCCL
// signvote supports); from 22800 signvote finds ncclAlltoAll with dlsym (the
// test executables export it).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "emu_runtime.h"
#include "nccl.h"

namespace {

struct Xfer {
  int peer;
  char* ptr;
  size_t bytes;
};
struct Round {
  std::vector<std::vector<Xfer>> sends, recvs;
  int posted = 0, done = 0;
};
struct World {
  std::mutex m;
  std::condition_variable cv;
  int nranks = 0, joined = 0;
  std::vector<bool> taken;
  std::map<uint64_t, Round> rounds;
};

}  // namespace

struct ncclComm {
  std::shared_ptr<World> world;
  int rank = 0, nranks = 1, device = 0;
  std::atomic<uint64_t> seq{0};  // operations started on this rank, in stream order
  std::atomic<bool> aborted{false};
  std::atomic<int> asyncError{ncclSuccess};
  bool blocking = true;
  std::atomic<int> pendingPolls{0};  // non-blocking: polls until the last call settles
};

namespace {

thread_local std::string tLastError;

ncclResult_t fail(ncclResult_t r, const char* fmt, const char* arg = "") {
  char buf[256];
  snprintf(buf, sizeof buf, fmt, arg);
  tLastError = buf;
  return r;
}

size_t typeBytes(ncclDataType_t t) {
  switch (t) {
    case ncclInt8:
    case ncclUint8: return 1;
    case ncclFloat16:
    case ncclBfloat16: return 2;
    case ncclInt32:
    case ncclUint32:
    case ncclFloat32: return 4;
    case ncclInt64:
    case ncclUint64:
    case ncclFloat64: return 8;
    default: return 0;
  }
}

// One rank's part of one operation: runs on the stream's worker.
void runRound(const std::shared_ptr<ncclComm>& comm, const std::vector<Xfer>& sends, const std::vector<Xfer>& recvs) {
  if (comm->aborted.load()) return;
  for (const Xfer& x : sends)
    if (!svemu::accessible(x.ptr, x.bytes, "NCCL send buffer")) return;
  for (const Xfer& x : recvs)
    if (!svemu::accessible(x.ptr, x.bytes, "NCCL receive buffer")) return;
  World* w = comm->world.get();
  const int me = comm->rank, P = comm->nranks;
  const uint64_t k = comm->seq.fetch_add(1);
  std::unique_lock<std::mutex> lock(w->m);
  Round& r = w->rounds[k];
  if (r.sends.empty()) {
    r.sends.resize(P);
    r.recvs.resize(P);
  }
  r.sends[me] = sends;
  r.recvs[me] = recvs;
  ++r.posted;
  w->cv.notify_all();
  while (r.posted < P) {
    w->cv.wait_for(lock, std::chrono::milliseconds(5));
    if (comm->aborted.load() && r.posted < P) {  // withdraw: nobody has read my buffers
      r.sends[me].clear();
      r.recvs[me].clear();
      --r.posted;
      w->cv.notify_all();
      return;
    }
  }
  lock.unlock();
  // Every rank has posted: pull my receives from the peers' sends (the j-th
  // receive from a peer matches its j-th send to me).
  bool mismatch = false;
  std::vector<size_t> used(P, 0);
  for (const Xfer& rx : recvs) {
    const std::vector<Xfer>& theirs = r.sends[rx.peer];
    size_t seen = 0;
    const Xfer* tx = nullptr;
    for (const Xfer& s : theirs)
      if (s.peer == me && seen++ == used[rx.peer]) {
        tx = &s;
        break;
      }
    ++used[rx.peer];
    if (tx == nullptr || tx->bytes != rx.bytes) {
      mismatch = true;
      continue;
    }
    if (tx->ptr != rx.ptr) memmove(rx.ptr, tx->ptr, rx.bytes);
  }
  if (mismatch) {
    fprintf(stderr, "svemu NCCL: rank %d: operation %llu: receives do not match the peers' sends\n", me,
            static_cast<unsigned long long>(k));
    comm->asyncError.store(ncclInvalidUsage);
  }
  lock.lock();
  ++r.done;
  w->cv.notify_all();
  // Peers may still be reading my send buffers.
  w->cv.wait(lock, [&] { return r.done >= P; });
  if (++r.posted == 2 * P) w->rounds.erase(k);  // the last rank out frees the round
}

// The group being built on this thread (ncclGroupStart .. ncclGroupEnd).
struct Pending {
  std::shared_ptr<ncclComm> comm;
  cudaStream_t stream;
  std::vector<Xfer> sends, recvs;
};
thread_local int tGroupDepth = 0;
thread_local int tFailNext = 0;  // svemu::ncclFailNextCalls
thread_local std::vector<Pending> tGroup;

// Communicators by handle: ops hold shared ownership, so a destroyed or
// aborted communicator lives until its queued operations are done.
std::mutex gCommsMutex;
std::map<ncclComm*, std::shared_ptr<ncclComm>>& comms() {
  static auto* m = new std::map<ncclComm*, std::shared_ptr<ncclComm>>();
  return *m;
}
std::shared_ptr<ncclComm> lookup(ncclComm_t c) {
  std::lock_guard<std::mutex> lock(gCommsMutex);
  auto it = comms().find(c);
  return it == comms().end() ? nullptr : it->second;
}

// The answer of a call a non-blocking communicator has taken: in progress.
ncclResult_t taken(ncclComm* c) {
  if (c->blocking) return ncclSuccess;
  int ok = ncclSuccess;
  c->asyncError.compare_exchange_strong(ok, ncclInProgress);
  c->pendingPolls.store(2);
  return ncclInProgress;
}

bool injectedFailure() {
  if (tFailNext == 0) return false;
  --tFailNext;
  return true;
}

ncclResult_t submit(ncclComm_t c, cudaStream_t stream, std::vector<Xfer> sends, std::vector<Xfer> recvs) {
  if (tGroupDepth == 0 && injectedFailure()) return fail(ncclSystemError, "injected failure (svemu::ncclFailNextCalls)");
  std::shared_ptr<ncclComm> comm = lookup(c);
  if (!comm) return fail(ncclInvalidArgument, "invalid communicator");
  if (comm->aborted.load()) return fail(ncclInvalidUsage, "communicator aborted");
  if (tGroupDepth > 0) {
    for (Pending& p : tGroup)
      if (p.comm == comm) {
        p.sends.insert(p.sends.end(), sends.begin(), sends.end());
        p.recvs.insert(p.recvs.end(), recvs.begin(), recvs.end());
        return ncclSuccess;
      }
    tGroup.push_back(Pending{comm, stream, std::move(sends), std::move(recvs)});
    return ncclSuccess;
  }
  const cudaError_t e = svemu::enqueue(stream, [comm, sends, recvs] { runRound(comm, sends, recvs); });
  return e == cudaSuccess ? taken(comm.get()) : fail(ncclUnhandledCudaError, "enqueue failed: %s", cudaGetErrorString(e));
}

// ncclSend (send) or ncclRecv: one transfer with one peer, inside a group.
ncclResult_t pointToPoint(const char* name, void* buf, size_t count, ncclDataType_t dt, int peer, ncclComm_t comm,
                          cudaStream_t stream, bool send) {
  const size_t b = typeBytes(dt);
  std::shared_ptr<ncclComm> c = lookup(comm);
  if (!c || b == 0 || peer < 0 || peer >= c->nranks) return fail(ncclInvalidArgument, "%s: bad argument", name);
  if (tGroupDepth == 0) return fail(ncclInvalidUsage, "emulated %s works inside a group of every rank only", name);
  const Xfer x{peer, static_cast<char*>(buf), count * b};
  return send ? submit(comm, stream, {x}, {}) : submit(comm, stream, {}, {x});
}

// A collective that sends to and receives from every rank `count` elements:
// the same send buffer to all (all-gather), or rank q's block of it to rank q
// (all-to-all, sendPerPeer); rank q's data lands at block q of recvbuff.
ncclResult_t everyPeer(const char* name, const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t dt,
                       ncclComm_t comm, cudaStream_t stream, bool sendPerPeer) {
  const size_t b = typeBytes(dt) * count;
  std::shared_ptr<ncclComm> c = lookup(comm);
  if (!c || typeBytes(dt) == 0) return fail(ncclInvalidArgument, "%s: bad argument", name);
  std::vector<Xfer> sends, recvs;
  char* send = const_cast<char*>(static_cast<const char*>(sendbuff));
  for (int q = 0; q < c->nranks; ++q) {
    sends.push_back(Xfer{q, send + (sendPerPeer ? q * b : 0), b});
    recvs.push_back(Xfer{q, static_cast<char*>(recvbuff) + q * b, b});
  }
  return submit(comm, stream, std::move(sends), std::move(recvs));
}

std::mutex gWorldsMutex;
std::map<std::string, std::shared_ptr<World>>& worlds() {
  static auto* m = new std::map<std::string, std::shared_ptr<World>>();
  return *m;
}

}  // namespace

void svemu::ncclFailNextCalls(int n) { tFailNext = n; }
static std::atomic<bool> gHoldInProgress{false};
void svemu::ncclHoldInProgress(bool hold) { gHoldInProgress.store(hold); }

extern "C" {

ncclResult_t ncclGetVersion(int* version) {
  if (version == nullptr) return ncclInvalidArgument;
  const char* v = getenv("SV_EMU_NCCL_VERSION");
  *version = v && *v ? atoi(v) : 21800;
  return ncclSuccess;
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  static std::atomic<unsigned long long> counter{0};
  if (id == nullptr) return ncclInvalidArgument;
  memset(id->internal, 0, sizeof(id->internal));
  snprintf(id->internal, sizeof(id->internal), "svemu-nccl pid %d id %llu", static_cast<int>(getpid()),
           counter.fetch_add(1));
  return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t* out, int nranks, ncclUniqueId id, int rank) {
  return ncclCommInitRankConfig(out, nranks, id, rank, nullptr);
}

ncclResult_t ncclCommFinalize(ncclComm_t comm) {
  std::shared_ptr<ncclComm> c = lookup(comm);
  if (!c) return ncclInvalidArgument;
  return taken(c.get());
}

ncclResult_t ncclCommInitRankConfig(ncclComm_t* out, int nranks, ncclUniqueId id, int rank, ncclConfig_t* config) {
  const bool blocking = config == nullptr || config->blocking != 0;
  if (out == nullptr || nranks < 1 || rank < 0 || rank >= nranks) return fail(ncclInvalidArgument, "bad rank/size");
  if (strncmp(id.internal, "svemu-nccl", 10) != 0) return fail(ncclInvalidArgument, "not an emulated unique id");
  const std::string key(id.internal, strnlen(id.internal, sizeof(id.internal)));
  std::shared_ptr<World> w;
  {
    std::lock_guard<std::mutex> lock(gWorldsMutex);
    auto& slot = worlds()[key];
    if (!slot) {
      slot = std::make_shared<World>();
      slot->nranks = nranks;
      slot->taken.assign(nranks, false);
    }
    w = slot;
  }
  {
    std::unique_lock<std::mutex> lock(w->m);
    if (w->nranks != nranks) return fail(ncclInvalidUsage, "ranks disagree on the communicator size");
    if (w->taken[rank]) return fail(ncclInvalidUsage, "rank joined twice");
    w->taken[rank] = true;
    ++w->joined;
    w->cv.notify_all();
    if (!w->cv.wait_for(lock, std::chrono::seconds(120), [&] { return w->joined == w->nranks; }))
      return fail(ncclSystemError, "ncclCommInitRank: not every rank joined within 120 s");
  }
  {
    std::lock_guard<std::mutex> lock(gWorldsMutex);
    worlds().erase(key);  // every rank is in: the id is used up
  }
  auto c = std::make_shared<ncclComm>();
  c->world = w;
  c->rank = rank;
  c->nranks = nranks;
  c->device = svemu::currentDevice();
  c->blocking = blocking;
  std::lock_guard<std::mutex> lock(gCommsMutex);
  comms()[c.get()] = c;
  *out = c.get();
  return taken(c.get());
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  std::lock_guard<std::mutex> lock(gCommsMutex);
  if (comms().erase(comm) == 0) return ncclInvalidArgument;
  return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t comm) {
  std::shared_ptr<ncclComm> c = lookup(comm);
  if (!c) return ncclInvalidArgument;
  c->aborted.store(true);
  {
    std::lock_guard<std::mutex> lock(c->world->m);
    c->world->cv.notify_all();
  }
  return ncclCommDestroy(comm);
}

// ncclCommGetAsyncError: a call in progress settles after two polls.
static ncclResult_t settled(ncclComm* c) {
  if (gHoldInProgress.load() && c->asyncError.load() == ncclInProgress) return ncclInProgress;
  if (c->pendingPolls.load() > 0 && c->pendingPolls.fetch_sub(1) == 1) {
    int busy = ncclInProgress;
    c->asyncError.compare_exchange_strong(busy, ncclSuccess);
  }
  return static_cast<ncclResult_t>(c->asyncError.load());
}

#define SV_EMU_GETTER(fn, type, arg, expr)                   \
  ncclResult_t fn(const ncclComm_t comm, type* arg) {        \
    std::shared_ptr<ncclComm> c = lookup(comm);              \
    if (!c || arg == nullptr) return ncclInvalidArgument;    \
    *arg = (expr);                                           \
    return ncclSuccess;                                      \
  }
SV_EMU_GETTER(ncclCommGetAsyncError, ncclResult_t, asyncError, settled(c.get()))
SV_EMU_GETTER(ncclCommCount, int, count, c->nranks)
SV_EMU_GETTER(ncclCommCuDevice, int, device, c->device)
SV_EMU_GETTER(ncclCommUserRank, int, rank, c->rank)
#undef SV_EMU_GETTER

const char* ncclGetErrorString(ncclResult_t r) {
  switch (r) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
    case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
    case ncclInternalError: return "internal error - please report this issue to the NCCL developers";
    case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
    case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
    default: return "unknown result code";
  }
}
const char* ncclGetLastError(ncclComm_t) { return tLastError.c_str(); }

ncclResult_t ncclGroupStart(void) {
  ++tGroupDepth;
  return ncclSuccess;
}
ncclResult_t ncclGroupEnd(void) {
  if (tGroupDepth == 0) return fail(ncclInvalidUsage, "ncclGroupEnd without ncclGroupStart");
  if (--tGroupDepth > 0) return ncclSuccess;
  std::vector<Pending> group;
  group.swap(tGroup);
  if (injectedFailure()) return fail(ncclSystemError, "injected failure (svemu::ncclFailNextCalls)");
  for (Pending& p : group) {
    std::shared_ptr<ncclComm> comm = p.comm;
    std::vector<Xfer> sends = std::move(p.sends), recvs = std::move(p.recvs);
    const cudaError_t e = svemu::enqueue(p.stream, [comm, sends, recvs] { runRound(comm, sends, recvs); });
    if (e != cudaSuccess) return fail(ncclUnhandledCudaError, "enqueue failed: %s", cudaGetErrorString(e));
  }
  ncclResult_t r = ncclSuccess;
  for (Pending& p : group)
    if (taken(p.comm.get()) == ncclInProgress) r = ncclInProgress;
  return r;
}

ncclResult_t ncclSend(const void* sendbuff, size_t count, ncclDataType_t dt, int peer, ncclComm_t comm,
                      cudaStream_t stream) {
  return pointToPoint("ncclSend", const_cast<void*>(sendbuff), count, dt, peer, comm, stream, true);
}
ncclResult_t ncclRecv(void* recvbuff, size_t count, ncclDataType_t dt, int peer, ncclComm_t comm,
                      cudaStream_t stream) {
  return pointToPoint("ncclRecv", recvbuff, count, dt, peer, comm, stream, false);
}

ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t dt, ncclComm_t comm,
                           cudaStream_t stream) {
  return everyPeer("ncclAllGather", sendbuff, recvbuff, count, dt, comm, stream, false);
}

ncclResult_t ncclAlltoAll(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t dt, ncclComm_t comm,
                          cudaStream_t stream) {
  return everyPeer("ncclAlltoAll", sendbuff, recvbuff, count, dt, comm, stream, true);
}

}  // extern "C"
