// SPDX-License-Identifier: MIT
// bitlogic.h and host_simd.h against naive per-element and per-bit models:
// pack (every encoding, every word length, adversarial patterns), the SSE2
// forms bit for bit against the generic ones, the bit-sliced vote against
// plain counting for every P, unpack, the segment partition, tie bits.
#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "bitlogic.h"
#include "kernels/host/host_simd.h"
#include "unit_reference.h"

namespace {

using ref::Cls;
using ref::Format;

struct EncHalf {
  using U = uint16_t;
  using K = sv::FloatBits<uint16_t>;
  static constexpr Format fmt = ref::kHalf;
};
struct EncBf16 {
  using U = uint16_t;
  using K = sv::Bf16Bits;
  static constexpr Format fmt = ref::kBf16;
};
struct EncF32 {
  using U = uint32_t;
  using K = sv::FloatBits<uint32_t>;
  static constexpr Format fmt = ref::kF32;
};
struct EncF64 {
  using U = uint64_t;
  using K = sv::FloatBits<uint64_t>;
  static constexpr Format fmt = ref::kF64;
};

// Naive pack of n elements: sign = not negative (NaN and zeros vote +1),
// voting = a nonzero non-NaN value; bits >= n are 0.
template <typename E>
void refPack(const typename E::U* x, int n, uint64_t* sign, uint64_t* voting, int* nans) {
  uint64_t s = 0, v = 0;
  int c = 0;
  for (int j = 0; j < n; ++j) {
    const Cls k = ref::classify(x[j], E::fmt);
    if (k != Cls::Neg) s |= 1ull << j;
    if (k == Cls::Pos || k == Cls::Neg) v |= 1ull << j;
    if (k == Cls::NaN) ++c;
  }
  *sign = s;
  *voting = v;
  *nans = c;
}

// Every pattern of a 16-bit format; for wider ones, every pattern within 300
// of each class boundary, plus the specials. Then random patterns. The pool
// comes twice: in order and shuffled.
template <typename E>
std::vector<typename E::U> patternPool(ref::Rng& rng) {
  using U = typename E::U;
  const Format f = E::fmt;
  std::vector<U> pool;
  if (f.bits == 16) {
    for (uint32_t b = 0; b < 65536; ++b) pool.push_back(static_cast<U>(b));
  } else {
    const uint64_t S = ref::signMask(f), I = ref::infBits(f), M = ref::allMask(f);
    const uint64_t bases[] = {0, S, I, S | I, I - 1, S | (I - 1), M, S - 1, I + (1ull << (f.manBits - 1))};
    for (uint64_t base : bases)
      for (int d = -300; d <= 300; ++d) pool.push_back(static_cast<U>((base + static_cast<uint64_t>(d)) & M));
  }
  for (uint64_t s : ref::specials(f, true))
    for (int rep = 0; rep < 8; ++rep) pool.push_back(static_cast<U>(s));
  for (int i = 0; i < 40000; ++i)
    pool.push_back(static_cast<U>(i % 2 ? rng.next() & ref::allMask(f) : ref::randomElement(rng, f, true, 40, 10)));
  std::vector<U> shuffled = pool;
  for (size_t i = shuffled.size(); i > 1; --i) std::swap(shuffled[i - 1], shuffled[rng.below(i)]);
  pool.insert(pool.end(), shuffled.begin(), shuffled.end());
  return pool;
}

// Fill 64 elements with a mixture: pure random bits, or adversarial picks.
template <typename E>
void randomWord(ref::Rng& rng, typename E::U* x) {
  using U = typename E::U;
  const int mode = static_cast<int>(rng.below(4));
  for (int j = 0; j < 64; ++j) {
    if (mode == 0) x[j] = static_cast<U>(rng.next());
    else x[j] = static_cast<U>(ref::randomElement(rng, E::fmt, true, mode == 1 ? 70 : 20, mode == 3 ? 30 : 5));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("packWord equals the per-element reference for every n from 1 to 64", "[bitlogic]", EncHalf,
                   EncBf16, EncF32, EncF64) {
  using U = typename TestType::U;
  using K = typename TestType::K;
  ref::Rng rng(11);
  const std::vector<U> pool = patternPool<TestType>(rng);
  size_t mismatches = 0, checked = 0;
  std::string first;
  for (int n = 1; n <= 64; ++n) {
    for (size_t i = 0; i + static_cast<size_t>(n) <= pool.size(); i += static_cast<size_t>(n)) {
      uint64_t s = ~0ull, v = ~0ull, rs, rv;
      int rn;
      const int nans = sv::packWord<U, K>(&pool[i], n, &s, &v);
      refPack<TestType>(&pool[i], n, &rs, &rv, &rn);
      ++checked;
      if (s != rs || v != rv || nans != rn) {
        if (mismatches++ == 0)
          first = "n=" + std::to_string(n) + " at pool index " + std::to_string(i) + " first element " +
                  ref::hex(pool[i]) + ": sign " + ref::hex(s) + " want " + ref::hex(rs) + ", voting " +
                  ref::hex(v) + " want " + ref::hex(rv) + ", nans " + std::to_string(nans) + " want " +
                  std::to_string(rn);
      }
    }
  }
  INFO(TestType::fmt.name << ": " << checked << " words checked; first mismatch: " << first);
  CHECK(mismatches == 0);
}

TEMPLATE_TEST_CASE("packWord on each adversarial pattern alone and at every bit position", "[bitlogic]", EncHalf,
                   EncBf16, EncF32, EncF64) {
  using U = typename TestType::U;
  using K = typename TestType::K;
  const Format f = TestType::fmt;
  // A word of +1s with one special pattern at position p: only bit p may differ.
  const U plusOne = static_cast<U>(static_cast<uint64_t>(ref::bias(f)) << f.manBits);
  for (uint64_t sp : ref::specials(f, true)) {
    const Cls c = ref::classify(sp, f);
    for (int p = 0; p < 64; ++p) {
      U x[64];
      for (auto& e : x) e = plusOne;
      x[p] = static_cast<U>(sp);
      for (int n : {p + 1, 64}) {
        uint64_t s, v;
        const int nans = sv::packWord<U, K>(x, n, &s, &v);
        const uint64_t all = n == 64 ? ~0ull : (1ull << n) - 1;
        const uint64_t bit = 1ull << p;
        INFO(f.name << " pattern " << ref::hex(sp) << " at " << p << " n=" << n);
        CHECK(s == ((c == Cls::Neg) ? (all & ~bit) : all));
        CHECK(v == ((c == Cls::Pos || c == Cls::Neg) ? all : (all & ~bit)));
        CHECK(nans == (c == Cls::NaN ? 1 : 0));
      }
      int nanCount = 3;
      const uint64_t s64 = sv::packSignWord64<U, K>(x, &nanCount);
      INFO(f.name << " pattern " << ref::hex(sp) << " at " << p << " packSignWord64");
      CHECK(s64 == ((c == Cls::Neg) ? ~(1ull << p) : ~0ull));
      CHECK(nanCount == 3 + (c == Cls::NaN ? 1 : 0));
    }
  }
}

TEMPLATE_TEST_CASE("packSignWord64 equals the reference and accumulates the NaN count", "[bitlogic]", EncHalf,
                   EncBf16, EncF32, EncF64) {
  using U = typename TestType::U;
  using K = typename TestType::K;
  ref::Rng rng(12);
  const std::vector<U> pool = patternPool<TestType>(rng);
  size_t mismatches = 0;
  int nanCount = 17, refNans = 17;
  std::string first;
  for (size_t i = 0; i + 64 <= pool.size(); i += 64) {
    uint64_t rs, rv;
    int rn;
    refPack<TestType>(&pool[i], 64, &rs, &rv, &rn);
    refNans += rn;
    const uint64_t s = sv::packSignWord64<U, K>(&pool[i], &nanCount);
    if (s != rs && mismatches++ == 0) first = "at " + std::to_string(i) + ": " + ref::hex(s) + " want " + ref::hex(rs);
  }
  INFO(TestType::fmt.name << " first mismatch: " << first);
  CHECK(mismatches == 0);
  CHECK(nanCount == refNans);
}

#if defined(SV_HAVE_SSE2)
namespace {
template <typename L, typename E>
void checkSse2Pack(uint64_t seed, int words) {
  using U = typename E::U;
  using K = typename E::K;
  ref::Rng rng(seed);
  std::vector<U> x(64 + 8);  // +8: unaligned starts
  size_t bad = 0;
  std::string first;
  int nanSse = 0, nanSseV = 0, nanGen = 0;
  for (int w = 0; w < words; ++w) {
    U* p = x.data() + (w % 8);
    randomWord<E>(rng, p);
    uint64_t gs, gv;
    nanGen += sv::packWord<U, K>(p, 64, &gs, &gv);
    uint64_t unusedV = 0x5a5a, vv = 0;
    uint64_t nanBits1 = 0, nanBits2 = 0;
    const uint64_t s1 = sv::host::packWord64Simd<L, false>(p, &unusedV, &nanBits1);
    const uint64_t s2 = sv::host::packWord64Simd<L, true>(p, &vv, &nanBits2);
    nanSse += sv::popcount64(nanBits1);
    nanSseV += sv::popcount64(nanBits2);
    int dummy = 0;
    const uint64_t s3 = sv::packSignWord64<U, K>(p, &dummy);
    if ((s1 != gs || s2 != gs || vv != gv || s3 != gs || unusedV != 0x5a5a) && bad++ == 0)
      first = "word " + std::to_string(w) + ": sse sign " + ref::hex(s1) + "/" + ref::hex(s2) + " voting " +
              ref::hex(vv) + " generic " + ref::hex(gs) + "/" + ref::hex(gv);
    if (nanSse != nanGen || nanSseV != nanGen) {
      if (bad++ == 0) first = "NaN counts differ at word " + std::to_string(w);
      nanSse = nanSseV = nanGen;
    }
  }
  INFO(E::fmt.name << ": " << words << " words; first mismatch: " << first);
  CHECK(bad == 0);
}

template <typename L>
void checkSse2Unpack(uint64_t seed, int words) {
  using U = typename L::U;
  ref::Rng rng(seed);
  size_t bad = 0;
  std::string first;
  U a[64 + 8], b[64], c[64], r[64];
  for (int w = 0; w < words; ++w) {
    const uint64_t sign = rng.next(), nonzero = (w & 1) ? rng.next() : rng.next() | rng.next();
    const U pos = static_cast<U>(rng.next()), neg = static_cast<U>(w % 3 ? pos ^ (U(1) << (sizeof(U) * 8 - 1))
                                                                         : rng.next());
    U* out = a + (w % 8);
    // kZero = false: sign plane only.
    sv::host::unpackWord64Simd<L, false>(sign, nonzero, pos, neg, out);
    sv::unpackSignWord64<U>(sign, pos, neg, b);
    for (int j = 0; j < 64; ++j) r[j] = ((sign >> j) & 1) ? pos : neg;
    bool ok = memcmp(out, b, sizeof(b)) == 0 && memcmp(out, r, sizeof(r)) == 0;
    // kZero = true: zero where nonzero is 0.
    sv::host::unpackWord64Simd<L, true>(sign, nonzero, pos, neg, out);
    sv::unpackWord<U>(sign, nonzero, pos, neg, c, 64);
    for (int j = 0; j < 64; ++j) r[j] = ((nonzero >> j) & 1) ? (((sign >> j) & 1) ? pos : neg) : U(0);
    ok = ok && memcmp(out, c, sizeof(c)) == 0 && memcmp(out, r, sizeof(r)) == 0;
    if (!ok && bad++ == 0)
      first = "sign " + ref::hex(sign) + " nonzero " + ref::hex(nonzero) + " pos " + ref::hex(pos) + " neg " +
              ref::hex(neg);
  }
  INFO(sizeof(U) * 8 << "-bit lanes, first mismatch: " << first);
  CHECK(bad == 0);
}
}  // namespace

TEST_CASE("SSE2 packWord64Simd equals the generic pack bit for bit on millions of words", "[bitlogic][simd]") {
  checkSse2Pack<sv::host::Lanes32<EncF32::K>, EncF32>(21, 1000000);
  checkSse2Pack<sv::host::Lanes16<EncHalf::K>, EncHalf>(22, 1000000);
  checkSse2Pack<sv::host::Lanes16<EncBf16::K>, EncBf16>(23, 1000000);
  checkSse2Pack<sv::host::Lanes64, EncF64>(25, 1000000);
}

TEST_CASE("SSE2 packWord64Simd on every 16-bit pattern and the 32/64-bit boundaries", "[bitlogic][simd]") {
  ref::Rng rng(24);
  auto run = [](auto lanesTag, auto encTag, const auto& pool) {
    using L = decltype(lanesTag);
    using E = decltype(encTag);
    using U = typename E::U;
    using K = typename E::K;
    size_t bad = 0;
    for (size_t i = 0; i + 64 <= pool.size(); i += 64) {
      uint64_t gs, gv, vv = 0, unused = 0;
      int ng = 0, n1 = 0, n2 = 0;
      ng = sv::packWord<U, K>(&pool[i], 64, &gs, &gv);
      uint64_t nb1 = 0, nb2 = 0;
      const uint64_t s1 = sv::host::packWord64Simd<L, false>(&pool[i], &unused, &nb1);
      const uint64_t s2 = sv::host::packWord64Simd<L, true>(&pool[i], &vv, &nb2);
      n1 = sv::popcount64(nb1);
      n2 = sv::popcount64(nb2);
      uint64_t rs, rv;
      int rn;
      refPack<E>(&pool[i], 64, &rs, &rv, &rn);
      if (s1 != rs || s2 != rs || vv != rv || n1 != rn || n2 != rn || gs != rs || gv != rv || ng != rn) ++bad;
    }
    INFO(E::fmt.name);
    CHECK(bad == 0);
  };
  run(sv::host::Lanes16<EncHalf::K>{}, EncHalf{}, patternPool<EncHalf>(rng));
  run(sv::host::Lanes16<EncBf16::K>{}, EncBf16{}, patternPool<EncBf16>(rng));
  run(sv::host::Lanes32<EncF32::K>{}, EncF32{}, patternPool<EncF32>(rng));
  run(sv::host::Lanes64{}, EncF64{}, patternPool<EncF64>(rng));
}

TEST_CASE("SSE2 unpackWord64Simd equals the generic unpack bit for bit", "[bitlogic][simd]") {
  checkSse2Unpack<sv::host::Lanes32<EncF32::K>>(31, 1000000);
  checkSse2Unpack<sv::host::Lanes16<EncHalf::K>>(32, 1000000);
  checkSse2Unpack<sv::host::Lanes64>(33, 1000000);
}
#else
TEST_CASE("SSE2 forms (skipped: not an SSE2 build)", "[bitlogic][simd]") { WARN("SV_HAVE_SSE2 not defined"); }
#endif

// ---- Vote ------------------------------------------------------------------
namespace {

int tiePolicyOf(int mode) {
  return mode == sv::kTiePositive ? SV_TIE_POSITIVE : mode == sv::kTieZero ? SV_TIE_ZERO : SV_TIE_RANDOM;
}

// A word whose bits are 1 with probability 1/2, 1/8, 7/8, 0 or 1.
uint64_t biasedWord(ref::Rng& rng, int kind) {
  switch (kind) {
    case 0: return rng.next();                                  // 1/2
    case 1: return rng.next() & rng.next() & rng.next();        // 1/8
    case 2: return rng.next() | rng.next() | rng.next();        // 7/8
    case 3: return 0;
    default: return ~0ull;
  }
}

size_t checkVoteConfig(ref::Rng& rng, int P, int inPlanes, int outPlanes, int tie, int words, std::string* first) {
  const size_t stride = static_cast<size_t>(inPlanes) + static_cast<size_t>(P % 3);
  std::vector<uint64_t> in(stride * static_cast<size_t>(P) + 2);
  size_t bad = 0;
  sv::VoteParams vp;
  vp.nranks = P;
  vp.inPlanes = inPlanes;
  vp.outPlanes = outPlanes;
  vp.tie = tie;
  vp.seed = rng.next();
  vp.call = rng.below(1000);
  for (int w = 0; w < words; ++w) {
    const int signKind = static_cast<int>(rng.below(3));
    const int voteKind = static_cast<int>(rng.below(5));
    for (int r = 0; r < P; ++r) {
      for (size_t k = 0; k < stride; ++k) in[r * stride + k] = rng.next();  // padding: garbage
      in[r * stride] = biasedWord(rng, signKind);
      if (inPlanes == 2) in[r * stride + 1] = biasedWord(rng, voteKind);
    }
    const uint64_t word = rng.next() >> (w % 40);
    uint64_t out[3] = {0xdeadbeefull, 0xfeedfaceull, 0xabcdefull};
    sv::voteWord(in.data(), stride, vp, word, out);
    uint64_t want[2] = {0, 0};
    ref::voteGroup(in.data(), stride, P, inPlanes, outPlanes, tiePolicyOf(tie), sv::tieRandomBits(vp.seed, vp.call, word), want);
    bool ok = out[0] == want[0] && out[2] == 0xabcdefull;
    if (outPlanes == 2) ok = ok && out[1] == want[1];
    else ok = ok && out[1] == 0xfeedfaceull;  // one plane: nothing else written
    if (!ok && bad++ == 0)
      *first = "P=" + std::to_string(P) + " inPlanes=" + std::to_string(inPlanes) + " outPlanes=" +
               std::to_string(outPlanes) + " tie=" + std::to_string(tie) + " word " + std::to_string(w) + ": got " +
               ref::hex(out[0]) + "/" + ref::hex(out[1]) + " want " + ref::hex(want[0]) + "/" + ref::hex(want[1]);
    // Random ties are a pure function of (seed, call, word).
    if (tie == sv::kTieRandom) {
      uint64_t again[3] = {0, 0, 0};
      sv::voteWord(in.data(), stride, vp, word, again);
      if ((again[0] != out[0] || (outPlanes == 2 && again[1] != out[1])) && bad++ == 0)
        *first = "random tie not deterministic at P=" + std::to_string(P);
    }
  }
  return bad;
}

}  // namespace

TEST_CASE("voteWord equals per-bit counting for every P from 1 to 64 and every plane and tie mode", "[bitlogic][vote]") {
  ref::Rng rng(41);
  for (int P = 1; P <= 64; ++P)
    for (int inPlanes = 1; inPlanes <= 2; ++inPlanes)
      for (int outPlanes = 1; outPlanes <= 2; ++outPlanes)
        for (int tie : {sv::kTiePositive, sv::kTieZero, sv::kTieRandom}) {
          std::string first;
          const size_t bad = checkVoteConfig(rng, P, inPlanes, outPlanes, tie, 48, &first);
          INFO(first);
          REQUIRE(bad == 0);
        }
}

TEST_CASE("voteWord with large rank counts", "[bitlogic][vote]") {
  ref::Rng rng(42);
  for (int P : {100, 127, 128, 129, 255, 256, 257, 1000, 1023, 1024, 4095})
    for (int inPlanes = 1; inPlanes <= 2; ++inPlanes)
      for (int outPlanes = 1; outPlanes <= 2; ++outPlanes)
        for (int tie : {sv::kTiePositive, sv::kTieZero, sv::kTieRandom}) {
          std::string first;
          const size_t bad = checkVoteConfig(rng, P, inPlanes, outPlanes, tie, 4, &first);
          INFO(first);
          REQUIRE(bad == 0);
        }
}

TEST_CASE("voteWord on exact ties and unanimous inputs", "[bitlogic][vote]") {
  // P even, half the ranks all-ones and half all-zeros: every bit ties.
  for (int P : {2, 4, 6, 16, 64}) {
    std::vector<uint64_t> in(static_cast<size_t>(P));
    for (int r = 0; r < P; ++r) in[r] = r < P / 2 ? ~0ull : 0;
    sv::VoteParams vp{P, 1, 2, sv::kTiePositive, 0, 0};
    uint64_t out[2];
    sv::voteWord(in.data(), 1, vp, 0, out);
    CHECK(out[0] == ~0ull);
    CHECK(out[1] == 0);
    vp.tie = sv::kTieZero;
    sv::voteWord(in.data(), 1, vp, 0, out);
    CHECK(out[0] == 0);
    CHECK(out[1] == 0);
    vp.tie = sv::kTieRandom;
    vp.seed = 99;
    vp.call = 5;
    sv::voteWord(in.data(), 1, vp, 123, out);
    CHECK(out[0] == sv::tieRandomBits(99, 5, 123));
    // One more +1 vote breaks every tie.
    in[P / 2] = ~0ull;
    sv::voteWord(in.data(), 1, vp, 123, out);
    CHECK(out[0] == ~0ull);
    CHECK(out[1] == ~0ull);
  }
  // Everybody abstains: a tie everywhere.
  for (int P : {1, 2, 3, 7}) {
    std::vector<uint64_t> in(2 * static_cast<size_t>(P));
    for (int r = 0; r < P; ++r) {
      in[2 * r] = r & 1 ? ~0ull : 0;
      in[2 * r + 1] = 0;
    }
    sv::VoteParams vp{P, 2, 2, sv::kTieZero, 0, 0};
    uint64_t out[2] = {1, 1};
    sv::voteWord(in.data(), 2, vp, 0, out);
    CHECK(out[0] == 0);
    CHECK(out[1] == 0);
  }
  // P odd: a -1 majority of one is still a majority.
  std::vector<uint64_t> in = {~0ull, 0, 0};
  sv::VoteParams vp{3, 1, 2, sv::kTiePositive, 0, 0};
  uint64_t out[2];
  sv::voteWord(in.data(), 1, vp, 0, out);
  CHECK(out[0] == 0);
  CHECK(out[1] == ~0ull);
}

// The hierarchical vote's bit logic: the ranks split into nodes of any
// sizes, each node's counts (countVotes), their sum (counterAccumulate) and
// the vote of the sum (voteCounts) equal voteWord over all ranks' inputs,
// every plane count and tie policy; inputs biased so that ties and narrow
// majorities are frequent.
TEST_CASE("votes from per-node counts equal the flat vote for every layout, plane count and tie policy",
          "[bitlogic][vote][hierarchy]") {
  ref::Rng rng(4711);
  const std::vector<std::vector<int>> layouts = {
      {1}, {2}, {5}, {1, 1}, {2, 2}, {2, 3}, {3, 2}, {2, 2, 2}, {4, 4}, {1, 3}, {3, 1, 2}, {1, 1, 1, 1, 1},
      {8, 8}, {4, 4, 4, 4}, {7, 1}, {16, 15}, {8, 8, 8, 8, 8, 8, 8, 8}, {100, 27}};
  size_t checked = 0;
  for (const std::vector<int>& layout : layouts) {
    int P = 0;
    for (int l : layout) P += l;
    const int bits = sv::counterBits(P);
    for (int inPlanes = 1; inPlanes <= 2; ++inPlanes)
      for (int outPlanes = 1; outPlanes <= 2; ++outPlanes)
        for (int tie : {sv::kTiePositive, sv::kTieZero, sv::kTieRandom})
          for (int trial = 0; trial < 24; ++trial) {
            // Each rank's group: sign word, and a "voting" word (abstain when 0).
            std::vector<uint64_t> in(static_cast<size_t>(P) * inPlanes);
            const uint64_t lean = rng.next();  // per bit, which way most ranks lean
            for (int r = 0; r < P; ++r) {
              in[r * inPlanes] = (rng.next() & rng.next()) ^ (r & 1 ? lean : ~lean);
              if (inPlanes == 2) in[r * inPlanes + 1] = rng.next() | rng.next();
            }
            const sv::VoteParams vp{P, inPlanes, outPlanes, tie, 17, static_cast<uint64_t>(trial)};
            const uint64_t word = rng.next() >> 20;
            uint64_t want[2] = {0, 0}, got[2] = {0, 0};
            sv::voteWord(in.data(), inPlanes, vp, word, want);
            uint64_t pos[sv::kMaxCounterBits][1] = {}, neg[sv::kMaxCounterBits][1] = {};
            int first = 0;
            for (int l : layout) {
              const int nodeBits = sv::counterBits(l);
              uint64_t np[sv::kMaxCounterBits][1], nn[sv::kMaxCounterBits][1];
              sv::countVotes<1>(in.data() + first * inPlanes, inPlanes, l, inPlanes, nodeBits, np, nn);
              sv::counterAccumulate<1>(pos, bits, np, nodeBits);
              if (inPlanes == 2) sv::counterAccumulate<1>(neg, bits, nn, nodeBits);
              first += l;
            }
            sv::voteCounts<1>(pos, neg, bits, vp, word, got);
            INFO("layout of " << layout.size() << " nodes, P=" << P << " inPlanes=" << inPlanes
                              << " outPlanes=" << outPlanes << " tie=" << tie);
            REQUIRE(got[0] == want[0]);
            if (outPlanes == 2) REQUIRE(got[1] == want[1]);
            ++checked;
          }
  }
  CHECK(checked == layouts.size() * 2 * 2 * 3 * 24);
}

TEST_CASE("tieRandomBits is deterministic and balanced and depends on seed call and word", "[bitlogic][vote]") {
  CHECK(sv::tieRandomBits(1, 2, 3) == sv::tieRandomBits(1, 2, 3));
  size_t ones = 0, same = 0;
  std::vector<size_t> perBit(64, 0);
  const uint64_t N = 8192;
  for (uint64_t w = 0; w < N; ++w) {
    const uint64_t b = sv::tieRandomBits(7, 3, w);
    ones += static_cast<size_t>(__builtin_popcountll(b));
    for (int j = 0; j < 64; ++j) perBit[j] += (b >> j) & 1;
    same += b == sv::tieRandomBits(8, 3, w);
    same += b == sv::tieRandomBits(7, 4, w);
    same += b == sv::tieRandomBits(7, 3, w + N);
  }
  const double frac = static_cast<double>(ones) / (64.0 * N);
  CHECK(frac > 0.49);
  CHECK(frac < 0.51);
  for (int j = 0; j < 64; ++j) {
    INFO("bit " << j << ": " << perBit[j] << " ones of " << N);
    CHECK(perBit[j] > N * 0.45);
    CHECK(perBit[j] < N * 0.55);
  }
  CHECK(same == 0);
}

// ---- Unpack ----------------------------------------------------------------
TEMPLATE_TEST_CASE("unpackWord and unpackSignWord64 equal the per-element reference", "[bitlogic]", uint16_t,
                   uint32_t, uint64_t) {
  using U = TestType;
  ref::Rng rng(51);
  size_t bad = 0;
  std::string first;
  for (int it = 0; it < 3000; ++it) {
    const uint64_t sign = rng.next(), nonzero = it % 4 == 0 ? ~0ull : rng.next();
    const U pos = static_cast<U>(rng.next()), neg = static_cast<U>(rng.next());
    for (int n = 1; n <= 64; ++n) {
      U out[72];
      for (auto& e : out) e = static_cast<U>(0x5a5a5a5a5a5a5a5aull);
      sv::unpackWord<U>(sign, nonzero, pos, neg, out, n);
      bool ok = true;
      for (int j = 0; j < 72; ++j) {
        const U want = j >= n ? static_cast<U>(0x5a5a5a5a5a5a5a5aull)
                              : (((nonzero >> j) & 1) ? (((sign >> j) & 1) ? pos : neg) : U(0));
        ok = ok && out[j] == want;
      }
      if (!ok && bad++ == 0) first = "n=" + std::to_string(n) + " sign " + ref::hex(sign) + " nonzero " + ref::hex(nonzero);
    }
    U full[66];
    full[64] = full[65] = static_cast<U>(0x77);
    sv::unpackSignWord64<U>(sign, pos, neg, full);
    bool ok = full[64] == static_cast<U>(0x77) && full[65] == static_cast<U>(0x77);
    for (int j = 0; j < 64; ++j) ok = ok && full[j] == (((sign >> j) & 1) ? pos : neg);
    if (!ok && bad++ == 0) first = "unpackSignWord64 sign " + ref::hex(sign);
  }
  INFO(first);
  CHECK(bad == 0);
}

// ---- Segments --------------------------------------------------------------
TEST_CASE("segmentRange covers all words exactly in order with aligned starts", "[bitlogic]") {
  std::vector<size_t> wordCounts;
  for (size_t w = 0; w <= 2100; ++w) wordCounts.push_back(w);
  for (size_t w : {size_t(65535), size_t(65536), size_t(65537), size_t(1) << 20, (size_t(1) << 20) + 15,
                   size_t(1000003), size_t(1) << 40, (size_t(1) << 40) + 12345})
    wordCounts.push_back(w);
  size_t bad = 0;
  std::string first;
  for (size_t words : wordCounts) {
    for (int P = 1; P <= 70; ++P) {
      size_t expectBegin = 0;
      size_t maxLen = 0;
      const size_t fair = (words + static_cast<size_t>(P) - 1) / static_cast<size_t>(P);
      bool ok = true;
      for (int s = 0; s < P; ++s) {
        size_t b = 12345, l = 12345;
        sv::segmentRange(words, P, s, &b, &l);
        ok = ok && b == expectBegin;                                      // contiguous, in order
        ok = ok && (l == 0 || b % sv::kSegmentAlignWords == 0);           // aligned starts
        ok = ok && b + l <= words;                                        // inside
        maxLen = std::max(maxLen, l);
        expectBegin = b + l;
      }
      ok = ok && expectBegin == words;                                    // covers everything
      ok = ok && maxLen < fair + sv::kSegmentAlignWords;                  // balanced up to alignment
      if (!ok && bad++ == 0) first = "words=" + std::to_string(words) + " P=" + std::to_string(P);
    }
  }
  INFO(first);
  CHECK(bad == 0);
  CHECK(sv::kSegmentAlignWords > 0);
}
