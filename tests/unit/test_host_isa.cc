// SPDX-License-Identifier: MIT
// Every instruction-set form of the host kernels (host_isa.h) against the
// generic form, bit for bit: every 16-bit pattern, millions of random and
// adversarial elements of every width, every tail length, both plane
// counts, unaligned inputs and outputs, and the large unpacks that take
// non-temporal stores. Plus SV_HOST_ISA's parsing. On aarch64 the ISAs
// compared with generic are neon only (scripts/cross_aarch64.sh, qemu-user).
#include <catch2/catch.hpp>

#include <string.h>

#include <string>
#include <vector>

#include "bitlogic.h"
#include "kernels/host/host_isa.h"
#include "unit_reference.h"

namespace {

using sv::host::Isa;
const svDataType_t kTypes[] = {svFloat16, svBfloat16, svFloat32, svFloat64};
constexpr uint64_t kGuard = 0x5A5A5A5A5A5A5A5Aull;

const sv::host::KernelTable* tableOf(Isa isa) {
  switch (isa) {
    case Isa::kGeneric: return sv::host::genericKernels();
    case Isa::kSse2: return sv::host::sse2Kernels();
    case Isa::kAvx2: return sv::host::avx2Kernels();
    case Isa::kAvx512: return sv::host::avx512Kernels();
    case Isa::kNeon: return sv::host::neonKernels();
  }
  return nullptr;
}

const Isa kAllIsas[] = {Isa::kGeneric, Isa::kSse2, Isa::kAvx2, Isa::kAvx512, Isa::kNeon};

// The ISAs to compare with generic (every available one but generic).
std::vector<Isa> others() {
  std::vector<Isa> v;
  for (Isa i : sv::host::availableIsas())
    if (i != Isa::kGeneric) v.push_back(i);
  return v;
}

// Element patterns at the edges of every predicate: around +-0, +-INF, the
// NaNs and the largest finite values, for format f.
std::vector<uint64_t> edges(const ref::Format& f) {
  const uint64_t sign = ref::signMask(f), inf = ref::infBits(f), all = ref::allMask(f);
  std::vector<uint64_t> v;
  for (uint64_t base : {uint64_t(0), inf, sign, sign | inf, all, uint64_t(1) << (f.bits - 2)})
    for (int d = -3; d <= 3; ++d) v.push_back((base + static_cast<uint64_t>(static_cast<int64_t>(d))) & all);
  return v;
}

// pack with isa and with generic on the same elements; both outputs and NaN counts equal.
void comparePack(Isa isa, svDataType_t dt, const std::vector<uint64_t>& elems, size_t offset, const char* what) {
  const size_t esz = ref::elemSize(dt), n = elems.size();
  std::vector<uint64_t> store((n + offset + 16) * esz / 8 + 2, 0);
  char* x = reinterpret_cast<char*>(store.data()) + offset * esz;
  for (size_t i = 0; i < n; ++i) ref::storeElem(x, i, esz, elems[i]);
  for (int planes = 1; planes <= 2; ++planes) {
    const size_t words = (n + 63) / 64;
    std::vector<uint64_t> got(words * planes + 2, kGuard), want(words * planes + 2, kGuard);
    const uint64_t gotNans = tableOf(isa)->pack(x, n, dt, planes, got.data());
    const uint64_t wantNans = sv::host::genericKernels()->pack(x, n, dt, planes, want.data());
    size_t firstBad = got.size();
    for (size_t w = 0; w < got.size() && firstBad == got.size(); ++w)
      if (got[w] != want[w]) firstBad = w;
    INFO(sv::host::isaName(isa) << " " << ref::dtLabel(dt) << " " << what << " n=" << n << " offset=" << offset
                                << " planes=" << planes << " first differing word " << firstBad);
    CHECK(firstBad == got.size());
    CHECK(gotNans == wantNans);
  }
}

}  // namespace

