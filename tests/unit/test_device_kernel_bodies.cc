// SPDX-License-Identifier: MIT
// Host equivalence of the GPU kernels without a GPU: each kernel of
// src/kernels/cuda/device_kernels.cu is emulated launch by launch (every block, every
// warp, every lane, every grid-stride iteration) over the same per-lane
// bodies and index math (src/kernels/cuda/kernel_bodies.h) the device runs; the only
// parts re-written here are the cross-lane steps, modelled exactly (the
// shfl_xor butterfly, shfl broadcasts, the block's NaN sum and its one
// atomicAdd). The emulated results must equal sv::host::pack / vote / unpack
// bit for bit, with nothing written outside the range, on random and
// adversarial inputs, every datatype, plane count, tie policy and many
// sizes and grid sizes (one block, a few, many).
#include <catch2/catch.hpp>

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "bitlogic.h"
#include "datatype.h"
#include "kernels/host/host_kernels.h"
#include "kernels/cuda/kernel_bodies.h"
#define SV_EMU_REQUIRE(cond) REQUIRE(cond)
#include "kernel_launch_emu.h"
#include "unit_reference.h"

namespace {

using sv::VoteParams;
using namespace sv::kern;
using namespace svemu;

const svDataType_t kTypes[] = {svFloat16, svBfloat16, svFloat32, svFloat64};
constexpr uint64_t kGuard = 0xC0FFEE1234567890ull;
// Grid caps: one block (everything through the grid-stride loop), a few
// blocks, and more blocks than the work needs (one iteration per warp).
const unsigned kMaxBlocks[] = {1, 3, 100000};

// ---- Inputs ----------------------------------------------------------------
// Element counts: empty, one, slot and word edges of every width (8, 4 and 2
// elements a slot), tails of every length class, and sizes spanning several
// blocks and grid-stride iterations (a block iteration is 1024 slots).
std::vector<size_t> sizes() {
  std::vector<size_t> v = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 66, 71, 72, 100, 127, 128, 129,
                           191, 255, 256, 1000, 1023, 1024, 1025, 2047, 2049, 4095, 4096, 4097, 8191, 8193, 16385,
                           33000, 70001};
  return v;
}

// Storage 16-byte aligned; the buffer starts `offset` elements in, with
// guard bytes before and after it.
struct Buf {
  Buf(size_t bytes, size_t offsetBytes) : off(offsetBytes + 64), store((bytes + off + 64 + 15) / 16 + 1) {
    memset(store.data(), 0xA5, store.size() * 16);
  }
  char* base() { return reinterpret_cast<char*>(store.data()); }
  void* data() { return base() + off; }
  size_t off;
  struct alignas(16) Block { unsigned char b[16]; };
  std::vector<Block> store;
};

// A copy of `bytes` bytes that ends exactly where an inaccessible page
// begins: an emulated kernel reading one byte past the end of its input
// crashes the test instead of going unnoticed.
class PageEndCopy {
 public:
  PageEndCopy(const void* src, size_t bytes) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    span_ = (bytes + page - 1) / page * page + page;
    void* m = mmap(nullptr, span_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(m != MAP_FAILED);
    base_ = static_cast<char*>(m);
    REQUIRE(mprotect(base_ + span_ - page, page, PROT_NONE) == 0);
    data_ = base_ + span_ - page - bytes;
    if (bytes) memcpy(data_, src, bytes);
  }
  ~PageEndCopy() { munmap(base_, span_); }
  PageEndCopy(const PageEndCopy&) = delete;
  PageEndCopy& operator=(const PageEndCopy&) = delete;
  template <typename T>
  const T* get() const { return reinterpret_cast<const T*>(data_); }

 private:
  char* base_ = nullptr;
  char* data_ = nullptr;
  size_t span_ = 0;
};

}  // namespace

