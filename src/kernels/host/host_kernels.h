// SPDX-License-Identifier: MIT
// Host (CPU) kernels: loops over the bit logic of bitlogic.h. Element ranges
// start on a word boundary (a multiple of 64 elements).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "bitlogic.h"

namespace sv {
namespace host {

// Pack n elements of x into ceil(n/64) groups of `planes` words (1: sign
// plane; 2: sign and voting planes). Returns the number of NaNs.
uint64_t pack(const void* x, size_t n, svDataType_t dt, int planes, uint64_t* out);

// NaNs among n elements (for SV_NAN_ERROR checks before writing anything).
uint64_t countNans(const void* x, size_t n, svDataType_t dt);

// Vote `words` words: input group w of rank r at in + r*rankStride + w*p.inPlanes,
// output group w at out + w*p.outPlanes. firstWord is the global index of word 0.
void vote(const uint64_t* in, size_t rankStride, size_t words, const VoteParams& p,
          uint64_t firstWord, uint64_t* out);

// The hierarchical vote's halves (plan_hierarchy.h). A count group is one
// word's counters, bit-sliced: `bits` planes of its +1 counts, then with
// inPlanes 2 `bits` planes of its -1 counts (bitlogic.h countVotes).
//
// countVotes: the counts of n ranks' inputs (laid out as for vote) over
// `words` words; group w at out + w * bits * inPlanes.
void countVotes(const uint64_t* in, size_t rankStride, size_t words, int n, int inPlanes, int bits,
                uint64_t* out);
// voteCounts: the vote of `words` words from the count groups of nsrc
// sources (nodes) whose ranks add up to p.nranks: source i's group w at
// src[i] + w * srcBits[i] * p.inPlanes. Equal to vote over all the ranks.
void voteCounts(const uint64_t* const* src, const int* srcBits, int nsrc, size_t words, const VoteParams& p,
                uint64_t firstWord, uint64_t* out);

// Unpack n elements from ceil(n/64) groups of `planes` words (1: sign plane;
// 2: sign and nonzero planes). An output of 4 MiB or more is written around
// the caches; partOfLarge: so is this one, a piece of such an output (the
// tensors of a group), however small.
void unpack(const uint64_t* in, int planes, size_t n, svDataType_t dt, const OutputBits& bits,
            void* out, bool partOfLarge = false);

}  // namespace host
}  // namespace sv
