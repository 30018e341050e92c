// SPDX-License-Identifier: MIT
// Dead, hung and aborted peers with real processes (ctest -L faults).
//
//   fault_test --mode=kill|stop|abort|mismatch [--victim=R] [--timeout=S] [--delay-ms=D]
//              [--small|--large|--straddle]
//
// Every rank loops svAllReduceSign over mixed sizes (small ones take an
// all-gather, through shared memory unless SV_SHM=0, large ones the
// pipelined all-to-all) on a host
// communicator with config.timeout = S. D ms into the loop the victim rank
// signals itself, so the fault lands mid-call:
//   kill   SIGKILL: the victim is gone.
//   stop   SIGSTOP: the victim hangs. Once every survivor has failed, the
//          lowest survivor sends SIGCONT; the victim then fails too (its
//          peers left) and everyone exits through MPI_Finalize.
//   abort  SIGSTOP with config.timeout = 0 (wait forever): a thread of each
//          survivor calls svCommAbort 1.5 s after the stop; the call in
//          progress must return svRemoteError.
//   mismatch  no fault: the victim calls with 3x the count of the others
//          (SV_CHECK off); every rank must fail with svInvalidUsage saying
//          the ranks disagree and pointing to SV_CHECK=1. With --straddle
//          the others' calls fit the shared-memory all-gather and the
//          victim's do not, so the ranks take different paths.
// Each survivor checks (the spec): the failing call returns
// svTimeout or svRemoteError (abort: svRemoteError) within 2 x S of its
// start (abort: within 2 x S of the svCommAbort call); svGetLastError names
// the victim as the one rank that did not answer the liveness probe (kill,
// stop); the next call returns the same code at once without
// communicating; svCommDestroy succeeds promptly. It then leaves through
// MPI_Finalize as docs/reliability.md says a job should after a peer died,
// and prints "SURVIVOR <rank> PASS" just before, which the driver
// (run_fault_test.sh) counts: under mpirun --enable-recovery the launcher's
// exit status does not reflect the ranks'.
// --small: small calls only (on more than 4 ranks: the log-round
// all-gather); --large: pipelined calls of 8-16 MB only (several chunks in
// flight); default: a mix.
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "signvote.h"
#include "signvote_mpi.h"

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int gRank = 0;
int gFailures = 0;

#define EXPECT(cond, ...)                                              \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "rank %d: FAILED %s: ", gRank, #cond);           \
      fprintf(stderr, __VA_ARGS__);                                    \
      fprintf(stderr, "\n");                                           \
      ++gFailures;                                                     \
    }                                                                  \
  } while (0)

