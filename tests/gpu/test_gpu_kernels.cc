// SPDX-License-Identifier: MIT
// The GPU kernels (sv::device, src/kernels/cuda/device_kernels.h) against the host
// kernels (sv::host), bit for bit: random and adversarial inputs (NaN
// payloads, +-0, +-inf, denormals, max finite), every datatype, plane count
// and tie policy, sizes from 0 to multi-million (tails of every kind, grids
// that loop), sub-buffers at every element offset from a 16-byte boundary,
// the skipIfNonzero gate, fused NaN counts, and guard bytes before and after
// every output (nothing written outside the range). Needs a CUDA device; the
// main (test_gpu_kernels_main.cc) skips with exit code 77 without one.
#include <catch2/catch.hpp>

#include <stdint.h>
#include <string.h>

#include <memory>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "bitlogic.h"
#include "datatype.h"
#include "kernels/cuda/device_kernels.h"
#include "kernels/host/host_kernels.h"
#include "unit_reference.h"

namespace {

using sv::VoteParams;

const svDataType_t kTypes[] = {svFloat16, svBfloat16, svFloat32, svFloat64};
constexpr size_t kGuardBytes = 256;

#define CUDA_OK(call)                                              \
  do {                                                             \
    const cudaError_t e_ = (call);                                 \
    INFO(#call << " -> " << cudaGetErrorString(e_));               \
    REQUIRE(e_ == cudaSuccess);                                    \
  } while (0)

// The device buffer equals its host twin, guards included; says where not.
#define CHECK_SAME(mirror)                                   \
  do {                                                       \
    std::string where_;                                      \
    const bool same_ = (mirror).sameAsDevice(&where_);       \
    INFO(where_);                                            \
    CHECK(same_);                                            \
  } while (0)

// A device buffer and its host twin, both filled with 0xA5 guard bytes; the
// payload starts offsetBytes past a 256-byte aligned point, kGuardBytes in.
class Mirror {
 public:
  Mirror(size_t bytes, size_t offsetBytes)
      : off_(kGuardBytes + offsetBytes), total_(bytes + offsetBytes + 2 * kGuardBytes), host_(total_, 0xA5) {
    CUDA_OK(cudaMalloc(&dev_, total_));
    CUDA_OK(cudaMemset(dev_, 0xA5, total_));
  }
  ~Mirror() { cudaFree(dev_); }
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;
  void* h() { return host_.data() + off_; }
  void* d() { return static_cast<unsigned char*>(dev_) + off_; }
  void upload() { CUDA_OK(cudaMemcpy(dev_, host_.data(), total_, cudaMemcpyHostToDevice)); }
  // The device's bytes equal the host twin's, guards included.
  bool sameAsDevice(std::string* where) {
    std::vector<unsigned char> got(total_);
    const cudaError_t e = cudaMemcpy(got.data(), dev_, total_, cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) {
      *where = cudaGetErrorString(e);
      return false;
    }
    for (size_t i = 0; i < total_; ++i)
      if (got[i] != host_[i]) {
        *where = "first differing byte " + std::to_string(static_cast<long long>(i) - static_cast<long long>(off_)) +
                 " (relative to the buffer; negative or past the end: a guard) device " + ref::hex(got[i]) +
                 " host " + ref::hex(host_[i]);
        return false;
      }
    return true;
  }

 private:
  size_t off_, total_;
  std::vector<unsigned char> host_;
  void* dev_ = nullptr;
};

struct DevCounter {
  DevCounter() { CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&p), sizeof(*p))); }
  ~DevCounter() { cudaFree(p); }
  void set(unsigned long long v) { CUDA_OK(cudaMemcpy(p, &v, sizeof(v), cudaMemcpyHostToDevice)); }
  unsigned long long get() {
    unsigned long long v = 0;
    CUDA_OK(cudaMemcpy(&v, p, sizeof(v), cudaMemcpyDeviceToHost));
    return v;
  }
  unsigned long long* p = nullptr;
};

