// SPDX-License-Identifier: MIT
// The plan of one call, shared by the host engine (allreduce.cc) and the
// device engine (device/device_allreduce.cc) so both choose the same
// algorithm and planes for the same call: results are bit for bit equal.
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

inline int chooseAlgorithm(const svComm* comm, size_t words, int inPlanes) {
  const Config& c = comm->config;
  if (c.algorithm != SV_ALGO_AUTO) return c.algorithm;
  if (comm->nranks <= 2) return SV_ALGO_ALLGATHER;  // same bytes, one round
  const double gathered = static_cast<double>(comm->nranks - 1) * words * 8 * inPlanes;
  return gathered <= static_cast<double>(c.allGatherThreshold) ? SV_ALGO_ALLGATHER : SV_ALGO_ALLTOALL;
}

// Packed bytes per pipeline chunk: SV_CHUNK_BYTES, or by default about 32 KiB
// per rank's segment, which measured best on emulated 1 Gbit/s links (P=4:
// 128 KiB chunks at 1.03-1.09x the lower bound, 512 KiB at 1.4-1.5x, 16-32 KiB
// worse again from per-message costs; P=8: 256 KiB better than 128 KiB).
inline long long chunkBytes(const Config& c, int nranks) {
  if (c.chunkBytes != 0) return c.chunkBytes;
  return std::min<long long>(std::max<long long>(32LL * 1024 * nranks, 64 * 1024), 4 * 1024 * 1024);
}

inline CallShape planCall(const svComm* comm, size_t count, bool packedApi) {
  const Config& c = comm->config;
  CallShape s;
  s.count = count;
  s.inPlanes = (!packedApi && c.zero == SV_ZERO_ABSTAIN) ? 2 : 1;
  // A tie needs an even number of voters; with abstention any number can tie.
  const bool tiePossible = (comm->nranks % 2 == 0) || s.inPlanes == 2;
  s.outPlanes = (!packedApi && c.tie == SV_TIE_ZERO && tiePossible) ? 2 : 1;
  s.words = divUp(count, kWordBits);
  s.algorithm = chooseAlgorithm(comm, s.words, s.inPlanes);
  // A chunk holds chunkBytes of bits per plane; for the all-to-all it is a
  // multiple of P segments so every chunk splits evenly.
  size_t chunk = std::max<size_t>(static_cast<size_t>(chunkBytes(c, comm->nranks)) / 8, 1);
  const size_t unit = s.algorithm == SV_ALGO_ALLTOALL ? kSegmentAlignWords * comm->nranks : kSegmentAlignWords;
  chunk = roundUp(chunk, unit);
  s.chunkWords = std::min(chunk, std::max<size_t>(s.words, 1));
  s.nchunks = divUp(s.words, s.chunkWords);
  s.lastChunkFull = s.words > 0 && s.words % chunk == 0;
  s.depth = static_cast<int>(std::min<size_t>(kPipelineDepth, s.nchunks));
  return s;
}

}  // namespace sv
