// SPDX-License-Identifier: MIT
// GPU kernels: the device twins of src/kernels/host/host_kernels.h, with the same buffer
// layouts (64-bit words, plane groups; see src/bitlogic.h), so the engine can
// swap one for the other. Every launcher enqueues on `stream`, never
// synchronises, and returns the launch's cudaError_t. Element ranges start on
// a word boundary (a multiple of 64 elements), as on the host.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "bitlogic.h"

namespace sv {
namespace device {

// Pack n elements of x (device memory) into ceil(n/64) groups of `planes`
// words at out (device). When nanCount is not null, the number of NaNs among
// the n elements is *added* to the device counter *nanCount (the caller zeroes
// it), fused into the same pass.
cudaError_t pack(const void* x, size_t n, svDataType_t dt, int planes, uint64_t* out,
                 unsigned long long* nanCount, cudaStream_t stream);

// Vote `words` words: input group w of rank r at in + r*rankStride + w*p.inPlanes,
// output group w at out + w*p.outPlanes. firstWord is the global index of word 0
// (random ties). All pointers are device memory.
// callDev (device, may be null): when set, the call number of the random
// ties is read from it when the kernel runs instead of p.call, so a CUDA
// graph replaying the launch draws the ties of each replay's call number.
cudaError_t vote(const uint64_t* in, size_t rankStride, size_t words, const VoteParams& p,
                 uint64_t firstWord, uint64_t* out, cudaStream_t stream,
                 const unsigned long long* callDev = nullptr);

// Unpack n elements from ceil(n/64) groups of `planes` words (1: sign plane;
// 2: sign and nonzero planes) into out (device) in datatype dt.
// skipIfNonzero (device, may be null): when it points at a nonzero value the
// kernel writes nothing; SV_NAN_ERROR gates the output on the ranks' NaN
// total this way without a host synchronisation.
cudaError_t unpack(const uint64_t* in, int planes, size_t n, svDataType_t dt, const OutputBits& bits,
                   void* out, const unsigned long long* skipIfNonzero, cudaStream_t stream);

// Fused vote + unpack for the one-round (all-gather) path: vote `words`
// words of P inputs laid out as for vote() and write the n elements they
// cover straight to out, without storing the voted bits. skipIfNonzero as
// for unpack().
cudaError_t voteUnpack(const uint64_t* in, size_t rankStride, size_t words, const VoteParams& p,
                       uint64_t firstWord, size_t n, svDataType_t dt, const OutputBits& bits, void* out,
                       const unsigned long long* skipIfNonzero, cudaStream_t stream,
                       const unsigned long long* callDev = nullptr);

// A group of calls (svGroupStart/End): the tensors of one datatype, each
// with its place in the group's packed layout (`word`: its first 64-bit
// word, so its groups lie at base + word * planes).
struct TensorSlice {
  const void* src;  // packList: the tensor's n elements
  void* dst;        // unpackList: where its n elements go
  size_t n;
  size_t word;
};

// pack() of every tensor into out + word * planes, in one launch per
// kern::kListCap tensors instead of one per tensor; NaNs of all of them
// are added to *nanCount.
cudaError_t packList(const TensorSlice* tensors, size_t count, svDataType_t dt, int planes, uint64_t* out,
                     unsigned long long* nanCount, cudaStream_t stream);

// unpack() of every tensor from in + word * planes, likewise.
cudaError_t unpackList(const uint64_t* in, int planes, const TensorSlice* tensors, size_t count, svDataType_t dt,
                       const OutputBits& bits, const unsigned long long* skipIfNonzero, cudaStream_t stream);

}  // namespace device
}  // namespace sv