std::vector<size_t> sizes() {
  std::vector<size_t> v;
  for (size_t n = 0; n <= 130; ++n) v.push_back(n);
  for (size_t n : {191, 255, 256, 257, 1000, 1023, 1024, 1025, 4095, 4097, 8191, 8193, 65537, 100003, 1 << 20,
                   (1 << 22) + 37})
    v.push_back(n);
  return v;
}

struct Stream {
  Stream() { CUDA_OK(cudaStreamCreate(&s)); }
  ~Stream() { cudaStreamDestroy(s); }
  cudaStream_t s = nullptr;
};

}  // namespace

TEST_CASE("device::pack equals host::pack: bits, fused NaN count, guards", "[gpu][pack]") {
  ref::Rng rng(11);
  Stream st;
  DevCounter nans;
  for (svDataType_t dt : kTypes) {
    const ref::Format f = ref::formatOf(dt);
    const size_t esz = ref::elemSize(dt);
    for (size_t n : sizes())
      for (size_t offset : {size_t{0}, size_t{1}, size_t{3}, size_t{5}}) {
        if (offset != 0 && n > 100000) continue;
        Mirror x(n * esz, offset * esz);
        const int pSpecial = static_cast<int>(rng.below(60)), pZero = static_cast<int>(rng.below(30));
        for (size_t i = 0; i < n; ++i) ref::storeElem(x.h(), i, esz, ref::randomElement(rng, f, true, pSpecial, pZero));
        x.upload();
        for (int planes = 1; planes <= 2; ++planes) {
          const size_t words = (n + 63) / 64;
          Mirror out(words * planes * 8, 0);
          const uint64_t want = sv::host::pack(x.h(), n, dt, planes, static_cast<uint64_t*>(out.h()));
          nans.set(5);  // added to, never overwritten
          CUDA_OK(sv::device::pack(x.d(), n, dt, planes, static_cast<uint64_t*>(out.d()), nans.p, st.s));
          CUDA_OK(cudaStreamSynchronize(st.s));
          INFO(ref::dtLabel(dt) << " n=" << n << " offset=" << offset << " planes=" << planes);
          CHECK_SAME(out);
          CHECK(nans.get() == want + 5);
        }
      }
  }
}

TEST_CASE("device::pack on adversarial patterns, and without a NaN counter", "[gpu][pack]") {
  for (svDataType_t dt : kTypes) {
    const ref::Format f = ref::formatOf(dt);
    const size_t esz = ref::elemSize(dt);
    const std::vector<uint64_t> sp = ref::specials(f, true);
    const size_t n = sp.size() * 64 * 3 + 29;
    Mirror x(n * esz, 0);
    for (size_t i = 0; i < n; ++i) ref::storeElem(x.h(), i, esz, sp[(i * 5 + i / 64) % sp.size()]);
    x.upload();
    for (int planes = 1; planes <= 2; ++planes) {
      Mirror out(((n + 63) / 64) * planes * 8, 0), out2(((n + 63) / 64) * planes * 8, 0);
      const uint64_t want = sv::host::pack(x.h(), n, dt, planes, static_cast<uint64_t*>(out.h()));
      sv::host::pack(x.h(), n, dt, planes, static_cast<uint64_t*>(out2.h()));
      REQUIRE(want > 0);
      DevCounter nans;
      nans.set(0);
      CUDA_OK(sv::device::pack(x.d(), n, dt, planes, static_cast<uint64_t*>(out.d()), nans.p, nullptr));
      CUDA_OK(sv::device::pack(x.d(), n, dt, planes, static_cast<uint64_t*>(out2.d()), nullptr, nullptr));
      CUDA_OK(cudaDeviceSynchronize());
      INFO(ref::dtLabel(dt) << " planes=" << planes);
      CHECK_SAME(out);
      CHECK_SAME(out2);
      CHECK(nans.get() == want);
    }
  }
}

