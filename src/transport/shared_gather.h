// SPDX-License-Identifier: MIT
// Small all-gathers through memory that every rank of the communicator maps
// (all ranks on one node): each rank copies its block into its own slot and
// raises the slot's sequence number; every rank copies the others' blocks
// as their numbers arrive. One step where messages take a round trip per
// peer or log2(P) rounds: on 2 cores, 4-byte all-gathers took 0.29 us at
// P = 2 and 8 us at P = 8, where fp32 MPI_Allreduce over Open MPI's shared
// memory took 0.65 and 20 us.
//
// Only for exclusive operations (nothing else of the communicator in
// flight, every rank alike: Transport::allGatherv), so the gathers are
// numbered alike on every rank and run one at a time. Gather s uses slot
// parity s % 2: a rank starting gather s has seen every peer start s - 1,
// so every peer has finished reading its slot of s - 2, which s overwrites.
// A peer that never arrives is the engine's to time out (pendingPeers names
// it); giving up a gather leaves nothing to cancel.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "signvote.h"

namespace sv {

class SharedGather {
 public:
  static constexpr size_t kMaxBytes = 4096;  // per rank and gather
  static constexpr size_t kHeaderBytes = 64;
  static constexpr size_t kSlotBytes = kHeaderBytes + kMaxBytes;
  static size_t segmentBytes(int nranks) { return 2 * static_cast<size_t>(nranks) * kSlotBytes; }

  // base: segmentBytes(nranks) bytes, zeroed before any rank uses them,
  // mapped by every rank, 64-byte aligned; kept mapped by the caller while
  // this object lives. spinPolls: empty polls before each poll yields the
  // core (spinPollsFor).
  SharedGather(void* base, int rank, int nranks, unsigned spinPolls)
      : base_(static_cast<char*>(base)), rank_(rank), nranks_(nranks), spinPolls_(spinPolls), bytes_(nranks),
        offs_(nranks), arrived_(nranks) {}

  // A waiting rank that has a core of its own spins a while (a peer's block
  // comes within a microsecond); one that shares its core with other ranks
  // must let them run at once, since the block it waits for may be theirs.
  // Measured on 2 cores, 4-byte calls: at P = 2, 64 polls took 0.53-0.66 us
  // a call against 0.68-0.76 for 16; at P = 4 and 8, 2 polls took 3.3-3.5
  // and 11-13 us against 3.6-5.7 and 17-18 for 64.
  static unsigned spinPollsFor(int ranksOnNode) {
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 0 && ranksOnNode > cpus ? 2 : 64;
  }

  // Whether every rank's block fits a slot.
  bool fits(const size_t* recvBytes) const {
    for (int p = 0; p < nranks_; ++p)
      if (recvBytes[p] > kMaxBytes) return false;
    return true;
  }

  // Publishes this rank's block (recvBytes[rank] bytes at send) and takes
  // over the gather's layout; poll() then collects the others' blocks.
  void start(const void* send, void* recv, const size_t* recvBytes, const size_t* recvOffs) {
    ++seq_;
    recv_ = static_cast<char*>(recv);
    bytes_.assign(recvBytes, recvBytes + nranks_);
    offs_.assign(recvOffs, recvOffs + nranks_);
    Slot mine = slot(seq_, rank_);
    const size_t n = bytes_[rank_];
    memcpy(mine.data, send, n);
    *mine.bytes = n;
    mine.seq->store(seq_, std::memory_order_release);
    if (n != 0 && send != recv_ + offs_[rank_]) memcpy(recv_ + offs_[rank_], send, n);
    for (int p = 0; p < nranks_; ++p) arrived_[p] = p == rank_;
    missing_ = nranks_ - 1;
    emptyPolls_ = 0;
  }

  // Copies the blocks that arrived; *done once all have. A block of another
  // size than this rank's call expects: *badPeer set, *badBytes its size
  // (the ranks disagree on the call), and the gather is not done.
  void poll(bool* done, int* badPeer, size_t* badBytes) {
    *badPeer = -1;
    for (int p = 0; p < nranks_ && missing_ > 0; ++p) {
      if (arrived_[p]) continue;
      Slot s = slot(seq_, p);
      if (s.seq->load(std::memory_order_acquire) != seq_) continue;
      if (*s.bytes != bytes_[p]) {
        *badPeer = p;
        *badBytes = *s.bytes;
        *done = false;
        return;
      }
      memcpy(recv_ + offs_[p], s.data, bytes_[p]);
      arrived_[p] = 1;
      --missing_;
      emptyPolls_ = 0;
    }
    *done = missing_ == 0;
    // Nothing is waited for in a transport here (memory only), so a rank
    // must let the rank it waits for run: after spinPolls_ empty polls each
    // poll yields the core, as MPI's own progress does with
    // mpi_yield_when_idle.
    if (!*done && ++emptyPolls_ > spinPolls_) std::this_thread::yield();
  }

  // The size this rank's call expects of rank p's block.
  size_t expected(int p) const { return bytes_[p]; }

  // The ranks whose blocks have not arrived.
  void pendingPeers(std::vector<int>* from) const {
    for (int p = 0; p < nranks_; ++p)
      if (!arrived_[p]) from->push_back(p);
  }

 private:
  struct Slot {
    std::atomic<uint64_t>* seq;
    uint64_t* bytes;
    char* data;
  };
  Slot slot(uint64_t seq, int rank) const {
    char* at = base_ + ((seq & 1) * nranks_ + rank) * kSlotBytes;
    return {reinterpret_cast<std::atomic<uint64_t>*>(at), reinterpret_cast<uint64_t*>(at + 8), at + kHeaderBytes};
  }
  static_assert(std::atomic<uint64_t>::is_always_lock_free, "the slots' sequence numbers are shared between processes");

  char* base_;
  int rank_, nranks_;
  unsigned spinPolls_;
  uint64_t seq_ = 0;  // the gather in flight (or the last)
  char* recv_ = nullptr;
  std::vector<size_t> bytes_, offs_;
  std::vector<char> arrived_;
  int missing_ = 0;
  unsigned emptyPolls_ = 0;
};

}  // namespace sv
