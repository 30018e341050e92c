// SPDX-License-Identifier: MIT
// Inputs of the multi-rank GPU tests (mpi_gpu_comm_test.cc under mpirun,
// gpu_fork_test.cc without MPI): per datatype the IEEE bit patterns, and a
// rank's input drawn from a seed, so that any process can regenerate every
// rank's input (the integer vote of the fork test needs them all).
#pragma once

#include <stdint.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include <random>
#include <vector>

#include "signvote.h"

namespace svtest {

struct Type {
  svDataType_t dt;
  const char* name;
  size_t bytes;
  uint64_t sign, one, nan, manLow;  // manLow: low mantissa bits to randomise
};
const Type kTypes[] = {
    {svFloat32, "fp32", 4, 0x80000000ull, 0x3f800000ull, 0x7fc00000ull, 0xffull},
    {svFloat16, "fp16", 2, 0x8000ull, 0x3c00ull, 0x7e00ull, 0xfull},
    {svBfloat16, "bf16", 2, 0x8000ull, 0x3f80ull, 0x7fc0ull, 0xfull},
    {svFloat64, "fp64", 8, 0x8000000000000000ull, 0x3ff0000000000000ull, 0x7ff8000000000000ull, 0xffffull},
};

enum Cls : int8_t { kPos, kNeg, kZero, kNaN };

inline void store(std::vector<unsigned char>& buf, const Type& t, size_t i, uint64_t v) {
  memcpy(buf.data() + i * t.bytes, &v, t.bytes);
}
inline uint64_t load(const unsigned char* p, const Type& t, size_t i) {
  uint64_t v = 0;
  memcpy(&v, p + i * t.bytes, t.bytes);
  return v;
}

// Rank `rank`'s input: classes drawn per element (lopsided by rank parity, so
// both strict majorities and ties occur), values from the class.
inline void makeInput(const Type& t, size_t n, uint64_t seed, int rank, bool withNan, std::vector<unsigned char>* buf,
                      std::vector<int8_t>* cls) {
  std::mt19937_64 g(seed * 1000003 + rank);
  buf->assign(n * t.bytes, 0);
  cls->assign(n, kPos);
  for (size_t i = 0; i < n; ++i) {
    const unsigned r = static_cast<unsigned>(g() % 100);
    const uint64_t man = g() & t.manLow;
    Cls c = r < 12 ? kZero : (r < 14 && withNan) ? kNaN : ((r % 2) ^ (rank & 1)) ? kPos : kNeg;
    uint64_t v = c == kPos ? (t.one | man) : c == kNeg ? (t.sign | t.one | man) : c == kNaN ? (t.nan | man) : 0;
    if (c == kZero && (g() & 1)) v = t.sign;  // -0 is a zero too
    if (c == kNaN && (g() & 1)) v |= t.sign;
    store(*buf, t, i, v);
    (*cls)[i] = c;
  }
}

inline uint64_t hashBytes(const void* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(p)[i]) * 1099511628211ull;
  return h;
}

// +1 and -1 votes of element classes under a zero policy (NaN votes as a
// zero would).
inline int votesPlus(int8_t c, int zeroPolicy) {
  return c == kPos || ((c == kZero || c == kNaN) && zeroPolicy == SV_ZERO_POSITIVE);
}
inline int votesMinus(int8_t c) { return c == kNeg; }

// Whether `got` is the vote of pos +1 and neg -1 votes under tiePolicy.
inline bool isVote(const Type& t, uint64_t got, int pos, int neg, int tiePolicy) {
  const uint64_t plus = t.one, minus = t.one | t.sign;
  if (pos > neg) return got == plus;
  if (neg > pos) return got == minus;
  if (tiePolicy == SV_TIE_POSITIVE) return got == plus;
  if (tiePolicy == SV_TIE_ZERO) return got == 0;
  return got == plus || got == minus;
}

// svAllReduceSign of `in` (n elements of t) on a device communicator, in
// place or not, recvbuff followed by 64 guard bytes: *out gets the n
// elements, *guardOk whether the guard survived. Returns the failing call's
// name, or nullptr.
inline const char* deviceAllReduce(svComm_t comm, const Type& t, size_t n, bool inPlace,
                                   const std::vector<unsigned char>& in, cudaStream_t stream,
                                   std::vector<unsigned char>* out, bool* guardOk) {
  const size_t bytes = n * t.bytes;
  void *ds = nullptr, *dr = nullptr;
  const char* failed = nullptr;
  if (cudaMalloc(&ds, bytes + 64) != cudaSuccess || cudaMalloc(&dr, bytes + 64) != cudaSuccess) failed = "cudaMalloc";
  else if (cudaMemset(dr, 0xA5, bytes + 64) != cudaSuccess) failed = "cudaMemset";
  else if (cudaMemcpy(inPlace ? dr : ds, in.data(), bytes, cudaMemcpyHostToDevice) != cudaSuccess) failed = "cudaMemcpy";
  else if (svAllReduceSign(inPlace ? dr : ds, dr, n, t.dt, comm, stream) != svSuccess) failed = "svAllReduceSign";
  else if (cudaStreamSynchronize(stream) != cudaSuccess) failed = "cudaStreamSynchronize";
  std::vector<unsigned char> all(bytes + 64);
  if (!failed && cudaMemcpy(all.data(), dr, bytes + 64, cudaMemcpyDeviceToHost) != cudaSuccess) failed = "cudaMemcpy back";
  cudaFree(ds);
  cudaFree(dr);
  *guardOk = true;
  for (size_t k = bytes; k < bytes + 64; ++k) *guardOk &= all[k] == 0xA5;
  all.resize(bytes);
  out->swap(all);
  return failed;
}

}  // namespace svtest