TEST_CASE("device::vote equals host::vote for every P, plane count and tie policy", "[gpu][vote]") {
  ref::Rng rng(12);
  for (int P : {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 32, 33, 64})
    for (int inPlanes = 1; inPlanes <= 2; ++inPlanes)
      for (int tie : {sv::kTiePositive, sv::kTieZero, sv::kTieRandom})
        for (int outPlanes = 1; outPlanes <= 2; ++outPlanes)
          for (size_t words : {size_t{0}, size_t{1}, size_t{31}, size_t{33}, size_t{1000}, size_t{70001}}) {
            if (words > 2000 && P > 17) continue;
            const size_t stride = words * inPlanes + 16 * rng.below(3);
            Mirror in(stride * P * 8 + 8, 0);
            uint64_t* hin = static_cast<uint64_t*>(in.h());
            const int density = static_cast<int>(rng.below(3));
            for (size_t i = 0; i < stride * P; ++i)
              hin[i] = density == 0 ? rng.next() : density == 1 ? rng.next() & rng.next() : ~(rng.next() & rng.next());
            in.upload();
            const VoteParams p{P, inPlanes, outPlanes, tie, rng.next(), rng.below(1000)};
            const uint64_t firstWord = rng.below(1u << 30);
            Mirror out(words * outPlanes * 8, 0);
            sv::host::vote(hin, stride, words, p, firstWord, static_cast<uint64_t*>(out.h()));
            CUDA_OK(sv::device::vote(static_cast<const uint64_t*>(in.d()), stride, words, p, firstWord,
                                     static_cast<uint64_t*>(out.d()), nullptr));
            CUDA_OK(cudaDeviceSynchronize());
            INFO("P=" << P << " inPlanes=" << inPlanes << " tie=" << tie << " outPlanes=" << outPlanes
                      << " words=" << words);
            CHECK_SAME(out);
          }
}

TEST_CASE("device::unpack equals host::unpack: dtype, planes, scale, tails, misaligned outputs, gate",
          "[gpu][unpack]") {
  ref::Rng rng(13);
  DevCounter gate;
  for (svDataType_t dt : kTypes) {
    const size_t esz = ref::elemSize(dt);
    for (double scale : {1.0, 0.25, 3.0e-3, 1e300})
      for (size_t n : sizes())
        for (size_t offset : {size_t{0}, size_t{1}, size_t{2}, size_t{7}}) {
          if (offset != 0 && n > 100000) continue;
          if (scale != 1.0 && n > 100 && n < 4000 && offset > 1) continue;  // keep the run short
          const sv::OutputBits bits = sv::outputBits(dt, scale);
          for (int planes = 1; planes <= 2; ++planes) {
            const size_t words = (n + 63) / 64;
            Mirror in(words * planes * 8, 0);
            uint64_t* hin = static_cast<uint64_t*>(in.h());
            for (size_t i = 0; i < words * planes; ++i) hin[i] = rng.next();
            in.upload();
            Mirror out(n * esz, offset * esz);
            sv::host::unpack(hin, planes, n, dt, bits, out.h());
            // Gate null, or open (0): written as on the host.
            const bool useGate = rng.below(2) == 0;
            gate.set(0);
            CUDA_OK(sv::device::unpack(static_cast<const uint64_t*>(in.d()), planes, n, dt, bits, out.d(),
                                       useGate ? gate.p : nullptr, nullptr));
            CUDA_OK(cudaDeviceSynchronize());
            INFO(ref::dtLabel(dt) << " scale=" << scale << " n=" << n << " offset=" << offset << " planes=" << planes
                                  << " gate=" << useGate);
            CHECK_SAME(out);
          }
        }
  }
}

