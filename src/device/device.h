// SPDX-License-Identifier: MIT
// What the host-side code (comm.cc, allreduce.cc, mpi.cc) knows of device
// communicators. Needs no CUDA header: DeviceState is opaque here and lives
// in device_comm.h. Built without CUDA, device_none.cc defines these and no
// device communicator can ever be created.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <memory>

#include "group.h"
#include "signvote.h"

struct svComm;

namespace sv {

struct Config;
struct DeviceState;
struct DeviceStateDeleter {
  void operator()(DeviceState* d) const;  // frees staging, events, transport
};
using DeviceStatePtr = std::unique_ptr<DeviceState, DeviceStateDeleter>;

// True when this build can make device communicators (CUDA and the GPU
// kernels compiled in).
bool deviceSupported();

// Checks and resolves the CUDA device of a new device communicator:
// `requested` >= 0 must exist; -1 means the current device. Defined only
// where deviceSupported() (call it under SV_WITH_DEVICE).
svResult_t resolveCudaDevice(const char* where, int requested, int* device);

// The engine behind the collectives on a device communicator: the caller
// (allreduce.cc) has already run the checks shared with host communicators
// (live comm, NULL pointers, sizes, datatype, alignment, overlap).
svResult_t deviceAllReduceSign(svComm* comm, const void* sendbuff, void* recvbuff, size_t count,
                               svDataType_t datatype, cudaStream_t stream);
svResult_t deviceAllReduceSignPacked(svComm* comm, const uint32_t* sendbits, uint32_t* recvbits, size_t count,
                                     cudaStream_t stream);
svResult_t devicePackSigns(svComm* comm, const void* sendbuff, uint32_t* bits, size_t count,
                           svDataType_t datatype, cudaStream_t stream);
svResult_t deviceUnpackSigns(svComm* comm, const uint32_t* bits, void* recvbuff, size_t count,
                             svDataType_t datatype, cudaStream_t stream);

// A call queued in a group (svGroupStart) on a device communicator: the
// buffer checks deviceAllReduceSign makes, made when the call is queued.
svResult_t deviceCheckBuffers(svComm* comm, const char* where, const void* send, const char* sendName,
                              const void* recv, const char* recvName, size_t count);
// svGroupEnd's fused call of a device communicator's queued calls
// (group.cc, which lays them out: call i from word first[i], first[ncalls]
// words in all, at least one): one exchange on the first call's stream,
// which the other calls' streams join and wait for.
svResult_t deviceAllReduceGroup(svComm* comm, const GroupCall* const* calls, size_t ncalls, const size_t* first);

// svCommAbort of a device communicator, before it is freed: aborts the
// transport and frees without waiting for queued work.
void deviceAbort(svComm* comm);

// svCommGetAsyncError of a device communicator.
svResult_t deviceAsyncError(svComm* comm, svResult_t* asyncError);
// svCommGetStats of a device communicator: folds in the NaN counts the GPU
// has published so far.
void deviceRefreshStats(svComm* comm);

}  // namespace sv
