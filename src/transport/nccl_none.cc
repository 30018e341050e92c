// SPDX-License-Identifier: MIT
// Built without NCCL (or without CUDA): the NCCL-based entry points exist,
// so programs link, and say why they cannot work.
#include "debug.h"
#include "signvote.h"

namespace {
svResult_t noNccl(const char* where) {
  return sv::setError(nullptr, svInvalidUsage, where,
                      "signvote was built without NCCL/CUDA (SIGNVOTE_WITH_NCCL, SIGNVOTE_WITH_CUDA): no NCCL "
                      "communicators; svCommInitMPI makes host communicators");
}
}  // namespace

extern "C" {

svResult_t svGetUniqueId(svUniqueId* uniqueId) { return noNccl("svGetUniqueId"); }
svResult_t svCommInitRank(svComm_t* comm, int nranks, svUniqueId commId, int rank) {
  return noNccl("svCommInitRank");
}
svResult_t svCommInitRankConfig(svComm_t* comm, int nranks, svUniqueId commId, int rank, svConfig_t* config) {
  return noNccl("svCommInitRankConfig");
}
// signvote_nccl.h declares it with ncclComm_t, a pointer, which this build
// cannot name: same symbol, same calling convention.
svResult_t svCommInitFromNccl(svComm_t* comm, void* ncclComm, svConfig_t* config) {
  return noNccl("svCommInitFromNccl");
}

}  // extern "C"