TEST_CASE("GPU pack kernel (emulated launch) equals host::pack, NaN count fused", "[device_kernels][emulated]") {
  ref::Rng rng(4242);
  size_t cases = 0;
  for (svDataType_t dt : kTypes) {
    const ref::Format f = ref::formatOf(dt);
    const size_t esz = ref::elemSize(dt);
    for (size_t n : sizes()) {
      // Element offsets from a 16-byte boundary: 0 (vector path), and the
      // misaligned ones the width allows (scalar path).
      for (size_t offset : {size_t{0}, size_t{1}, size_t{3}}) {
        if (offset != 0 && n > 5000) continue;
        Buf x(n * esz, offset * esz);
        const int pSpecial = static_cast<int>(rng.below(70)), pZero = static_cast<int>(rng.below(30));
        for (size_t i = 0; i < n; ++i) ref::storeElem(x.data(), i, esz, ref::randomElement(rng, f, true, pSpecial, pZero));
        const size_t words = (n + 63) / 64;
        for (int planes = 1; planes <= 2; ++planes)
          for (unsigned mb : kMaxBlocks) {
            std::vector<uint64_t> want(words * planes + 4, kGuard), got(words * planes + 4, kGuard);
            const uint64_t wantNans = sv::host::pack(x.data(), n, dt, planes, want.data() + 2);
            unsigned long long nans = 7;  // added to, never overwritten
            emuPackDt(x.data(), n, dt, planes, got.data() + 2, &nans, mb);
            INFO(ref::dtLabel(dt) << " n=" << n << " offset=" << offset << " planes=" << planes << " maxBlocks=" << mb);
            REQUIRE(got == want);
            REQUIRE(nans == wantNans + 7);
            // Without a counter the bits are the same.
            std::vector<uint64_t> got2(words * planes + 4, kGuard);
            emuPackDt(x.data(), n, dt, planes, got2.data() + 2, nullptr, mb);
            REQUIRE(got2 == want);
            // Input ending at an inaccessible page (no read past n).
            if (mb == 3) {
              const PageEndCopy xe(x.data(), n * esz);
              std::vector<uint64_t> got3(words * planes + 4, kGuard);
              unsigned long long nans3 = 0;
              emuPackDt(xe.get<void>(), n, dt, planes, got3.data() + 2, &nans3, mb);
              REQUIRE(got3 == want);
              REQUIRE(nans3 == wantNans);
            }
            ++cases;
          }
      }
    }
  }
  CHECK(cases > 500);
  // Both the fast (all slots whole and aligned) and the general path ran.
  CHECK(gPackFastIterations > 100);
}

TEST_CASE("GPU pack kernel (emulated) on all-adversarial inputs: NaN payloads, +-0, +-inf, denormals, max finite",
          "[device_kernels][emulated]") {
  for (svDataType_t dt : kTypes) {
    const ref::Format f = ref::formatOf(dt);
    const size_t esz = ref::elemSize(dt);
    const std::vector<uint64_t> sp = ref::specials(f, true);
    // Every special at every position of a word, over several words.
    const size_t n = sp.size() * 64 + 37;
    Buf x(n * esz, 0);
    for (size_t i = 0; i < n; ++i) ref::storeElem(x.data(), i, esz, sp[(i * 7 + i / 64) % sp.size()]);
    for (int planes = 1; planes <= 2; ++planes) {
      const size_t words = (n + 63) / 64;
      std::vector<uint64_t> want(words * planes + 4, kGuard), got(words * planes + 4, kGuard);
      const uint64_t wantNans = sv::host::pack(x.data(), n, dt, planes, want.data() + 2);
      REQUIRE(wantNans > 0);
      unsigned long long nans = 0;
      emuPackDt(x.data(), n, dt, planes, got.data() + 2, &nans, 2);
      INFO(ref::dtLabel(dt) << " planes=" << planes);
      REQUIRE(got == want);
      REQUIRE(nans == wantNans);
    }
  }
}