TEST_CASE("every ISA the CPU has is listed, generic first, and one is active", "[host][isa]") {
  const std::vector<Isa> have = sv::host::availableIsas();
  REQUIRE(!have.empty());
  CHECK(have.front() == Isa::kGeneric);
  std::string names;
  for (Isa i : have) names += std::string(sv::host::isaName(i)) + " ";
  WARN("host ISAs on this machine: " << names << "(active: " << sv::host::isaName(sv::host::activeIsa()) << ")");
#if defined(__x86_64__)
  CHECK(have.size() >= 2);  // SSE2 is the x86-64 baseline
  CHECK(have[1] == Isa::kSse2);
  CHECK(sv::host::neonKernels() == nullptr);
  CHECK(sv::host::defaultIsa(have) == have.back());  // no opt-in form on x86
#elif defined(__aarch64__)
  // The x86 forms are not built; NEON is (every AArch64 CPU has it) but
  // opt-in, so the default stays generic.
  CHECK(have == std::vector<Isa>{Isa::kGeneric, Isa::kNeon});
  CHECK(sv::host::sse2Kernels() == nullptr);
  CHECK(sv::host::avx2Kernels() == nullptr);
  CHECK(sv::host::avx512Kernels() == nullptr);
  CHECK(sv::host::defaultIsa(have) == Isa::kGeneric);
  CHECK(sv::host::chooseIsa(nullptr, have, nullptr) == Isa::kGeneric);
#endif
  for (Isa i : have) CHECK(tableOf(i) != nullptr);
  // An ISA not listed is not run: its table is null or the CPU lacks it.
  for (Isa i : kAllIsas) {
    bool listed = false;
    for (Isa h : have) listed |= h == i;
    if (!listed) CHECK(!sv::host::setIsa(i));
  }
}

TEST_CASE("every ISA packs every 16-bit pattern as the generic form does", "[host][isa]") {
  for (Isa isa : others())
    for (svDataType_t dt : {svFloat16, svBfloat16}) {
      std::vector<uint64_t> all(65536);
      for (size_t i = 0; i < all.size(); ++i) all[i] = i;
      for (size_t offset : {0, 1, 7}) comparePack(isa, dt, all, offset, "all 65536 patterns");
    }
}

TEST_CASE("every ISA packs random and adversarial elements of every width as the generic form does",
          "[host][isa]") {
  ref::Rng rng(2026);
  for (Isa isa : others())
    for (svDataType_t dt : kTypes) {
      const ref::Format f = ref::formatOf(dt);
      const std::vector<uint64_t> edge = edges(f);
      // 2^21 random bit patterns, then runs drawn from the edge patterns.
      std::vector<uint64_t> v(1 << 21);
      for (auto& e : v) e = ref::randomElement(rng, f, true, 20, 10);
      comparePack(isa, dt, v, 0, "random");
      for (auto& e : v) e = edge[rng.below(edge.size())];
      comparePack(isa, dt, v, 3, "edges");
      // Every tail length, at several misalignments.
      for (size_t n = 0; n <= 260; ++n) {
        std::vector<uint64_t> t(n);
        for (auto& e : t) e = rng.below(4) ? edge[rng.below(edge.size())] : ref::randomElement(rng, f, true, 30, 20);
        comparePack(isa, dt, t, n % 5, "tail");
      }
    }
}

TEST_CASE("every ISA unpacks as the generic form does, tails, misaligned and streamed outputs included",
          "[host][isa]") {
  ref::Rng rng(2027);
  // Counts with tails, and a large one (at least 4 MiB of output: the
  // non-temporal path where the ISA has one, on aligned and unaligned outputs).
  std::vector<size_t> counts;
  for (size_t n = 0; n <= 200; ++n) counts.push_back(n);
  counts.push_back(100003);
  for (Isa isa : others())
    for (svDataType_t dt : kTypes) {
      const size_t esz = ref::elemSize(dt);
      std::vector<size_t> cs = counts;
      cs.push_back((size_t(4) << 20) / esz + 64 * 3 + 17);
      for (size_t n : cs)
        for (int planes = 1; planes <= 2; ++planes)
          // Offsets 1 and 3 elements: streamed outputs that start 2-24 bytes
          // past a 64-byte boundary (funnelled words, host_loops.h).
          // partOfLarge: the pieces of a group stream however small they are.
          for (size_t offset : {size_t(0), size_t(1), size_t(3)})
            for (bool partOfLarge : {false, true}) {
            if (n > 1000 && n < 1000000 && offset != 0 && planes == 2) continue;  // time
            if (partOfLarge && n > 1000000) continue;  // streamed anyway
            const size_t words = (n + 63) / 64;
            std::vector<uint64_t> in(words * planes + 1);
            for (auto& w : in) w = rng.next();
            sv::OutputBits bits;
            bits.pos = 0x3c01 + rng.below(100);
            bits.neg = bits.pos ^ (uint64_t(1) << (esz * 8 - 1));
            // 64-byte aligned storage; offset elements into it.
            const size_t bytes = (n + offset) * esz + 64;
            std::vector<uint64_t> got(bytes / 8 + 16, kGuard), want(bytes / 8 + 16, kGuard);
            auto align = [&](std::vector<uint64_t>& b) {
              char* p = reinterpret_cast<char*>(b.data());
              p += (64 - reinterpret_cast<uintptr_t>(p) % 64) % 64;
              return p + offset * esz;
            };
            char* g = align(got);
            char* w = align(want);
            tableOf(isa)->unpack(in.data(), planes, n, dt, bits, g, partOfLarge);
            sv::host::genericKernels()->unpack(in.data(), planes, n, dt, bits, w, false);
            const size_t span = n * esz + 32;  // 32 guard bytes past the end
            size_t firstBad = span;
            for (size_t i = 0; i < span && firstBad == span; ++i)
              if (g[i] != w[i]) firstBad = i;
            INFO(sv::host::isaName(isa) << " " << ref::dtLabel(dt) << " n=" << n << " planes=" << planes
                                        << " offset=" << offset << (partOfLarge ? " part of a large output" : "")
                                        << " first differing byte " << firstBad);
            CHECK(firstBad == span);
          }
    }
}

