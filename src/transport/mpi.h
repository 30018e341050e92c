// SPDX-License-Identifier: MIT
// The MPI transport (mpi.cc): point-to-point messages on an MPI
// communicator. The communicator itself is made by the engine
// (src/comm_mpi.cc, svCommInitMPI).
#pragma once

#include <mpi.h>

#include <memory>

#include "transport/transport.h"

namespace sv {

// A transport on `comm`, which it owns from now on (a duplicate with
// MPI_ERRORS_RETURN; freed with the transport unless a request could not be
// released). Collective over comm. sharedGathers: small exclusive
// all-gathers through POSIX shared memory that every rank maps; pass it
// alike on every rank, and only when every rank is on this node. The
// ranks fall back to messages together when any cannot map it.
std::unique_ptr<Transport> makeMpiTransport(MPI_Comm comm, bool sharedGathers);

// Whether makeMpiTransport's shared memory is in use (for the log).
bool mpiTransportSharesMemory(const Transport& t);

// MPIX_Query_cuda_support(): 1 or 0, or -1 when this MPI cannot say.
int mpiCudaSupport();

// "MPI transport: what failed: MPI's error string", as `code`.
svResult_t mpiError(int rc, const char* what, svResult_t code = svSystemError);

}  // namespace sv
