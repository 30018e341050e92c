// SPDX-License-Identifier: MIT
// The hierarchical vote's plan (src/plan_hierarchy.h), replayed in one
// process over the bit logic: every rank's packed bits, exchange A as each
// owner reading its slices from its node's ranks and counting them,
// exchange B as each sub-slice's voter adding every node's counts and
// voting, C and D as the voted words landing in one result. The result
// must equal the flat vote (voteWord over all ranks) bit for bit at every
// layout of the issue (1xP, 2x2, 2x3, 3x2, 2x4, uneven ones), every plane
// count and tie policy, chunk sizes around the slice alignment; and the
// plan's ranges must tile: in each node the owned ranges cover the chunk
// once, the sub-slices of a slice cover it once.
#include <catch2/catch.hpp>

#include <stdint.h>

#include <map>
#include <string>
#include <vector>

#include "bitlogic.h"
#include "plan_hierarchy.h"
#include "unit_reference.h"

namespace {

std::vector<int> labelsOf(const std::vector<int>& sizes) {
  std::vector<int> label;
  for (size_t n = 0; n < sizes.size(); ++n)
    for (int i = 0; i < sizes[n]; ++i) label.push_back(static_cast<int>(100 - n));  // any labels will do
  return label;
}

// Ranks of a node interleaved with the others' (ranks 0, 2, 4 on one node):
// nodes need not be contiguous rank ranges.
std::vector<int> interleavedLabels(int nodes, int perNode) {
  std::vector<int> label;
  for (int i = 0; i < perNode; ++i)
    for (int n = 0; n < nodes; ++n) label.push_back(n);
  return label;
}

// Counts of one word from one node: [plane set][bit] words.
struct WordCounts {
  uint64_t pos[sv::kMaxCounterBits][1] = {};
  uint64_t neg[sv::kMaxCounterBits][1] = {};
};

// The hierarchical vote of `words` words of every rank's groups (inPlanes
// words a word, rank r at in[r]); returns every word's outPlanes words.
std::vector<uint64_t> replay(const sv::NodeLayout& t, const std::vector<std::vector<uint64_t>>& in, size_t words,
                             const sv::VoteParams& vp, size_t* votedWords) {
  const int N = t.nodes(), P = static_cast<int>(t.nodeOf.size());
  const int ip = vp.inPlanes, op = vp.outPlanes;
  // A: each owner counts its node's inputs over its owned words.
  std::map<std::pair<int, size_t>, WordCounts> counts;  // (rank, word) -> counts
  for (int n = 0; n < N; ++n)
    for (int l = 0; l < t.size(n); ++l) {
      const int owner = t.members[n][l];
      size_t b, len;
      sv::ownedRange(words, t, n, l, &b, &len);
      for (size_t w = b; w < b + len; ++w) {
        std::vector<uint64_t> gathered;  // the node's groups of word w, rank after rank
        for (int q : t.members[n])
          for (int k = 0; k < ip; ++k) gathered.push_back(in[q][w * ip + k]);
        WordCounts& c = counts[{owner, w}];
        sv::countVotes<1>(gathered.data(), ip, t.size(n), ip, sv::counterBits(t.size(n)), c.pos, c.neg);
      }
    }
  // B: the voter of sub-slice m of slice s (its owner in node m) adds the
  // owners' counts and votes.
  std::vector<uint64_t> out(words * op, 0);
  std::vector<int> voted(words, 0);
  const int bits = sv::counterBits(P);
  for (int s = 0; s < t.slices; ++s)
    for (int m = 0; m < N; ++m) {
      size_t b, len;
      sv::subSliceRange(words, t, s, m, &b, &len);
      for (size_t w = b; w < b + len; ++w) {
        uint64_t pos[sv::kMaxCounterBits][1] = {}, neg[sv::kMaxCounterBits][1] = {};
        for (int n = 0; n < N; ++n) {
          const int owner = sv::sliceOwner(t, n, s);
          REQUIRE(owner >= 0);
          auto it = counts.find({owner, w});
          REQUIRE(it != counts.end());  // the owner counted this word in A
          const int nb = sv::counterBits(t.size(n));
          sv::counterAccumulate<1>(pos, bits, it->second.pos, nb);
          if (ip == 2) sv::counterAccumulate<1>(neg, bits, it->second.neg, nb);
        }
        sv::voteCounts<1>(pos, neg, bits, vp, w, &out[w * op]);
        ++voted[w];
      }
    }
  *votedWords = 0;
  for (size_t w = 0; w < words; ++w) {
    REQUIRE(voted[w] == 1);  // C, D: each word voted by exactly one rank
    ++*votedWords;
  }
  return out;
}

}  // namespace

