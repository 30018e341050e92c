// SPDX-License-Identifier: MIT
// svAllReduceSign and friends: argument checks, and the host executor of a
// call's plan (plan.h): the pipeline that runs pack -> exchange -> vote ->
// exchange -> unpack chunk by chunk on a communicator's transport.
//
// Two exchanges per chunk (DESIGN.md §2):
//   alltoall : every rank sends segment s of its bits to rank s; rank s votes
//              its segment over all P inputs; an all-gather spreads the voted
//              segments. 2(P-1)/P * n/8 bytes per rank.
//   allgather: one all-gather of every rank's bits; every rank votes all of
//              them. (P-1) * n/8 bytes, one round: wins for small n and P <= 2.
// Four for the hierarchical vote (plan_hierarchy.h): A inside nodes (bits to
// their owners, who count them), B between nodes (counts), C between nodes
// (voted bits), D inside nodes (voted bits to every node peer).
// All vote with the same bit logic on the same inputs, so the result does
// not depend on the algorithm.
#include <stdio.h>
#include <string.h>

#include <algorithm>

#include "allreduce_custom.h"
#include "check_signature.h"
#include "comm.h"
#include "datatype.h"
#include "deadline.h"
#include "debug.h"
#include "function_ref.h"
#include "group.h"
#include "kernels/host/host_kernels.h"
#include "plan.h"
#include "plan_hierarchy.h"

namespace sv {
namespace {

// One call's pipeline state. Chunks are started in order; a chunk occupies a
// slot (its receive buffer) from pack until unpack.
class Pipeline {
 public:
  using PackFn = FunctionRef<uint64_t(size_t firstWord, size_t words, uint64_t* out)>;
  using UnpackFn = FunctionRef<void(size_t firstWord, size_t words, const uint64_t* in)>;

  // Nothing here allocates on a call that reuses its communicator's staging:
  // the exchange sizes and the slots' requests live in the communicator.
  Pipeline(svComm* comm, const CallShape& s, const VoteParams& vp, Waiter& waiter)
      : comm_(comm), s_(s), vp_(vp), waiter_(waiter) {
    const size_t P = comm->nranks;
    if (comm->exchangeSizes.size() < 4 * P) comm->exchangeSizes.resize(4 * P);
    sendBytes_ = comm->exchangeSizes.data();
    sendOffs_ = sendBytes_ + P;
    recvBytes_ = sendOffs_ + P;
    recvOffs_ = recvBytes_ + P;
  }

  // The tag of chunk's exchanges of `kind` (transport.h).
  int tag(Tag kind, size_t chunk) const {
    return chunkTag(kind, vp_.call, chunk, chunk + 1 == s_.nchunks && s_.lastChunkFull);
  }

  // Runs every chunk. With deferUnpack the voted bits stay in comm->result
  // and the caller unpacks them. On failure every exchange still in flight
  // is abandoned (cancelled where the transport can).
  svResult_t run(const PackFn& pack, const UnpackFn& unpack, bool deferUnpack, uint64_t* nanCount) {
    const svResult_t r = runChunks(pack, unpack, deferUnpack, nanCount);
    if (r != svSuccess)
      for (RequestPtr& req : comm_->slotRequest) abandon(comm_, req);
    return r;
  }

 private:
  // A chunk's exchanges in order: flat plans use kFirst (and kSecond for the
  // all-to-all's all-gather); the hierarchical plan all four (A B C D).
  enum Stage { kFree, kFirstExchange, kCountsExchange, kVotedExchange, kSecondExchange, kStages };
  // A slot's request is comm->slotRequest[slot index]: kept between calls
  // so that the transport can reuse it (transport.h).
  struct Slot {
    Stage stage = kFree;
    size_t chunk = 0;
  };
  RequestPtr& request(int slotIndex) { return comm_->slotRequest[slotIndex]; }

  svResult_t runChunks(const PackFn& pack, const UnpackFn& unpack, bool deferUnpack, uint64_t* nanCount);
  svResult_t startChunk(Slot& slot, size_t chunk, int slotIndex, const PackFn& pack, uint64_t* nanCount);
  svResult_t advance(Slot& slot, int slotIndex, const UnpackFn& unpack, bool deferUnpack, bool* finished);
  Stage nextStage(Stage st) const {
    if (s_.algorithm == SV_ALGO_HIERARCHICAL) return st == kSecondExchange ? kFree : static_cast<Stage>(st + 1);
    if (s_.algorithm == SV_ALGO_ALLTOALL && st == kFirstExchange) return kSecondExchange;
    return kFree;
  }
  // The hierarchical plan's steps between exchanges (after A: count and
  // start B; after B: vote and start C; after C: start D).
  svResult_t hierStep(Slot& slot, int slotIndex);
  void clearSizes() {
    memset(sendBytes_, 0, 4 * comm_->nranks * sizeof(size_t));
  }

