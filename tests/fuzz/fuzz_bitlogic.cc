// SPDX-License-Identifier: MIT
// libFuzzer target: pack -> vote -> unpack of the host kernels on arbitrary
// bytes, against the naive per-element reference of tests/unit
// (unit_reference.h: field-by-field classification, integer vote counts).
//
// Input layout: a 6-byte header (datatype, P, tie, zero policy, scale
// choice, count low bits), then the element bytes of every rank, recycled
// if short. Counts stay small (< 700) so each input runs fast and tails of
// every length mod 64 are reached; the multi-word paths still run.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "bitlogic.h"
#include "datatype.h"
#include "kernels/host/host_kernels.h"
#include "../unit/unit_reference.h"

namespace {

const svDataType_t kTypes[] = {svFloat16, svFloat32, svFloat64, svBfloat16};
const double kScales[] = {1.0, 0.5, -2.0, 1e-3, 0.0, 3.0e38, 65504.0, 1e-300};

ref::Format formatOf(svDataType_t dt) { return ref::formatOf(dt); }

[[noreturn]] void fail(const char* what, size_t i) {
  fprintf(stderr, "fuzz_bitlogic: mismatch: %s at element %zu\n", what, i);
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  const svDataType_t dt = kTypes[data[0] % 4];
  const int P = 1 + data[1] % 9;
  const int tie = data[2] % 3;
  const int zero = data[3] % 2;
  const double scale = kScales[data[4] % 8];
  const size_t esz = ref::elemSize(dt);
  const uint8_t* body = data + 6;
  const size_t bodyLen = size - 6;
  const size_t count = bodyLen == 0 ? data[5] % 70 : std::min<size_t>(bodyLen / esz / P + data[5] % 3, 700);
  const ref::Format f = formatOf(dt);

  const int inPlanes = zero == SV_ZERO_ABSTAIN ? 2 : 1;
  const bool tiePossible = (P % 2 == 0) || inPlanes == 2;
  const int outPlanes = tie == SV_TIE_ZERO && tiePossible ? 2 : 1;
  const size_t words = (count + 63) / 64;

  // Every rank's elements from the body bytes (recycled), packed.
  std::vector<std::vector<uint8_t>> x(P, std::vector<uint8_t>(count * esz + 1));
  std::vector<uint64_t> packed(static_cast<size_t>(P) * words * inPlanes + 1);
  for (int r = 0; r < P; ++r) {
    for (size_t b = 0; b < count * esz; ++b)
      x[r][b] = bodyLen ? body[(r * count * esz + b) % bodyLen] : static_cast<uint8_t>(b * 31 + r);
    uint64_t nans = sv::host::pack(x[r].data(), count, dt, inPlanes, packed.data() + r * words * inPlanes);
    uint64_t want = 0;
    for (size_t i = 0; i < count; ++i) want += ref::isNaNBits(ref::loadElem(x[r].data(), i, esz), f);
    if (nans != want) fail("NaN count", 0);
    if (sv::host::countNans(x[r].data(), count, dt) != want) fail("countNans", 0);
  }

  sv::VoteParams vp;
  vp.nranks = P;
  vp.inPlanes = inPlanes;
  vp.outPlanes = outPlanes;
  vp.tie = tie;
  vp.seed = data[5];
  vp.call = data[4];
  // Vote all words at once, and again split at an arbitrary word: the
  // result must not depend on how the range is cut (the pipeline's chunks).
  std::vector<uint64_t> voted(words * outPlanes + 1), split(words * outPlanes + 1);
  sv::host::vote(packed.data(), words * inPlanes, words, vp, 0, voted.data());
  const size_t cut = words ? data[5] % (words + 1) : 0;
  sv::host::vote(packed.data(), words * inPlanes, cut, vp, 0, split.data());
  sv::host::vote(packed.data() + cut * inPlanes, words * inPlanes, words - cut, vp, cut,
                 split.data() + cut * outPlanes);
  if (memcmp(voted.data(), split.data(), words * outPlanes * 8) != 0) fail("vote depends on the cut", cut);

  const sv::OutputBits ob = sv::outputBits(dt, scale);
  std::vector<uint8_t> out(count * esz + 8, 0xA5);
  sv::host::unpack(voted.data(), outPlanes, count, dt, ob, out.data());
  for (size_t b = count * esz; b < out.size(); ++b)
    if (out[b] != 0xA5) fail("write past count", b);

  // The reference, element by element.
  const uint64_t plus = ref::roundTo(dt, scale), minus = ref::roundTo(dt, -scale);
  for (size_t i = 0; i < count; ++i) {
    int pos = 0, neg = 0;
    for (int r = 0; r < P; ++r) {
      const int v = ref::voteOf(ref::classify(ref::loadElem(x[r].data(), i, esz), f), zero);
      pos += v > 0;
      neg += v < 0;
    }
    const uint64_t got = ref::loadElem(out.data(), i, esz);
    if (pos == neg && tie == SV_TIE_RANDOM) {
      if (got != plus && got != minus) fail("random tie not +-scale", i);
      continue;
    }
    const int m = ref::majority(pos, neg, tie, false);
    if (m == 0) {
      if (got != 0 && got != ref::signMask(f)) fail("tie-zero not 0", i);  // +0 (or -0) per the datatype
    } else if (got != (m > 0 ? plus : minus)) {
      fail("majority", i);
    }
  }
  return 0;
}
