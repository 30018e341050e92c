// SPDX-License-Identifier: MIT
// Logging in the manner of NCCL_DEBUG (debug.cc), and the one-line last
// error (error.cc).
#pragma once

#include <stddef.h>

#include "signvote.h"

struct svComm;

namespace sv {

constexpr size_t kErrorLineMax = 512;

enum LogLevel : int { kLogNone = 0, kLogWarn = 1, kLogInfo = 2, kLogTrace = 3 };

// Level from SV_DEBUG, read once per process.
LogLevel logLevel();
// "host:pid:tid [rank] SV LEVEL message" to stderr (or SV_DEBUG_FILE).
void log(LogLevel level, int rank, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define SV_WARN(rank, ...) \
  do { if (::sv::logLevel() >= ::sv::kLogWarn) ::sv::log(::sv::kLogWarn, rank, __VA_ARGS__); } while (0)
#define SV_INFO(rank, ...) \
  do { if (::sv::logLevel() >= ::sv::kLogInfo) ::sv::log(::sv::kLogInfo, rank, __VA_ARGS__); } while (0)
#define SV_TRACE(rank, ...) \
  do { if (::sv::logLevel() >= ::sv::kLogTrace) ::sv::log(::sv::kLogTrace, rank, __VA_ARGS__); } while (0)

// Record an error: formats "where: message" as the calling thread's last
// error and, when comm is non-NULL, the communicator's; logs it at WARN.
// Returns code, so call sites read `return setError(comm, code, ...)`.
svResult_t setError(svComm* comm, svResult_t code, const char* where,
                    const char* fmt, ...) __attribute__((format(printf, 4, 5)));

// The calling thread's last error line.
const char* threadLastError();

}  // namespace sv

// Propagate a non-success result.
#define SVCHECK(call)                          \
  do {                                         \
    svResult_t sv_res_ = (call);               \
    if (sv_res_ != svSuccess) return sv_res_;  \
  } while (0)
