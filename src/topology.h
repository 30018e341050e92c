// SPDX-License-Identifier: MIT
// Where a rank sits: which ranks share its node, and (device communicators)
// which NUMA node its GPU hangs off, found with hwloc. Groundwork for the
// hierarchical path (node-local vote counts first, then node leaders only);
// today it places pinned staging next to the GPU and is logged at INFO.
#pragma once

#include <stddef.h>

#include <string>
#include <vector>

namespace sv {

// This host's name as used to group ranks by node: gethostname(), or
// NCCL_HOSTID when set (what NCCL itself uses to tell hosts apart).
std::string nodeName();

// Ranks whose name equals names[me], ascending.
std::vector<int> nodeRanksFromNames(const std::vector<std::string>& names, int me);

// "0-3,6" for {0,1,2,3,6}.
std::string rankList(const std::vector<int>& ranks);

// One hwloc topology (with PCI devices). Every query degrades to "unknown"
// (-1 / empty) when hwloc or the device is not found; nothing here needs a
// GPU.
class HwTopology {
 public:
  HwTopology();
  ~HwTopology();
  HwTopology(const HwTopology&) = delete;
  HwTopology& operator=(const HwTopology&) = delete;

  bool loaded() const { return topo_ != nullptr; }
  int numaNodes() const;  // NUMA nodes of the machine (>= 1 once loaded)
  // NUMA node (OS index) nearest the PCI device "dddd:bb:dd.f" (as
  // cudaDeviceGetPCIBusId writes it); -1 when unknown.
  int numaNodeOfPci(const char* busId) const;
  // Page-aligned memory bound to NUMA node `numa` (-1: anywhere); NULL on
  // failure. Release with freeMemory(p, bytes).
  void* allocOnNode(size_t bytes, int numa) const;
  void freeMemory(void* p, size_t bytes) const;

 private:
  void* topo_ = nullptr;  // hwloc_topology_t
};

}  // namespace sv
