// SPDX-License-Identifier: MIT
// host::pack / countNans / vote / unpack over element ranges with tails,
// both plane counts, every datatype, against per-element references, with
// every instruction set this CPU has (host_isa.h). Output past the range must
// stay untouched.
#include <catch2/catch.hpp>

#include <vector>

#include "bitlogic.h"
#include "kernels/host/host_isa.h"
#include "kernels/host/host_kernels.h"
#include "unit_reference.h"

namespace {

const svDataType_t kTypes[] = {svFloat16, svBfloat16, svFloat32, svFloat64};
constexpr uint64_t kGuard = 0xC0FFEE1234567890ull;

std::vector<size_t> rangeCounts() {
  std::vector<size_t> v;
  for (size_t n = 0; n <= 200; ++n) v.push_back(n);
  for (size_t n : {255, 256, 257, 1000, 4096, 65600, 100003}) v.push_back(n);
  return v;
}

// Elements of dt, starting `offset` elements into 16-byte aligned storage.
struct ElemBuf {
  ElemBuf(svDataType_t dt, size_t n, size_t offset) : esz(ref::elemSize(dt)), off(offset) {
    store.assign((n + offset + 16) * esz / 8 + 2, 0);
  }
  void* data() { return reinterpret_cast<char*>(store.data()) + off * esz; }
  size_t esz, off;
  std::vector<uint64_t> store;
};

// Runs the kernels with one ISA for a scope, then restores the one in use.
struct IsaScope {
  explicit IsaScope(sv::host::Isa isa) : saved(sv::host::activeIsa()) { REQUIRE(sv::host::setIsa(isa)); }
  ~IsaScope() { sv::host::setIsa(saved); }
  sv::host::Isa saved;
};

}  // namespace

TEST_CASE("host::pack equals the per-element reference over ranges with tails", "[host]") {
  const sv::host::Isa isa = GENERATE(from_range(sv::host::availableIsas()));
  IsaScope scope(isa);
  INFO("ISA " << sv::host::isaName(isa));
  ref::Rng rng(101);
  for (svDataType_t dt : kTypes) {
    const ref::Format f = ref::formatOf(dt);
    for (int planes = 1; planes <= 2; ++planes) {
      size_t bad = 0;
      std::string first;
      for (size_t n : rangeCounts()) {
        for (size_t offset = 0; offset < (n > 300 ? 2u : 4u); ++offset) {
          ElemBuf x(dt, n, offset);
          std::vector<uint64_t> bits(n);
          const int pSpecial = static_cast<int>(rng.below(60)), pZero = static_cast<int>(rng.below(30));
          for (size_t i = 0; i < n; ++i) {
            bits[i] = ref::randomElement(rng, f, true, pSpecial, pZero);
            ref::storeElem(x.data(), i, x.esz, bits[i]);
          }
          const size_t words = (n + 63) / 64;
          std::vector<uint64_t> out(words * planes + 3, kGuard);
          const uint64_t nans = sv::host::pack(x.data(), n, dt, planes, out.data());
          // Reference.
          std::vector<uint64_t> want(words * planes + 3, kGuard);
          uint64_t wantNans = 0;
          for (size_t w = 0; w < words; ++w) {
            uint64_t s = 0, v = 0;
            for (size_t j = 0; j < 64 && w * 64 + j < n; ++j) {
              const ref::Cls c = ref::classify(bits[w * 64 + j], f);
              if (c != ref::Cls::Neg) s |= 1ull << j;
              if (c == ref::Cls::Pos || c == ref::Cls::Neg) v |= 1ull << j;
              wantNans += c == ref::Cls::NaN;
            }
            want[w * planes] = s;
            if (planes == 2) want[w * planes + 1] = v;
          }
          if ((out != want || nans != wantNans) && bad++ == 0) {
            size_t k = 0;
            while (k < out.size() && out[k] == want[k]) ++k;
            first = std::string(ref::dtLabel(dt)) + " n=" + std::to_string(n) + " offset=" + std::to_string(offset) +
                    " nans " + std::to_string(nans) + " want " + std::to_string(wantNans) + "; first differing word " +
                    std::to_string(k);
          }
          if (planes == 1 && sv::host::countNans(x.data(), n, dt) != wantNans && bad++ == 0)
            first = std::string("countNans ") + ref::dtLabel(dt) + " n=" + std::to_string(n);
        }
      }
      INFO(ref::dtLabel(dt) << " planes=" << planes << ": " << first);
      CHECK(bad == 0);
    }
  }
}