TEST_CASE("GPU pack kernel (emulated) reads nothing at or past n", "[device_kernels][emulated]") {
  // The bytes past n are NaNs: reading any would change the NaN count, and
  // writing past the last group would break the guards.
  for (svDataType_t dt : kTypes) {
    const ref::Format f = ref::formatOf(dt);
    const size_t esz = ref::elemSize(dt);
    for (size_t n : {size_t{1}, size_t{5}, size_t{63}, size_t{65}, size_t{1001}}) {
      Buf x((n + 64) * esz, 0);
      for (size_t i = 0; i < n + 64; ++i) ref::storeElem(x.data(), i, esz, i < n ? 0 : ref::infBits(f) | 1);
      unsigned long long nans = 0;
      std::vector<uint64_t> got(2 * ((n + 63) / 64) + 4, kGuard);
      emuPackDt(x.data(), n, dt, 2, got.data() + 2, &nans, 1);
      INFO(ref::dtLabel(dt) << " n=" << n);
      CHECK(nans == 0);
      CHECK(got[0] == kGuard);
      CHECK(got[1] == kGuard);
      CHECK(got[got.size() - 2] == kGuard);
      CHECK(got[got.size() - 1] == kGuard);
      const uint64_t lastMask = n % 64 ? (1ull << (n % 64)) - 1 : ~0ull;
      CHECK((got[got.size() - 4] & ~lastMask) == 0);  // unused high bits of the last sign word
      CHECK((got[got.size() - 3] & ~lastMask) == 0);  // ... and voting word
    }
  }
}

TEST_CASE("GPU vote kernel (emulated) equals host::vote for every P, plane count and tie policy",
          "[device_kernels][emulated]") {
  ref::Rng rng(77);
  for (int P : {1, 2, 3, 4, 5, 7, 8, 16, 17, 33}) {
    for (int inPlanes = 1; inPlanes <= 2; ++inPlanes)
      for (int tie : {sv::kTiePositive, sv::kTieZero, sv::kTieRandom})
        for (int outPlanes = 1; outPlanes <= 2; ++outPlanes)
          for (size_t words : {size_t{0}, size_t{1}, size_t{31}, size_t{33}, size_t{300}, size_t{2100}}) {
            const size_t stride = words * inPlanes + 16 * (rng.below(3));
            std::vector<uint64_t> in(stride * P + 1);
            // Sparse or dense random bits, so that ties are common at even P.
            const int density = static_cast<int>(rng.below(3));
            for (auto& w : in) w = density == 0 ? rng.next() : density == 1 ? rng.next() & rng.next() : ~(rng.next() & rng.next());
            const VoteParams p{P, inPlanes, outPlanes, tie, rng.next(), rng.below(1000)};
            const uint64_t firstWord = rng.below(1u << 20);
            std::vector<uint64_t> want(words * outPlanes + 4, kGuard);
            sv::host::vote(in.data(), stride, words, p, firstWord, want.data() + 2);
            for (unsigned mb : kMaxBlocks) {
              std::vector<uint64_t> got(words * outPlanes + 4, kGuard);
              const PageEndCopy ine(in.data(), (stride * (P - 1) + words * inPlanes) * 8);
              emuVote(ine.get<uint64_t>(), stride, words, p, firstWord, got.data() + 2, mb);
              INFO("P=" << P << " inPlanes=" << inPlanes << " tie=" << tie << " outPlanes=" << outPlanes
                        << " words=" << words << " maxBlocks=" << mb);
              REQUIRE(got == want);
            }
          }
  }
}

