/* SPDX-License-Identifier: MIT
 * signvote: communicators built on an MPI communicator. */
#ifndef SIGNVOTE_MPI_H_
#define SIGNVOTE_MPI_H_

#include <mpi.h>
#include <signvote.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Create a communicator over the ranks of mpiComm (collective over mpiComm).
 *  - MPI must be initialized; mpiComm is duplicated, so the caller's own
 *    traffic on it never mixes with signvote's, and the caller may free it.
 *  - config NULL means defaults (and SV_* environment variables); else a
 *    svConfig_t from SV_CONFIG_INITIALIZER with the fields to set.
 *  - The communicator is a host communicator (host pointers), unless
 *    config->device (or SV_DEVICE) names a CUDA device: then a device
 *    communicator over MPI (device pointers, work on the call's stream; MPI
 *    is not stream-aware, so each exchange synchronises the stream; see
 *    docs/gpu.md). Without CUDA in the build that is svInvalidUsage. */
svResult_t svCommInitMPI(svComm_t* comm, MPI_Comm mpiComm, svConfig_t* config);

#ifdef __cplusplus
}
#endif

#endif /* SIGNVOTE_MPI_H_ */
