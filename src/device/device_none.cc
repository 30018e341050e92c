// SPDX-License-Identifier: MIT
// Built without CUDA (or without the GPU kernels): no device communicator
// can be created (every init that would make one refuses first), so these
// are never reached with a device communicator.
#include "comm.h"
#include "debug.h"
#include "device/device.h"

namespace sv {

struct DeviceState {};
void DeviceStateDeleter::operator()(DeviceState* d) const { delete d; }

bool deviceSupported() { return false; }

namespace {
svResult_t unreachable(svComm* comm, const char* where) {
  return setError(comm, svInternalError, where, "device communicator in a build without CUDA");
}
}  // namespace

svResult_t deviceAllReduceSign(svComm* comm, const void*, void*, size_t, svDataType_t, cudaStream_t) {
  return unreachable(comm, "svAllReduceSign");
}
svResult_t deviceAllReduceSignPacked(svComm* comm, const uint32_t*, uint32_t*, size_t, cudaStream_t) {
  return unreachable(comm, "svAllReduceSignPacked");
}
svResult_t devicePackSigns(svComm* comm, const void*, uint32_t*, size_t, svDataType_t, cudaStream_t) {
  return unreachable(comm, "svPackSigns");
}
svResult_t deviceUnpackSigns(svComm* comm, const uint32_t*, void*, size_t, svDataType_t, cudaStream_t) {
  return unreachable(comm, "svUnpackSigns");
}
svResult_t deviceCheckBuffers(svComm* comm, const char* where, const void*, const char*, const void*, const char*,
                              size_t) {
  return unreachable(comm, where);
}
svResult_t deviceAllReduceGroup(svComm* comm, const GroupCall* const*, size_t, const size_t*) {
  return unreachable(comm, "svGroupEnd");
}
svResult_t deviceAsyncError(svComm* comm, svResult_t* asyncError) {
  *asyncError = svSuccess;
  return svSuccess;
}
void deviceRefreshStats(svComm*) {}
void deviceAbort(svComm*) {}

}  // namespace sv
