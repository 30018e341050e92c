// SPDX-License-Identifier: MIT
// NEON (AArch64 Advanced SIMD) forms of the host kernels' full-word pack and
// unpack (host_isa.h), stamped from host_loops.h like the x86 forms. The
// predicates of bitlogic.h (see host_kernels_avx512.cc) as unsigned lane
// compares, 8 elements a step; NEON has no movemask, so a step's compare
// lanes are narrowed to 8 x 16 bits, ANDed with the bit weights 1..128 and
// summed across lanes (ADDV). Unpack: VTST turns the bits of the word into
// lane masks, BSL picks +scale / -scale. Integer only: exact under FTZ.
//
// Unmeasured: it is tested bit for bit against the generic form under
// qemu-user (scripts/cross_aarch64.sh), but nobody has timed it on an Arm
// CPU, so it is opt-in (SV_HOST_ISA=neon; defaultIsa() never picks it) and
// has neither software prefetch nor non-temporal stores: both were tuned on
// x86 and would be guesses here. docs/perf-host.md#aarch64.
#include "host_isa.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>

#define SV_ISA_TARGET  // Advanced SIMD is part of every AArch64 CPU: no attribute needed

namespace sv {
namespace host {
namespace neon {

// 8 compare results (16-bit lanes of all ones or zeros) -> 8 bits, lane i -> bit i.
inline uint64_t bits8(uint16x8_t m) {
  static const uint16_t kWeights[8] = {1, 2, 4, 8, 16, 32, 64, 128};
  return vaddvq_u16(vandq_u16(m, vld1q_u16(kWeights)));
}
inline uint64_t bits8(uint32x4_t m0, uint32x4_t m1) { return bits8(vcombine_u16(vmovn_u32(m0), vmovn_u32(m1))); }
inline uint64_t bits8(uint64x2_t m0, uint64x2_t m1, uint64x2_t m2, uint64x2_t m3) {
  return bits8(vcombine_u32(vmovn_u64(m0), vmovn_u64(m1)), vcombine_u32(vmovn_u64(m2), vmovn_u64(m3)));
}

// 16-bit elements (fp16, bf16): 8 steps of one vector.
template <typename K, bool kVoting>
inline uint64_t packFull(const uint16_t* x, uint64_t* voting, uint64_t* nanBits) {
  const uint16x8_t signPlus1 = vdupq_n_u16(static_cast<uint16_t>(K::kSign + 1u)), inf = vdupq_n_u16(K::kInf);
  const uint16x8_t absMask = vdupq_n_u16(static_cast<uint16_t>(~K::kSign)), one = vdupq_n_u16(1);
  uint64_t neg = 0, nan = 0, vote = 0;
  for (int j = 0; j < 64; j += 8) {
    const uint16x8_t u = vld1q_u16(x + j);
    const uint16x8_t a = vandq_u16(u, absMask);
    neg |= bits8(vcltq_u16(vsubq_u16(u, signPlus1), inf)) << j;
    nan |= bits8(vcgtq_u16(a, inf)) << j;
    if (kVoting) vote |= bits8(vcltq_u16(vsubq_u16(a, one), inf)) << j;
  }
  if (kVoting) *voting = vote;
  *nanBits = nan;
  return ~neg;
}

// 32-bit elements: 8 steps of two vectors.
template <typename K, bool kVoting>
inline uint64_t packFull(const uint32_t* x, uint64_t* voting, uint64_t* nanBits) {
  const uint32x4_t signPlus1 = vdupq_n_u32(K::kSign + 1u), inf = vdupq_n_u32(K::kInf);
  const uint32x4_t absMask = vdupq_n_u32(~K::kSign), one = vdupq_n_u32(1);
  uint64_t neg = 0, nan = 0, vote = 0;
  for (int j = 0; j < 64; j += 8) {
    const uint32x4_t u0 = vld1q_u32(x + j), u1 = vld1q_u32(x + j + 4);
    const uint32x4_t a0 = vandq_u32(u0, absMask), a1 = vandq_u32(u1, absMask);
    neg |= bits8(vcltq_u32(vsubq_u32(u0, signPlus1), inf), vcltq_u32(vsubq_u32(u1, signPlus1), inf)) << j;
    nan |= bits8(vcgtq_u32(a0, inf), vcgtq_u32(a1, inf)) << j;
    if (kVoting) vote |= bits8(vcltq_u32(vsubq_u32(a0, one), inf), vcltq_u32(vsubq_u32(a1, one), inf)) << j;
  }
  if (kVoting) *voting = vote;
  *nanBits = nan;
  return ~neg;
}

// 64-bit elements: 8 steps of four vectors (AArch64 has 64-bit lane compares).
template <typename K, bool kVoting>
inline uint64_t packFull(const uint64_t* x, uint64_t* voting, uint64_t* nanBits) {
  const uint64x2_t signPlus1 = vdupq_n_u64(K::kSign + 1u), inf = vdupq_n_u64(K::kInf);
  const uint64x2_t absMask = vdupq_n_u64(~K::kSign), one = vdupq_n_u64(1);
  uint64_t neg = 0, nan = 0, vote = 0;
  for (int j = 0; j < 64; j += 8) {
    uint64x2_t u[4], a[4], n[4], q[4], v[4];
    for (int k = 0; k < 4; ++k) {
      u[k] = vld1q_u64(x + j + 2 * k);
      a[k] = vandq_u64(u[k], absMask);
      n[k] = vcltq_u64(vsubq_u64(u[k], signPlus1), inf);
      q[k] = vcgtq_u64(a[k], inf);
      if (kVoting) v[k] = vcltq_u64(vsubq_u64(a[k], one), inf);
    }
    neg |= bits8(n[0], n[1], n[2], n[3]) << j;
    nan |= bits8(q[0], q[1], q[2], q[3]) << j;
    if (kVoting) vote |= bits8(v[0], v[1], v[2], v[3]) << j;
  }
  if (kVoting) *voting = vote;
  *nanBits = nan;
  return ~neg;
}

// Unpack: lane i of a step is +scale where bit i of the sign word is set,
// -scale where not; zeroed where the nonzero word's bit is clear (kZero).
template <bool kZero, bool kStream>
inline void unpackFull(uint64_t sign, uint64_t nonzero, uint16_t pos, uint16_t neg, uint16_t* out) {
  static const uint16_t kSel[8] = {1, 2, 4, 8, 16, 32, 64, 128};
  const uint16x8_t sel = vld1q_u16(kSel), vp = vdupq_n_u16(pos), vn = vdupq_n_u16(neg);
  for (int j = 0; j < 64; j += 8) {
    uint16x8_t v = vbslq_u16(vtstq_u16(vdupq_n_u16(static_cast<uint16_t>(sign >> j)), sel), vp, vn);
    if (kZero) v = vandq_u16(v, vtstq_u16(vdupq_n_u16(static_cast<uint16_t>(nonzero >> j)), sel));
    vst1q_u16(out + j, v);
  }
}

template <bool kZero, bool kStream>
inline void unpackFull(uint64_t sign, uint64_t nonzero, uint32_t pos, uint32_t neg, uint32_t* out) {
  static const uint32_t kSel[4] = {1, 2, 4, 8};
  const uint32x4_t sel = vld1q_u32(kSel), vp = vdupq_n_u32(pos), vn = vdupq_n_u32(neg);
  for (int j = 0; j < 64; j += 4) {
    uint32x4_t v = vbslq_u32(vtstq_u32(vdupq_n_u32(static_cast<uint32_t>(sign >> j)), sel), vp, vn);
    if (kZero) v = vandq_u32(v, vtstq_u32(vdupq_n_u32(static_cast<uint32_t>(nonzero >> j)), sel));
    vst1q_u32(out + j, v);
  }
}

template <bool kZero, bool kStream>
inline void unpackFull(uint64_t sign, uint64_t nonzero, uint64_t pos, uint64_t neg, uint64_t* out) {
  static const uint64_t kSel[2] = {1, 2};
  const uint64x2_t sel = vld1q_u64(kSel), vp = vdupq_n_u64(pos), vn = vdupq_n_u64(neg);
  for (int j = 0; j < 64; j += 2) {
    uint64x2_t v = vbslq_u64(vtstq_u64(vdupq_n_u64(sign >> j), sel), vp, vn);
    if (kZero) v = vandq_u64(v, vtstq_u64(vdupq_n_u64(nonzero >> j), sel));
    vst1q_u64(out + j, v);
  }
}

constexpr bool kCanStream = false;
inline void streamFence() {}

}  // namespace neon
}  // namespace host
}  // namespace sv

#define SV_ISA_NS neon
#include "host_loops.h"
#undef SV_ISA_NS
#undef SV_ISA_TARGET

const sv::host::KernelTable* sv::host::neonKernels() { return &neon::kTable; }

#else
const sv::host::KernelTable* sv::host::neonKernels() { return nullptr; }
#endif
