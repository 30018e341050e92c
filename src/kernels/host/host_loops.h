// SPDX-License-Identifier: MIT
// The host kernels' loops over whole words, written once and stamped out per
// instruction set. Included (no include guard, on purpose) by each ISA's
// translation unit after it defines
//   SV_ISA_TARGET   the function attribute enabling the ISA (may be empty)
//   SV_ISA_NS       the namespace of that ISA's kernels
// and, in sv::host::SV_ISA_NS, for U = uint16_t, uint32_t, uint64_t:
//   template <typename K, bool kVoting>
//   uint64_t packFull(const U* x, uint64_t* voting, uint64_t* nanBits);
//       64 elements -> sign word (1 = votes +1), voting word, NaN bits
//   template <bool kZero, bool kStream>
//   void unpackFull(uint64_t sign, uint64_t nonzero, U pos, U neg, U* out);
//       64 elements from a sign word (and a nonzero word when kZero);
//       kStream: non-temporal stores to a 64-byte aligned out (an output
//       that is not aligned is streamed from funnelled words)
//   constexpr bool kCanStream;  void streamFence();
// Each ISA namespace gets its own copies, so no instantiation compiled for
// one ISA can be picked by the linker for another. The tails (n % 64) take
// bitlogic.h's generic word functions, compiled for the baseline.

