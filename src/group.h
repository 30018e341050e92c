// SPDX-License-Identifier: MIT
// The group of calls between svGroupStart and svGroupEnd (group.cc), as the
// entry points see it: a checked call is queued there instead of run.
#pragma once

#include <stddef.h>

#include "signvote.h"

namespace sv {

// datatype of a queued svAllReduceSignPacked call (count in bits).
constexpr int kGroupPackedBits = -1;

struct GroupCall {
  const void* send;
  void* recv;
  size_t count;
  int datatype;  // an svDataType_t, or kGroupPackedBits
  cudaStream_t stream;  // device communicators
};

// This thread is between svGroupStart and its svGroupEnd.
bool inGroup();

// Queues a call whose arguments were checked, with a reference on comm
// until svGroupEnd runs it.
svResult_t groupAdd(svComm* comm, const GroupCall& call, const char* where);

}  // namespace sv
