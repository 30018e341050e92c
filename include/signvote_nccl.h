/* SPDX-License-Identifier: MIT
 * signvote: device communicators built on a trainer's NCCL communicator. */
#ifndef SIGNVOTE_NCCL_H_
#define SIGNVOTE_NCCL_H_

#include <nccl.h>
#include <signvote.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Wrap an existing NCCL communicator. Collective over it: every rank calls
 * it at the same point of its NCCL call sequence (it issues one small
 * all-gather of host names on ncclComm, for the topology).
 *  - The signvote communicator uses ncclComm's ranks and its CUDA device
 *    (config->device, when set, must name that device), and issues its
 *    NCCL calls on it in call order, so the caller's own NCCL traffic on the
 *    same communicator must be issued in the same order on every rank, as
 *    NCCL always requires.
 *  - svCommDestroy/svCommAbort leave ncclComm alone: it stays the caller's
 *    and must outlive the signvote communicator.
 *  - Built without NCCL support: svInvalidUsage. */
svResult_t svCommInitFromNccl(svComm_t* comm, ncclComm_t ncclComm, svConfig_t* config);

#ifdef __cplusplus
}
#endif

#endif /* SIGNVOTE_NCCL_H_ */
