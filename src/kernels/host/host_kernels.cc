// SPDX-License-Identifier: MIT
// The host kernels: the generic and SSE2 forms (host_loops.h stamped out
// twice), the choice of ISA (host_isa.h), and the entry points that
// dispatch to it. vote and countNans are one form for every ISA: the vote
// reads 1/32 of what pack reads, and votes eight words side by side
// (bitlogic.h's voteWords<8>), which the compiler vectorises as it is.
#include "host_kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <atomic>
#include <mutex>

#include "debug.h"
#include "host_isa.h"
#include "host_simd.h"

namespace sv {
namespace host {

// ---- generic: bitlogic.h's predicates one element at a time ----------------
namespace generic {
template <typename K, bool kVoting, typename U>
inline uint64_t packFull(const U* x, uint64_t* voting, uint64_t* nanBits) {
  uint64_t s = 0, v = 0, nan = 0;
  for (int j = 0; j < 64; ++j) {
    const U u = x[j];
    s |= static_cast<uint64_t>(!isNegative<U, K>(u)) << j;
    nan |= static_cast<uint64_t>(isNan<U, K>(u)) << j;
    if (kVoting) v |= static_cast<uint64_t>(isVoting<U, K>(u)) << j;
  }
  if (kVoting) *voting = v;
  *nanBits = nan;
  return s;
}
template <bool kZero, bool kStream, typename U>
inline void unpackFull(uint64_t sign, uint64_t nonzero, U pos, U neg, U* out) {
  if (kZero) unpackWord<U>(sign, nonzero, pos, neg, out, kWordBits);
  else unpackSignWord64<U>(sign, pos, neg, out);
}
constexpr bool kCanStream = false;
inline void streamFence() {}
}  // namespace generic
}  // namespace host
}  // namespace sv
#define SV_ISA_TARGET
#define SV_ISA_NS generic
#include "host_loops.h"
#undef SV_ISA_NS
namespace sv {
namespace host {

// ---- sse2: host_simd.h ------------------------------------------------------
#if defined(SV_HAVE_SSE2)
namespace sse2 {
template <typename U, typename K> struct Lanes;
template <typename K> struct Lanes<uint16_t, K> { using type = Lanes16<K>; };
template <typename K> struct Lanes<uint32_t, K> { using type = Lanes32<K>; };
template <typename K> struct Lanes<uint64_t, K> { using type = Lanes64; };
template <typename K, bool kVoting, typename U>
inline uint64_t packFull(const U* x, uint64_t* voting, uint64_t* nanBits) {
  return packWord64Simd<typename Lanes<U, K>::type, kVoting>(x, voting, nanBits);
}
// Unpack needs only the width: any encoding of that width has the same lanes.
template <bool kZero, bool kStream, typename U>
inline void unpackFull(uint64_t sign, uint64_t nonzero, U pos, U neg, U* out) {
  unpackWord64Simd<typename Lanes<U, FloatBits<U>>::type, kZero>(sign, nonzero, pos, neg, out);
}
constexpr bool kCanStream = false;
inline void streamFence() {}
}  // namespace sse2
}  // namespace host
}  // namespace sv
#define SV_ISA_NS sse2
#include "host_loops.h"
#undef SV_ISA_NS
namespace sv {
namespace host {
#endif
#undef SV_ISA_TARGET

const KernelTable* genericKernels() { return &generic::kTable; }
const KernelTable* sse2Kernels() {
#if defined(SV_HAVE_SSE2)
  return &sse2::kTable;
#else
  return nullptr;
#endif
}

// ---- choosing the ISA -------------------------------------------------------
namespace {

const KernelTable* tableOf(Isa isa) {
  switch (isa) {
    case Isa::kGeneric: return genericKernels();
    case Isa::kSse2: return sse2Kernels();
    case Isa::kAvx2: return avx2Kernels();
    case Isa::kAvx512: return avx512Kernels();
    case Isa::kNeon: return neonKernels();
  }
  return nullptr;
}

bool cpuHas(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  switch (isa) {
    case Isa::kGeneric: return true;
    case Isa::kSse2: return __builtin_cpu_supports("sse2");
    case Isa::kAvx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("popcnt");
    case Isa::kNeon: return false;
  }
  return false;
#elif defined(__aarch64__)
  // Advanced SIMD (NEON) is mandatory in AArch64 (and in its Linux ABI).
  return isa == Isa::kGeneric || isa == Isa::kNeon;
#else
  return isa == Isa::kGeneric;
#endif
}

std::atomic<const KernelTable*> gActive{nullptr};
std::atomic<int> gActiveIsa{0};
std::once_flag gChooseOnce;

void choose() {
  const std::vector<Isa> have = availableIsas();
  const char* env = getenv("SV_HOST_ISA");
  std::string warning;
  const Isa isa = chooseIsa(env, have, &warning);
  if (!warning.empty()) SV_WARN(-1, "%s", warning.c_str());
  const char* why = isa != defaultIsa(have) ? "SV_HOST_ISA"
                    : isa != have.back()     ? "the default; the opt-in forms run only with SV_HOST_ISA"
                                             : "the best this CPU and build have";
  SV_INFO(-1, "host kernels: %s (%s)", isaName(isa), why);
  gActiveIsa.store(static_cast<int>(isa));
  gActive.store(tableOf(isa), std::memory_order_release);
}

inline const KernelTable* active() {
  const KernelTable* t = gActive.load(std::memory_order_acquire);
  if (t == nullptr) {
    std::call_once(gChooseOnce, choose);
    t = gActive.load(std::memory_order_acquire);
  }
  return t;
}

}  // namespace

const char* isaName(Isa isa) {
  switch (isa) {
    case Isa::kGeneric: return "generic";
    case Isa::kSse2: return "sse2";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kNeon: return "neon";
  }
  return "?";
}

bool isOptIn(Isa isa) { return isa == Isa::kNeon; }

Isa defaultIsa(const std::vector<Isa>& have) {
  for (auto it = have.rbegin(); it != have.rend(); ++it)
    if (!isOptIn(*it)) return *it;
  return Isa::kGeneric;
}

Isa chooseIsa(const char* env, const std::vector<Isa>& have, std::string* warning) {
  const Isa best = defaultIsa(have);
  if (env == nullptr || *env == '\0' || strcasecmp(env, "auto") == 0) return best;
  for (Isa i : {Isa::kGeneric, Isa::kSse2, Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
    if (strcasecmp(env, isaName(i)) != 0) continue;
    for (Isa h : have)
      if (h == i) return i;
    if (warning != nullptr)
      *warning = std::string("SV_HOST_ISA=") + isaName(i) + ": not available on this CPU or in this build; using " +
                 isaName(best);
    return best;
  }
  if (warning != nullptr) {
    char shown[36], line[160];
    size_t k = 0;
    for (; env[k] != '\0' && k + 1 < sizeof shown; ++k) shown[k] = (env[k] >= 0x20 && env[k] < 0x7f) ? env[k] : '?';
    shown[k] = '\0';
    snprintf(line, sizeof line, "SV_HOST_ISA=%s: not one of generic, sse2, avx2, avx512, neon, auto; using %s", shown,
             isaName(best));
    *warning = line;
  }
  return best;
}

std::vector<Isa> availableIsas() {
  std::vector<Isa> v;
  for (Isa i : {Isa::kGeneric, Isa::kSse2, Isa::kAvx2, Isa::kAvx512, Isa::kNeon})
    if (tableOf(i) != nullptr && cpuHas(i)) v.push_back(i);
  return v;
}

Isa activeIsa() {
  active();
  return static_cast<Isa>(gActiveIsa.load());
}

bool setIsa(Isa isa) {
  active();  // the first choice (and its log line) happens once
  for (Isa h : availableIsas())
    if (h == isa) {
      gActiveIsa.store(static_cast<int>(isa));
      gActive.store(tableOf(isa), std::memory_order_release);
      return true;
    }
  return false;
}

// ---- entry points -----------------------------------------------------------
uint64_t pack(const void* x, size_t n, svDataType_t dt, int planes, uint64_t* out) {
  return active()->pack(x, n, dt, planes, out);
}

void unpack(const uint64_t* in, int planes, size_t n, svDataType_t dt, const OutputBits& bits, void* out,
            bool partOfLarge) {
  active()->unpack(in, planes, n, dt, bits, out, partOfLarge);
}

namespace {
template <typename U, typename K>
uint64_t countNansT(const U* x, size_t n) {
  uint64_t c = 0;
  for (size_t i = 0; i < n; ++i) c += isNan<U, K>(x[i]);
  return c;
}
}  // namespace

uint64_t countNans(const void* x, size_t n, svDataType_t dt) {
  switch (dt) {
    case svFloat16: return countNansT<uint16_t, FloatBits<uint16_t>>(static_cast<const uint16_t*>(x), n);
    case svBfloat16: return countNansT<uint16_t, Bf16Bits>(static_cast<const uint16_t*>(x), n);
    case svFloat32: return countNansT<uint32_t, FloatBits<uint32_t>>(static_cast<const uint32_t*>(x), n);
    case svFloat64: return countNansT<uint64_t, FloatBits<uint64_t>>(static_cast<const uint64_t*>(x), n);
  }
  return 0;
}

void vote(const uint64_t* in, size_t rankStride, size_t words, const VoteParams& p, uint64_t firstWord,
          uint64_t* out) {
  // Eight words at a time (their counters side by side in vector
  // registers), the rest one by one: the same logic (bitlogic.h).
  constexpr int kLanes = 8;
  size_t w = 0;
  for (; w + kLanes <= words; w += kLanes)
    voteWords<kLanes>(in + w * p.inPlanes, rankStride, p, firstWord + w, out + w * p.outPlanes);
  for (; w < words; ++w)
    voteWord(in + w * p.inPlanes, rankStride, p, firstWord + w, out + w * p.outPlanes);
}

namespace {
template <int L>
void countGroups(const uint64_t* in, size_t rankStride, int n, int inPlanes, int bits, uint64_t* out) {
  uint64_t pos[kMaxCounterBits][L], neg[kMaxCounterBits][L];
  sv::countVotes<L>(in, rankStride, n, inPlanes, bits, pos, neg);
  const int g = bits * inPlanes;
  for (int l = 0; l < L; ++l)
    for (int b = 0; b < bits; ++b) {
      out[l * g + b] = pos[b][l];
      if (inPlanes == 2) out[l * g + bits + b] = neg[b][l];
    }
}

template <int L>
void voteGroups(const uint64_t* const* src, const int* srcBits, int nsrc, size_t w, const VoteParams& p,
                uint64_t word, uint64_t* out) {
  const int bits = counterBits(p.nranks), ip = p.inPlanes;
  uint64_t pos[kMaxCounterBits][L] = {}, neg[kMaxCounterBits][L] = {};
  for (int i = 0; i < nsrc; ++i) {
    const int xb = srcBits[i], g = xb * ip;
    const uint64_t* x = src[i] + w * g;
    uint64_t xp[kMaxCounterBits][L], xn[kMaxCounterBits][L];
    for (int b = 0; b < xb; ++b)
      for (int l = 0; l < L; ++l) {
        xp[b][l] = x[l * g + b];
        if (ip == 2) xn[b][l] = x[l * g + xb + b];
      }
    counterAccumulate<L>(pos, bits, xp, xb);
    if (ip == 2) counterAccumulate<L>(neg, bits, xn, xb);
  }
  sv::voteCounts<L>(pos, neg, bits, p, word, out);
}
}  // namespace

void countVotes(const uint64_t* in, size_t rankStride, size_t words, int n, int inPlanes, int bits,
                uint64_t* out) {
  constexpr int kLanes = 8;
  const size_t g = static_cast<size_t>(bits) * inPlanes;
  size_t w = 0;
  for (; w + kLanes <= words; w += kLanes) countGroups<kLanes>(in + w * inPlanes, rankStride, n, inPlanes, bits, out + w * g);
  for (; w < words; ++w) countGroups<1>(in + w * inPlanes, rankStride, n, inPlanes, bits, out + w * g);
}

void voteCounts(const uint64_t* const* src, const int* srcBits, int nsrc, size_t words, const VoteParams& p,
                uint64_t firstWord, uint64_t* out) {
  constexpr int kLanes = 8;
  size_t w = 0;
  for (; w + kLanes <= words; w += kLanes)
    voteGroups<kLanes>(src, srcBits, nsrc, w, p, firstWord + w, out + w * p.outPlanes);
  for (; w < words; ++w) voteGroups<1>(src, srcBits, nsrc, w, p, firstWord + w, out + w * p.outPlanes);
}

}  // namespace host
}  // namespace sv