TEST_CASE("device::unpack and voteUnpack write nothing when the gate is nonzero", "[gpu][unpack][gate]") {
  DevCounter gate;
  const size_t n = 100003, words = (n + 63) / 64;
  Mirror in(words * 2 * 3 * 8, 0);
  memset(in.h(), 0x3c, words * 2 * 3 * 8);
  in.upload();
  for (svDataType_t dt : kTypes) {
    for (unsigned long long g : {1ull, 3ull << 40}) {
      gate.set(g);
      Mirror out(n * ref::elemSize(dt), 0), out2(n * ref::elemSize(dt), 0);
      const sv::OutputBits bits = sv::outputBits(dt, 1.0);
      const VoteParams p{3, 1, 1, sv::kTiePositive, 0, 0};
      CUDA_OK(sv::device::unpack(static_cast<const uint64_t*>(in.d()), 2, n, dt, bits, out.d(), gate.p, nullptr));
      CUDA_OK(sv::device::voteUnpack(static_cast<const uint64_t*>(in.d()), words, words, p, 0, n, dt, bits, out2.d(),
                                     gate.p, nullptr));
      CUDA_OK(cudaDeviceSynchronize());
      INFO(ref::dtLabel(dt) << " gate=" << g);
      CHECK_SAME(out);  // the host twin was never written
      CHECK_SAME(out2);
    }
  }
}

TEST_CASE("device::voteUnpack equals host::vote then host::unpack", "[gpu][voteunpack]") {
  ref::Rng rng(14);
  DevCounter gate;
  for (svDataType_t dt : kTypes) {
    const size_t esz = ref::elemSize(dt);
    for (int P : {1, 2, 3, 4, 7, 8, 16, 33})
      for (int inPlanes = 1; inPlanes <= 2; ++inPlanes)
        for (int tie : {sv::kTiePositive, sv::kTieZero, sv::kTieRandom})
          for (size_t n : {size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{1000}, size_t{4097}, size_t{100003},
                           size_t{(1 << 21) + 5}}) {
            if (n > 200000 && P > 8) continue;
            const int outPlanes = tie == sv::kTieZero ? 2 : static_cast<int>(1 + rng.below(2));
            const size_t words = (n + 63) / 64 + (rng.below(4) == 0 ? 1 : 0);
            const size_t stride = words * inPlanes + 16 * rng.below(2);
            Mirror in(stride * P * 8 + 8, 0);
            uint64_t* hin = static_cast<uint64_t*>(in.h());
            for (size_t i = 0; i < stride * P; ++i) hin[i] = rng.next();
            in.upload();
            const VoteParams p{P, inPlanes, outPlanes, tie, rng.next(), rng.below(50)};
            const uint64_t firstWord = rng.below(1u << 20);
            const sv::OutputBits bits = sv::outputBits(dt, rng.below(2) ? 1.0 : 0.01);
            std::vector<uint64_t> voted(words * outPlanes);
            sv::host::vote(hin, stride, words, p, firstWord, voted.data());
            const size_t offset = n < 200000 ? rng.below(4) : 0;
            Mirror out(n * esz, offset * esz);
            sv::host::unpack(voted.data(), outPlanes, n, dt, bits, out.h());
            const bool useGate = rng.below(2) == 0;
            gate.set(0);
            CUDA_OK(sv::device::voteUnpack(static_cast<const uint64_t*>(in.d()), stride, words, p, firstWord, n, dt,
                                           bits, out.d(), useGate ? gate.p : nullptr, nullptr));
            CUDA_OK(cudaDeviceSynchronize());
            INFO(ref::dtLabel(dt) << " P=" << P << " inPlanes=" << inPlanes << " tie=" << tie << " outPlanes="
                                  << outPlanes << " n=" << n << " words=" << words << " offset=" << offset);
            CHECK_SAME(out);
          }
  }
}

