// SPDX-License-Identifier: MIT
// doubleToHalfBits / doubleToBf16Bits must round correctly (to nearest,
// ties to even), checked against a table search over every value of the
// format; outputBits must give +scale and -scale in each datatype.
#include <catch2/catch.hpp>

#include <float.h>
#include <math.h>

#include <vector>

#include "datatype.h"
#include "unit_reference.h"

namespace {

struct Conv {
  const char* name;
  uint16_t (*fn)(double);
  ref::Format fmt;
  const ref::Table16& table;
};

std::vector<Conv> convs() {
  return {{"half", &sv::doubleToHalfBits, ref::kHalf, ref::halfTable()},
          {"bfloat16", &sv::doubleToBf16Bits, ref::kBf16, ref::bf16Table()}};
}

bool isNan16(uint16_t b, ref::Format f) { return ref::classify(b, f) == ref::Cls::NaN; }

}  // namespace

TEST_CASE("the reference rounding itself is sane", "[datatype]") {
  // A few values known by heart, so the reference cannot drift with the code.
  CHECK(ref::halfTable().round(1.0) == 0x3c00);
  CHECK(ref::halfTable().round(-2.0) == 0xc000);
  CHECK(ref::halfTable().round(65504.0) == 0x7bff);
  CHECK(ref::halfTable().round(65520.0) == 0x7c00);
  CHECK(ref::halfTable().round(65519.0) == 0x7bff);
  CHECK(ref::halfTable().round(ldexp(1.0, -24)) == 0x0001);
  CHECK(ref::halfTable().round(ldexp(1.0, -25)) == 0x0000);
  CHECK(ref::halfTable().round(ldexp(3.0, -25)) == 0x0002);
  CHECK(ref::halfTable().round(1.0 + ldexp(1.0, -11)) == 0x3c00);       // tie -> even
  CHECK(ref::halfTable().round(1.0 + 3 * ldexp(1.0, -11)) == 0x3c02);   // tie -> even
  CHECK(ref::halfTable().round(0.1) == 0x2e66);
  CHECK(ref::bf16Table().round(1.0) == 0x3f80);
  CHECK(ref::bf16Table().round(0.1) == 0x3dcd);
  CHECK(ref::bf16Table().round(-3.0) == 0xc040);
  CHECK(ref::bf16Table().round(1.0 + ldexp(1.0, -8)) == 0x3f80);
  CHECK(ref::bf16Table().round(1e39) == 0x7f80);
}

TEST_CASE("every finite 16-bit value converts back to its own bits", "[datatype]") {
  for (const Conv& c : convs()) {
    size_t bad = 0;
    std::string first;
    for (uint32_t b = 0; b < 65536; ++b) {
      if (ref::expField(b, c.fmt) == ref::expAllOnes(c.fmt)) continue;  // inf / NaN below
      const double d = ref::decode(b, c.fmt);
      const uint16_t got = c.fn(d);
      if (got != b && bad++ == 0) first = ref::hex(b) + " -> " + ref::hex(got);
    }
    INFO(c.name << ": " << first);
    CHECK(bad == 0);
  }
}

TEST_CASE("midpoints between neighbours round to even and their neighbourhoods round correctly", "[datatype]") {
  for (const Conv& c : convs()) {
    size_t bad = 0, checked = 0;
    std::string first;
    const uint32_t inf = c.table.infPattern();
    for (uint32_t k = 0; k < inf; ++k) {  // k and k+1 (k+1 == inf: the overflow threshold)
      const double lo = c.table.value(k), hi = c.table.value(k + 1);
      const double mid = (lo + hi) / 2;  // exact
      const uint16_t even = static_cast<uint16_t>((k & 1) ? k + 1 : k);
      struct Probe {
        double d;
        uint16_t want;
      };
      const Probe probes[] = {
          {mid, even},
          {nextafter(mid, 0.0), static_cast<uint16_t>(k)},
          {nextafter(mid, INFINITY), static_cast<uint16_t>(k + 1)},
          // Just off the midpoint by far less than a float ulp: a double ->
          // float -> 16-bit double rounding would land on the midpoint and
          // round to even; correct rounding may not.
          {mid + mid * ldexp(1.0, -40), static_cast<uint16_t>(k + 1)},
          {mid - mid * ldexp(1.0, -40), static_cast<uint16_t>(k)},
          {lo + (hi - lo) * 0.25, static_cast<uint16_t>(k)},
          {lo + (hi - lo) * 0.75, static_cast<uint16_t>(k + 1)},
      };
      for (const Probe& p : probes) {
        for (int sgn = 0; sgn < 2; ++sgn) {
          const double d = sgn ? -p.d : p.d;
          const uint16_t want = static_cast<uint16_t>(p.want | (sgn ? 0x8000u : 0));
          const uint16_t got = c.fn(d);
          ++checked;
          if (got != want && bad++ == 0) {
            char buf[160];
            snprintf(buf, sizeof(buf), "%.17g (between %s and %s) -> %s, want %s", d, ref::hex(k).c_str(),
                     ref::hex(k + 1).c_str(), ref::hex(got).c_str(), ref::hex(want).c_str());
            first = buf;
          }
        }
      }
    }
    INFO(c.name << ": " << checked << " probes; first wrong: " << first);
    CHECK(bad == 0);
  }
}

