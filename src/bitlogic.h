// SPDX-License-Identifier: MIT
// The bit logic of the vote, written once for the host kernels (g++) and the
// CUDA kernels (nvcc): pack 64 elements into a word, vote one word across P
// inputs with bit-sliced counters, unpack a word. Everything here is
// branch-light integer code on the elements' bit patterns, so the result is
// exact whatever the FPU's denormal or fast-math mode.
//
// Internal layout: the unit is a 64-bit word (bit j of word w = element
// 64w + j), which on a little-endian machine is the same memory as the public
// 32-bit format (bit j of word w = element 32w + j). A "group" is the np
// planes of one word, stored next to each other: plane 0 is the sign plane
// (1 = +1), plane 1, when present, the "votes" plane (1 = this element votes,
// 0 = it abstains / the output is 0).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "signvote.h"  // svDataType_t

#if defined(__CUDACC__)
#define SV_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define SV_HOST_DEVICE inline __attribute__((always_inline))
#endif

namespace sv {

constexpr int kWordBits = 64;
// Segments of the all-to-all start on multiples of this many words (1024
// bits), so every rank's slice is aligned for vector loads on host and GPU.
constexpr size_t kSegmentAlignWords = 16;
// Counters are this wide at most: up to 2^kMaxCounterBits - 1 ranks.
constexpr int kMaxCounterBits = 24;

SV_HOST_DEVICE int popcount64(uint64_t x) {
#if defined(__CUDA_ARCH__)
  return __popcll(x);
#else
  return __builtin_popcountll(x);
#endif
}

// ---- Element encodings -----------------------------------------------------
// U is the unsigned integer of the element's width. For every IEEE format:
// x < 0  <=>  bits in [SIGN+1, SIGN|INF]  (negative, not -0, not NaN)
// NaN    <=>  (bits & ~SIGN) > INF
// zero   <=>  (bits & ~SIGN) == 0
template <typename U>
struct FloatBits;
template <>
struct FloatBits<uint16_t> {  // fp16
  static constexpr uint16_t kSign = 0x8000u, kInf = 0x7c00u;
};
template <>
struct FloatBits<uint32_t> {
  static constexpr uint32_t kSign = 0x80000000u, kInf = 0x7f800000u;
};
template <>
struct FloatBits<uint64_t> {
  static constexpr uint64_t kSign = 0x8000000000000000ull,
                            kInf = 0x7ff0000000000000ull;
};
// bfloat16 shares uint16_t storage with fp16 but has fp32's exponent width.
struct Bf16Bits {
  static constexpr uint16_t kSign = 0x8000u, kInf = 0x7f80u;
};

// The datatypes the kernels take, and their element sizes.
SV_HOST_DEVICE bool dtValid(int dt) {
  return dt == svFloat16 || dt == svFloat32 || dt == svFloat64 || dt == svBfloat16;
}
SV_HOST_DEVICE size_t dtSize(svDataType_t dt) { return dt == svFloat64 ? 8 : dt == svFloat32 ? 4 : 2; }

// The output values of one call, as raw bits of the datatype (low bits
// used): what the unpack writes. The engine computes them (datatype.h,
// outputBits: 16-bit types take scale rounded correctly once).
struct OutputBits {
  uint64_t pos;  // +scale
  uint64_t neg;  // -scale (pos with the sign bit flipped)
};

// Per-element predicates, parameterised by the storage type U and the
// constants K (FloatBits<U> or Bf16Bits).
template <typename U, typename K>
SV_HOST_DEVICE bool isNegative(U u) {
  return static_cast<U>(u - static_cast<U>(K::kSign + 1)) < K::kInf;
}
template <typename U, typename K>
SV_HOST_DEVICE bool isNan(U u) {
  return static_cast<U>(u & static_cast<U>(~K::kSign)) > K::kInf;
}
template <typename U, typename K>
SV_HOST_DEVICE bool isVoting(U u) {  // nonzero and not NaN: votes under ABSTAIN
  U a = static_cast<U>(u & static_cast<U>(~K::kSign));
  return static_cast<U>(a - 1) < K::kInf;  // a in [1, INF]
}

// ---- Pack ------------------------------------------------------------------
// One word of n <= 64 elements (bits n..63 are 0 in every plane).
//   sign:   1 where the element votes +1 (x >= 0, or NaN: NaN votes as zero)
//   voting: 1 where it votes at all under SV_ZERO_ABSTAIN (not 0, not NaN)
// Returns the number of NaNs among the n elements.
template <typename U, typename K>
SV_HOST_DEVICE int packWord(const U* x, int n, uint64_t* sign,
                            uint64_t* voting) {
  uint64_t s = 0, v = 0, nan = 0;
  for (int j = 0; j < n; ++j) {
    U u = x[j];
    s |= static_cast<uint64_t>(!isNegative<U, K>(u)) << j;
    v |= static_cast<uint64_t>(isVoting<U, K>(u)) << j;
    nan |= static_cast<uint64_t>(isNan<U, K>(u)) << j;
  }
  *sign = s;
  *voting = v;
  return popcount64(nan);
}

// Sign plane only, for a full word of 64 elements: the hot path of the
// default policies. Written as a fixed-trip loop the compiler can vectorise.
template <typename U, typename K>
SV_HOST_DEVICE uint64_t packSignWord64(const U* x, int* nanCount) {
  uint64_t s = 0, nan = 0;
#if defined(__clang__) || defined(__CUDACC__)
#pragma unroll
#endif
  for (int j = 0; j < 64; ++j) {
    U u = x[j];
    s |= static_cast<uint64_t>(!isNegative<U, K>(u)) << j;
    nan |= static_cast<uint64_t>(isNan<U, K>(u)) << j;
  }
  *nanCount += popcount64(nan);
  return s;
}

// ---- Vote ------------------------------------------------------------------
// Bit-sliced counters: cnt[b] holds bit b of 64 independent counters. Adding
// a word is a ripple-carry increment of all 64 at once. Each function works
// on L words side by side (cnt[b][l], lane innermost, so that a host
// compiler keeps the lanes in vector registers); x and the results hold L
// words.
template <int L>
SV_HOST_DEVICE void counterAdd(uint64_t (*cnt)[L], int bits, const uint64_t* x) {
  uint64_t carry[L];
  for (int l = 0; l < L; ++l) carry[l] = x[l];
  for (int b = 0; b < bits; ++b)
    for (int l = 0; l < L; ++l) {
      const uint64_t c = cnt[b][l] & carry[l];
      cnt[b][l] ^= carry[l];
      carry[l] = c;
    }
}

// Bits needed to count to p.
SV_HOST_DEVICE int counterBits(int p) {
  int b = 1;
  while ((1 << b) <= p) ++b;
  return b;
}

// Compare every counter with the constant t: gt = cnt > t, eq = cnt == t.
template <int L>
SV_HOST_DEVICE void counterCompareConst(const uint64_t (*cnt)[L], int bits, uint32_t t, uint64_t* gt,
                                        uint64_t* eq) {
  for (int l = 0; l < L; ++l) {
    gt[l] = 0;
    eq[l] = ~0ull;
  }
  for (int b = bits - 1; b >= 0; --b)
    for (int l = 0; l < L; ++l) {
      if ((t >> b) & 1u) {
        eq[l] &= cnt[b][l];
      } else {
        gt[l] |= eq[l] & cnt[b][l];
        eq[l] &= ~cnt[b][l];
      }
    }
}

// Compare two counter sets: gt = a > c, eq = a == c.
template <int L>
SV_HOST_DEVICE void counterCompare(const uint64_t (*a)[L], const uint64_t (*c)[L], int bits, uint64_t* gt,
                                   uint64_t* eq) {
  for (int l = 0; l < L; ++l) {
    gt[l] = 0;
    eq[l] = ~0ull;
  }
  for (int b = bits - 1; b >= 0; --b)
    for (int l = 0; l < L; ++l) {
      gt[l] |= eq[l] & a[b][l] & ~c[b][l];
      eq[l] &= ~(a[b][l] ^ c[b][l]);
    }
}

// Deterministic tie-break bits for 64 elements: a function of (seed, call
// number, word index) only, so every rank and every algorithm agrees.
SV_HOST_DEVICE uint64_t mix64(uint64_t z) {  // splitmix64 finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
SV_HOST_DEVICE uint64_t tieRandomBits(uint64_t seed, uint64_t call,
                                      uint64_t word) {
  return mix64(mix64(seed + 0x9e3779b97f4a7c15ull * (call + 1)) ^
               (word * 0xd1b54a32d192ed03ull));
}

enum TieMode : int { kTiePositive = 0, kTieZero = 1, kTieRandom = 2 };

struct VoteParams {
  int nranks;          // P: number of inputs
  int inPlanes;        // 1, or 2 with SV_ZERO_ABSTAIN
  int outPlanes;       // 1, or 2 with SV_TIE_ZERO (sign + nonzero)
  int tie;             // TieMode
  uint64_t seed, call; // for kTieRandom
};

// The output groups of L words from where +1 wins (gt) and where the vote
// ties (eq), by the tie policy: what every vote ends with.
template <int L>
SV_HOST_DEVICE void voteDecide(const uint64_t* gt, const uint64_t* eq, const VoteParams& p, uint64_t word,
                               uint64_t* out) {
  for (int l = 0; l < L; ++l) {
    uint64_t tieBits = 0;
    if (p.tie == kTiePositive) tieBits = ~0ull;
    else if (p.tie == kTieRandom && eq[l]) tieBits = tieRandomBits(p.seed, p.call, word + l);
    out[l * p.outPlanes] = gt[l] | (eq[l] & tieBits);
    if (p.outPlanes == 2) out[l * p.outPlanes + 1] = ~eq[l];  // 0 where a tie yields 0
  }
}

// ---- Votes from counts (the hierarchical vote) -----------------------------
// A group of ranks (a node) counts its members' votes per element; the
// groups' counts add up to the counts of all ranks, and the vote of the
// totals is the vote of all inputs, bit for bit (ties and random ties
// included: they depend on the totals and the word index only).
//
// countVotes: the +1 votes (pos) and, with inPlanes 2 (SV_ZERO_ABSTAIN), the
// -1 votes (neg) among n inputs laid out as for voteWords, as `bits`-plane
// bit-sliced counters (bits >= counterBits(n)). With inPlanes 1 every input
// votes, so neg = n - pos is not kept.
template <int L>
SV_HOST_DEVICE void countVotes(const uint64_t* in, size_t rankStride, int n, int inPlanes, int bits,
                               uint64_t (*pos)[L], uint64_t (*neg)[L]) {
  for (int b = 0; b < bits; ++b)
    for (int l = 0; l < L; ++l) pos[b][l] = neg[b][l] = 0;
  for (int r = 0; r < n; ++r) {
    if (inPlanes == 1) {
      counterAdd<L>(pos, bits, in + r * rankStride);
      continue;
    }
    uint64_t yes[L], no[L];
    for (int l = 0; l < L; ++l) {
      const uint64_t s = in[r * rankStride + l * 2], v = in[r * rankStride + l * 2 + 1];
      yes[l] = s & v;
      no[l] = ~s & v;
    }
    counterAdd<L>(pos, bits, yes);
    counterAdd<L>(neg, bits, no);
  }
}

// acc += x for 64 x L counters: x has xbits planes, acc bits >= xbits
// planes and room for the sum (a carry out of the top plane is lost).
template <int L>
SV_HOST_DEVICE void counterAccumulate(uint64_t (*acc)[L], int bits, const uint64_t (*x)[L], int xbits) {
  uint64_t carry[L];
  for (int l = 0; l < L; ++l) carry[l] = 0;
  for (int b = 0; b < bits; ++b)
    for (int l = 0; l < L; ++l) {
      const uint64_t y = b < xbits ? x[b][l] : 0;
      const uint64_t a = acc[b][l];
      acc[b][l] = a ^ y ^ carry[l];
      carry[l] = (a & y) | (carry[l] & (a ^ y));
    }
}

// The vote from the totals over all p.nranks ranks (bits planes, at least
// counterBits(p.nranks)): equal to voteWords over those ranks' inputs.
template <int L>
SV_HOST_DEVICE void voteCounts(const uint64_t (*pos)[L], const uint64_t (*neg)[L], int bits, const VoteParams& p,
                               uint64_t word, uint64_t* out) {
  uint64_t gt[L], eq[L];
  if (p.inPlanes == 1) {
    counterCompareConst<L>(pos, bits, static_cast<uint32_t>(p.nranks) / 2u, gt, eq);
    if (p.nranks & 1)
      for (int l = 0; l < L; ++l) eq[l] = 0;
  } else {
    counterCompare<L>(pos, neg, bits, gt, eq);
  }
  voteDecide<L>(gt, eq, p, word, out);
}

// Vote L consecutive words across P inputs. in points at rank 0's group of
// the first word (groups of inPlanes words, one per word); rank r's are at
// in + r * rankStride. Writes L groups of outPlanes words to out. word is
// the first word's global index (for random ties). host::vote uses L = 8;
// L = 1 is voteWord.
template <int L>
SV_HOST_DEVICE void voteWords(const uint64_t* in, size_t rankStride,
                              const VoteParams& p, uint64_t word,
                              uint64_t* out) {
  // Every rank votes (inPlanes 1): +1 wins iff count(+1) > P/2, a tie iff P
  // is even and count(+1) == P/2. With abstention the +1 and -1 votes are
  // counted apart and compared.
  const int bits = counterBits(p.nranks);
  uint64_t pos[kMaxCounterBits][L], neg[kMaxCounterBits][L];
  countVotes<L>(in, rankStride, p.nranks, p.inPlanes, bits, pos, neg);
  voteCounts<L>(pos, neg, bits, p, word, out);
}

// Vote one word across P inputs (voteWords for one word).
SV_HOST_DEVICE void voteWord(const uint64_t* in, size_t rankStride,
                             const VoteParams& p, uint64_t word,
                             uint64_t* out) {
  voteWords<1>(in, rankStride, p, word, out);
}

// ---- Unpack ----------------------------------------------------------------
// n <= 64 elements from a sign word and a "nonzero" word: pos where sign is 1,
// neg where it is 0, zero where nonzero is 0. pos/neg/zero are the element
// bit patterns of +scale, -scale and +0 in the output type.
template <typename U>
SV_HOST_DEVICE void unpackWord(uint64_t sign, uint64_t nonzero, U pos, U neg,
                               U* out, int n) {
  for (int j = 0; j < n; ++j) {
    const uint64_t bit = 1ull << j;
    U v = (sign & bit) ? pos : neg;
    out[j] = (nonzero & bit) ? v : U(0);
  }
}

// Full word, sign plane only: the hot path.
template <typename U>
SV_HOST_DEVICE void unpackSignWord64(uint64_t sign, U pos, U neg, U* out) {
  const U diff = static_cast<U>(pos ^ neg);
#if defined(__clang__) || defined(__CUDACC__)
#pragma unroll
#endif
  for (int j = 0; j < 64; ++j) {
    const U m = static_cast<U>(0) - static_cast<U>((sign >> j) & 1u);
    out[j] = static_cast<U>(neg ^ (diff & m));
  }
}

// ---- Partition math --------------------------------------------------------
SV_HOST_DEVICE size_t divUp(size_t a, size_t b) { return (a + b - 1) / b; }
SV_HOST_DEVICE size_t roundUp(size_t a, size_t b) { return divUp(a, b) * b; }

// The all-to-all cuts `words` words into P segments of `segmentWords(words,P)`
// words each (the last ones shorter or empty).
SV_HOST_DEVICE size_t segmentWords(size_t words, int nranks) {
  return roundUp(divUp(words, static_cast<size_t>(nranks)), kSegmentAlignWords);
}
SV_HOST_DEVICE void segmentRange(size_t words, int nranks, int s, size_t* begin,
                                 size_t* len) {
  const size_t seg = segmentWords(words, nranks);
  size_t b = seg * static_cast<size_t>(s);
  if (b > words) b = words;
  size_t e = b + seg;
  if (e > words) e = words;
  *begin = b;
  *len = e - b;
}

}  // namespace sv
