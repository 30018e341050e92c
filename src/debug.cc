// SPDX-License-Identifier: MIT
// SV_DEBUG logging. Knows nothing of communicators, so the kernels (and the
// fuzz targets that compile them alone) can log without the engine.
#include "debug.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

namespace sv {
namespace {

FILE* logFile = stderr;
LogLevel level = kLogNone;
std::once_flag levelOnce;
std::mutex logMutex;
char hostName[64] = "";

void initLog() {
  const char* env = getenv("SV_DEBUG");
  if (env == nullptr) level = kLogNone;
  else if (!strcasecmp(env, "WARN")) level = kLogWarn;
  else if (!strcasecmp(env, "INFO")) level = kLogInfo;
  else if (!strcasecmp(env, "TRACE")) level = kLogTrace;
  else if (!strcasecmp(env, "VERSION") || !strcasecmp(env, "NONE")) level = kLogNone;
  else {
    fprintf(stderr, "signvote: SV_DEBUG=%s not understood (WARN, INFO, TRACE); using WARN\n", env);
    level = kLogWarn;
  }
  const char* file = getenv("SV_DEBUG_FILE");
  if (file != nullptr && level != kLogNone) {
    // %h -> hostname, %p -> pid, as NCCL_DEBUG_FILE does.
    char path[512];
    size_t o = 0;
    gethostname(hostName, sizeof(hostName) - 1);
    for (const char* c = file; *c && o + 64 < sizeof(path); ++c) {
      if (c[0] == '%' && c[1] == 'h') { o += snprintf(path + o, sizeof(path) - o, "%s", hostName); ++c; }
      else if (c[0] == '%' && c[1] == 'p') { o += snprintf(path + o, sizeof(path) - o, "%d", (int)getpid()); ++c; }
      else path[o++] = *c;
    }
    path[o] = '\0';
    FILE* f = fopen(path, "w");
    if (f != nullptr) logFile = f;
  }
  gethostname(hostName, sizeof(hostName) - 1);
  char* dot = strchr(hostName, '.');
  if (dot) *dot = '\0';
}

}  // namespace

LogLevel logLevel() {
  // Read on every call's trace points: one relaxed load once initialised.
  static std::atomic<int> cached{-1};
  const int l = cached.load(std::memory_order_acquire);
  if (l >= 0) return static_cast<LogLevel>(l);
  std::call_once(levelOnce, initLog);
  cached.store(level, std::memory_order_release);
  return level;
}

void log(LogLevel lvl, int rank, const char* fmt, ...) {
  if (logLevel() < lvl) return;
  static const char* names[] = {"", "WARN", "INFO", "TRACE"};
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  std::lock_guard<std::mutex> lock(logMutex);
  if (rank >= 0)
    fprintf(logFile, "%s:%d:%ld [%d] SV %s %s\n", hostName, (int)getpid(),
            (long)syscall(SYS_gettid), rank, names[lvl], msg);
  else
    fprintf(logFile, "%s:%d:%ld SV %s %s\n", hostName, (int)getpid(),
            (long)syscall(SYS_gettid), names[lvl], msg);
  fflush(logFile);
}

}  // namespace sv