TEST_CASE("random doubles round like the reference", "[datatype]") {
  ref::Rng rng(201);
  for (const Conv& c : convs()) {
    const int emax = ref::bias(c.fmt);
    const int emin = 1 - emax - c.fmt.manBits;  // smallest denormal exponent
    size_t bad = 0;
    std::string first;
    for (int i = 0; i < 400000; ++i) {
      double d;
      switch (i % 4) {
        case 0: {  // log-uniform over the format's range and a bit beyond
          const int e = emin - 3 + static_cast<int>(rng.below(static_cast<uint64_t>(emax - emin + 6)));
          d = ldexp(1.0 + rng.uniform(), e);
          break;
        }
        case 1: {  // random double bit patterns (finite)
          uint64_t u = rng.next();
          memcpy(&d, &u, 8);
          if (!isfinite(d)) d = 1.5;
          break;
        }
        case 2: {  // a 16-bit value with low-order noise
          const uint32_t k = static_cast<uint32_t>(rng.below(c.table.infPattern()));
          d = c.table.value(k) * (1.0 + (rng.uniform() - 0.5) * ldexp(1.0, -c.fmt.manBits - 2));
          break;
        }
        default:  // denormal region
          d = rng.uniform() * ldexp(1.0, emin + c.fmt.manBits + 1);
      }
      if (rng.next() & 1) d = -d;
      const uint16_t want = c.table.round(d), got = c.fn(d);
      if (got != want && bad++ == 0) {
        char buf[120];
        snprintf(buf, sizeof(buf), "%.17g -> %s, want %s", d, ref::hex(got).c_str(), ref::hex(want).c_str());
        first = buf;
      }
    }
    INFO(c.name << ": " << first);
    CHECK(bad == 0);
  }
}

TEST_CASE("special values: zeros infinities NaN overflow underflow", "[datatype]") {
  for (const Conv& c : convs()) {
    INFO(c.name);
    const uint16_t inf = static_cast<uint16_t>(c.table.infPattern());
    CHECK(c.fn(0.0) == 0x0000);
    CHECK(c.fn(-0.0) == 0x8000);
    CHECK(c.fn(INFINITY) == inf);
    CHECK(c.fn(-INFINITY) == (inf | 0x8000));
    CHECK(isNan16(c.fn(NAN), c.fmt));
    CHECK(isNan16(c.fn(-NAN), c.fmt));
    CHECK(c.fn(DBL_MAX) == inf);
    CHECK(c.fn(-DBL_MAX) == (inf | 0x8000));
    CHECK(c.fn(1e300) == inf);
    CHECK(c.fn(static_cast<double>(FLT_MAX)) == inf);
    CHECK(c.fn(-static_cast<double>(FLT_MAX)) == (inf | 0x8000));
    CHECK(c.fn(1e-300) == 0x0000);
    CHECK(c.fn(-1e-300) == 0x8000);
    CHECK(c.fn(DBL_MIN) == 0x0000);
    CHECK(c.fn(4.9406564584124654e-324) == 0x0000);  // smallest double denormal
    CHECK(c.fn(-4.9406564584124654e-324) == 0x8000);
    CHECK(c.fn(static_cast<double>(FLT_MIN)) == c.table.round(FLT_MIN));
    CHECK(c.fn(1.401298464324817e-45) == c.table.round(1.401298464324817e-45));  // float denormal
    // The largest finite value, and the overflow threshold (midpoint to 2^(emax+1)).
    const double maxFinite = c.table.value(inf - 1u), two = c.table.value(inf);
    CHECK(c.fn(maxFinite) == inf - 1u);
    CHECK(c.fn((maxFinite + two) / 2) == inf);  // tie: the even neighbour is inf
    CHECK(c.fn(nextafter((maxFinite + two) / 2, 0.0)) == inf - 1u);
    CHECK(c.fn(two) == inf);
  }
  // Known bit patterns.
  CHECK(sv::doubleToHalfBits(1.0) == 0x3c00);
  CHECK(sv::doubleToHalfBits(-1.0) == 0xbc00);
  CHECK(sv::doubleToHalfBits(65504.0) == 0x7bff);
  CHECK(sv::doubleToHalfBits(65520.0) == 0x7c00);
  CHECK(sv::doubleToHalfBits(ldexp(1.0, -24)) == 0x0001);
  CHECK(sv::doubleToHalfBits(ldexp(1.0, -25)) == 0x0000);
  CHECK(sv::doubleToHalfBits(ldexp(1.0, -25) * (1 + 1e-12)) == 0x0001);
  CHECK(sv::doubleToHalfBits(ldexp(1023.0, -24)) == 0x03ff);
  CHECK(sv::doubleToHalfBits(ldexp(2047.0, -25)) == 0x0400);  // rounds up into the smallest normal
  CHECK(sv::doubleToBf16Bits(1.0) == 0x3f80);
  CHECK(sv::doubleToBf16Bits(-2.0) == 0xc000);
  CHECK(sv::doubleToBf16Bits(0.1) == 0x3dcd);
  CHECK(sv::doubleToBf16Bits(1.0 + ldexp(1.0, -8)) == 0x3f80);
  CHECK(sv::doubleToBf16Bits(1.0 + ldexp(1.0, -8) + ldexp(1.0, -40)) == 0x3f81);
  CHECK(sv::doubleToBf16Bits(ldexp(1.0, -133)) == 0x0001);
  CHECK(sv::doubleToBf16Bits(ldexp(1.0, -134)) == 0x0000);
}