  svComm* comm_;
  const CallShape& s_;
  const VoteParams& vp_;
  Waiter& waiter_;
  Slot slots_[kPipelineDepth];
  // Per-rank sizes and offsets of the exchange in flight (bytes), in
  // comm->exchangeSizes.
  size_t *sendBytes_, *sendOffs_, *recvBytes_, *recvOffs_;
  // The chunk whose exchange of each stage starts next: exchanges of one
  // kind share their tags, so every rank starts them in chunk order.
  size_t nextStart_[kStages] = {};
};

svResult_t Pipeline::startChunk(Slot& slot, size_t chunk, int slotIndex, const PackFn& pack, uint64_t* nanCount) {
  const int P = comm_->nranks, me = comm_->rank;
  const size_t ip = s_.inPlanes;
  const Chunk c = planChunk(s_, P, me, chunk);
  uint64_t* packed = comm_->packed.data() + c.first * ip;
  *nanCount += pack(c.first, c.words, packed);
  uint64_t* recv = comm_->recvSlot[slotIndex].data();
  Transport* t = comm_->transport.get();
  if (s_.algorithm == SV_ALGO_ALLTOALL) {
    for (int r = 0; r < P; ++r) {
      size_t b, l;
      segmentRange(c.words, P, r, &b, &l);
      sendBytes_[r] = l * ip * 8;
      sendOffs_[r] = b * ip * 8;
      recvBytes_[r] = c.myLen * ip * 8;
      recvOffs_[r] = r * c.myLen * ip * 8;
    }
    SVCHECK(t->allToAllv(packed, sendBytes_, sendOffs_, recv, recvBytes_, recvOffs_, tag(kTagAllToAll, chunk),
                         &request(slotIndex)));
  } else if (s_.algorithm == SV_ALGO_HIERARCHICAL) {
    // A: each node peer gets my bits of the words it owns.
    const NodeLayout& nodes = comm_->nodes;
    const HierChunk h = hierChunk(nodes, c.words, me, s_.inPlanes, s_.outPlanes);
    clearSizes();
    for (int q : nodes.members[h.node]) {
      size_t b, l;
      ownedRange(c.words, nodes, h.node, nodes.localOf[q], &b, &l);
      sendBytes_[q] = l * ip * 8;
      sendOffs_[q] = b * ip * 8;
      recvBytes_[q] = h.ownLen * ip * 8;
      recvOffs_[q] = (h.aRecv + nodes.localOf[q] * h.ownLen * ip) * 8;
    }
    SVCHECK(t->allToAllv(packed, sendBytes_, sendOffs_, recv, recvBytes_, recvOffs_, tag(kTagAllToAll, chunk),
                         &request(slotIndex)));
  } else {
    for (int r = 0; r < P; ++r) {
      recvBytes_[r] = c.words * ip * 8;
      recvOffs_[r] = r * c.words * ip * 8;
    }
    SVCHECK(t->allGatherv(packed, recv, recvBytes_, recvOffs_, tag(kTagAllGather, chunk), s_.nchunks == 1,
                          &request(slotIndex)));
  }
  slot.stage = kFirstExchange;
  slot.chunk = chunk;
  ++nextStart_[kFirstExchange];
  return svSuccess;
}

svResult_t Pipeline::hierStep(Slot& slot, int slotIndex) {
  const NodeLayout& t = comm_->nodes;
  const int me = comm_->rank, N = t.nodes();
  const Chunk c = planChunk(s_, comm_->nranks, me, slot.chunk);
  const HierChunk h = hierChunk(t, c.words, me, s_.inPlanes, s_.outPlanes);
  const size_t ip = s_.inPlanes, op = s_.outPlanes, cw = h.countGroup(t, h.node);
  uint64_t* slotBase = comm_->recvSlot[slotIndex].data();
  uint64_t* result = comm_->result.data() + c.first * op;
  Transport* tr = comm_->transport.get();
  clearSizes();
  if (slot.stage == kFirstExchange) {
    // Count my node's votes on my words, sub-slice by sub-slice into
    // cntSend's sections; then B: each section's blocks to their node.
    for (int m = 0; m < N; ++m) {
      uint64_t* out = slotBase + h.cntSend + h.cntSendSection(t, m);
      for (int sl = h.s0; sl < h.s1; ++sl) {
        size_t b, len;
        subSliceRange(c.words, t, sl, m, &b, &len);
        host::countVotes(slotBase + h.aRecv + (b - h.ownBegin) * ip, h.ownLen * ip, len, h.L, h.ip, h.bits, out);
        out += len * cw;
      }
    }
    forSharingPeers(t, h.node, h.s0, h.s1, [&](int m, int q, int a, int b) {
      const size_t qcw = h.countGroup(t, m);
      sendBytes_[q] = subSliceWords(c.words, t, a, b, m) * cw * 8;
      sendOffs_[q] = (h.cntSend + h.cntSendSection(t, m) + subSliceWords(c.words, t, h.s0, a, m) * cw) * 8;
      recvBytes_[q] = subSliceWords(c.words, t, a, b, h.node) * qcw * 8;
      recvOffs_[q] = (h.cntRecv + h.cntRecvSection(t, m) + subSliceWords(c.words, t, h.s0, a, h.node) * qcw) * 8;
    });
    SVCHECK(tr->allToAllv(slotBase, sendBytes_, sendOffs_, slotBase, recvBytes_, recvOffs_,
                          tag(kTagCounts, slot.chunk), &request(slotIndex)));
    slot.stage = kCountsExchange;
  } else if (slot.stage == kCountsExchange) {
    // Vote my sub-slices from every node's counts (mine and B's), keep them
    // in result; then C: them to the other owners of my slices.
    std::vector<const uint64_t*>& src = comm_->voteSources;
    std::vector<int>& bits = comm_->voteSourceBits;
    src.resize(N);
    bits.resize(N);
    for (int m = 0; m < N; ++m) bits[m] = counterBits(t.size(m));
    uint64_t* voted = slotBase + h.votedSend;
    size_t done = 0;  // words of my sub-slices before this slice
    for (int sl = h.s0; sl < h.s1; ++sl) {
      size_t b, len;
      subSliceRange(c.words, t, sl, h.node, &b, &len);
      for (int m = 0; m < N; ++m) {
        src[m] = m == h.node ? slotBase + h.cntSend + h.cntSendSection(t, m) + done * cw
                             : slotBase + h.cntRecv + h.cntRecvSection(t, m) + done * h.countGroup(t, m);
      }
      host::voteCounts(src.data(), bits.data(), N, len, vp_, c.first + b, voted + done * op);
      memcpy(result + b * op, voted + done * op, len * op * 8);
      done += len;
    }
    forSharingPeers(t, h.node, h.s0, h.s1, [&](int m, int q, int a, int b) {
      sendBytes_[q] = subSliceWords(c.words, t, a, b, h.node) * op * 8;
      sendOffs_[q] = (h.votedSend + subSliceWords(c.words, t, h.s0, a, h.node) * op) * 8;
      recvBytes_[q] = subSliceWords(c.words, t, a, b, m) * op * 8;
      recvOffs_[q] = (h.votedRecv + h.votedRecvSection(t, m) + subSliceWords(c.words, t, h.s0, a, m) * op) * 8;
    });
    SVCHECK(tr->allToAllv(slotBase, sendBytes_, sendOffs_, slotBase, recvBytes_, recvOffs_,
                          tag(kTagVoted, slot.chunk), &request(slotIndex)));
    slot.stage = kVotedExchange;
  } else {
    // The other nodes' voted sub-slices of my slices into result; then D:
    // my owned words to every node peer, theirs from them.
    for (int m = 0; m < N; ++m) {
      if (m == h.node) continue;
      const uint64_t* in = slotBase + h.votedRecv + h.votedRecvSection(t, m);
      for (int sl = h.s0; sl < h.s1; ++sl) {
        size_t b, len;
        subSliceRange(c.words, t, sl, m, &b, &len);
        memcpy(result + b * op, in, len * op * 8);
        in += len * op;
      }
    }
    for (int q : t.members[h.node]) {
      if (q == me) continue;
      size_t b, l;
      ownedRange(c.words, t, h.node, t.localOf[q], &b, &l);
      sendBytes_[q] = h.ownLen * op * 8;
      sendOffs_[q] = h.ownBegin * op * 8;
      recvBytes_[q] = l * op * 8;
      recvOffs_[q] = b * op * 8;
    }
    SVCHECK(tr->allToAllv(result, sendBytes_, sendOffs_, result, recvBytes_, recvOffs_,
                          tag(kTagAllGather, slot.chunk), &request(slotIndex)));
    slot.stage = kSecondExchange;
  }
  ++nextStart_[slot.stage];
  return svSuccess;
}

svResult_t Pipeline::advance(Slot& slot, int slotIndex, const UnpackFn& unpack, bool deferUnpack,
                             bool* finished) {
  *finished = false;
  const Stage next = nextStage(slot.stage);
  if (next != kFree && slot.chunk != nextStart_[next]) return svSuccess;  // an earlier chunk starts it first
  bool done = false;
  SVCHECK(comm_->transport->test(request(slotIndex).get(), &done));
  if (!done) return svSuccess;
  if (s_.algorithm == SV_ALGO_HIERARCHICAL && next != kFree) return hierStep(slot, slotIndex);
  const int P = comm_->nranks, me = comm_->rank;
  const size_t ip = s_.inPlanes, op = s_.outPlanes;
  const Chunk c = planChunk(s_, P, me, slot.chunk);
  uint64_t* result = comm_->result.data() + c.first * op;
  const uint64_t* recv = comm_->recvSlot[slotIndex].data();
  if (next == kSecondExchange) {
    // alltoall: vote my segment over all P inputs, then gather every
    // segment's result.
    host::vote(recv, c.myLen * ip, c.myLen, vp_, c.first + c.myBegin, result + c.myBegin * op);
    for (int r = 0; r < P; ++r) {
      size_t b, l;
      segmentRange(c.words, P, r, &b, &l);
      recvBytes_[r] = l * op * 8;
      recvOffs_[r] = b * op * 8;
    }
    SVCHECK(comm_->transport->allGatherv(result + c.myBegin * op, result, recvBytes_, recvOffs_,
                                         tag(kTagAllGather, slot.chunk), s_.nchunks == 1, &request(slotIndex)));
    slot.stage = kSecondExchange;
    ++nextStart_[kSecondExchange];
    return svSuccess;
  }
  if (slot.stage == kFirstExchange) {  // allgather: every rank votes everything
    host::vote(recv, c.words * ip, c.words, vp_, c.first, result);
  }
  if (!deferUnpack) unpack(c.first, c.words, result);
  slot.stage = kFree;
  *finished = true;
  return svSuccess;
}

svResult_t Pipeline::runChunks(const PackFn& pack, const UnpackFn& unpack, bool deferUnpack, uint64_t* nanCount) {
  Slot* slots = slots_;
  size_t next = 0, finished = 0;
  const int depth = s_.depth;
  while (finished < s_.nchunks) {
    bool progressed = false;
    // Advance chunks in flight, oldest first.
    int order[kPipelineDepth];
    for (int k = 0; k < depth; ++k) order[k] = k;
    for (int i = 1; i < depth; ++i)  // insertion sort by chunk: depth is tiny
      for (int j = i; j > 0 && slots[order[j]].chunk < slots[order[j - 1]].chunk; --j) std::swap(order[j], order[j - 1]);
    for (int i = 0; i < depth; ++i) {
      const int k = order[i];
      Slot& slot = slots[k];
      if (slot.stage == kFree) continue;
      const Stage before = slot.stage;
      bool fin = false;
      SVCHECK(advance(slot, k, unpack, deferUnpack, &fin));
      if (fin) ++finished;
      progressed |= fin || slot.stage != before;
    }
    // Start the next chunk in a free slot.
    for (int k = 0; k < depth && next < s_.nchunks; ++k) {
      if (slots[k].stage != kFree) continue;
      SVCHECK(startChunk(slots[k], next, k, pack, nanCount));
      ++next;
      progressed = true;
      break;
    }
    if (progressed) {
      waiter_.progressed();
    } else {
      // Nothing to do until the oldest chunk's exchange completes: poll it
      // against the deadline and the abort flag, then look at all again.
      int oldest = -1;
      Request* inflight[kPipelineDepth];
      int n = 0;
      for (int k = 0; k < depth; ++k) {
        if (slots[k].stage == kFree) continue;
        inflight[n++] = request(k).get();
        if (oldest < 0 || slots[k].chunk < slots[oldest].chunk) oldest = k;
      }
      if (oldest < 0) return setError(comm_, svInternalError, "pipeline", "stalled with no chunk in flight");
      bool done = false;
      SVCHECK(waiter_.idle(request(oldest).get(), inflight, n, &done));
    }
  }
  return svSuccess;
}

// Grow staging to fit a call (never shrinks: reused across calls).
svResult_t reserveStaging(svComm* comm, const CallShape& s) {
  try {
    const size_t packedWords = s.words * s.inPlanes;
    const size_t resultWords = s.words * s.outPlanes;
    size_t slotWords =
        s.algorithm == SV_ALGO_ALLTOALL ? segmentWords(s.chunkWords, comm->nranks) * comm->nranks * s.inPlanes
        : s.algorithm == SV_ALGO_HIERARCHICAL
            // at least a word: a rank owning no word of a tiny call still
            // passes (empty) pointers into its slot
            ? std::max<size_t>(hierChunk(comm->nodes, s.chunkWords, comm->rank, s.inPlanes, s.outPlanes).total, 1)
            : s.chunkWords * comm->nranks * s.inPlanes;
    if (comm->packed.size() < packedWords) comm->packed.resize(packedWords);
    if (comm->result.size() < resultWords) comm->result.resize(resultWords);
    for (int k = 0; k < s.depth; ++k)  // only the slots this call uses
      if (comm->recvSlot[k].size() < slotWords) comm->recvSlot[k].resize(slotWords);
  } catch (const std::bad_alloc&) {
    return setError(comm, svSystemError, "svAllReduceSign", "out of memory for staging buffers (%zu words)",
                    s.words);
  }
  return svSuccess;
}

// Shared by the typed and packed entry points: runs the call and the NaN
// agreement, accounts stats. pack/unpack adapt the user's buffers.
svResult_t runCallImpl(svComm* comm, const char* where, const CallShape& s, const Pipeline::PackFn& pack,
                       const Pipeline::UnpackFn& unpack, const CustomFinishFn& finish, int datatype,
                       bool* consistent);

// A failure that left the ranks out of step (a timeout, an abort, a
// transport error, a rank running out of memory) fails the communicator;
// one that every rank saw alike (SV_NAN_ERROR, SV_CHECK) does not.
svResult_t runCall(svComm* comm, const char* where, const CallShape& s, const Pipeline::PackFn& pack,
                   const Pipeline::UnpackFn& unpack, int datatype = 0, const CustomFinishFn& finish = nullptr) {
  SVCHECK(checkNotFailed(comm, where));
  bool consistent = false;
  const svResult_t r = runCallImpl(comm, where, s, pack, unpack, finish, datatype, &consistent);
  if (r != svSuccess && !consistent) {
    commSetLastError(comm, threadLastError());
    failComm(comm, r);
  }
  return r;
}

svResult_t runCallImpl(svComm* comm, const char* where, const CallShape& s, const Pipeline::PackFn& pack,
                       const Pipeline::UnpackFn& unpack, const CustomFinishFn& finish, int datatype,
                       bool* consistent) {
  const Config& c = comm->config;
  const uint64_t call = comm->callCount++;
  Waiter waiter(comm, where);
  if (c.check) {
    const CallSignature sig =
        callSignature(comm, datatype == 0 ? 2 : 1, s.count, datatype, s.algorithm, s.chunkWords, call);
    const svResult_t r = checkSignature(comm, where, waiter, sig, callTag(kTagControl, call));
    *consistent = r == svInvalidUsage;
    SVCHECK(r);
  }
  const uint64_t sentBefore = comm->transport->bytesSent();
  const uint64_t otherBefore = comm->transport->bytesSentOtherNodes();
  if (comm->loggedAlgorithm != s.algorithm) {
    SV_INFO(comm->rank, "%s: algorithm %s for %zu elements on %d ranks (%s), %zu chunk(s) of %zu words", where,
            algoName(s.algorithm), s.count, comm->nranks,
            s.algorithm == SV_ALGO_HIERARCHICAL
                ? (c.hierarchy == 1 ? "SV_HIERARCHY=on" : "SV_HIERARCHY=auto: ranks on 2+ nodes, a large call")
            : c.algorithm != SV_ALGO_AUTO ? "forced by SV_ALGO/config"
            : comm->nranks <= 2         ? "P <= 2: one round, same bytes"
                                        : "auto: (P-1) x packed bytes vs SV_ALLGATHER_THRESHOLD",
            s.nchunks, s.chunkWords);
    comm->loggedAlgorithm = s.algorithm;
  }
  SV_TRACE(comm->rank, "%s: call %llu count %zu algo %s chunks %zu planes %d/%d", where,
           (unsigned long long)call, s.count, algoName(s.algorithm), s.nchunks, s.inPlanes, s.outPlanes);
  uint64_t nans = 0;
  if (s.count > 0) {
    SVCHECK(reserveStaging(comm, s));
    VoteParams vp;
    vp.nranks = comm->nranks;
    vp.inPlanes = s.inPlanes;
    vp.outPlanes = s.outPlanes;
    vp.tie = c.tie;
    vp.seed = static_cast<uint64_t>(c.seed);
    vp.call = call;
    const bool nanError = c.nan == SV_NAN_ERROR;
    Pipeline pipe(comm, s, vp, waiter);
    SVCHECK(pipe.run(pack, unpack, nanError, &nans));
    if (nanError) {
      // Every rank learns every rank's NaN count, so all fail alike and the
      // message names the culprits. Nothing was written to recvbuff yet.
      comm->nanCounts[comm->rank] = nans;
      SVCHECK(controlAllGather(comm, waiter, &comm->nanCounts[comm->rank], comm->nanCounts.data(),
                               sizeof(unsigned long long), callTag(kTagControl, call)));
      char list[256] = "";
      size_t len = 0;
      unsigned long long total = 0;
      for (int r = 0; r < comm->nranks; ++r) {
        if (comm->nanCounts[r] == 0) continue;
        total += comm->nanCounts[r];
        if (len + 40 < sizeof(list))
          len += snprintf(list + len, sizeof(list) - len, "%s%d (%llu)", len ? ", " : "", r, comm->nanCounts[r]);
      }
      if (total == 0) {
        unpack(0, s.words, comm->result.data());
      } else {
        comm->stats.lastNanCount = nans;
        comm->stats.totalNanCount += nans;
        *consistent = true;
        return setError(comm, svInvalidArgument, where,
                        "SV_NAN_ERROR: %llu NaN input(s), on rank(s) %s; recvbuff untouched", total, list);
      }
    }
    if (finish) SVCHECK(finish(waiter, callTag(kTagControl, call)));
  }
  const uint64_t sent = comm->transport->bytesSent() - sentBefore;
  const uint64_t other = comm->transport->bytesSentOtherNodes() - otherBefore;
  comm->stats.calls++;
  comm->stats.bytesSent += sent;
  comm->stats.lastBytesSent = sent;
  comm->stats.bytesSentOtherNodes += other;
  comm->stats.lastBytesSentOtherNodes = other;
  comm->stats.lastNanCount = nans;
  comm->stats.totalNanCount += nans;
  comm->stats.lastAlgorithm = s.algorithm;
  return svSuccess;
}

// A transport reports its failures on the calling thread only (it has no
// communicator); make the communicator's last error say the same.
svResult_t onComm(svComm* comm, svResult_t r) {
  if (r != svSuccess) commSetLastError(comm, threadLastError());
  return r;
}

// Checks shared by the entry points. Returns svSuccess or the error set.
svResult_t checkCommon(svComm* comm, const char* where, const void* a, const char* aName, const void* b,
                       const char* bName, size_t count, size_t elemBytes) {
  if (count > 0 && a == nullptr) return setError(comm, svInvalidArgument, where, "%s is NULL with count %zu", aName, count);
  if (count > 0 && b == nullptr) return setError(comm, svInvalidArgument, where, "%s is NULL with count %zu", bName, count);
  // The byte size of the buffers must fit the address space (with room for
  // rounding up to whole words).
  if (count > (SIZE_MAX - 64 * 8) / elemBytes)
    return setError(comm, svInvalidArgument, where, "count %zu overflows the buffer size", count);
  return svSuccess;
}

svResult_t checkDatatype(svComm* comm, const char* where, int dt, const void* p1, const void* p2) {
  if (!dtValid(dt))
    return setError(comm, svInvalidArgument, where, "unknown datatype %d (svFloat16, svFloat32, svFloat64, svBfloat16)", dt);
  const size_t align = dtSize(static_cast<svDataType_t>(dt));
  if ((reinterpret_cast<uintptr_t>(p1) | reinterpret_cast<uintptr_t>(p2)) % align != 0)
    return setError(comm, svInvalidArgument, where, "buffer not aligned to %zu bytes for %s", align,
                    dtName(static_cast<svDataType_t>(dt)));
  return svSuccess;
}

}  // namespace

// Whole words of the packed API's 32-bit buffers copied into/out of 64-bit
// staging; unused bits beyond count are zeroed.
void copyBitsIn(const uint32_t* src, size_t count, size_t firstWord, size_t words, uint64_t* dst) {
  const size_t first32 = firstWord * 2, total32 = divUp(count, 32);
  const size_t n32 = std::min(words * 2, total32 - first32);
  memcpy(dst, src + first32, n32 * 4);
  if (n32 & 1) reinterpret_cast<uint32_t*>(dst)[n32] = 0;
  const size_t lastBit = count - firstWord * kWordBits;  // bits of this range that exist
  if (lastBit < words * kWordBits) {
    const size_t w = lastBit / kWordBits;
    if (lastBit % kWordBits) dst[w] &= (1ull << (lastBit % kWordBits)) - 1;
  }
}
void copyBitsOut(const uint64_t* src, size_t count, size_t firstWord, size_t words, uint32_t* dst) {
  const size_t first32 = firstWord * 2, total32 = divUp(count, 32);
  const size_t n32 = std::min(words * 2, total32 - first32);
  memcpy(dst + first32, src, n32 * 4);
  if (first32 + n32 == total32 && count % 32) dst[total32 - 1] &= (1u << (count % 32)) - 1;
}

}  // namespace sv

