// SPDX-License-Identifier: MIT
#include "check_signature.h"

#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <new>
#include <vector>

#include "debug.h"

namespace sv {
namespace {

const char* const kFieldNames[kSignatureFields] = {"API entry", "count", "datatype", "tie policy", "zero policy",
                                                   "NaN policy", "algorithm", "scale", "seed", "chunk size (words)",
                                                   "call number"};

int formatValue(int field, uint64_t v, char* out, size_t len) {
  switch (field) {
    case 0: return snprintf(out, len, "%s", v == 1 ? "svAllReduceSign" : v == 2 ? "svAllReduceSignPacked" : "?");
    case 7: {
      double d;
      memcpy(&d, &v, sizeof d);
      return snprintf(out, len, "%g", d);
    }
    case 8: return snprintf(out, len, "%lld", static_cast<long long>(v));
    default: return snprintf(out, len, "%llu", static_cast<unsigned long long>(v));
  }
}

}  // namespace

void describeMismatch(const uint64_t* sigs, int nranks, char* out, size_t len) {
  if (len == 0) return;
  out[0] = '\0';
  int firstField = -1, fieldsDiffering = 0;
  for (int f = 0; f < kSignatureFields; ++f)
    for (int r = 1; r < nranks; ++r)
      if (sigs[r * kSignatureFields + f] != sigs[f]) {
        if (firstField < 0) firstField = f;
        ++fieldsDiffering;
        break;
      }
  if (firstField < 0) return;
  // Rank 0's value, then every rank that differs from it (a few at most).
  size_t n = 0;
  auto put = [&](int w) { n = std::min(len - 1, n + (w > 0 ? static_cast<size_t>(w) : 0)); };
  put(snprintf(out + n, len - n, "SV_CHECK: ranks disagree on the %s: rank 0 has ", kFieldNames[firstField]));
  put(formatValue(firstField, sigs[firstField], out + n, len - n));
  int shown = 0, others = 0;
  for (int r = 1; r < nranks; ++r) {
    const uint64_t v = sigs[r * kSignatureFields + firstField];
    if (v == sigs[firstField]) continue;
    if (shown == 4) { ++others; continue; }
    put(snprintf(out + n, len - n, ", rank %d has ", r));
    put(formatValue(firstField, v, out + n, len - n));
    ++shown;
  }
  if (others) put(snprintf(out + n, len - n, " (and %d more rank(s))", others));
  if (fieldsDiffering > 1) put(snprintf(out + n, len - n, "; %d other field(s) differ too", fieldsDiffering - 1));
}

CallSignature callSignature(const svComm* comm, int entry, size_t count, int datatype, int algorithm,
                            size_t chunkWords, uint64_t call) {
  const Config& c = comm->config;
  CallSignature sig;
  sig.entry = static_cast<uint64_t>(entry);
  sig.count = count;
  sig.datatype = static_cast<uint64_t>(datatype);
  sig.tie = c.tie;
  sig.zero = c.zero;
  sig.nan = c.nan;
  sig.algorithm = algorithm;
  memcpy(&sig.scale, &c.scale, sizeof(sig.scale));
  sig.seed = static_cast<uint64_t>(c.seed);
  sig.chunkWords = chunkWords;
  sig.call = call;
  return sig;
}

svResult_t checkSignature(svComm* comm, const char* where, Waiter& waiter, const CallSignature& mine, int tag) {
  const int P = comm->nranks;
  const size_t bytes = sizeof(CallSignature);
  try {
    comm->signature.resize(static_cast<size_t>(P) * kSignatureFields);
  } catch (const std::bad_alloc&) {
    return setError(comm, svSystemError, where, "out of memory for SV_CHECK");
  }
  memcpy(&comm->signature[comm->rank * kSignatureFields], &mine, bytes);
  SVCHECK(controlAllGather(comm, waiter, &comm->signature[comm->rank * kSignatureFields], comm->signature.data(),
                           bytes, tag));
  char msg[kErrorLineMax - 160];
  describeMismatch(comm->signature.data(), P, msg, sizeof msg);
  if (msg[0] != '\0') return setError(comm, svInvalidUsage, where, "%s; nothing written", msg);
  return svSuccess;
}

}  // namespace sv
