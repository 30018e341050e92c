// SPDX-License-Identifier: MIT
// The plan of a hierarchical vote (issue 15): ranks grouped into nodes,
// votes counted inside each node, only counts and voted bits between nodes.
// Pure functions of the node layout and a chunk's word count, the same on
// every rank, for the executors to follow (the unit test
// test_plan_hierarchy.cc replays it over the bit logic against the flat
// vote; the host pipeline in allreduce.cc runs it). Four exchanges per chunk:
//
//   A  inside each node: every rank sends each node peer the packed bits of
//      the slices that peer owns (an all-to-all over the node's ranks);
//      the owner counts them (countVotes, counterBits(L) planes per plane
//      set: pos, and neg under SV_ZERO_ABSTAIN).
//   B  between nodes: the owners of slice s (one per node) split it into N
//      sub-slices; the owner in node m gets every other owner's counts of
//      sub-slice m, adds them (counterAccumulate) and votes (voteCounts).
//   C  between nodes: each owner sends its voted sub-slices (outPlanes
//      words a word) back to the other owners of the slice.
//   D  inside each node: each owner sends its voted slices to its node's
//      peers (an all-gather over the node's ranks).
//
// Slices: S = the largest node's size; a chunk of W words is cut into S
// slices by segmentRange, and in a node of L ranks local rank l owns the
// contiguous slices [l*S/L, (l+1)*S/L), so every rank owns at least one and
// uneven nodes work. For N nodes of L ranks, a node's link carries per
// direction (N-1)/N x n x (counterBits(L) x planes + outPlanes) bits for n
// elements, against L x 2(P-L)/P x n bits for the flat all-to-all: N = 2,
// L = 4: n/4 bytes instead of n/2.
#pragma once

#include <stddef.h>

#include <algorithm>
#include <vector>

#include "bitlogic.h"

namespace sv {

struct NodeLayout {
  std::vector<int> nodeOf;                // rank -> node (nodes numbered by their lowest rank)
  std::vector<int> localOf;               // rank -> index within its node
  std::vector<std::vector<int>> members;  // node -> its ranks, ascending
  int slices = 1;                         // S: the largest node's size

  int nodes() const { return static_cast<int>(members.size()); }
  int size(int node) const { return static_cast<int>(members[node].size()); }