namespace sv {
namespace host {
namespace SV_ISA_NS {

template <typename U, typename K>
SV_ISA_TARGET uint64_t packT(const U* x, size_t n, int planes, uint64_t* out) {
  const size_t full = n / kWordBits;
  const int tail = static_cast<int>(n % kWordBits);
  uint64_t nans = 0, voting = 0, nanBits = 0;
  if (planes == 1) {
    for (size_t w = 0; w < full; ++w) {
      out[w] = packFull<K, false>(x + w * kWordBits, &voting, &nanBits);
      nans += static_cast<uint64_t>(__builtin_popcountll(nanBits));
    }
  } else {
    for (size_t w = 0; w < full; ++w) {
      out[2 * w] = packFull<K, true>(x + w * kWordBits, &voting, &nanBits);
      out[2 * w + 1] = voting;
      nans += static_cast<uint64_t>(__builtin_popcountll(nanBits));
    }
  }
  if (tail) {
    uint64_t s;
    nans += static_cast<uint64_t>(packWord<U, K>(x + full * kWordBits, tail, &s, &voting));
    out[full * planes] = s;
    if (planes == 2) out[full * 2 + 1] = voting;
  }
  return nans;
}

template <typename U, bool kZero, bool kStream>
SV_ISA_TARGET void unpackLoop(const uint64_t* in, size_t full, U pos, U neg, U* out) {
  constexpr int planes = kZero ? 2 : 1;
  for (size_t w = 0; w < full; ++w)
    unpackFull<kZero, kStream>(in[w * planes], kZero ? in[w * planes + 1] : ~0ull, pos, neg, out + w * kWordBits);
}

// Outputs at least this large go around the caches (where the ISA can):
// they will not be read back before they would have been evicted anyway.
// So do the pieces of one (partOfLarge: a group's tensors, host_kernels.h).
constexpr size_t kStreamBytes = kStreamOutputBytes;  // host_isa.h

// Plane `plane` of the 64 elements that start at bit s (1..63) of word w:
// the bits as an output that starts s elements late sees them.
template <int kPlanes>
SV_ISA_TARGET inline uint64_t funnelWord(const uint64_t* in, size_t words, size_t w, int plane, int s) {
  const uint64_t lo = in[w * kPlanes + plane] >> s;
  const uint64_t hi = w + 1 < words ? in[(w + 1) * kPlanes + plane] << (64 - s) : 0;
  return lo | hi;
}

// A streamed unpack into an output that is not 64-byte aligned: the first
// `head` elements (up to the boundary) with regular stores, then whole
// aligned 64-element steps from funnelled words, then the tail. Large
// outputs from malloc are 16 bytes past a page, so this is the common case.
template <typename U, bool kZero>
SV_ISA_TARGET void unpackStreamShifted(const uint64_t* in, size_t n, U pos, U neg, U* out, int head) {
  constexpr int planes = kZero ? 2 : 1;
  const size_t words = divUp(n, kWordBits);
  unpackWord<U>(in[0], kZero ? in[1] : ~0ull, pos, neg, out, head);
  const size_t rest = n - static_cast<size_t>(head), full = rest / kWordBits;
  const int tail = static_cast<int>(rest % kWordBits);
  U* o = out + head;
  for (size_t w = 0; w < full; ++w)
    unpackFull<kZero, kCanStream>(funnelWord<planes>(in, words, w, 0, head),
                                  kZero ? funnelWord<planes>(in, words, w, 1, head) : ~0ull, pos, neg,
                                  o + w * kWordBits);
  streamFence();
  if (tail)
    unpackWord<U>(funnelWord<planes>(in, words, full, 0, head),
                  kZero ? funnelWord<planes>(in, words, full, 1, head) : ~0ull, pos, neg, o + full * kWordBits, tail);
}

template <typename U>
SV_ISA_TARGET void unpackT(const uint64_t* in, int planes, size_t n, const OutputBits& bits, U* out, bool partOfLarge) {
  const size_t full = n / kWordBits;
  const int tail = static_cast<int>(n % kWordBits);
  const U pos = static_cast<U>(bits.pos), neg = static_cast<U>(bits.neg);
  const uintptr_t misalign = reinterpret_cast<uintptr_t>(out) % 64;
  // A piece streams from two words on (its head, up to a 64-byte boundary,
  // is at most 32 elements, so at least a line follows).
  const bool stream = kCanStream && (n * sizeof(U) >= kStreamBytes || (partOfLarge && n >= 2 * kWordBits));
  if (stream && misalign != 0) {
    // Element-aligned (the entry points check it), so head < 64 / sizeof(U).
    const int head = static_cast<int>((64 - misalign) / sizeof(U));
    if (planes == 2) unpackStreamShifted<U, true>(in, n, pos, neg, out, head);
    else unpackStreamShifted<U, false>(in, n, pos, neg, out, head);
    return;
  }
  if (planes == 2) {
    if (stream) unpackLoop<U, true, kCanStream>(in, full, pos, neg, out);
    else unpackLoop<U, true, false>(in, full, pos, neg, out);
  } else {
    if (stream) unpackLoop<U, false, kCanStream>(in, full, pos, neg, out);
    else unpackLoop<U, false, false>(in, full, pos, neg, out);
  }
  if (stream) streamFence();
  if (tail) {
    const uint64_t nonzero = planes == 2 ? in[2 * full + 1] : ~0ull;
    unpackWord<U>(in[full * planes], nonzero, pos, neg, out + full * kWordBits, tail);
  }
}

SV_ISA_TARGET uint64_t pack(const void* x, size_t n, svDataType_t dt, int planes, uint64_t* out) {
  switch (dt) {
    case svFloat16: return packT<uint16_t, FloatBits<uint16_t>>(static_cast<const uint16_t*>(x), n, planes, out);
    case svBfloat16: return packT<uint16_t, Bf16Bits>(static_cast<const uint16_t*>(x), n, planes, out);
    case svFloat32: return packT<uint32_t, FloatBits<uint32_t>>(static_cast<const uint32_t*>(x), n, planes, out);
    case svFloat64: return packT<uint64_t, FloatBits<uint64_t>>(static_cast<const uint64_t*>(x), n, planes, out);
  }
  return 0;
}

SV_ISA_TARGET void unpack(const uint64_t* in, int planes, size_t n, svDataType_t dt, const OutputBits& bits,
                          void* out, bool partOfLarge) {
  switch (dt) {
    case svFloat16:
    case svBfloat16: unpackT<uint16_t>(in, planes, n, bits, static_cast<uint16_t*>(out), partOfLarge); break;
    case svFloat32: unpackT<uint32_t>(in, planes, n, bits, static_cast<uint32_t*>(out), partOfLarge); break;
    case svFloat64: unpackT<uint64_t>(in, planes, n, bits, static_cast<uint64_t*>(out), partOfLarge); break;
  }
}

const KernelTable kTable = {pack, unpack};

}  // namespace SV_ISA_NS
}  // namespace host
}  // namespace sv
