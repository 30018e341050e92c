// SPDX-License-Identifier: MIT
#include "topology.h"

#if !defined(SV_NO_HWLOC)
#include <hwloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

namespace sv {

std::string nodeName() {
  if (const char* id = getenv("NCCL_HOSTID")) return id;
  char buf[256] = "";
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown-host";
  buf[sizeof(buf) - 1] = '\0';
  return buf;
}

std::vector<int> nodeRanksFromNames(const std::vector<std::string>& names, int me) {
  std::vector<int> out;
  if (me < 0 || me >= static_cast<int>(names.size())) return out;
  for (size_t r = 0; r < names.size(); ++r)
    if (names[r] == names[me]) out.push_back(static_cast<int>(r));
  return out;
}

std::string rankList(const std::vector<int>& ranks) {
  std::string s;
  for (size_t i = 0; i < ranks.size();) {
    size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1) ++j;
    if (!s.empty()) s += ",";
    s += std::to_string(ranks[i]);
    if (j > i) s += "-" + std::to_string(ranks[j]);
    i = j + 1;
  }
  return s;
}

#if !defined(SV_NO_HWLOC)
HwTopology::HwTopology() {
  hwloc_topology_t t;
  if (hwloc_topology_init(&t) != 0) return;
  // PCI devices are filtered out by default; keep them to find the GPU.
  hwloc_topology_set_io_types_filter(t, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  if (hwloc_topology_load(t) != 0) {
    hwloc_topology_destroy(t);
    return;
  }
  topo_ = t;
}

HwTopology::~HwTopology() {
  if (topo_) hwloc_topology_destroy(static_cast<hwloc_topology_t>(topo_));
}

int HwTopology::numaNodes() const {
  if (!topo_) return 0;
  int n = hwloc_get_nbobjs_by_type(static_cast<hwloc_topology_t>(topo_), HWLOC_OBJ_NUMANODE);
  return n > 0 ? n : 1;
}

int HwTopology::numaNodeOfPci(const char* busId) const {
  if (!topo_ || busId == nullptr) return -1;
  auto t = static_cast<hwloc_topology_t>(topo_);
  unsigned domain = 0, bus = 0, dev = 0, func = 0;
  if (sscanf(busId, "%x:%x:%x.%x", &domain, &bus, &dev, &func) != 4) return -1;
  hwloc_obj_t pci = hwloc_get_pcidev_by_busid(t, domain, bus, dev, func);
  if (pci == nullptr) return -1;
  hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(t, pci);
  if (anc == nullptr || anc->nodeset == nullptr) return -1;
  return hwloc_bitmap_first(anc->nodeset);  // the nearest node, by OS index
}

void* HwTopology::allocOnNode(size_t bytes, int numa) const {
  if (!topo_ || bytes == 0) return nullptr;
  auto t = static_cast<hwloc_topology_t>(topo_);
  if (numa < 0) return hwloc_alloc(t, bytes);
  hwloc_bitmap_t set = hwloc_bitmap_alloc();
  hwloc_bitmap_only(set, static_cast<unsigned>(numa));
  void* p = hwloc_alloc_membind(t, bytes, set, HWLOC_MEMBIND_BIND, HWLOC_MEMBIND_BYNODESET);
  hwloc_bitmap_free(set);
  if (p == nullptr) p = hwloc_alloc(t, bytes);  // binding refused: place it anywhere
  return p;
}

void HwTopology::freeMemory(void* p, size_t bytes) const {
  if (p && topo_) hwloc_free(static_cast<hwloc_topology_t>(topo_), p, bytes);
}
#else
// Built without hwloc (SIGNVOTE_WITH_HWLOC=OFF, e.g. the aarch64 cross
// build): never loaded, every query answers "unknown" as it does when
// hwloc fails to load at run time.
HwTopology::HwTopology() {}
HwTopology::~HwTopology() {}
int HwTopology::numaNodes() const { return 0; }
int HwTopology::numaNodeOfPci(const char*) const { return -1; }
void* HwTopology::allocOnNode(size_t, int) const { return nullptr; }
void HwTopology::freeMemory(void*, size_t) const {}
#endif

}  // namespace sv