  // From any label per rank (a host name's index, MPI's shared-memory
  // split colour): ranks with equal labels share a node.
  static NodeLayout fromLabels(const std::vector<int>& label) {
    NodeLayout t;
    const int P = static_cast<int>(label.size());
    t.nodeOf.assign(P, -1);
    t.localOf.assign(P, 0);
    for (int r = 0; r < P; ++r) {
      if (t.nodeOf[r] >= 0) continue;
      const int n = t.nodes();
      t.members.emplace_back();
      for (int q = r; q < P; ++q)
        if (label[q] == label[r]) {
          t.nodeOf[q] = n;
          t.localOf[q] = static_cast<int>(t.members[n].size());
          t.members[n].push_back(q);
        }
      t.slices = std::max(t.slices, t.size(n));
    }
    return t;
  }
};

// The slices [*s0, *s1) owned by local rank `local` of `node`.
inline void ownedSlices(const NodeLayout& t, int node, int local, int* s0, int* s1) {
  const int L = t.size(node), S = t.slices;
  *s0 = local * S / L;
  *s1 = (local + 1) * S / L;
}

// Words [*begin, *begin + *len) of slice s in a chunk of `words` words.
inline void sliceRange(size_t words, const NodeLayout& t, int s, size_t* begin, size_t* len) {
  segmentRange(words, t.slices, s, begin, len);
}

// The words a rank owns: its slices, contiguous.
inline void ownedRange(size_t words, const NodeLayout& t, int node, int local, size_t* begin, size_t* len) {
  int s0, s1;
  ownedSlices(t, node, local, &s0, &s1);
  size_t b0, l0, b1, l1;
  sliceRange(words, t, s0, &b0, &l0);
  sliceRange(words, t, s1 - 1, &b1, &l1);
  *begin = b0;
  *len = b1 + l1 - b0;
}

// The rank of `node` that owns slice s.
inline int sliceOwner(const NodeLayout& t, int node, int s) {
  for (int l = 0; l < t.size(node); ++l) {
    int s0, s1;
    ownedSlices(t, node, l, &s0, &s1);
    if (s >= s0 && s < s1) return t.members[node][l];
  }
  return -1;  // s out of range
}

// Sub-slice m (voted by the slice's owner in node m) of slice s.
inline void subSliceRange(size_t words, const NodeLayout& t, int s, int m, size_t* begin, size_t* len) {
  size_t sb, sl;
  sliceRange(words, t, s, &sb, &sl);
  segmentRange(sl, t.nodes(), m, begin, len);
  *begin += sb;
}

// Planes of one word's counts from `node` (exchange B): counterBits of its
// size, per counted plane set (pos; and neg with inPlanes 2).
inline int countPlanes(const NodeLayout& t, int node, int inPlanes) {
  return counterBits(t.size(node)) * inPlanes;
}

// Words of sub-slices m of slices [a, b).
inline size_t subSliceWords(size_t words, const NodeLayout& t, int a, int b, int m) {
  size_t sum = 0;
  for (int s = a; s < b; ++s) {
    size_t sb, sl;
    subSliceRange(words, t, s, m, &sb, &sl);
    sum += sl;
  }
  return sum;
}

// The slices rank q (of another node) shares with this rank, [*a, *b):
// those both own. Empty (a >= b) when none.
inline void sharedSlices(const NodeLayout& t, int s0, int s1, int q, int* a, int* b) {
  int q0, q1;
  ownedSlices(t, t.nodeOf[q], t.localOf[q], &q0, &q1);
  *a = std::max(s0, q0);
  *b = std::min(s1, q1);
}

// Calls f(m, q, a, b) for every rank q of every other node m that owns some
// of my slices [s0, s1): [a, b) the slices both own (the exchanges B and C).
template <typename F>
void forSharingPeers(const NodeLayout& t, int node, int s0, int s1, F&& f) {
  for (int m = 0; m < t.nodes(); ++m) {
    if (m == node) continue;
    for (int q : t.members[m]) {
      int a, b;
      sharedSlices(t, s0, s1, q, &a, &b);
      if (a < b) f(m, q, a, b);
    }
  }
}

// One rank's view of a chunk of W words, and where each exchange's data
// lies in its staging slot (64-bit word offsets). Sections are per node m,
// in node order; inside a section, slices in order, so the block to or from
// one peer (the slices both own, sharedSlices) is contiguous.
//   aRecv     A: each node peer's bits of my owned words (L x ownLen x ip)
//   cntSend   my node's counts, section m: sub-slices m of my slices (cw a
//             word); B sends section m's blocks to node m, section n stays
//   cntRecv   B: section m, from node m: its counts of my sub-slices
//             (countGroup(m) a word)
//   votedSend my voted sub-slices (op a word), which C sends to the others
//   votedRecv C: section m, from node m: its voted sub-slices of my slices
struct HierChunk {
  size_t words = 0;
  int node = 0, local = 0, L = 1, s0 = 0, s1 = 1;
  size_t ownBegin = 0, ownLen = 0;  // owned words, chunk-relative
  int ip = 1, op = 1, bits = 1;     // bits: counterBits(L); a count group is bits x ip words
  size_t aRecv = 0, cntSend = 0, cntRecv = 0, votedSend = 0, votedRecv = 0, total = 0;

  int countGroup(const NodeLayout& t, int m) const { return countPlanes(t, m, ip); }
  // Offsets of node m's section in cntSend, cntRecv and votedRecv.
  size_t cntSendSection(const NodeLayout& t, int m) const {
    size_t off = 0;
    for (int k = 0; k < m; ++k) off += subSliceWords(words, t, s0, s1, k) * countGroup(t, node);
    return off;
  }
  size_t cntRecvSection(const NodeLayout& t, int m) const {
    size_t groups = 0;
    for (int k = 0; k < m; ++k)
      if (k != node) groups += countGroup(t, k);
    return groups * subSliceWords(words, t, s0, s1, node);
  }
  size_t votedRecvSection(const NodeLayout& t, int m) const {
    size_t off = 0;
    for (int k = 0; k < m; ++k)
      if (k != node) off += subSliceWords(words, t, s0, s1, k) * op;
    return off;
  }
};

inline HierChunk hierChunk(const NodeLayout& t, size_t words, int me, int inPlanes, int outPlanes) {
  HierChunk h;
  h.words = words;
  h.node = t.nodeOf[me];
  h.local = t.localOf[me];
  h.L = t.size(h.node);
  h.ip = inPlanes;
  h.op = outPlanes;
  h.bits = counterBits(h.L);
  ownedSlices(t, h.node, h.local, &h.s0, &h.s1);
  ownedRange(words, t, h.node, h.local, &h.ownBegin, &h.ownLen);
  const size_t mine = subSliceWords(words, t, h.s0, h.s1, h.node);
  h.aRecv = 0;
  h.cntSend = h.aRecv + h.L * h.ownLen * h.ip;
  h.cntRecv = h.cntSend + h.ownLen * h.countGroup(t, h.node);
  h.votedSend = h.cntRecv + h.cntRecvSection(t, t.nodes());
  h.votedRecv = h.votedSend + mine * h.op;
  h.total = h.votedRecv + h.votedRecvSection(t, t.nodes());
  return h;
}

}  // namespace sv