TEST_CASE("host::pack counts NaNs of every kind on large inputs", "[host]") {
  const sv::host::Isa isa = GENERATE(from_range(sv::host::availableIsas()));
  IsaScope scope(isa);
  INFO("ISA " << sv::host::isaName(isa));
  ref::Rng rng(102);
  for (svDataType_t dt : kTypes) {
    const ref::Format f = ref::formatOf(dt);
    const size_t n = 300007;
    ElemBuf x(dt, n, 1);
    uint64_t wantNans = 0;
    for (size_t i = 0; i < n; ++i) {
      const uint64_t b = ref::randomElement(rng, f, true, 50, 5);
      wantNans += ref::isNaNBits(b, f);
      ref::storeElem(x.data(), i, x.esz, b);
    }
    REQUIRE(wantNans > 1000);
    for (int planes = 1; planes <= 2; ++planes) {
      std::vector<uint64_t> out(((n + 63) / 64) * planes);
      INFO(ref::dtLabel(dt) << " planes=" << planes);
      CHECK(sv::host::pack(x.data(), n, dt, planes, out.data()) == wantNans);
    }
    CHECK(sv::host::countNans(x.data(), n, dt) == wantNans);
    CHECK(sv::host::countNans(x.data(), 0, dt) == 0);
  }
}

TEST_CASE("host::unpack equals the per-element reference over ranges with tails", "[host]") {
  const sv::host::Isa isa = GENERATE(from_range(sv::host::availableIsas()));
  IsaScope scope(isa);
  INFO("ISA " << sv::host::isaName(isa));
  ref::Rng rng(103);
  for (svDataType_t dt : kTypes) {
    const ref::Format f = ref::formatOf(dt);
    for (int planes = 1; planes <= 2; ++planes) {
      size_t bad = 0;
      std::string first;
      for (size_t n : rangeCounts()) {
        for (size_t offset = 0; offset < (n > 300 ? 2u : 3u); ++offset) {
          const size_t words = (n + 63) / 64;
          std::vector<uint64_t> in(words * planes + 1);
          for (auto& w : in) w = rng.next() | (rng.below(4) == 0 ? rng.next() : 0);
          sv::OutputBits ob;
          ob.pos = rng.next() & ref::allMask(f);
          ob.neg = rng.below(2) ? (ob.pos ^ ref::signMask(f)) : (rng.next() & ref::allMask(f));
          ElemBuf out(dt, n, offset);
          const uint64_t guardElem = 0x5A5A5A5A5A5A5A5Aull & ref::allMask(f);
          for (size_t i = 0; i < out.store.size() * 8 / out.esz; ++i)
            ref::storeElem(out.store.data(), i, out.esz, guardElem);
          sv::host::unpack(in.data(), planes, n, dt, ob, out.data());
          bool ok = true;
          const size_t total = out.store.size() * 8 / out.esz;
          for (size_t i = 0; i < total && ok; ++i) {
            uint64_t want = guardElem;
            if (i >= offset && i < offset + n) {
              const size_t e = i - offset, w = e / 64, j = e % 64;
              const bool s = (in[w * planes] >> j) & 1;
              const bool nz = planes == 1 ? true : ((in[w * planes + 1] >> j) & 1);
              want = nz ? (s ? ob.pos : ob.neg) : 0;
            }
            ok = ref::loadElem(out.store.data(), i, out.esz) == want;
            if (!ok && bad++ == 0)
              first = std::string(ref::dtLabel(dt)) + " n=" + std::to_string(n) + " offset=" + std::to_string(offset) +
                      " storage element " + std::to_string(i) + " got " +
                      ref::hex(ref::loadElem(out.store.data(), i, out.esz)) + " want " + ref::hex(want);
          }
        }
      }
      INFO(ref::dtLabel(dt) << " planes=" << planes << ": " << first);
      CHECK(bad == 0);
    }
  }
}