TEST_CASE("GPU unpack kernel (emulated) equals host::unpack: every dtype, planes, scale, tails, misaligned out",
          "[device_kernels][emulated]") {
  ref::Rng rng(99);
  for (svDataType_t dt : kTypes) {
    const size_t esz = ref::elemSize(dt);
    for (double scale : {1.0, 0.5, -3.0, 1.2345e-3, 1e300}) {
      const sv::OutputBits bits = sv::outputBits(dt, scale);
      for (size_t n : sizes()) {
        for (size_t offset : {size_t{0}, size_t{1}, size_t{2}}) {
          if (offset != 0 && n > 5000) continue;
          for (int planes = 1; planes <= 2; ++planes) {
            const size_t words = (n + 63) / 64;
            std::vector<uint64_t> in(words * planes + 1);
            for (auto& w : in) w = rng.next();
            Buf want(n * esz, offset * esz), got(n * esz, offset * esz);
            sv::host::unpack(in.data(), planes, n, dt, bits, want.data());
            for (unsigned mb : {1u, 100000u}) {
              memset(got.store.data(), 0xA5, got.store.size() * 16);
              const PageEndCopy ine(in.data(), words * planes * 8);
              emuUnpackDt(ine.get<uint64_t>(), planes, n, dt, bits, got.data(), nullptr, mb);
              INFO(ref::dtLabel(dt) << " scale=" << scale << " n=" << n << " offset=" << offset
                                    << " planes=" << planes << " maxBlocks=" << mb);
              // Whole storage: the range and the guards around it.
              REQUIRE(memcmp(got.base(), want.base(), got.store.size() * 16) == 0);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("GPU unpack and voteUnpack kernels (emulated) honour the skipIfNonzero gate", "[device_kernels][emulated]") {
  const size_t n = 1000, words = (n + 63) / 64;
  std::vector<uint64_t> in(words * 2 * 3, 0x5555aaaa3333ccccull);
  const sv::OutputBits bits = sv::outputBits(svFloat32, 1.0);
  const VoteParams p{3, 1, 1, sv::kTiePositive, 0, 0};
  for (unsigned long long gate : {0ull, 1ull, 1ull << 40}) {
    Buf a(n * 4, 0), b(n * 4, 0), untouched(n * 4, 0);
    emuUnpackDt(in.data(), 1, n, svFloat32, bits, a.data(), &gate, 4);
    emuVoteUnpackDt(in.data(), words, words, p, 0, n, svFloat32, bits, b.data(), &gate, 4);
    const bool same = memcmp(a.base(), untouched.base(), a.store.size() * 16) == 0;
    const bool sameB = memcmp(b.base(), untouched.base(), b.store.size() * 16) == 0;
    INFO("gate=" << gate);
    CHECK(same == (gate != 0));
    CHECK(sameB == (gate != 0));
  }
}

TEST_CASE("GPU voteUnpack kernel (emulated) equals host::vote then host::unpack", "[device_kernels][emulated]") {
  ref::Rng rng(2024);
  for (svDataType_t dt : kTypes) {
    const size_t esz = ref::elemSize(dt);
    for (int P : {1, 2, 3, 4, 8, 9}) {
      for (int inPlanes = 1; inPlanes <= 2; ++inPlanes)
        for (int tie : {sv::kTiePositive, sv::kTieZero, sv::kTieRandom}) {
          const int outPlanes = tie == sv::kTieZero ? 2 : static_cast<int>(1 + rng.below(2));
          for (size_t n : {size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{1000}, size_t{2049}, size_t{4097},
                           size_t{70001}}) {
            if (n > 5000 && P > 4) continue;
            // Usually exactly the words n needs; sometimes more (n stops early).
            const size_t words = (n + 63) / 64 + (rng.below(4) == 0 ? 1 : 0);
            const size_t stride = words * inPlanes + 16 * rng.below(2);
            std::vector<uint64_t> in(stride * P + 1);
            for (auto& w : in) w = rng.next();
            const VoteParams p{P, inPlanes, outPlanes, tie, rng.next(), rng.below(50)};
            const uint64_t firstWord = rng.below(1u << 16);
            const sv::OutputBits bits = sv::outputBits(dt, rng.below(2) ? 1.0 : 0.01);
            std::vector<uint64_t> voted(words * outPlanes);
            sv::host::vote(in.data(), stride, words, p, firstWord, voted.data());
            const size_t offset = n < 5000 ? rng.below(2) : 0;
            Buf want(n * esz, offset * esz), got(n * esz, offset * esz);
            sv::host::unpack(voted.data(), outPlanes, n, dt, bits, want.data());
            for (unsigned mb : {1u, 100000u}) {
              memset(got.store.data(), 0xA5, got.store.size() * 16);
              const PageEndCopy ine(in.data(), (stride * (P - 1) + words * inPlanes) * 8);
              emuVoteUnpackDt(ine.get<uint64_t>(), stride, words, p, firstWord, n, dt, bits, got.data(), nullptr, mb);
              INFO(ref::dtLabel(dt) << " P=" << P << " inPlanes=" << inPlanes << " tie=" << tie
                                    << " outPlanes=" << outPlanes << " n=" << n << " words=" << words
                                    << " offset=" << offset << " maxBlocks=" << mb);
              REQUIRE(memcmp(got.base(), want.base(), got.store.size() * 16) == 0);
            }
          }
        }
    }
  }
}

TEST_CASE("GPU kernel launch geometry: grids never exceed the cap and cover the work", "[device_kernels][emulated]") {
  for (size_t units : {size_t{0}, size_t{1}, size_t{31}, size_t{32}, size_t{33}, size_t{1} << 20, size_t{1} << 36})
    for (unsigned mb : {1u, 7u, 1056u}) {
      const unsigned s = slotBlocks(units, mb), v = voteBlocks(units, mb), vu = voteUnpackBlocks(units, mb);
      CHECK((s >= 1 && s <= mb));
      CHECK((v >= 1 && v <= mb));
      CHECK((vu >= 1 && vu <= mb));
      // Below the cap, one iteration of every warp covers everything.
      if (s < mb) CHECK(size_t{s} * kWarpsPerBlock * kUnroll * kWarp >= units);
      if (v < mb) CHECK(size_t{v} * kBlockThreads >= units);
    }
}

TEST_CASE("packWord16x8 (two 16-bit elements per operation) equals packWord for every pattern at every position",
          "[device_kernels][emulated]") {
  ref::Rng rng(16);
  size_t bad = 0;
  for (int bf = 0; bf < 2; ++bf) {
    for (uint32_t u = 0; u < 65536; ++u)
      for (int pos = 0; pos < 8; ++pos) {
        Vec16<uint16_t> e;
        for (int j = 0; j < 8; ++j) e.e[j] = static_cast<uint16_t>(rng.next());
        e.e[pos] = static_cast<uint16_t>(u);
        uint64_t s1, v1, s2, v2;
        int n1, n2;
        if (bf) {
          n1 = sv::packWord<uint16_t, sv::Bf16Bits>(e.e, 8, &s1, &v1);
          n2 = packWord16x8<sv::Bf16Bits>(e.e, &s2, &v2);
        } else {
          n1 = sv::packWord<uint16_t, sv::FloatBits<uint16_t>>(e.e, 8, &s1, &v1);
          n2 = packWord16x8<sv::FloatBits<uint16_t>>(e.e, &s2, &v2);
        }
        if ((s1 != s2 || v1 != v2 || n1 != n2) && bad++ < 5)
          FAIL_CHECK((bf ? "bf16" : "fp16") << " value " << ref::hex(u) << " at " << pos << ": sign " << ref::hex(s2)
                                            << " want " << ref::hex(s1) << ", voting " << ref::hex(v2) << " want "
                                            << ref::hex(v1) << ", NaNs " << n2 << " want " << n1);
      }
  }
  CHECK(bad == 0);
}

// The list kernels of a group (packListKernel, unpackListKernel): every
// tensor's part of the output equals the one-tensor kernel's on that
// tensor, lists cut at kListCap, tensors aligned and not, gaps between
// tensors in the layout left untouched.
TEST_CASE("GPU list kernels (emulated) equal the one-tensor kernels on each tensor", "[device_kernels][emulated]") {
  ref::Rng rng(2024);
  for (svDataType_t dt : kTypes) {
    const ref::Format f = ref::formatOf(dt);
    const size_t esz = ref::elemSize(dt);
    for (size_t ntensors : {size_t{1}, size_t{5}, size_t{kListCap}, size_t{kListCap + 9}}) {
      std::vector<size_t> n(ntensors), word(ntensors + 1, 0), offset(ntensors);
      for (size_t k = 0; k < ntensors; ++k) {
        n[k] = 1 + rng.below(k % 6 == 0 ? 5000 : 300);
        offset[k] = k % 3 == 1 ? 1 : 0;  // element offset from 16 bytes: scalar path
        word[k + 1] = word[k] + (n[k] + 63) / 64 + k % 2;  // odd tensors: a gap word after them
      }
      std::vector<Buf> x, want, got;
      for (size_t k = 0; k < ntensors; ++k) {
        x.emplace_back(n[k] * esz, offset[k] * esz);
        want.emplace_back(n[k] * esz, offset[k] * esz);
        got.emplace_back(n[k] * esz, offset[k] * esz);
        for (size_t i = 0; i < n[k]; ++i) ref::storeElem(x[k].data(), i, esz, ref::randomElement(rng, f, true, 20, 15));
      }
      for (int planes = 1; planes <= 2; ++planes)
        for (unsigned mb : kMaxBlocks) {
          INFO(ref::dtLabel(dt) << " tensors=" << ntensors << " planes=" << planes << " maxBlocks=" << mb);
          // Pack: the list against pack() per tensor, NaNs summed.
          std::vector<uint64_t> packWant(word[ntensors] * planes + 2, kGuard), packGot = packWant;
          unsigned long long nansWant = 0, nansGot = 0;
          for (size_t k = 0; k < ntensors; ++k)
            emuPackDt(x[k].data(), n[k], dt, planes, packWant.data() + 1 + word[k] * planes, &nansWant, mb);
          KernelList l;
          l.count = 0;
          size_t lists = 0;
          auto runPack = [&] {
            emuPackListDt(l, dt, planes, packGot.data() + 1, &nansGot, mb);
            l.count = 0;
            ++lists;
          };
          for (size_t k = 0; k < ntensors; ++k) {
            const bool full = dt == svFloat64 ? listAppend<uint64_t>(l, x[k].data(), nullptr, n[k], word[k], offset[k] == 0)
                              : dt == svFloat32 ? listAppend<uint32_t>(l, x[k].data(), nullptr, n[k], word[k], offset[k] == 0)
                                                : listAppend<uint16_t>(l, x[k].data(), nullptr, n[k], word[k], offset[k] == 0);
            if (full) runPack();
          }
          if (l.count > 0) runPack();
          REQUIRE(lists == (ntensors + kListCap - 1) / kListCap);
          REQUIRE(packGot == packWant);
          REQUIRE(nansGot == nansWant);
          // Unpack: the list against unpack() per tensor, from random words.
          std::vector<uint64_t> in(word[ntensors] * planes);
          for (auto& w : in) w = rng.next();
          const sv::OutputBits bits = sv::outputBits(dt, 0.5);
          for (size_t k = 0; k < ntensors; ++k) {
            memset(want[k].store.data(), 0xA5, want[k].store.size() * 16);
            memset(got[k].store.data(), 0xA5, got[k].store.size() * 16);
            emuUnpackDt(in.data() + word[k] * planes, planes, n[k], dt, bits, want[k].data(), nullptr, mb);
          }
          l.count = 0;
          for (size_t k = 0; k < ntensors; ++k) {
            const bool full = dt == svFloat64 ? listAppend<uint64_t>(l, nullptr, got[k].data(), n[k], word[k], offset[k] == 0)
                              : dt == svFloat32 ? listAppend<uint32_t>(l, nullptr, got[k].data(), n[k], word[k], offset[k] == 0)
                                                : listAppend<uint16_t>(l, nullptr, got[k].data(), n[k], word[k], offset[k] == 0);
            if (full) {
              emuUnpackListDt(in.data(), planes, l, dt, bits, nullptr, mb);
              l.count = 0;
            }
          }
          if (l.count > 0) emuUnpackListDt(in.data(), planes, l, dt, bits, nullptr, mb);
          for (size_t k = 0; k < ntensors; ++k) {
            INFO("tensor " << k << " n=" << n[k]);
            REQUIRE(memcmp(got[k].base(), want[k].base(), got[k].store.size() * 16) == 0);
          }
        }
    }
  }
}