// "1, 3" from "... rank(s) 1, 3 did not answer ..." ("" when absent).
std::string silentRanks(const std::string& err) {
  const size_t end = err.find(" did not answer");
  if (end == std::string::npos) return "";
  const size_t begin = err.rfind("rank(s) ", end);
  return begin == std::string::npos ? "" : err.substr(begin + 8, end - begin - 8);
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int P = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &gRank);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  std::string mode = "kill";
  int victim = 1, delayMs = 800;
  bool small = false, large = false, straddle = false;
  double timeout = 3.0;
  for (int i = 1; i < argc; ++i) {
    if (!strncmp(argv[i], "--mode=", 7)) mode = argv[i] + 7;
    else if (!strncmp(argv[i], "--victim=", 9)) victim = atoi(argv[i] + 9);
    else if (!strncmp(argv[i], "--timeout=", 10)) timeout = atof(argv[i] + 10);
    else if (!strncmp(argv[i], "--delay-ms=", 11)) delayMs = atoi(argv[i] + 11);
    else if (!strcmp(argv[i], "--small")) small = true;
    else if (!strcmp(argv[i], "--large")) large = true;
    else if (!strcmp(argv[i], "--straddle")) straddle = true;
    else { fprintf(stderr, "unknown argument %s\n", argv[i]); MPI_Abort(MPI_COMM_WORLD, 2); }
  }
  if (P < 2 || victim < 0 || victim >= P ||
      (mode != "kill" && mode != "stop" && mode != "abort" && mode != "mismatch")) {
    if (gRank == 0) fprintf(stderr, "need >= 2 ranks, a victim rank among them and mode kill|stop|abort|mismatch\n");
    MPI_Finalize();
    return 2;
  }
  const bool mismatch = mode == "mismatch";
  const bool isVictim = gRank == victim && !mismatch;
  const bool abortMode = mode == "abort";

  // Everything the fault test needs from MPI_COMM_WORLD happens before the
  // fault: the victim's pid, and the survivors' own communicator.
  std::vector<int> pids(P);
  int me = static_cast<int>(getpid());
  MPI_Allgather(&me, 1, MPI_INT, pids.data(), 1, MPI_INT, MPI_COMM_WORLD);
  MPI_Comm survivors;
  MPI_Comm_split(MPI_COMM_WORLD, isVictim ? 1 : 0, gRank, &survivors);

  svConfig_t cfg = SV_CONFIG_INITIALIZER;
  cfg.timeout = abortMode && !isVictim ? 0.0 : timeout;
  svComm_t comm = nullptr;
  if (svCommInitMPI(&comm, MPI_COMM_WORLD, &cfg) != svSuccess) {
    fprintf(stderr, "rank %d: svCommInitMPI: %s\n", gRank, svGetLastError(nullptr));
    MPI_Abort(MPI_COMM_WORLD, 1);
  }

  const size_t kCounts[] = {1000, 3, 400000, 64, 1 << 20};
  const size_t kSmall[] = {1000, 3, 64, 1, 2000};
  const size_t kLarge[] = {2 << 20, 3 << 20, 4 << 20, 2 << 20, 3 << 20};  // floats: 8-16 MB
  const size_t kMismatch[] = {1000, 1000, 1000, 1000, 1000};
  // 2504 packed bytes per rank, the victim's 7504: either side of the
  // shared-memory all-gather's 4096 (src/transport/shared_gather.h).
  const size_t kStraddle[] = {20000, 20000, 20000, 20000, 20000};
  const size_t* counts = mismatch ? (straddle ? kStraddle : kMismatch) : small ? kSmall : large ? kLarge : kCounts;
  const size_t maxCount = large ? 4 << 20 : 1 << 20;
  std::vector<float> send(maxCount), recv(maxCount);
  for (size_t i = 0; i < maxCount; ++i) send[i] = ((i * 2654435761u + gRank * 40503u) >> 7) % 3 == 0 ? -1.f : 1.f;

  MPI_Barrier(MPI_COMM_WORLD);
  const double loopStart = now();
  std::thread faulter;
  if (isVictim)
    faulter = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delayMs));
      kill(getpid(), mode == "kill" ? SIGKILL : SIGSTOP);
    });

  // Survivors in abort mode: a thread aborts the communicator once the
  // victim has surely stopped.
  std::atomic<double> abortedAt{0};
  std::thread aborter;
  if (abortMode && !isVictim)
    aborter = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delayMs + 1500));
      abortedAt = now();
      svResult_t r = svCommAbort(comm);
      if (r != svSuccess) fprintf(stderr, "rank %d: svCommAbort returned %d\n", gRank, r);
    });

  long calls = 0;
  svResult_t rc = svSuccess;
  double callStart = 0, callEnd = 0;
  const double giveUp = delayMs / 1000.0 + 10 * (timeout > 0 ? timeout : 1) + 30;
  while (true) {
    const size_t count = counts[calls % 5] * (mismatch && gRank == victim ? 3 : 1);
    callStart = now();
    rc = svAllReduceSign(send.data(), recv.data(), count, svFloat32, comm, nullptr);
    callEnd = now();
    if (rc != svSuccess) break;
    ++calls;
    if (callEnd - loopStart > giveUp) break;
  }
  const std::string err = svGetLastError(abortMode && !isVictim ? nullptr : comm);

  if (isVictim) {
    // Only reached after SIGCONT (stop, abort): the peers have left.
    fprintf(stderr, "rank %d (victim, resumed): call %ld returned %s after %.2f s: %s\n", gRank, calls,
            svGetErrorString(rc), callEnd - callStart, err.c_str());
    if (faulter.joinable()) faulter.join();
    svCommDestroy(comm);
    MPI_Comm_free(&survivors);
    MPI_Finalize();
    return 0;
  }

  fprintf(stderr, "rank %d: call %ld (count %zu) returned %s after %.2f s: %s\n", gRank, calls, counts[calls % 5],
          svGetErrorString(rc), callEnd - callStart, err.c_str());
  EXPECT(rc != svSuccess, "no call failed within %.0f s of the loop", giveUp);
  if (mismatch) {
    EXPECT(calls == 0, "%ld mismatched calls succeeded", calls);
    EXPECT(rc == svInvalidUsage, "got %s", svGetErrorString(rc));
    EXPECT(err.find("disagree") != std::string::npos && err.find("SV_CHECK=1") != std::string::npos,
           "last error \"%s\"", err.c_str());
    EXPECT(callEnd - callStart <= 2 * timeout, "the failing call took %.2f s", callEnd - callStart);
    EXPECT(svAllReduceSign(send.data(), recv.data(), 1000, svFloat32, comm, nullptr) == rc, "the next call");
    EXPECT(svCommDestroy(comm) == svSuccess, "svCommDestroy: %s", svGetLastError(nullptr));
  } else if (abortMode) {
    if (aborter.joinable()) aborter.join();
    EXPECT(rc == svRemoteError, "got %s", svGetErrorString(rc));
    EXPECT(abortedAt > 0 && callEnd - abortedAt < 2 * timeout, "returned %.2f s after svCommAbort",
           callEnd - abortedAt);
    EXPECT(err.find("abort") != std::string::npos, "last error \"%s\"", err.c_str());
    // The handle is retired: every later use says so.
    float x = 1, y = 0;
    EXPECT(svAllReduceSign(&x, &y, 1, svFloat32, comm, nullptr) == svInvalidUsage, "reuse after abort");
    EXPECT(svCommDestroy(comm) == svInvalidUsage, "destroy after abort");
  } else {
    EXPECT(rc == svTimeout || rc == svRemoteError, "got %s", svGetErrorString(rc));
    EXPECT(callEnd - callStart <= 2 * timeout, "the failing call took %.2f s, more than 2 x %.1f s",
           callEnd - callStart, timeout);
    // The victim, and only it, is named as the rank that did not answer.
    EXPECT(silentRanks(err) == std::to_string(victim), "last error \"%s\" does not name rank %d alone as silent",
           err.c_str(), victim);
    // Failed: the next call returns the same error without waiting again.
    const double t0 = now();
    const svResult_t rc2 = svAllReduceSign(send.data(), recv.data(), 1000, svFloat32, comm, nullptr);
    const double t1 = now();
    EXPECT(rc2 == rc, "the next call returned %s", svGetErrorString(rc2));
    EXPECT(t1 - t0 < timeout, "the next call took %.2f s", t1 - t0);
    const double d0 = now();
    EXPECT(svCommDestroy(comm) == svSuccess, "svCommDestroy: %s", svGetLastError(nullptr));
    EXPECT(now() - d0 < timeout, "svCommDestroy took %.2f s", now() - d0);
  }

  // Every survivor has failed before the stopped victim may resume.
  MPI_Barrier(survivors);
  int srank = 0;
  MPI_Comm_rank(survivors, &srank);
  if (srank == 0 && (mode == "stop" || abortMode)) kill(pids[victim], SIGCONT);
  MPI_Comm_free(&survivors);
  if (gFailures == 0) printf("SURVIVOR %d PASS after %ld calls\n", gRank, calls);
  fflush(stdout);
  MPI_Finalize();
  return gFailures == 0 ? 0 : 1;
}
