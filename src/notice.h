// SPDX-License-Identifier: MIT
// Notices: small messages between the ranks of a communicator outside every
// exchange (Transport::sendNotice). They carry what a rank cannot learn from
// a stalled exchange:
//   probe   after a timeout, "who is still there?": a rank answers from the
//           idle loop of whatever call it is in, so the ranks that do not
//           answer are the silent ones, at any P and for any exchange.
//   alive   the answer.
//   failed  "I failed call c, here is why": peers waiting for this rank's
//           data fail at once with its reason instead of timing out.
// Best effort by design: a notice to a dead peer is lost, and one that is
// late only makes a peer fail later.
#pragma once

#include <stdint.h>

#include <vector>

#include "signvote.h"

struct svComm;

namespace sv {

enum NoticeKind : uint32_t { kNoticeProbe = 1, kNoticeAlive = 2, kNoticeFailed = 3 };

struct Notice {
  uint32_t magic;  // kNoticeMagic
  uint32_t kind;   // NoticeKind
  uint64_t call;   // the sender's call number
  int32_t code;    // kNoticeFailed: the sender's result
  char text[236];  // kNoticeFailed: the sender's error line, cut to fit
};
static_assert(sizeof(Notice) == 256, "a notice is 256 bytes on every rank");

// A peer's failure notice, kept by the communicator until a call it applies
// to (its call number or a later one) waits: then that call fails at once.
struct PeerFailure {
  int rank = -1;  // -1: none
  uint64_t call = 0;
  svResult_t code = svSuccess;
  char text[sizeof(Notice::text)] = "";
};

// Sends a notice of `kind` to every peer (kNoticeFailed: with code, text).
void noticeAll(svComm* comm, NoticeKind kind, uint64_t call, svResult_t code = svSuccess, const char* text = "");

// Reads every notice that arrived: answers probes, marks heard[rank] for
// every rank a notice came from (heard may be null), and keeps the first
// peer failure in comm->peerFailure.
void serviceNotices(svComm* comm, std::vector<char>* heard);

}  // namespace sv
