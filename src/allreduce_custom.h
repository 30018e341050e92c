// SPDX-License-Identifier: MIT
// Internal entry into the all-reduce engine with caller-supplied pack and
// unpack steps, for callers that fuse element-wise work into the pipeline
// (the optimizer steps of optimizer.cc read each gradient once this way).
// Not public API.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <functional>

#include "comm.h"

namespace sv {

// pack(firstWord, words, out): write the votes of elements
// [64*firstWord, min(64*(firstWord+words), count)) as `words` groups of
// inPlanes words (the layout of host::pack); return the NaNs among them.
// Called once per element range, in order.
using CustomPackFn = std::function<uint64_t(size_t firstWord, size_t words, uint64_t* out)>;
// unpack(firstWord, words, in): the voted result of that range, `words`
// groups of outPlanes words (the layout host::unpack reads). With
// SV_NAN_ERROR it is called once over the whole range, and only when no rank
// had a NaN; otherwise per chunk, after that chunk's pack.
using CustomUnpackFn = std::function<void(size_t firstWord, size_t words, const uint64_t* in)>;

// finish(waiter, tag): runs inside the same call after the vote and the
// last unpack, for a control exchange of the caller's own (controlAllGather
// with waiter and tag), so it has the call's failure contract: timeout,
// abort, a failed communicator. Not called when count is 0.
class Waiter;
using CustomFinishFn = std::function<svResult_t(Waiter& waiter, int tag)>;

// The planes a call of count elements on comm packs and unpacks
// (1 or 2 each, from the zero and tie policies and the rank count).
void customPlanes(const svComm* comm, size_t count, int* inPlanes, int* outPlanes);

// The packed API's 32-bit words of count bits, words [firstWord,
// firstWord + words) of them as 64-bit words, copied into 64-bit staging
// (unused bits beyond count zeroed) and back out.
void copyBitsIn(const uint32_t* src, size_t count, size_t firstWord, size_t words, uint64_t* dst);
void copyBitsOut(const uint64_t* src, size_t count, size_t firstWord, size_t words, uint32_t* dst);

// svAllReduceSign's engine (algorithm choice, pipeline, NaN agreement, stats,
// failure handling) with the caller's pack/unpack/finish. The caller holds
// a reference on comm (CommRef) and has checked its arguments.
svResult_t allReduceSignCustom(svComm* comm, const char* where, size_t count, const CustomPackFn& pack,
                               const CustomUnpackFn& unpack, const CustomFinishFn& finish = nullptr);

}  // namespace sv
