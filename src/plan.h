// SPDX-License-Identifier: MIT
// The plan of one call, built once here and run by either executor: the
// host pipeline (allreduce.cc: chunks in flight on a polled transport) or
// the stream executor (device/device_allreduce.cc: kernels and exchanges
// enqueued on a CUDA stream). Both take the algorithm, planes, chunks and
// segments from here, so they vote the same bits the same way and their
// results are bit for bit equal.
//
//   alltoall : per chunk, P segments (segmentRange); rank r gets segment r
//              of every rank, votes it, and an all-gather spreads the
//              voted segments.
//   allgather: per chunk, one all-gather of every rank's bits; every rank
//              votes all of them.
//   hierarchical (host executor, ranks on 2+ nodes): per chunk, the four
//              exchanges of plan_hierarchy.h: counts inside nodes, counts
//              and voted bits between them.
#pragma once

#include <stddef.h>

#include <algorithm>

#include "bitlogic.h"
#include "comm.h"

namespace sv {

struct CallShape {
  size_t count;      // elements (or bits for the packed API)
  int inPlanes;      // 2 with SV_ZERO_ABSTAIN
  int outPlanes;     // 2 with SV_TIE_ZERO when a tie is possible
  int algorithm;     // SV_ALGO_ALLTOALL or SV_ALGO_ALLGATHER
  size_t words;      // ceil(count / 64)
  size_t chunkWords; // words per pipeline chunk
  size_t nchunks;
  bool lastChunkFull;  // the last chunk has the full chunk size (transport.h, tags)
  int depth;         // chunks in flight at most: min(kPipelineDepth, nchunks)
};

// Which executor runs the plan. The stream executor runs a call as one
// chunk: on one stream the exchanges serialise anyway, so more chunks would
// only add launches.
enum class Executor { kHost, kStream };

inline int chooseFlatAlgorithm(const svComm* comm, size_t words, int inPlanes) {
  const Config& c = comm->config;
  if (c.algorithm != SV_ALGO_AUTO) return c.algorithm;
  if (comm->nranks <= 2) return SV_ALGO_ALLGATHER;  // same bytes, one round
  const double gathered = static_cast<double>(comm->nranks - 1) * words * 8 * inPlanes;
  return gathered <= static_cast<double>(c.allGatherThreshold) ? SV_ALGO_ALLGATHER : SV_ALGO_ALLTOALL;
}

// SV_HIERARCHY: on takes the hierarchical plan for every call with data on
// ranks spanning 2+ nodes, whatever SV_ALGO says; auto where SV_ALGO=auto
// would take the all-to-all (large calls: four rounds instead of two cost
// little there) and some node holds 2+ ranks (else there is nothing to
// count inside a node). Host executor only.
inline int chooseAlgorithm(const svComm* comm, size_t words, int inPlanes, Executor executor) {
  const int flat = chooseFlatAlgorithm(comm, words, inPlanes);
  const NodeLayout& t = comm->nodes;
  if (executor != Executor::kHost || words == 0 || t.nodes() < 2 || comm->config.hierarchy == 0) return flat;
  if (comm->config.hierarchy == 1) return SV_ALGO_HIERARCHICAL;
  const bool large = comm->config.algorithm == SV_ALGO_AUTO && flat == SV_ALGO_ALLTOALL;
  return large && t.slices >= 2 ? SV_ALGO_HIERARCHICAL : flat;
}

// Packed bytes per pipeline chunk: SV_CHUNK_BYTES, or by default about 32 KiB
// per rank's segment, which measured best on emulated 1 Gbit/s links (P=4:
// 128 KiB chunks at 1.03-1.09x the lower bound, 512 KiB at 1.4-1.5x, 16-32 KiB
// worse again from per-message costs; P=8: 256 KiB better than 128 KiB).
inline long long chunkBytes(const Config& c, int shares) {
  if (c.chunkBytes != 0) return c.chunkBytes;
  return std::min<long long>(std::max<long long>(32LL * 1024 * shares, 64 * 1024), 4 * 1024 * 1024);
}

inline CallShape planCall(const svComm* comm, size_t count, bool packedApi, Executor executor = Executor::kHost) {
  const Config& c = comm->config;
  CallShape s;
  s.count = count;
  s.inPlanes = (!packedApi && c.zero == SV_ZERO_ABSTAIN) ? 2 : 1;
  // A tie needs an even number of voters; with abstention any number can tie.
  const bool tiePossible = (comm->nranks % 2 == 0) || s.inPlanes == 2;
  s.outPlanes = (!packedApi && c.tie == SV_TIE_ZERO && tiePossible) ? 2 : 1;
  s.words = divUp(count, kWordBits);
  s.algorithm = chooseAlgorithm(comm, s.words, s.inPlanes, executor);
  // A chunk holds chunkBytes of bits per plane; for the all-to-all it is a
  // multiple of P segments so every chunk splits evenly, for the hierarchy
  // of S slices x N sub-slices. The hierarchy's default is sized by its
  // slices (a rank's share of the first exchange), as the all-to-all's is
  // by its segments: at 8 ranks on
  // emulated 1 Gbit/s node links, 4M floats, 4 x 2 ranks took 18.2 ms with
  // the flat default of 256 KiB (2 chunks: four exchanges barely overlap)
  // and 12.7 ms with 64 KiB; 2 x 4 13.8 and 12.5 ms with 128 KiB.
  const int sizedBy = s.algorithm == SV_ALGO_HIERARCHICAL ? comm->nodes.slices : comm->nranks;
  size_t chunk = std::max<size_t>(static_cast<size_t>(chunkBytes(c, sizedBy)) / 8, 1);
  const size_t unit = s.algorithm == SV_ALGO_ALLTOALL       ? kSegmentAlignWords * comm->nranks
                      : s.algorithm == SV_ALGO_HIERARCHICAL ? kSegmentAlignWords * comm->nodes.slices * comm->nodes.nodes()
                                                            : kSegmentAlignWords;
  chunk = roundUp(chunk, unit);
  if (executor == Executor::kStream) chunk = roundUp(std::max<size_t>(s.words, 1), unit);
  s.chunkWords = std::min(chunk, std::max<size_t>(s.words, 1));
  s.nchunks = divUp(s.words, s.chunkWords);
  s.lastChunkFull = s.words > 0 && s.words % chunk == 0;
  s.depth = static_cast<int>(std::min<size_t>(kPipelineDepth, s.nchunks));
  return s;
}

// Chunk `chunk` of a plan as rank `me` sees it.
struct Chunk {
  size_t first = 0, words = 0;    // global words [first, first + words)
  size_t myBegin = 0, myLen = 0;  // alltoall: my segment, within the chunk; allgather: all of it
};
inline Chunk planChunk(const CallShape& s, int P, int me, size_t chunk) {
  Chunk c;
  c.first = chunk * s.chunkWords;
  c.words = std::min(s.chunkWords, s.words - c.first);
  if (s.algorithm == SV_ALGO_ALLTOALL) {
    segmentRange(c.words, P, me, &c.myBegin, &c.myLen);
  } else {
    c.myLen = c.words;
  }
  return c;
}

// The stream executor's buffers for one chunk (CUDA-free, so the unit tests
// replay it on the host with the host kernels against the host engine).
// A stream-ordered transport moves equal blocks, so every segment is padded
// to the longest, segmentWords; the padding travels and is voted like the
// rest, but no unpack reads it.
//
//   alltoall : packed = P segments of seg words (x inPlanes); all-to-all of
//              seg*inPlanes words per rank into recv (rank r's copy of my
//              segment at r*seg*inPlanes); vote my segment into
//              result + myBegin x outPlanes; in-place all-gather of
//              seg*outPlanes words.
//   allgather: pack into recv + me*words*inPlanes; in-place all-gather of
//              words*inPlanes words; vote all words (or fused vote+unpack).
struct StreamLayout {
  size_t packedWords = 0;  // staging sizes in 64-bit words (0: unused)
  size_t recvWords = 0;
  size_t resultWords = 0;
  size_t packAt = 0;       // where this rank's packed words go: in packed (alltoall) or recv (allgather)
  size_t firstBlockWords = 0;   // per-rank words of the first exchange
  size_t secondBlockWords = 0;  // per-rank words of the second exchange (alltoall)
};

inline StreamLayout streamLayout(const CallShape& s, const Chunk& c, int P, int me, bool needResult) {
  StreamLayout l;
  const size_t ip = s.inPlanes, op = s.outPlanes;
  if (s.algorithm == SV_ALGO_ALLTOALL) {
    const size_t seg = segmentWords(c.words, P);
    l.packedWords = P * seg * ip;
    l.recvWords = P * seg * ip;
    l.resultWords = P * seg * op;
    l.packAt = 0;
    l.firstBlockWords = seg * ip;
    l.secondBlockWords = seg * op;
  } else {
    l.recvWords = P * c.words * ip;
    l.resultWords = needResult ? c.words * op : 0;
    l.packAt = me * c.words * ip;
    l.firstBlockWords = c.words * ip;
  }
  return l;
}

}  // namespace sv
