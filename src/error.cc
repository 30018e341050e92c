// SPDX-License-Identifier: MIT
// The last-error line: setError records it for the calling thread
// (svGetLastError(nullptr)) and for the communicator, and logs it at WARN.
#include <stdarg.h>
#include <stdio.h>

#include "comm.h"
#include "debug.h"

namespace sv {
namespace {

thread_local char tlsLastError[kErrorLineMax] = "";

}  // namespace

svResult_t setError(svComm* comm, svResult_t code, const char* where,
                    const char* fmt, ...) {
  char msg[kErrorLineMax - 128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(tlsLastError, sizeof(tlsLastError), "%.40s: %s (%.60s)", where, msg, svGetErrorString(code));
  if (comm != nullptr) commSetLastError(comm, tlsLastError);
  SV_WARN(comm ? comm->rank : -1, "%s", tlsLastError);
  return code;
}

const char* threadLastError() { return tlsLastError; }

}  // namespace sv
