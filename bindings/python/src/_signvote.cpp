// SPDX-License-Identifier: MIT
// signvote._signvote: the thin C++ layer of the Python package. It owns
// svComm_t handles and moves raw pointers; argument checks on arrays and
// tensors, dtype mapping and the Python exceptions live in signvote/_core.py.
// Every call returns the svResult_t code so Python can raise SignvoteError
// with svGetLastError's line.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <signvote_mpi.h>

namespace py = pybind11;

namespace {

class Comm {
 public:
  Comm() = default;
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;
  ~Comm() {
    // Reached only if Python never called destroy(); the library skips
    // MPI_Comm_free once MPI is finalized, so this is safe at exit too.
    if (comm_ != nullptr) svCommDestroy(comm_);
  }

  // mpiCommAddress: the address of an MPI_Comm variable (mpi4py's
  // MPI._addressof(comm)), so any MPI's handle type works.
  static std::pair<int, std::unique_ptr<Comm>> initMPI(
      std::uintptr_t mpiCommAddress, std::optional<int> tie, std::optional<int> zero,
      std::optional<int> nan, std::optional<int> algorithm, std::optional<double> scale,
      std::optional<long long> seed, std::optional<long long> chunkBytes,
      std::optional<long long> allGatherThreshold, std::optional<int> device) {
    svConfig_t config = SV_CONFIG_INITIALIZER;
    if (tie) config.tiePolicy = *tie;
    if (zero) config.zeroPolicy = *zero;
    if (nan) config.nanPolicy = *nan;
    if (algorithm) config.algorithm = *algorithm;
    if (scale) config.scale = *scale;
    if (seed) config.seed = *seed;
    if (chunkBytes) config.chunkBytes = *chunkBytes;
    if (allGatherThreshold) config.allGatherThreshold = *allGatherThreshold;
    if (device) config.device = *device;
    MPI_Comm mpiComm = *reinterpret_cast<const MPI_Comm*>(mpiCommAddress);
    auto comm = std::make_unique<Comm>();
    svResult_t res;
    {
      py::gil_scoped_release nogil;  // collective: MPI_Comm_dup waits for peers
      res = svCommInitMPI(&comm->comm_, mpiComm, &config);
    }
    if (res != svSuccess) comm.reset();
    return {static_cast<int>(res), std::move(comm)};
  }

  int destroy() {
    if (comm_ == nullptr) return svSuccess;
    svResult_t res = svCommDestroy(comm_);
    comm_ = nullptr;
    return res;
  }
  int abort() {
    if (comm_ == nullptr) return svSuccess;
    svResult_t res = svCommAbort(comm_);
    comm_ = nullptr;
    return res;
  }
  bool alive() const { return comm_ != nullptr; }
  std::uintptr_t handle() const { return reinterpret_cast<std::uintptr_t>(comm_); }

  std::pair<int, int> count() const {
    int v = 0;
    int res = svCommCount(comm_, &v);
    return {res, v};
  }
  std::pair<int, int> rank() const {
    int v = 0;
    int res = svCommUserRank(comm_, &v);
    return {res, v};
  }
  std::pair<int, int> cuDevice() const {
    int v = 0;
    int res = svCommCuDevice(comm_, &v);
    return {res, v};
  }
  std::pair<int, py::dict> stats() const {
    svCommStats_t s{};
    int res = svCommGetStats(comm_, &s);
    py::dict d;
    d["calls"] = s.calls;
    d["bytes_sent"] = s.bytesSent;
    d["last_bytes_sent"] = s.lastBytesSent;
    d["last_nan_count"] = s.lastNanCount;
    d["total_nan_count"] = s.totalNanCount;
    d["last_algorithm"] = s.lastAlgorithm;
    d["bytes_sent_other_nodes"] = s.bytesSentOtherNodes;
    d["last_bytes_sent_other_nodes"] = s.lastBytesSentOtherNodes;
    return {res, d};
  }
  std::string lastError() const { return svGetLastError(comm_); }

  // The collective, with the GIL released for its whole duration: other
  // Python threads (the DistributedOptimizer's backward, a DDP hook's
  // caller) run while the ranks exchange bits.
  int allReduceSign(std::uintptr_t send, std::uintptr_t recv, std::size_t count, int datatype) {
    py::gil_scoped_release nogil;
    return svAllReduceSign(reinterpret_cast<const void*>(send), reinterpret_cast<void*>(recv), count,
                           static_cast<svDataType_t>(datatype), comm_, nullptr);
  }

  // svLionStep on flat buffers, the GIL released likewise.
  int lionStep(std::uintptr_t params, std::uintptr_t grads, std::uintptr_t momentum, std::size_t count, int datatype,
               double lr, double beta1, double beta2, double weightDecay) {
    py::gil_scoped_release nogil;
    return svLionStep(reinterpret_cast<void*>(params), reinterpret_cast<const void*>(grads),
                      reinterpret_cast<void*>(momentum), count, static_cast<svDataType_t>(datatype), lr, beta1, beta2,
                      weightDecay, comm_, nullptr);
  }

 private:
  svComm_t comm_ = nullptr;
};

}  // namespace

PYBIND11_MODULE(_signvote, m) {
  m.doc() = "signvote's C library, handle level (use the signvote package, not this module)";
  m.def("version", []() {
    int v = 0;
    svGetVersion(&v);
    return v;
  });
  m.attr("HEADER_VERSION") = SIGNVOTE_VERSION_CODE;
  m.def("error_string", [](int code) { return std::string(svGetErrorString(static_cast<svResult_t>(code))); });
  m.def("last_error_thread", []() { return std::string(svGetLastError(nullptr)); });
  m.attr("DEVICE_HOST") = SV_DEVICE_HOST;

  py::class_<Comm>(m, "Comm")
      .def_static("init_mpi", &Comm::initMPI, py::arg("mpi_comm_address"), py::arg("tie"), py::arg("zero"),
                  py::arg("nan"), py::arg("algorithm"), py::arg("scale"), py::arg("seed"),
                  py::arg("chunk_bytes"), py::arg("allgather_threshold"), py::arg("device"))
      .def("destroy", &Comm::destroy)
      .def("abort", &Comm::abort)
      .def_property_readonly("alive", &Comm::alive)
      .def_property_readonly("handle", &Comm::handle)
      .def("count", &Comm::count)
      .def("rank", &Comm::rank)
      .def("cu_device", &Comm::cuDevice)
      .def("stats", &Comm::stats)
      .def("last_error", &Comm::lastError)
      .def("allreduce_sign", &Comm::allReduceSign, py::arg("send"), py::arg("recv"), py::arg("count"),
           py::arg("datatype"))
      .def("lion_step", &Comm::lionStep, py::arg("params"), py::arg("grads"), py::arg("momentum"), py::arg("count"),
           py::arg("datatype"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("weight_decay"));
}