TEST_CASE("device kernels: pack -> vote -> unpack on a stream equals the host pipeline", "[gpu][pipeline]") {
  // Three ranks' gradients packed on the device, voted and unpacked, all
  // enqueued on one stream with no synchronisation in between.
  ref::Rng rng(15);
  Stream st;
  const int P = 3;
  const size_t n = 300001, words = (n + 63) / 64;
  for (svDataType_t dt : kTypes) {
    const ref::Format f = ref::formatOf(dt);
    const size_t esz = ref::elemSize(dt);
    Mirror packed(words * P * 8, 0), voted(words * 8, 0), out(n * esz, 0);
    std::vector<std::unique_ptr<Mirror>> xs;
    for (int r = 0; r < P; ++r) {
      xs.push_back(std::make_unique<Mirror>(n * esz, 0));
      for (size_t i = 0; i < n; ++i) ref::storeElem(xs[r]->h(), i, esz, ref::randomElement(rng, f, false, 5, 5));
      xs[r]->upload();
    }
    const VoteParams p{P, 1, 1, sv::kTiePositive, 0, 0};
    const sv::OutputBits bits = sv::outputBits(dt, 0.5);
    for (int r = 0; r < P; ++r) {
      sv::host::pack(xs[r]->h(), n, dt, 1, static_cast<uint64_t*>(packed.h()) + r * words);
      CUDA_OK(sv::device::pack(xs[r]->d(), n, dt, 1, static_cast<uint64_t*>(packed.d()) + r * words, nullptr, st.s));
    }
    sv::host::vote(static_cast<uint64_t*>(packed.h()), words, words, p, 0, static_cast<uint64_t*>(voted.h()));
    sv::host::unpack(static_cast<uint64_t*>(voted.h()), 1, n, dt, bits, out.h());
    CUDA_OK(sv::device::vote(static_cast<const uint64_t*>(packed.d()), words, words, p, 0,
                             static_cast<uint64_t*>(voted.d()), st.s));
    CUDA_OK(sv::device::unpack(static_cast<const uint64_t*>(voted.d()), 1, n, dt, bits, out.d(), nullptr, st.s));
    CUDA_OK(cudaStreamSynchronize(st.s));
    INFO(ref::dtLabel(dt));
    CHECK_SAME(packed);
    CHECK_SAME(voted);
    CHECK_SAME(out);
  }
}

TEST_CASE("device launchers reject bad arguments with cudaErrorInvalidValue", "[gpu][args]") {
  uint64_t* d = nullptr;
  CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&d), 1024));
  const VoteParams ok{2, 1, 1, sv::kTiePositive, 0, 0};
  const sv::OutputBits bits = sv::outputBits(svFloat32, 1.0);
  CHECK(sv::device::pack(d, 10, static_cast<svDataType_t>(99), 1, d, nullptr, nullptr) == cudaErrorInvalidValue);
  CHECK(sv::device::pack(d, 10, svFloat32, 3, d, nullptr, nullptr) == cudaErrorInvalidValue);
  CHECK(sv::device::pack(nullptr, 10, svFloat32, 1, d, nullptr, nullptr) == cudaErrorInvalidValue);
  CHECK(sv::device::pack(d, 0, svFloat32, 1, d, nullptr, nullptr) == cudaSuccess);  // nothing to do
  VoteParams bad = ok;
  bad.inPlanes = 0;
  CHECK(sv::device::vote(d, 1, 1, bad, 0, d, nullptr) == cudaErrorInvalidValue);
  bad = ok;
  bad.nranks = 0;
  CHECK(sv::device::vote(d, 1, 1, bad, 0, d, nullptr) == cudaErrorInvalidValue);
  CHECK(sv::device::unpack(d, 0, 10, svFloat32, bits, d, nullptr, nullptr) == cudaErrorInvalidValue);
  CHECK(sv::device::voteUnpack(d, 1, 1, ok, 0, 65, svFloat32, bits, d, nullptr, nullptr) == cudaErrorInvalidValue);
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
  cudaFree(d);
}
