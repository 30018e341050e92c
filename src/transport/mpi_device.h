// SPDX-License-Identifier: MIT
// svCommInitMPI with config.device >= 0 (or SV_DEVICE): a device
// communicator over MPI (mpi_device.cc).
#pragma once

#include <mpi.h>

#include "config.h"
#include "signvote.h"

namespace sv {

// mpiComm is the caller's (checked, not yet duplicated); cfg is resolved,
// cfg.device >= 0.
svResult_t deviceInitMpi(MPI_Comm mpiComm, Config cfg, svComm_t* out);

}  // namespace sv
