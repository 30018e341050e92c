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
//       kStream: non-temporal stores to a 64-byte aligned out
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
constexpr size_t kStreamBytes = size_t(4) << 20;

template <typename U>
SV_ISA_TARGET void unpackT(const uint64_t* in, int planes, size_t n, const OutputBits& bits, U* out) {
  const size_t full = n / kWordBits;
  const int tail = static_cast<int>(n % kWordBits);
  const U pos = static_cast<U>(bits.pos), neg = static_cast<U>(bits.neg);
  const bool stream =
      kCanStream && n * sizeof(U) >= kStreamBytes && reinterpret_cast<uintptr_t>(out) % 64 == 0;
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
                          void* out) {
  switch (dt) {
    case svFloat16:
    case svBfloat16: unpackT<uint16_t>(in, planes, n, bits, static_cast<uint16_t*>(out)); break;
    case svFloat32: unpackT<uint32_t>(in, planes, n, bits, static_cast<uint32_t*>(out)); break;
    case svFloat64: unpackT<uint64_t>(in, planes, n, bits, static_cast<uint64_t*>(out)); break;
  }
}

const KernelTable kTable = {pack, unpack};

}  // namespace SV_ISA_NS
}  // namespace host
}  // namespace sv
