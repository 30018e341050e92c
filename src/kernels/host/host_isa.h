// SPDX-License-Identifier: MIT
// Which instruction set the host kernels (host_kernels.h) run with, chosen
// once per process from what the CPU has, or forced with SV_HOST_ISA. Every
// form computes the same predicates of bitlogic.h on the same bit patterns
// and is tested bit for bit against the generic one (tests/unit).
//
//   generic  bitlogic.h's loops, one element at a time (any CPU)
//   sse2     src/kernels/host/host_simd.h: 4-16 lanes, movemask (every x86-64)
//   avx2     src/kernels/host/host_kernels_avx2.cc: 8-32 lanes
//   avx512   src/kernels/host/host_kernels_avx512.cc: 16-64 lanes, compares into masks,
//            blends from masks, non-temporal stores for large unpacks
//            (AVX-512 F, BW, VL, DQ)
//   neon     src/kernels/host/host_kernels_neon.cc: 8 elements a step (every AArch64
//            CPU); opt-in: never the default, being unmeasured on Arm
//            hardware (docs/perf-host.md#aarch64)
// On other architectures (e.g. aarch64) only the x86 forms are absent:
// their sources compile to null tables.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "bitlogic.h"

namespace sv {
namespace host {

enum class Isa : int { kGeneric = 0, kSse2 = 1, kAvx2 = 2, kAvx512 = 3, kNeon = 4 };

const char* isaName(Isa isa);

// The kernels of one ISA (the signatures of host_kernels.h).
// Unpacked outputs at least this large are written around the caches.
constexpr size_t kStreamOutputBytes = size_t(4) << 20;

struct KernelTable {
  uint64_t (*pack)(const void* x, size_t n, svDataType_t dt, int planes, uint64_t* out);
  void (*unpack)(const uint64_t* in, int planes, size_t n, svDataType_t dt, const OutputBits& bits, void* out,
                 bool partOfLarge);
};

// The ISAs this build has and this CPU runs, generic first, best last
// (opt-in ones after the others).
std::vector<Isa> availableIsas();

// Opt-in ISAs run only when SV_HOST_ISA names them (neon: not yet timed on
// an Arm CPU).
bool isOptIn(Isa isa);

// The ISA used when SV_HOST_ISA is unset or auto: the last of `have` that
// is not opt-in (generic when there is none).
Isa defaultIsa(const std::vector<Isa>& have);

// The ISA in use: defaultIsa(availableIsas()), unless SV_HOST_ISA names
// another (generic, sse2, avx2, avx512, neon, auto); one the CPU lacks
// falls back to the default with a warning. Decided at the first kernel
// call, logged at SV_DEBUG=INFO.
Isa activeIsa();

// The choice activeIsa() makes: SV_HOST_ISA's value env (NULL: unset)
// among the ISAs `have` (availableIsas()). *warning (when not NULL) gets a
// line when env names nothing usable.
Isa chooseIsa(const char* env, const std::vector<Isa>& have, std::string* warning);

// For tests and benchmarks: run the kernels with isa from now on. false
// (and nothing changes) when this build or CPU does not have it.
bool setIsa(Isa isa);

// Per-ISA tables (defined where that ISA's code is; null when not built).
const KernelTable* genericKernels();
const KernelTable* sse2Kernels();
const KernelTable* avx2Kernels();
const KernelTable* avx512Kernels();
const KernelTable* neonKernels();

}  // namespace host
}  // namespace sv