TEST_CASE("hierarchical plan: owned ranges and sub-slices tile every chunk", "[plan][hierarchy]") {
  for (const std::vector<int>& sizes : std::vector<std::vector<int>>{{1}, {4}, {2, 2}, {2, 3}, {3, 2}, {2, 4}, {1, 3, 2},
                                                                      {5, 1}, {8, 8, 8}})
    for (size_t words : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{100}, size_t{1000}}) {
      const sv::NodeLayout t = sv::NodeLayout::fromLabels(labelsOf(sizes));
      INFO(sizes.size() << " nodes, " << words << " words");
      for (int n = 0; n < t.nodes(); ++n) {
        size_t next = 0;
        for (int l = 0; l < t.size(n); ++l) {
          int s0, s1;
          sv::ownedSlices(t, n, l, &s0, &s1);
          CHECK(s1 > s0);  // every rank owns a slice
          size_t b, len;
          sv::ownedRange(words, t, n, l, &b, &len);
          CHECK(b == next);
          next = b + len;
          for (int s = s0; s < s1; ++s) CHECK(sv::sliceOwner(t, n, s) == t.members[n][l]);
        }
        CHECK(next == words);
      }
      for (int s = 0; s < t.slices; ++s) {
        size_t sb, sl, next;
        sv::sliceRange(words, t, s, &sb, &sl);
        next = sb;
        for (int m = 0; m < t.nodes(); ++m) {
          size_t b, len;
          sv::subSliceRange(words, t, s, m, &b, &len);
          CHECK(b == next);
          next = b + len;
        }
        CHECK(next == sb + sl);
      }
    }
}

TEST_CASE("hierarchical plan replayed over the bit logic equals the flat vote at every layout and policy",
          "[plan][hierarchy]") {
  const std::vector<std::vector<int>> labelSets = {
      labelsOf({4}),       labelsOf({2, 2}), labelsOf({2, 3}),       labelsOf({3, 2}),
      labelsOf({2, 4}),    labelsOf({4, 4}), labelsOf({1, 3, 2}),    labelsOf({5, 1}),
      labelsOf({1, 1, 1}), interleavedLabels(2, 3), interleavedLabels(3, 2), labelsOf({8, 8, 7})};
  ref::Rng rng(2025);
  size_t cases = 0;
  for (const std::vector<int>& labels : labelSets) {
    const sv::NodeLayout t = sv::NodeLayout::fromLabels(labels);
    const int P = static_cast<int>(labels.size());
    for (int inPlanes = 1; inPlanes <= 2; ++inPlanes)
      for (int outPlanes = 1; outPlanes <= 2; ++outPlanes)
        for (int tie : {sv::kTiePositive, sv::kTieZero, sv::kTieRandom})
          for (size_t words : {size_t{1}, size_t{17}, size_t{100}}) {
            std::vector<std::vector<uint64_t>> in(P, std::vector<uint64_t>(words * inPlanes));
            for (size_t w = 0; w < words; ++w) {
              const uint64_t lean = rng.next();
              for (int r = 0; r < P; ++r) {
                in[r][w * inPlanes] = (rng.next() & rng.next()) ^ (r & 1 ? lean : ~lean);
                if (inPlanes == 2) in[r][w * inPlanes + 1] = rng.next() | rng.next();
              }
            }
            const sv::VoteParams vp{P, inPlanes, outPlanes, tie, 99, 7};
            size_t voted = 0;
            const std::vector<uint64_t> got = replay(t, in, words, vp, &voted);
            std::vector<uint64_t> flat(P * inPlanes);
            size_t bad = 0;
            for (size_t w = 0; w < words; ++w) {
              for (int r = 0; r < P; ++r)
                for (int k = 0; k < inPlanes; ++k) flat[r * inPlanes + k] = in[r][w * inPlanes + k];
              uint64_t want[2] = {0, 0};
              sv::voteWord(flat.data(), inPlanes, vp, w, want);
              bad += got[w * outPlanes] != want[0] || (outPlanes == 2 && got[w * outPlanes + 1] != want[1]);
            }
            INFO(t.nodes() << " nodes, P=" << P << ", " << words << " words, planes " << inPlanes << "/"
                           << outPlanes << ", tie " << tie);
            CHECK(voted == words);
            CHECK(bad == 0);
            ++cases;
          }
  }
  CHECK(cases == labelSets.size() * 2 * 2 * 3 * 3);
}

TEST_CASE("hierarchical plan: a node's link carries n/4 bytes at 2 nodes x 4 ranks", "[plan][hierarchy]") {
  // Bytes node 0 sends node 1 for a chunk of W words (n = 64 W elements),
  // default policies (1 plane in and out): exchange B (counts of sub-slice
  // 1 of every slice, 3 bits a word) and C (voted sub-slice 0, 1 bit).
  const sv::NodeLayout t = sv::NodeLayout::fromLabels(labelsOf({4, 4}));
  const size_t W = 4096;  // words: every slice and sub-slice a multiple of the alignment
  size_t bytes = 0;
  for (int s = 0; s < t.slices; ++s) {
    size_t b, len;
    sv::subSliceRange(W, t, s, 1, &b, &len);
    bytes += len * 8 * sv::countPlanes(t, 0, 1);  // B: node 0's counts for node 1's voter
    sv::subSliceRange(W, t, s, 0, &b, &len);
    bytes += len * 8 * 1;                         // C: node 0's voted words for node 1's owner
  }
  const size_t n = W * 64;
  CHECK(bytes == n / 4);  // the flat all-to-all: n/2 (4 ranks x 4 of 8 segments, there and back)
}
