// SPDX-License-Identifier: MIT
// svGroupStart / svGroupEnd: the all-reduces a thread makes between them are
// queued and, at the outermost svGroupEnd, run as one exchange per
// communicator, as NCCL fuses a group. A trainer voting each of its
// tensors then pays one call's latency and one pipeline's fill, not one per
// tensor (ResNet-50 has 161).
//
// The fused call lays the tensors out one after another, each from a
// 64-element word boundary, and runs the engine once over all the words
// (allReduceSignCustom; on a device communicator the stream executor's
// deviceAllReduceGroup, same layout) with a pack and an unpack that walk
// the tensors;
// the vote is per element, so the result of each tensor is what its own
// call gives, bit for bit, except random ties: those are drawn from the
// group's call number and each element's position in the layout.
#include "group.h"

#include <string.h>

#include <algorithm>
#include <vector>

#include "allreduce_custom.h"
#include "bitlogic.h"
#include "comm.h"
#include "datatype.h"
#include "debug.h"
#include "device/device.h"
#include "kernels/host/host_isa.h"
#include "kernels/host/host_kernels.h"

namespace sv {
namespace {

struct Pending {
  svComm* comm;  // holds a reference (commAcquire) until svGroupEnd
  GroupCall call;
};

thread_local int tlsDepth = 0;
thread_local std::vector<Pending> tlsPending;

// The queued calls of one communicator as one exchange.
svResult_t runFused(svComm* comm, const std::vector<const GroupCall*>& calls) {
  static const char* where = "svGroupEnd";
  SVCHECK(commCheck(comm, where));  // destroyed or aborted during the group
  const size_t n = calls.size();
  std::vector<size_t> first(n + 1, 0);  // first word of each tensor; first[n]: total
  for (size_t i = 0; i < n; ++i) first[i + 1] = first[i] + divUp(calls[i]->count, kWordBits);
  const size_t words = first[n];
  if (words == 0) return svSuccess;  // nothing to exchange: no call
  if (comm->device) {  // the stream executor's fused call (device_allreduce.cc), same layout
    const svResult_t r = deviceAllReduceGroup(comm, calls.data(), n, first.data());
    if (r != svSuccess) commSetLastError(comm, threadLastError());
    return r;
  }
  int ip = 1, op = 1;
  customPlanes(comm, words * kWordBits, &ip, &op);
  const double scale = comm->config.scale;
  // The tensors are pieces of one large output: stream their stores as a
  // single call's would be (host_kernels.h).
  size_t outBytes = 0;
  for (const GroupCall* c : calls)
    outBytes += c->datatype == kGroupPackedBits ? c->count / 8 : c->count * dtSize(static_cast<svDataType_t>(c->datatype));
  const bool large = outBytes >= host::kStreamOutputBytes;
  // Runs f(i, tensor's first word in range, words, offset of the range) for
  // every tensor overlapping words [w0, w0 + nw).
  auto forEach = [&](size_t w0, size_t nw, auto&& f) {
    size_t i = std::upper_bound(first.begin(), first.end(), w0) - first.begin() - 1;
    for (; i < n && first[i] < w0 + nw; ++i) {
      const size_t s0 = std::max(w0, first[i]), s1 = std::min(w0 + nw, first[i + 1]);
      if (s0 < s1) f(i, s0 - first[i], s1 - s0, s0 - w0);
    }
  };
  auto pack = [&](size_t w0, size_t nw, uint64_t* out) -> uint64_t {
    uint64_t nans = 0;
    forEach(w0, nw, [&](size_t i, size_t tw, size_t tn, size_t at) {
      const GroupCall& c = *calls[i];
      if (c.datatype == kGroupPackedBits) {
        copyBitsIn(static_cast<const uint32_t*>(c.send), c.count, tw, tn, out + at * ip);
        return;
      }
      const svDataType_t dt = static_cast<svDataType_t>(c.datatype);
      const size_t e0 = tw * kWordBits, m = std::min(tn * kWordBits, c.count - e0);
      nans += host::pack(static_cast<const char*>(c.send) + e0 * dtSize(dt), m, dt, ip, out + at * ip);
    });
    return nans;
  };
  auto unpack = [&](size_t w0, size_t nw, const uint64_t* in) {
    forEach(w0, nw, [&](size_t i, size_t tw, size_t tn, size_t at) {
      const GroupCall& c = *calls[i];
      if (c.datatype == kGroupPackedBits) {
        copyBitsOut(in + at * op, c.count, tw, tn, static_cast<uint32_t*>(c.recv));
        return;
      }
      const svDataType_t dt = static_cast<svDataType_t>(c.datatype);
      const size_t e0 = tw * kWordBits, m = std::min(tn * kWordBits, c.count - e0);
      host::unpack(in + at * op, op, m, dt, outputBits(dt, scale), static_cast<char*>(c.recv) + e0 * dtSize(dt), large);
    });
  };
  return allReduceSignCustom(comm, where, words * kWordBits, pack, unpack);
}

}  // namespace

bool inGroup() { return tlsDepth > 0; }

svResult_t groupAdd(svComm* comm, const GroupCall& call, const char* where) {
  SVCHECK(commAcquire(comm, where));
  try {
    tlsPending.push_back({comm, call});
  } catch (const std::bad_alloc&) {
    commRelease(comm);
    return setError(comm, svSystemError, where, "out of memory queueing a call of the group");
  }
  return svSuccess;
}

}  // namespace sv

using namespace sv;

extern "C" {

svResult_t svGroupStart(void) {
  if (tlsDepth == 1 << 20) return setError(nullptr, svInvalidUsage, "svGroupStart", "groups nested too deep");
  ++tlsDepth;
  return svSuccess;
}

svResult_t svGroupEnd(void) {
  if (tlsDepth == 0) return setError(nullptr, svInvalidUsage, "svGroupEnd", "no svGroupStart on this thread");
  if (--tlsDepth > 0) return svSuccess;
  std::vector<Pending> pending;
  pending.swap(tlsPending);
  // One exchange per communicator, in the order of each one's first call
  // (the same on every rank of a program that groups alike).
  std::vector<svComm*> order;
  for (const Pending& p : pending)
    if (std::find(order.begin(), order.end(), p.comm) == order.end()) order.push_back(p.comm);
  svResult_t first = svSuccess;
  std::vector<const GroupCall*> calls;
  for (svComm* comm : order) {
    calls.clear();
    for (const Pending& p : pending)
      if (p.comm == comm) calls.push_back(&p.call);
    const svResult_t r = runFused(comm, calls);
    if (first == svSuccess) first = r;
  }
  for (const Pending& p : pending) commRelease(p.comm);
  return first;
}

}  // extern "C"
