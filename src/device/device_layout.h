// SPDX-License-Identifier: MIT
// Buffer layout of one device call (CUDA-free, so the unit tests can replay
// it on the host with the host kernels and compare with the host engine).
//
//   alltoall : packed = P segments of seg words (x inPlanes), words past
//              `words` are padding; all-to-all of seg*inPlanes words per
//              rank into recv (rank r's copy of my segment at r*seg*inPlanes);
//              vote myLen words at global word myBegin into result + myBegin
//              x outPlanes; in-place all-gather of seg*outPlanes words.
//   allgather: pack into recv + me*words*inPlanes; in-place all-gather of
//              words*inPlanes words; vote all words (or fused vote+unpack).
#pragma once

#include <stddef.h>

#include "bitlogic.h"
#include "plan.h"

namespace sv {

struct DeviceLayout {
  size_t seg = 0;          // alltoall: segment words (segmentWords); allgather: words
  size_t myBegin = 0, myLen = 0;  // alltoall: my segment (segmentRange)
  size_t packedWords = 0;  // staging sizes in 64-bit words (0: unused)
  size_t recvWords = 0;
  size_t resultWords = 0;
  size_t packAt = 0;       // where this rank's packed words go: in packed (alltoall) or recv (allgather)
  size_t firstBlockWords = 0;   // per-rank words of the first exchange
  size_t secondBlockWords = 0;  // per-rank words of the second exchange (alltoall)
};

inline DeviceLayout deviceLayout(const CallShape& s, int P, int me, bool needResult) {
  DeviceLayout l;
  const size_t ip = s.inPlanes, op = s.outPlanes;
  if (s.algorithm == SV_ALGO_ALLTOALL) {
    l.seg = segmentWords(s.words, P);
    segmentRange(s.words, P, me, &l.myBegin, &l.myLen);
    l.packedWords = P * l.seg * ip;
    l.recvWords = P * l.seg * ip;
    l.resultWords = P * l.seg * op;
    l.packAt = 0;
    l.firstBlockWords = l.seg * ip;
    l.secondBlockWords = l.seg * op;
  } else {
    l.seg = s.words;
    l.myBegin = 0;
    l.myLen = s.words;
    l.recvWords = P * s.words * ip;
    l.resultWords = needResult ? s.words * op : 0;
    l.packAt = me * s.words * ip;
    l.firstBlockWords = s.words * ip;
  }
  return l;
}

}  // namespace sv
