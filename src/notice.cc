// SPDX-License-Identifier: MIT
#include "notice.h"

#include <stdio.h>
#include <string.h>

#include "comm.h"

namespace sv {
namespace {
constexpr uint32_t kNoticeMagic = 0x53564e31;  // "SVN1"
}  // namespace

void noticeAll(svComm* comm, NoticeKind kind, uint64_t call, svResult_t code, const char* text) {
  Transport* t = comm->transport.get();
  if (!t->hasNotices()) return;
  Notice n;
  memset(&n, 0, sizeof n);
  n.magic = kNoticeMagic;
  n.kind = kind;
  n.call = call;
  n.code = code;
  snprintf(n.text, sizeof n.text, "%s", text);
  for (int p = 0; p < comm->nranks; ++p)
    if (p != comm->rank) t->sendNotice(p, &n, sizeof n);
}

void serviceNotices(svComm* comm, std::vector<char>* heard) {
  Transport* t = comm->transport.get();
  Notice n;
  int from = -1;
  while (t->pollNotice(&from, &n, sizeof n)) {
    if (n.magic != kNoticeMagic || from < 0 || from >= comm->nranks) continue;
    if (heard != nullptr) (*heard)[from] = 1;
    if (n.kind == kNoticeProbe) {
      Notice a;
      memset(&a, 0, sizeof a);
      a.magic = kNoticeMagic;
      a.kind = kNoticeAlive;
      a.call = comm->callCount;
      t->sendNotice(from, &a, sizeof a);
    } else if (n.kind == kNoticeFailed && comm->peerFailure.rank < 0) {
      PeerFailure& f = comm->peerFailure;
      f.rank = from;
      f.call = n.call;
      f.code = (n.code > svSuccess && n.code < svNumResults) ? static_cast<svResult_t>(n.code) : svRemoteError;
      n.text[sizeof n.text - 1] = '\0';
      snprintf(f.text, sizeof f.text, "%s", n.text);
    }
  }
}

}  // namespace sv
