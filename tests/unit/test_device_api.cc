// SPDX-License-Identifier: MIT
// What of device communicators can be checked without a GPU: the new entry
// points' argument checks and refusals on a host-only path, the async error
// of host communicators, host communicators refusing a device config, and
// the topology helpers (rank grouping, hwloc queries that must not crash).
// The device paths themselves are tests/gpu (label gpu).
#include <catch2/catch.hpp>

#include <stdint.h>
#include <string.h>

#include <string>
#include <vector>

#include "comm.h"
#include "config.h"
#include "topology.h"
#include "transport/loopback.h"
#include "unit_reference.h"

#if defined(SV_WITH_DEVICE)
#include <cuda_runtime_api.h>
#endif

namespace {

#define CHECK_LAST_ERROR_MENTIONS(comm, word)          \
  do {                                                 \
    const std::string e_ = svGetLastError(comm);       \
    INFO("svGetLastError: \"" << e_ << "\"");         \
    CHECK(ref::containsNoCase(e_, word));              \
  } while (0)

[[maybe_unused]] bool cudaDeviceVisible() {
#if defined(SV_WITH_DEVICE)
  int n = 0;
  const bool ok = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
  cudaGetLastError();
  return ok;
#else
  return false;
#endif
}

}  // namespace

TEST_CASE("svGetUniqueId and svCommInitRank refuse clearly without NCCL or without a GPU", "[device][api]") {
  svUniqueId id;
  memset(&id, 0, sizeof(id));
  svComm_t comm = reinterpret_cast<svComm_t>(0x1);
#if defined(SV_WITH_NCCL)
  CHECK(svGetUniqueId(nullptr) == svInvalidArgument);
  CHECK_LAST_ERROR_MENTIONS(nullptr, "uniqueId");
  CHECK(svCommInitRank(nullptr, 1, id, 0) == svInvalidArgument);
  CHECK_LAST_ERROR_MENTIONS(nullptr, "comm");
  CHECK(svCommInitRank(&comm, 0, id, 0) == svInvalidArgument);
  CHECK_LAST_ERROR_MENTIONS(nullptr, "nranks");
  CHECK(svCommInitRank(&comm, 2, id, 2) == svInvalidArgument);
  CHECK_LAST_ERROR_MENTIONS(nullptr, "rank");
  CHECK(svCommInitRank(&comm, 2, id, -1) == svInvalidArgument);
  svConfig_t cfg = SV_CONFIG_INITIALIZER;
  cfg.device = SV_DEVICE_HOST;  // NCCL communicators are device communicators
  CHECK(svCommInitRankConfig(&comm, 1, id, 0, &cfg) == svInvalidArgument);
  CHECK_LAST_ERROR_MENTIONS(nullptr, "device");
  cfg = SV_CONFIG_INITIALIZER;
  cfg.tiePolicy = 9;
  CHECK(svCommInitRankConfig(&comm, 1, id, 0, &cfg) == svInvalidArgument);
  CHECK_LAST_ERROR_MENTIONS(nullptr, "tiePolicy");
  if (!cudaDeviceVisible()) {
    // No GPU: the NCCL init stops at the device check, before NCCL.
    CHECK(svCommInitRank(&comm, 1, id, 0) == svUnhandledCudaError);
    CHECK_LAST_ERROR_MENTIONS(nullptr, "no CUDA device");
    CHECK(svGetUniqueId(&id) != svInvalidArgument);  // NCCL may or may not make one without a GPU
  }
#else
  CHECK(svGetUniqueId(&id) == svInvalidUsage);
  CHECK_LAST_ERROR_MENTIONS(nullptr, "without NCCL");
  CHECK(svCommInitRank(&comm, 1, id, 0) == svInvalidUsage);
  CHECK_LAST_ERROR_MENTIONS(nullptr, "without NCCL");
  CHECK(svCommInitRankConfig(&comm, 1, id, 0, nullptr) == svInvalidUsage);
#endif
  CHECK(comm == reinterpret_cast<svComm_t>(0x1));  // never written on failure
}

TEST_CASE("svCommGetAsyncError: svSuccess on a host communicator, checks its arguments", "[device][api]") {
  auto world = sv::makeLoopbackWorld(1);
  svComm_t c = nullptr;
  REQUIRE(sv::commInitLoopback(world, 0, nullptr, &c) == svSuccess);
  svResult_t async = svInternalError;
  CHECK(svCommGetAsyncError(c, &async) == svSuccess);
  CHECK(async == svSuccess);
  CHECK(svCommGetAsyncError(c, nullptr) == svInvalidArgument);
  CHECK_LAST_ERROR_MENTIONS(c, "asyncError");
  CHECK(svCommGetAsyncError(nullptr, &async) == svInvalidArgument);
  int dev = 7;
  CHECK(svCommCuDevice(c, &dev) == svSuccess);
  CHECK(dev == SV_DEVICE_HOST);
  // A failed host call does not turn into an async error.
  float x = 0;
  CHECK(svAllReduceSign(&x, &x, 1, static_cast<svDataType_t>(99), c, nullptr) == svInvalidArgument);
  async = svInternalError;
  CHECK(svCommGetAsyncError(c, &async) == svSuccess);
  CHECK(async == svSuccess);
  REQUIRE(svCommDestroy(c) == svSuccess);
  CHECK(svCommGetAsyncError(c, &async) == svInvalidUsage);  // destroyed
}