TEST_CASE("host::vote over word ranges equals per-bit counting with the global word index", "[host]") {
  ref::Rng rng(104);
  size_t bad = 0;
  std::string first;
  for (int P : {1, 2, 3, 4, 5, 8, 11, 16, 33, 64}) {
    for (int inPlanes = 1; inPlanes <= 2; ++inPlanes) {
      for (int outPlanes = 1; outPlanes <= 2; ++outPlanes) {
        for (int tie : {sv::kTiePositive, sv::kTieZero, sv::kTieRandom}) {
          for (size_t words : {size_t(0), size_t(1), size_t(2), size_t(7), size_t(16), size_t(37)}) {
            const size_t rankStride = words * inPlanes + rng.below(5);
            std::vector<uint64_t> in(rankStride * P + inPlanes + 1);
            const int density = static_cast<int>(rng.below(3));
            for (auto& w : in) w = density == 0 ? rng.next() : density == 1 ? rng.next() & rng.next() : rng.next() | rng.next();
            sv::VoteParams vp;
            vp.nranks = P;
            vp.inPlanes = inPlanes;
            vp.outPlanes = outPlanes;
            vp.tie = tie;
            vp.seed = rng.next();
            vp.call = rng.below(50);
            const uint64_t firstWord = rng.below(1u << 20);
            std::vector<uint64_t> out(words * outPlanes + 2, kGuard);
            sv::host::vote(in.data(), rankStride, words, vp, firstWord, out.data());
            std::vector<uint64_t> want(words * outPlanes + 2, kGuard);
            const int tiePolicy = tie == sv::kTiePositive ? SV_TIE_POSITIVE
                                  : tie == sv::kTieZero   ? SV_TIE_ZERO
                                                          : SV_TIE_RANDOM;
            for (size_t w = 0; w < words; ++w)
              ref::voteGroup(in.data() + w * inPlanes, rankStride, P, inPlanes, outPlanes, tiePolicy,
                             sv::tieRandomBits(vp.seed, vp.call, firstWord + w), want.data() + w * outPlanes);
            if (out != want && bad++ == 0)
              first = "P=" + std::to_string(P) + " inPlanes=" + std::to_string(inPlanes) + " outPlanes=" +
                      std::to_string(outPlanes) + " tie=" + std::to_string(tie) + " words=" + std::to_string(words);
          }
        }
      }
    }
  }
  INFO(first);
  CHECK(bad == 0);
}

TEST_CASE("host::pack then host::unpack gives the sign vote of every element", "[host]") {
  const sv::host::Isa isa = GENERATE(from_range(sv::host::availableIsas()));
  IsaScope scope(isa);
  INFO("ISA " << sv::host::isaName(isa));
  ref::Rng rng(105);
  for (svDataType_t dt : kTypes) {
    const ref::Format f = ref::formatOf(dt);
    const size_t n = 5000 + rng.below(200);
    ElemBuf x(dt, n, 0), y(dt, n, 0);
    std::vector<uint64_t> bits(n);
    for (size_t i = 0; i < n; ++i) {
      bits[i] = ref::randomElement(rng, f, true, 30, 10);
      ref::storeElem(x.data(), i, x.esz, bits[i]);
    }
    std::vector<uint64_t> packed(2 * ((n + 63) / 64));
    sv::host::pack(x.data(), n, dt, 2, packed.data());
    const sv::OutputBits ob{ref::roundTo(dt, 1.0), ref::roundTo(dt, -1.0)};
    sv::host::unpack(packed.data(), 2, n, dt, ob, y.data());
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i) {
      // Two planes through unpack: sign and "votes" -> +1, -1, or 0 for zeros and NaNs.
      const ref::Cls c = ref::classify(bits[i], f);
      const uint64_t want = c == ref::Cls::Pos ? ob.pos : c == ref::Cls::Neg ? ob.neg : 0;
      bad += ref::loadElem(y.data(), i, y.esz) != want;
    }
    INFO(ref::dtLabel(dt));
    CHECK(bad == 0);
  }
}