TEST_CASE("SV_HOST_ISA picks an available ISA, case-insensitive, and anything else falls back with a warning",
          "[host][isa]") {
  const std::vector<Isa> have = {Isa::kGeneric, Isa::kSse2, Isa::kAvx2};
  std::string w;
  CHECK(sv::host::chooseIsa(nullptr, have, &w) == Isa::kAvx2);
  CHECK(w.empty());
  CHECK(sv::host::chooseIsa("", have, &w) == Isa::kAvx2);
  CHECK(sv::host::chooseIsa("auto", have, &w) == Isa::kAvx2);
  CHECK(sv::host::chooseIsa("generic", have, &w) == Isa::kGeneric);
  CHECK(sv::host::chooseIsa("SSE2", have, &w) == Isa::kSse2);
  CHECK(w.empty());
  CHECK(sv::host::chooseIsa("avx512", have, &w) == Isa::kAvx2);
  CHECK(w == "SV_HOST_ISA=avx512: not available on this CPU or in this build; using avx2");
  w.clear();
  CHECK(sv::host::chooseIsa("sve\n", have, &w) == Isa::kAvx2);
  CHECK(w == "SV_HOST_ISA=sve?: not one of generic, sse2, avx2, avx512, neon, auto; using avx2");
  w.clear();
  CHECK(sv::host::chooseIsa("neon", have, &w) == Isa::kAvx2);
  CHECK(w == "SV_HOST_ISA=neon: not available on this CPU or in this build; using avx2");
  // An opt-in ISA (neon) runs only when named; the default skips it.
  const std::vector<Isa> arm = {Isa::kGeneric, Isa::kNeon};
  w.clear();
  CHECK(sv::host::chooseIsa(nullptr, arm, &w) == Isa::kGeneric);
  CHECK(sv::host::chooseIsa("auto", arm, &w) == Isa::kGeneric);
  CHECK(sv::host::chooseIsa("NEON", arm, &w) == Isa::kNeon);
  CHECK(w.empty());
  CHECK(sv::host::chooseIsa("avx2", arm, &w) == Isa::kGeneric);
  CHECK(w == "SV_HOST_ISA=avx2: not available on this CPU or in this build; using generic");
  // On this machine: every ISA it lacks falls back to the default, saying so.
  const std::vector<Isa> here = sv::host::availableIsas();
  const Isa dflt = sv::host::defaultIsa(here);
  for (Isa i : kAllIsas) {
    bool found = false;
    for (Isa h : here) found |= h == i;
    std::string wi;
    INFO(sv::host::isaName(i));
    CHECK(sv::host::chooseIsa(sv::host::isaName(i), here, &wi) == (found ? i : dflt));
    if (found) CHECK(wi.empty());
    else
      CHECK(wi == std::string("SV_HOST_ISA=") + sv::host::isaName(i) +
                      ": not available on this CPU or in this build; using " + sv::host::isaName(dflt));
  }
  // setIsa refuses what is not available and changes nothing then.
  const Isa before = sv::host::activeIsa();
  bool missing = false;
  for (Isa i : kAllIsas) {
    bool found = false;
    for (Isa h : sv::host::availableIsas()) found |= h == i;
    if (!found) {
      missing = true;
      CHECK(!sv::host::setIsa(i));
      CHECK(sv::host::activeIsa() == before);
    }
  }
  (void)missing;
}
