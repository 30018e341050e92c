// SPDX-License-Identifier: MIT
// The stream-ordered transport of device communicators: moves bytes between
// the device buffers of the ranks and knows nothing of signs. Every
// operation is enqueued on `stream` after the work already there, and work
// enqueued after it sees its result, as with NCCL. Implementations:
// nccl.cc (fully stream-ordered, no host synchronisation, capturable in a
// CUDA graph) and the engine's src/device/host_exchange.cc, which runs the
// exchanges on a host transport (MPI; not stream-aware: it synchronises the
// stream before handing buffers over, see synchronisesStream()).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "signvote.h"

struct svComm;

namespace sv {

class HwTopology;

class DeviceTransport {
 public:
  virtual ~DeviceTransport() = default;
  virtual const char* name() const = 0;
  int rank() const { return rank_; }
  int nranks() const { return nranks_; }

  // All-to-all of equal segments: rank r sends the `bytes` bytes at
  // send + s*bytes to rank s, and receives rank s's segment for r at
  // recv + s*bytes. send and recv are device memory, P*bytes long, and do
  // not overlap.
  virtual svResult_t allToAll(const void* send, void* recv, size_t bytes, cudaStream_t stream) = 0;

  // All-gather: every rank's `bytes` bytes at send land at recv + r*bytes on
  // every rank. In place when send == recv + rank*bytes.
  virtual svResult_t allGather(const void* send, void* recv, size_t bytes, cudaStream_t stream) = 0;

  // True when operations block the host until the stream's earlier work has
  // finished (MPI staging); false when purely stream-ordered (NCCL).
  virtual bool synchronisesStream() const = 0;

  // svCommAbort: release without waiting for peers (NCCL: ncclCommAbort on
  // a communicator signvote created; a wrapped one is left to its owner).
  virtual void abort() {}

  // The transport's asynchronous error (NCCL's ncclCommGetAsyncError);
  // svSuccess when it has none or cannot have any.
  virtual svResult_t asyncError() { return svSuccess; }

  // Init only (collective): the ranks that share this node, ascending.
  // NCCL: an all-gather of host names (nodeName()); MPI:
  // MPI_Comm_split_type(MPI_COMM_TYPE_SHARED).
  virtual svResult_t findNodeRanks(std::vector<int>* ranks) = 0;

  // Where host staging should live (MPI staging path): set once at init,
  // before the first operation; the topology outlives the transport.
  virtual void setPlacement(const HwTopology* topo, int numaNode) {}

  // The communicator this transport serves, once it exists (a transport
  // that waits on the host waits under its SV_TIMEOUT and abort flag).
  virtual void bind(svComm* comm) {}

  // The collective call whose operations follow (entry name for errors,
  // call number for message tags), before anything of it is enqueued; an
  // error refuses the call (and leaves the communicator usable).
  virtual svResult_t beginCall(const char* where, uint64_t call) { return svSuccess; }

  // True once a failed exchange could not be released: the device staging
  // it may still write must outlive the communicator.
  virtual bool leaking() const { return false; }

  // Bytes handed over for other ranks since creation.
  uint64_t bytesSent() const { return bytesSent_; }

 protected:
  int rank_ = 0, nranks_ = 1;
  uint64_t bytesSent_ = 0;
};

}  // namespace sv
