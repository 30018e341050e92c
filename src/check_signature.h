// SPDX-License-Identifier: MIT
// SV_CHECK=1: before a collective call moves any data, every rank shares a
// small signature of the call it is making (one all-gather of a few words)
// and all ranks compare all signatures. A difference fails the call on every
// rank alike with svInvalidUsage, naming the field and the ranks, before
// anything is written; without it, mismatched calls would exchange messages
// of the wrong sizes, hang, or silently produce a wrong vote.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "comm.h"
#include "deadline.h"

namespace sv {

// What identifies a collective call; every rank must agree on every field.
struct CallSignature {
  uint64_t entry;      // 1 svAllReduceSign, 2 svAllReduceSignPacked
  uint64_t count;
  uint64_t datatype;   // svDataType_t; 0 for the packed API
  uint64_t tie, zero, nan;
  uint64_t algorithm;  // the one this rank chose (follows from the config and count)
  uint64_t scale;      // the double's bits
  uint64_t seed;
  uint64_t chunkWords;
  uint64_t call;       // the communicator's call number
};
constexpr int kSignatureFields = sizeof(CallSignature) / sizeof(uint64_t);

// This rank's signature of call number `call`: entry 1 (typed, datatype
// given) or 2 (packed, datatype 0), with the config's policies.
CallSignature callSignature(const svComm* comm, int entry, size_t count, int datatype, int algorithm,
                            size_t chunkWords, uint64_t call);

// Exchanges `mine` with every rank and compares. svSuccess when all agree;
// svInvalidUsage on every rank when not; a transport error otherwise.
svResult_t checkSignature(svComm* comm, const char* where, Waiter& waiter, const CallSignature& mine, int tag);

// The message for signatures that differ, or "" when all equal (exposed for
// the unit tests and the fuzzer). sigs: nranks x kSignatureFields words.
void describeMismatch(const uint64_t* sigs, int nranks, char* out, size_t len);

}  // namespace sv