TEST_CASE("outputBits gives +scale and -scale in each datatype", "[datatype]") {
  const svDataType_t types[] = {svFloat16, svBfloat16, svFloat32, svFloat64};
  const double scales[] = {1.0,   0.5,     2.0,  -1.0,     -0.25,  0.1,   1.0 / 3, 3.14159265358979,
                           1e-3,  1e-5,    1e-8, 65504.0,  65520., 1e5,   1e-40,   1e30,
                           0.0,   -0.0,    7.0,  1.0009765625, 1.00048828125, 5.960464477539063e-08};
  for (svDataType_t dt : types) {
    const ref::Format f = ref::formatOf(dt);
    for (double s : scales) {
      const sv::OutputBits ob = sv::outputBits(dt, s);
      INFO(ref::dtLabel(dt) << " scale " << s);
      CHECK(ob.pos == ref::roundTo(dt, s));
      CHECK(ob.neg == ref::roundTo(dt, -s));
      CHECK((ob.pos ^ ob.neg) == ref::signMask(f));  // differ only in the sign bit
      CHECK((ob.pos & ~ref::allMask(f)) == 0);       // only the datatype's bits
    }
  }
  // Plain facts, independent of any reference code.
  CHECK(sv::outputBits(svFloat32, 1.0).pos == 0x3f800000u);
  CHECK(sv::outputBits(svFloat32, 1.0).neg == 0xbf800000u);
  CHECK(sv::outputBits(svFloat64, 1.0).pos == 0x3ff0000000000000ull);
  CHECK(sv::outputBits(svFloat64, -0.5).pos == 0xbfe0000000000000ull);
  CHECK(sv::outputBits(svFloat64, -0.5).neg == 0x3fe0000000000000ull);
  CHECK(sv::outputBits(svFloat16, 1.0).pos == 0x3c00u);
  CHECK(sv::outputBits(svFloat16, 1.0).neg == 0xbc00u);
  CHECK(sv::outputBits(svBfloat16, 1.0).pos == 0x3f80u);
  CHECK(sv::outputBits(svBfloat16, 1.0).neg == 0xbf80u);
  CHECK(sv::outputBits(svFloat16, 1e5).pos == 0x7c00u);  // overflows to inf
}

TEST_CASE("dtName names every datatype", "[datatype]") {
  CHECK(std::string(sv::dtName(svFloat16)) != std::string(sv::dtName(svBfloat16)));
  CHECK(std::string(sv::dtName(svFloat32)) != std::string(sv::dtName(svFloat64)));
  CHECK(sv::dtSize(svFloat16) == 2);
  CHECK(sv::dtSize(svBfloat16) == 2);
  CHECK(sv::dtSize(svFloat32) == 4);
  CHECK(sv::dtSize(svFloat64) == 8);
  CHECK(sv::dtValid(svFloat16));
  CHECK(sv::dtValid(svBfloat16));
  CHECK(sv::dtValid(svFloat32));
  CHECK(sv::dtValid(svFloat64));
  CHECK_FALSE(sv::dtValid(0));
  CHECK_FALSE(sv::dtValid(5));
  CHECK_FALSE(sv::dtValid(10));
  CHECK_FALSE(sv::dtValid(-1));
}

TEST_CASE("halfBitsToFloat and bf16BitsToFloat widen every 16-bit pattern exactly", "[datatype]") {
  size_t bad = 0;
  for (uint32_t b = 0; b < 65536; ++b) {
    const uint16_t h = static_cast<uint16_t>(b);
    for (svDataType_t dt : {svFloat16, svBfloat16}) {
      const float got = dt == svFloat16 ? sv::halfBitsToFloat(h) : sv::bf16BitsToFloat(h);
      const double want = ref::decode(h, ref::formatOf(dt));
      const bool ok = want != want ? got != got : (static_cast<double>(got) == want && std::signbit(got) == std::signbit(want));
      if (!ok && bad++ < 5) INFO(ref::dtLabel(dt) << " " << ref::hex(h) << " -> " << got << ", want " << want);
      if (!ok) CHECK(ok);
    }
    // Round trip: narrowing the widened value gives the pattern back (NaNs aside).
    const float f = sv::halfBitsToFloat(h);
    if (f == f) CHECK(sv::doubleToHalfBits(f) == h);
  }
  CHECK(bad == 0);
}
