// SPDX-License-Identifier: MIT
// Ranks without MPI, for the GPU machine (which has no MPI): the program
// forks P rank processes, rank 0 makes the svUniqueId and the parent hands it
// to the others, and each rank reports lines of text back to the parent,
// which collects them after all ranks exit. The parent never touches CUDA
// (a CUDA context does not survive fork), so every rank initialises its own.
//
//   int main() { return svtest::runForked(P, [](svtest::RankLink& link) { ... return 0; }); }
//
// Ranks sharing a GPU get their own NCCL_HOSTID (shareGpusIfNeeded; NCCL
// refuses two ranks of one communicator on one GPU of one host, docs/gpu.md
// §5b), as tests/gpu/per_rank_env.sh does under mpirun.
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "signvote.h"

namespace svtest {

class RankLink {
 public:
  RankLink(int rank, int nranks, int toParent, int fromParent)
      : rank_(rank), nranks_(nranks), to_(toParent), from_(fromParent) {}
  int rank() const { return rank_; }
  int nranks() const { return nranks_; }

  // Rank 0 passes its *id; every other rank receives it (all call it once,
  // in the same order). The parent forwards whole ids, so this is the one
  // broadcast there is. False when the parent or rank 0 is gone.
  bool broadcastId(svUniqueId* id) {
    if (rank_ == 0) return writeAll(to_, "B", 1) && writeAll(to_, id, sizeof(*id));
    return readAll(from_, id, sizeof(*id));
  }
  // One line for the parent (no newline inside): "key value" lines are
  // compared across ranks by the caller of runForked.
  void report(const std::string& line) {
    const std::string msg = "L" + line + "\n";
    writeAll(to_, msg.data(), msg.size());
  }

  static bool writeAll(int fd, const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
      const ssize_t w = write(fd, c, n);
      if (w <= 0) return false;
      c += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }
  static bool readAll(int fd, void* p, size_t n) {
    char* c = static_cast<char*>(p);
    while (n > 0) {
      const ssize_t r = read(fd, c, n);
      if (r <= 0) return false;
      c += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }

 private:
  int rank_, nranks_, to_, from_;
};

// What the ranks sent: lines[r] in order; exits[r] the exit status (the
// signal number + 128 for a killed rank).
struct ForkResult {
  std::vector<std::vector<std::string>> lines;
  std::vector<int> exits;
};

// In a rank, before NCCL starts: ranks that must share a GPU (more ranks
// than `ngpu`) look like separate hosts to NCCL, which then connects them
// through sockets on loopback.
inline void shareGpusIfNeeded(int rank, int nranks, int ngpu) {
  if (nranks <= ngpu) return;
  char id[64];
  snprintf(id, sizeof id, "signvote-fork-rank%d", rank);
  setenv("NCCL_HOSTID", id, 1);
  setenv("NCCL_SOCKET_IFNAME", "lo", 0);
  setenv("NCCL_IB_DISABLE", "1", 0);
}

// Runs body on P forked ranks; returns after all exited. The ids rank 0
// broadcasts are forwarded to the others as they arrive.
inline ForkResult runForked(int P, const std::function<int(RankLink&)>& body) {
  ForkResult res;
  res.lines.resize(P);
  res.exits.assign(P, 1);
  std::vector<int> up(P), down(P);
  std::vector<pid_t> pids(P);
  for (int r = 0; r < P; ++r) {
    int u[2], d[2];
    if (pipe(u) != 0 || pipe(d) != 0) {
      perror("pipe");
      exit(2);
    }
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    if (pid == 0) {
      close(u[0]);
      close(d[1]);
      for (int q = 0; q < r; ++q) {  // the earlier ranks' parent ends
        close(up[q]);
        close(down[q]);
      }
      RankLink link(r, P, u[1], d[0]);
      const int rc = body(link);
      fflush(stdout);
      fflush(stderr);
      _exit(rc);
    }
    close(u[1]);
    close(d[0]);
    up[r] = u[0];
    down[r] = d[1];
    pids[r] = pid;
  }
  close(down[0]);  // rank 0 only sends
  // Read every rank's messages (poll: a rank blocked on a full pipe would
  // hold up the collective the others are in) until each closes its end.
  std::vector<std::string> buf(P);
  std::vector<bool> open(P, true);
  int live = P;
  while (live > 0) {
    std::vector<pollfd> fds;
    std::vector<int> who;
    for (int r = 0; r < P; ++r)
      if (open[r]) {
        fds.push_back({up[r], POLLIN, 0});
        who.push_back(r);
      }
    if (poll(fds.data(), fds.size(), -1) < 0) continue;
    for (size_t k = 0; k < fds.size(); ++k) {
      if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const int r = who[k];
      char chunk[4096];
      const ssize_t n = read(up[r], chunk, sizeof chunk);
      if (n <= 0) {
        open[r] = false;
        --live;
        if (r == 0)
          for (int q = 1; q < P; ++q) close(down[q]);  // rank 0 is gone: nothing more to forward
        continue;
      }
      buf[r].append(chunk, static_cast<size_t>(n));
      for (;;) {  // whole messages: "B" + id, or "L" + line + "\n"
        std::string& b = buf[r];
        if (b.empty()) break;
        if (b[0] == 'B') {
          if (b.size() < 1 + sizeof(svUniqueId)) break;
          for (int q = 1; q < P; ++q) RankLink::writeAll(down[q], b.data() + 1, sizeof(svUniqueId));
          b.erase(0, 1 + sizeof(svUniqueId));
        } else {
          const size_t nl = b.find('\n');
          if (nl == std::string::npos) break;
          res.lines[r].push_back(b.substr(1, nl - 1));
          b.erase(0, nl + 1);
        }
      }
    }
  }
  for (int r = 0; r < P; ++r) {
    close(up[r]);
    int st = 0;
    waitpid(pids[r], &st, 0);
    res.exits[r] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  }
  return res;
}

}  // namespace svtest