TEST_CASE("a host communicator is never made from a device config", "[device][api]") {
  auto world = sv::makeLoopbackWorld(1);
  sv::Config cfg;
  cfg.device = 0;
  svComm_t c = nullptr;
  CHECK(sv::commCreate(sv::makeLoopbackTransport(world, 0), cfg, &c) == svInvalidUsage);
  CHECK_LAST_ERROR_MENTIONS(nullptr, "host communicators only");
  CHECK(c == nullptr);
  // Through an init: a device communicator over the loopback transport, or
  // a specific error where there is no device (or no CUDA in the build).
  svConfig_t ucfg = SV_CONFIG_INITIALIZER;
  ucfg.device = 0;
  const svResult_t rc = sv::commInitLoopback(world, 0, &ucfg, &c);
  if (rc == svSuccess) {
    int dev = -1;
    CHECK(svCommCuDevice(c, &dev) == svSuccess);
    CHECK(dev == 0);
    CHECK(svCommDestroy(c) == svSuccess);
  } else {
    CHECK((rc == svUnhandledCudaError || rc == svInvalidUsage));
    CHECK(c == nullptr);
    const std::string e = svGetLastError(nullptr);
    INFO(e);
    CHECK((ref::containsNoCase(e, "no CUDA device") || ref::containsNoCase(e, "without CUDA")));
  }
}

#if !defined(SV_WITH_NCCL)
extern "C" svResult_t svCommInitFromNccl(svComm_t* comm, void* ncclComm, svConfig_t* config);
TEST_CASE("svCommInitFromNccl links and refuses in a build without NCCL", "[device][api]") {
  svComm_t c = nullptr;
  CHECK(svCommInitFromNccl(&c, nullptr, nullptr) == svInvalidUsage);
  CHECK_LAST_ERROR_MENTIONS(nullptr, "without NCCL");
}
#endif

TEST_CASE("node-local ranks from host names, and their one-line form", "[topology]") {
  const std::vector<std::string> names = {"a", "b", "a", "a", "c", "b"};
  CHECK(sv::nodeRanksFromNames(names, 0) == std::vector<int>{0, 2, 3});
  CHECK(sv::nodeRanksFromNames(names, 3) == std::vector<int>{0, 2, 3});
  CHECK(sv::nodeRanksFromNames(names, 5) == std::vector<int>{1, 5});
  CHECK(sv::nodeRanksFromNames(names, 4) == std::vector<int>{4});
  CHECK(sv::nodeRanksFromNames(names, 6).empty());
  CHECK(sv::rankList({0, 1, 2, 3, 6}) == "0-3,6");
  CHECK(sv::rankList({5}) == "5");
  CHECK(sv::rankList({1, 3, 4}) == "1,3-4");
  CHECK(sv::rankList({}) == "");
  CHECK_FALSE(sv::nodeName().empty());
}

#if defined(SV_NO_HWLOC)
TEST_CASE("without hwloc the topology never loads and every query answers unknown", "[topology]") {
  sv::HwTopology topo;
  CHECK_FALSE(topo.loaded());
  CHECK(topo.numaNodes() == 0);
  CHECK(topo.numaNodeOfPci("0000:00:00.0") == -1);
  CHECK(topo.allocOnNode(1 << 20, 0) == nullptr);
  topo.freeMemory(nullptr, 0);
}
#else
TEST_CASE("hwloc topology loads, unknown PCI ids map to no NUMA node, node-bound memory works", "[topology]") {
  sv::HwTopology topo;
  REQUIRE(topo.loaded());
  CHECK(topo.numaNodes() >= 1);
  CHECK(topo.numaNodeOfPci("not a bus id") == -1);
  CHECK(topo.numaNodeOfPci(nullptr) == -1);
  CHECK(topo.numaNodeOfPci("ffff:ff:1f.7") == -1);  // no such device
  // A real bus id (whatever PCI device hwloc sees first) must not crash and
  // gives a node in range or -1.
  const int any = topo.numaNodeOfPci("0000:00:00.0");
  CHECK(any >= -1);
  for (int numa : {-1, 0}) {
    const size_t bytes = 1 << 20;
    void* p = topo.allocOnNode(bytes, numa);
    REQUIRE(p != nullptr);
    memset(p, 0x5a, bytes);  // the memory is usable
    CHECK(static_cast<unsigned char*>(p)[bytes - 1] == 0x5a);
    topo.freeMemory(p, bytes);
  }
}
#endif