using namespace sv;

extern "C" {

svResult_t svAllReduceSign(const void* sendbuff, void* recvbuff, size_t count, svDataType_t datatype,
                           svComm_t comm, cudaStream_t stream) {
  static const char* where = "svAllReduceSign";
  CommRef ref(comm, where);  // keeps comm alive if another thread destroys or aborts it
  SVCHECK(ref.result());
  SVCHECK(checkCommon(comm, where, sendbuff, "sendbuff", recvbuff, "recvbuff", count, 8));
  SVCHECK(checkDatatype(comm, where, datatype, sendbuff, recvbuff));
  const size_t esz = dtSize(datatype);
  if (count > 0 && sendbuff != recvbuff) {
    const char* s = static_cast<const char*>(sendbuff);
    const char* r = static_cast<const char*>(recvbuff);
    if (s < r + count * esz && r < s + count * esz)
      return setError(comm, svInvalidArgument, where, "sendbuff and recvbuff overlap without being equal");
  }
  if (inGroup()) {
    if (comm->device) SVCHECK(deviceCheckBuffers(comm, where, sendbuff, "sendbuff", recvbuff, "recvbuff", count));
    return groupAdd(comm, {sendbuff, recvbuff, count, datatype, stream}, where);
  }
  if (comm->device) return onComm(comm, deviceAllReduceSign(comm, sendbuff, recvbuff, count, datatype, stream));
  const CallShape shape = planCall(comm, count, false);
  const OutputBits bits = outputBits(datatype, comm->config.scale);
  const int ip = shape.inPlanes, op = shape.outPlanes;
  auto pack = [&](size_t firstWord, size_t words, uint64_t* out) {
    const size_t e0 = firstWord * kWordBits, n = std::min(words * kWordBits, count - e0);
    return host::pack(static_cast<const char*>(sendbuff) + e0 * esz, n, datatype, ip, out);
  };
  auto unpack = [&](size_t firstWord, size_t words, const uint64_t* in) {
    const size_t e0 = firstWord * kWordBits, n = std::min(words * kWordBits, count - e0);
    host::unpack(in, op, n, datatype, bits, static_cast<char*>(recvbuff) + e0 * esz);
  };
  return onComm(comm, runCall(comm, where, shape, pack, unpack, datatype));
}

svResult_t svAllReduceSignPacked(const uint32_t* sendbits, uint32_t* recvbits, size_t count, svComm_t comm,
                                 cudaStream_t stream) {
  (void)stream;
  static const char* where = "svAllReduceSignPacked";
  CommRef ref(comm, where);  // keeps comm alive if another thread destroys or aborts it
  SVCHECK(ref.result());
  SVCHECK(checkCommon(comm, where, sendbits, "sendbits", recvbits, "recvbits", count, 1));
  if (comm->config.tie == SV_TIE_ZERO && comm->nranks % 2 == 0)
    return setError(comm, svInvalidUsage, where, "SV_TIE_ZERO needs two bits per element; the packed API carries one");
  if (comm->config.zero == SV_ZERO_ABSTAIN)
    return setError(comm, svInvalidUsage, where, "SV_ZERO_ABSTAIN needs two bits per element; the packed API carries one");
  if (count > 0 && sendbits != recvbits) {
    const size_t n32 = divUp(count, 32);
    if (sendbits < recvbits + n32 && recvbits < sendbits + n32)
      return setError(comm, svInvalidArgument, where, "sendbits and recvbits overlap without being equal");
  }
  if (inGroup()) {
    if (comm->device) SVCHECK(deviceCheckBuffers(comm, where, sendbits, "sendbits", recvbits, "recvbits", count));
    return groupAdd(comm, {sendbits, recvbits, count, kGroupPackedBits, stream}, where);
  }
  if (comm->device) return onComm(comm, deviceAllReduceSignPacked(comm, sendbits, recvbits, count, stream));
  const CallShape shape = planCall(comm, count, true);
  auto pack = [&](size_t firstWord, size_t words, uint64_t* out) -> uint64_t {
    copyBitsIn(sendbits, count, firstWord, words, out);
    return 0;
  };
  auto unpack = [&](size_t firstWord, size_t words, const uint64_t* in) {
    copyBitsOut(in, count, firstWord, words, recvbits);
  };
  return onComm(comm, runCall(comm, where, shape, pack, unpack));
}

svResult_t svPackSigns(const void* sendbuff, uint32_t* bits, size_t count, svDataType_t datatype, svComm_t comm,
                       cudaStream_t stream) {
  (void)stream;
  static const char* where = "svPackSigns";
  CommRef ref(comm, where);  // keeps comm alive if another thread destroys or aborts it
  SVCHECK(ref.result());
  SVCHECK(checkCommon(comm, where, sendbuff, "sendbuff", bits, "bits", count, 8));
  SVCHECK(checkDatatype(comm, where, datatype, sendbuff, nullptr));
  if (count == 0) return svSuccess;
  if (comm->device) return onComm(comm, devicePackSigns(comm, sendbuff, bits, count, datatype, stream));
  if (comm->config.nan == SV_NAN_ERROR) {
    const uint64_t nans = host::countNans(sendbuff, count, datatype);
    comm->stats.lastNanCount = nans;
    comm->stats.totalNanCount += nans;
    if (nans) return setError(comm, svInvalidArgument, where, "SV_NAN_ERROR: %llu NaN input(s); bits untouched",
                              (unsigned long long)nans);
  }
  // Whole 64-bit words straight into the caller's buffer when it is aligned
  // and long enough; the odd last 32-bit word through a temporary.
  const size_t n32 = divUp(count, 32);
  const size_t esz = dtSize(datatype);
  const size_t fullWords = (reinterpret_cast<uintptr_t>(bits) % 8 == 0) ? n32 / 2 : 0;
  uint64_t nans = 0;
  if (fullWords) nans += host::pack(sendbuff, std::min(count, fullWords * kWordBits), datatype, 1,
                                    reinterpret_cast<uint64_t*>(bits));
  for (size_t w = fullWords; w < divUp(count, kWordBits); ++w) {
    uint64_t tmp = 0;
    const size_t e0 = w * kWordBits, n = std::min<size_t>(kWordBits, count - e0);
    nans += host::pack(static_cast<const char*>(sendbuff) + e0 * esz, n, datatype, 1, &tmp);
    bits[2 * w] = static_cast<uint32_t>(tmp);
    if (2 * w + 1 < n32) bits[2 * w + 1] = static_cast<uint32_t>(tmp >> 32);
  }
  comm->stats.lastNanCount = nans;
  comm->stats.totalNanCount += nans;
  return svSuccess;
}

svResult_t svUnpackSigns(const uint32_t* bits, void* recvbuff, size_t count, svDataType_t datatype, svComm_t comm,
                         cudaStream_t stream) {
  (void)stream;
  static const char* where = "svUnpackSigns";
  CommRef ref(comm, where);  // keeps comm alive if another thread destroys or aborts it
  SVCHECK(ref.result());
  SVCHECK(checkCommon(comm, where, bits, "bits", recvbuff, "recvbuff", count, 8));
  SVCHECK(checkDatatype(comm, where, datatype, recvbuff, nullptr));
  if (count == 0) return svSuccess;
  if (comm->device) return onComm(comm, deviceUnpackSigns(comm, bits, recvbuff, count, datatype, stream));
  const OutputBits ob = outputBits(datatype, comm->config.scale);
  const size_t n32 = divUp(count, 32), esz = dtSize(datatype);
  const size_t fullWords = (reinterpret_cast<uintptr_t>(bits) % 8 == 0) ? n32 / 2 : 0;
  if (fullWords)
    host::unpack(reinterpret_cast<const uint64_t*>(bits), 1, std::min(count, fullWords * kWordBits), datatype, ob,
                 recvbuff);
  for (size_t w = fullWords; w < divUp(count, kWordBits); ++w) {
    const size_t e0 = w * kWordBits, n = std::min<size_t>(kWordBits, count - e0);
    uint64_t tmp = bits[2 * w];
    if (2 * w + 1 < n32) tmp |= static_cast<uint64_t>(bits[2 * w + 1]) << 32;
    host::unpack(&tmp, 1, n, datatype, ob, static_cast<char*>(recvbuff) + e0 * esz);
  }
  return svSuccess;
}

}  // extern "C"

// ---- Internal entry for fused callers (src/optimizer.cc) --------------------
// The engine with caller-supplied pack/unpack, so an optimizer step can fuse
// its element-wise update into the pipeline (see allreduce_custom.h).

namespace sv {

void customPlanes(const svComm* comm, size_t count, int* inPlanes, int* outPlanes) {
  const CallShape s = planCall(comm, count, false);
  *inPlanes = s.inPlanes;
  *outPlanes = s.outPlanes;
}

svResult_t allReduceSignCustom(svComm* comm, const char* where, size_t count, const CustomPackFn& pack,
                               const CustomUnpackFn& unpack, const CustomFinishFn& finish) {
  const CallShape shape = planCall(comm, count, false);
  return onComm(comm, runCall(comm, where, shape, pack, unpack, 0, finish));
}

}  // namespace sv
