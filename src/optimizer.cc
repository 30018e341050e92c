// SPDX-License-Identifier: MIT
// Optimizer steps on top of the sign-majority all-reduce: Signum with
// majority vote, error-feedback signSGD and Lion with majority vote
// (docs/optimizer.md). The
// element-wise update of the state is fused into the engine's pack step
// (allreduce_custom.h) in blocks small enough to stay in L1, so the gradient
// is read once and the packed votes come from the freshly written state.
#include <math.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "allreduce_custom.h"
#include "bitlogic.h"
#include "comm.h"
#include "datatype.h"
#include "deadline.h"
#include "debug.h"
#include "kernels/host/host_kernels.h"

namespace sv {
namespace {

// Elements per inner block: a multiple of 64 (whole words), 8 KiB of fp64.
constexpr size_t kBlock = 1024;

// [a, a + na) and [b, b + nb) share a byte.
bool overlaps(const void* a, size_t na, const void* b, size_t nb) {
  const char* x = static_cast<const char*>(a);
  const char* y = static_cast<const char*>(b);
  return x < y + nb && y < x + na;
}

// Checks shared by the steps; on success the buffers are valid for count.
// The caller holds a reference on comm. mixed: params and grads may also be
// fp16/bf16, with an fp32 state (Lion).
svResult_t checkStep(svComm* comm, const char* where, const void* params, const void* grads, const void* state,
                     const char* stateName, size_t count, int dt, double lr, double wd, bool mixed = false) {
  // The fused step is host code; a device communicator's buffers are not
  // host memory (its kernel comes with the GPU path).
  if (comm->config.device != SV_DEVICE_HOST)
    return setError(comm, svInvalidUsage, where, "host communicators only in this version (device %d)",
                    comm->config.device);
  if (count > 0 && params == nullptr) return setError(comm, svInvalidArgument, where, "params is NULL with count %zu", count);
  if (count > 0 && grads == nullptr) return setError(comm, svInvalidArgument, where, "grads is NULL with count %zu", count);
  if (count > 0 && state == nullptr)
    return setError(comm, svInvalidArgument, where, "%s is NULL with count %zu", stateName, count);
  const bool half = dt == svFloat16 || dt == svBfloat16;
  if (dt != svFloat32 && dt != svFloat64 && !(mixed && half))
    return setError(comm, svInvalidArgument, where, "datatype %d not supported (svFloat32 or svFloat64%s)", dt,
                    mixed ? "; svFloat16 or svBfloat16 with an fp32 state" : "");
  const size_t esz = dtSize(static_cast<svDataType_t>(dt)), ssz = half ? 4 : esz;
  if (count > (SIZE_MAX - 64 * 8) / 8) return setError(comm, svInvalidArgument, where, "count %zu overflows the buffer size", count);
  if ((reinterpret_cast<uintptr_t>(params) | reinterpret_cast<uintptr_t>(grads)) % esz != 0)
    return setError(comm, svInvalidArgument, where, "buffer not aligned to %zu bytes for %s", esz,
                    dtName(static_cast<svDataType_t>(dt)));
  if (reinterpret_cast<uintptr_t>(state) % ssz != 0)
    return setError(comm, svInvalidArgument, where, "%s not aligned to %zu bytes", stateName, ssz);
  if (count > 0) {
    const size_t bytes = count * esz, sbytes = count * ssz;
    if (overlaps(params, bytes, grads, bytes)) return setError(comm, svInvalidArgument, where, "params and grads overlap");
    if (overlaps(params, bytes, state, sbytes))
      return setError(comm, svInvalidArgument, where, "params and %s overlap", stateName);
    if (overlaps(grads, bytes, state, sbytes))
      return setError(comm, svInvalidArgument, where, "grads and %s overlap", stateName);
  }
  if (!(lr >= 0) || !isfinite(lr)) return setError(comm, svInvalidArgument, where, "lr %g is not finite and >= 0", lr);
  if (!(wd >= 0) || !isfinite(wd))
    return setError(comm, svInvalidArgument, where, "weightDecay %g is not finite and >= 0", wd);
  return svSuccess;
}

// Runs f(e, nb, w) over the elements of words [firstWord, firstWord + words)
// (of count in all) in blocks of kBlock: e is a block's first element, nb
// its size, w its first word counted from firstWord.
template <typename F>
void forBlocks(size_t firstWord, size_t words, size_t count, F&& f) {
  const size_t e0 = firstWord * kWordBits, n = std::min(words * kWordBits, count - e0);
  for (size_t b = 0; b < n; b += kBlock) f(e0 + b, std::min(kBlock, n - b), b / kWordBits);
}

svDataType_t typeOf(float) { return svFloat32; }
svDataType_t typeOf(double) { return svFloat64; }

// ---- Signum ------------------------------------------------------------------
template <typename T>
svResult_t signum(svComm* comm, const char* where, T* x, const T* g, T* v, size_t count, double lrD, double betaD,
                  double wdD) {
  const T lr = static_cast<T>(lrD), beta = static_cast<T>(betaD), oneMinusBeta = static_cast<T>(1.0 - betaD),
          wd = static_cast<T>(wdD);
  int ip = 1, op = 1;
  customPlanes(comm, count, &ip, &op);
  const bool nanError = comm->config.nan == SV_NAN_ERROR;
  const svDataType_t dt = typeOf(T());
  const OutputBits unit = outputBits(dt, 1.0);
  // With SV_NAN_ERROR nothing may be written before every rank agrees there
  // was no NaN: pack then computes the momentum into a scratch block only,
  // and unpack (run once, after the agreement) recomputes and stores it.
  auto pack = [&](size_t firstWord, size_t words, uint64_t* out) -> uint64_t {
    T scratch[kBlock];
    uint64_t nans = 0;
    forBlocks(firstWord, words, count, [&](size_t e, size_t nb, size_t w) {
      const T* gb = g + e;
      T* vb = v + e;
      T* dst = nanError ? scratch : vb;
      for (size_t i = 0; i < nb; ++i) dst[i] = oneMinusBeta * gb[i] + beta * vb[i];
      nans += host::pack(dst, nb, dt, ip, out + w * ip);
    });
    return nans;
  };
  auto unpack = [&](size_t firstWord, size_t words, const uint64_t* in) {
    T vote[kBlock];
    forBlocks(firstWord, words, count, [&](size_t e, size_t nb, size_t w) {
      T* xb = x + e;
      if (nanError) {
        const T* gb = g + e;
        T* vb = v + e;
        for (size_t i = 0; i < nb; ++i) vb[i] = oneMinusBeta * gb[i] + beta * vb[i];
      }
      host::unpack(in + w * op, op, nb, dt, unit, vote);
      for (size_t i = 0; i < nb; ++i) xb[i] = xb[i] - lr * (vote[i] + wd * xb[i]);
    });
  };
  return allReduceSignCustom(comm, where, count, pack, unpack);
}

// ---- EF-signSGD ----------------------------------------------------------------
// The sign this rank's compressor keeps of p, as the vote counts it.
template <typename T>
T localSign(T p, bool abstain) {
  if (p > 0) return T(1);
  if (p < 0) return T(-1);
  if (p == 0) return abstain ? T(0) : T(1);  // -0 too: it votes +1
  return p;                                   // NaN stays NaN
}

template <typename T>
svResult_t efSign(svComm* comm, const char* where, T* x, const T* g, T* e, size_t count, double lrD, double wdD) {
  const T lr = static_cast<T>(lrD), decay = static_cast<T>(lrD * wdD);
  int ip = 1, op = 1;
  customPlanes(comm, count, &ip, &op);
  const bool nanError = comm->config.nan == SV_NAN_ERROR;
  const bool abstain = comm->config.zero == SV_ZERO_ABSTAIN;
  const svDataType_t dt = typeOf(T());
  std::vector<uint64_t> voted;
  try {
    voted.resize(divUp(count, kWordBits) * op);
  } catch (const std::bad_alloc&) {
    return setError(comm, svSystemError, where, "out of memory for the voted bits (%zu elements)", count);
  }
  double l1 = 0;  // ||p||_1, summed in element order
  // Pack: p = lr*g + e, stored into e (scratch under SV_NAN_ERROR, see
  // signum()); unpack only keeps the voted bits, since the step size needs
  // every rank's ||p||_1, known after the last pack.
  auto pack = [&](size_t firstWord, size_t words, uint64_t* out) -> uint64_t {
    T scratch[kBlock];
    uint64_t nans = 0;
    forBlocks(firstWord, words, count, [&](size_t el, size_t nb, size_t w) {
      const T* gb = g + el;
      T* eb = e + el;
      T* dst = nanError ? scratch : eb;
      for (size_t i = 0; i < nb; ++i) {
        dst[i] = lr * gb[i] + eb[i];
        l1 += fabs(static_cast<double>(dst[i]));
      }
      nans += host::pack(dst, nb, dt, ip, out + w * ip);
    });
    return nans;
  };
  auto unpack = [&](size_t firstWord, size_t words, const uint64_t* in) {
    memcpy(voted.data() + firstWord * op, in, words * op * sizeof(uint64_t));
  };
  // Every rank's scale, gathered inside the same call (its failure
  // contract); the median of the same sorted vector is the same number on
  // every rank.
  const int P = comm->nranks;
  std::vector<double> scales(P);
  auto finish = [&](Waiter& waiter, int tag) -> svResult_t {
    scales[comm->rank] = l1 / static_cast<double>(count);
    if (P == 1) return svSuccess;
    return controlAllGather(comm, waiter, &scales[comm->rank], scales.data(), sizeof(double), tag);
  };
  SVCHECK(allReduceSignCustom(comm, where, count, pack, unpack, finish));
  if (count == 0) return svSuccess;
  const T myScale = static_cast<T>(scales[comm->rank]);
  // NaNs (a rank's NaN input under SV_NAN_AS_ZERO) sort last, not at random.
  std::sort(scales.begin(), scales.end(), [](double a, double b) { return a < b || (!isnan(a) && isnan(b)); });
  const double med = (P % 2) ? scales[P / 2] : 0.5 * (scales[P / 2 - 1] + scales[P / 2]);
  const T step = static_cast<T>(med);
  const OutputBits unit = outputBits(dt, 1.0);
  T vote[kBlock];
  for (size_t b = 0; b < count; b += kBlock) {
    const size_t nb = std::min(kBlock, count - b);
    host::unpack(voted.data() + (b / kWordBits) * op, op, nb, dt, unit, vote);
    T* xb = x + b;
    T* eb = e + b;
    const T* gb = g + b;
    for (size_t i = 0; i < nb; ++i) {
      const T p = nanError ? lr * gb[i] + eb[i] : eb[i];
      eb[i] = p - myScale * localSign(p, abstain);
      xb[i] = xb[i] - step * vote[i] - decay * xb[i];
    }
  }
  return svSuccess;
}

// ---- Lion ----------------------------------------------------------------------
// The parameters' and gradients' element type T, and the type S the step
// computes in and keeps the momentum in: the type itself for fp32 and fp64,
// fp32 for the 16-bit formats (a mixed-precision trainer's fp32 state).
struct LionF32 {
  using T = float;
  using S = float;
  static S load(T v) { return v; }
  static T store(S v) { return v; }
};
struct LionF64 {
  using T = double;
  using S = double;
  static S load(T v) { return v; }
  static T store(S v) { return v; }
};
struct LionF16 {
  using T = uint16_t;
  using S = float;
  static S load(T v) { return halfBitsToFloat(v); }
  static T store(S v) { return doubleToHalfBits(v); }  // float -> double is exact: one rounding
};
struct LionBf16 {
  using T = uint16_t;
  using S = float;
  static S load(T v) { return bf16BitsToFloat(v); }
  static T store(S v) { return doubleToBf16Bits(v); }
};

// Lion with majority vote (Distributed Lion, "MaVo"): the vote is on this
// rank's interpolated update c, not on its momentum, and the momentum
// moves with beta2 after c was taken:
//   c <- beta1 * m + (1 - beta1) * g;  vote on sign(c)
//   m <- beta2 * m + (1 - beta2) * g
//   x <- x * (1 - lr * wd) - lr * vote
// Pack computes c into a block that stays in L1, packs its signs and
// updates m in the same pass (under SV_NAN_ERROR: in unpack, after the
// agreement, as signum() does); unpack applies the step from the votes.
template <typename E>
svResult_t lion(svComm* comm, const char* where, typename E::T* x, const typename E::T* g, typename E::S* m,
                size_t count, double lrD, double beta1D, double beta2D, double wdD) {
  using S = typename E::S;
  const S lr = static_cast<S>(lrD), b1 = static_cast<S>(beta1D), omb1 = static_cast<S>(1.0 - beta1D),
          b2 = static_cast<S>(beta2D), omb2 = static_cast<S>(1.0 - beta2D), decay = static_cast<S>(1.0 - lrD * wdD);
  int ip = 1, op = 1;
  customPlanes(comm, count, &ip, &op);
  const bool nanError = comm->config.nan == SV_NAN_ERROR;
  const svDataType_t st = typeOf(S());
  const OutputBits unit = outputBits(st, 1.0);
  auto pack = [&](size_t firstWord, size_t words, uint64_t* out) -> uint64_t {
    S c[kBlock];
    uint64_t nans = 0;
    forBlocks(firstWord, words, count, [&](size_t e, size_t nb, size_t w) {
      const typename E::T* gb = g + e;
      S* mb = m + e;
      for (size_t i = 0; i < nb; ++i) {
        const S gi = E::load(gb[i]);
        c[i] = b1 * mb[i] + omb1 * gi;
        if (!nanError) mb[i] = b2 * mb[i] + omb2 * gi;
      }
      nans += host::pack(c, nb, st, ip, out + w * ip);
    });
    return nans;
  };
  auto unpack = [&](size_t firstWord, size_t words, const uint64_t* in) {
    S vote[kBlock];
    forBlocks(firstWord, words, count, [&](size_t e, size_t nb, size_t w) {
      typename E::T* xb = x + e;
      if (nanError) {
        const typename E::T* gb = g + e;
        S* mb = m + e;
        for (size_t i = 0; i < nb; ++i) mb[i] = b2 * mb[i] + omb2 * E::load(gb[i]);
      }
      host::unpack(in + w * op, op, nb, st, unit, vote);
      for (size_t i = 0; i < nb; ++i) xb[i] = E::store(E::load(xb[i]) * decay - lr * vote[i]);
    });
  };
  return allReduceSignCustom(comm, where, count, pack, unpack);
}

}  // namespace
}  // namespace sv

using namespace sv;

extern "C" {

svResult_t svSignumStep(void* params, const void* grads, void* momentum, size_t count, svDataType_t datatype,
                        double lr, double beta, double weightDecay, svComm_t comm, cudaStream_t stream) {
  (void)stream;  // host communicator: synchronous
  static const char* where = "svSignumStep";
  CommRef ref(comm, where);  // keeps comm alive if another thread destroys or aborts it
  SVCHECK(ref.result());
  SVCHECK(checkStep(comm, where, params, grads, momentum, "momentum", count, datatype, lr, weightDecay));
  if (!(beta >= 0 && beta <= 1)) return setError(comm, svInvalidArgument, where, "beta %g is not in [0, 1]", beta);
  if (datatype == svFloat32)
    return signum(comm, where, static_cast<float*>(params), static_cast<const float*>(grads),
                  static_cast<float*>(momentum), count, lr, beta, weightDecay);
  return signum(comm, where, static_cast<double*>(params), static_cast<const double*>(grads),
                static_cast<double*>(momentum), count, lr, beta, weightDecay);
}

svResult_t svEFSignStep(void* params, const void* grads, void* error, size_t count, svDataType_t datatype, double lr,
                        double weightDecay, svComm_t comm, cudaStream_t stream) {
  (void)stream;
  static const char* where = "svEFSignStep";
  CommRef ref(comm, where);  // keeps comm alive if another thread destroys or aborts it
  SVCHECK(ref.result());
  SVCHECK(checkStep(comm, where, params, grads, error, "error", count, datatype, lr, weightDecay));
  if (datatype == svFloat32)
    return efSign(comm, where, static_cast<float*>(params), static_cast<const float*>(grads),
                  static_cast<float*>(error), count, lr, weightDecay);
  return efSign(comm, where, static_cast<double*>(params), static_cast<const double*>(grads),
                static_cast<double*>(error), count, lr, weightDecay);
}

svResult_t svLionStep(void* params, const void* grads, void* momentum, size_t count, svDataType_t datatype,
                      double lr, double beta1, double beta2, double weightDecay, svComm_t comm, cudaStream_t stream) {
  (void)stream;
  static const char* where = "svLionStep";
  CommRef ref(comm, where);  // keeps comm alive if another thread destroys or aborts it
  SVCHECK(ref.result());
  SVCHECK(checkStep(comm, where, params, grads, momentum, "momentum", count, datatype, lr, weightDecay, true));
  if (!(beta1 >= 0 && beta1 <= 1)) return setError(comm, svInvalidArgument, where, "beta1 %g is not in [0, 1]", beta1);
  if (!(beta2 >= 0 && beta2 <= 1)) return setError(comm, svInvalidArgument, where, "beta2 %g is not in [0, 1]", beta2);
  float* m32 = static_cast<float*>(momentum);
  switch (datatype) {
    case svFloat32:
      return lion<LionF32>(comm, where, static_cast<float*>(params), static_cast<const float*>(grads), m32, count, lr,
                           beta1, beta2, weightDecay);
    case svFloat64:
      return lion<LionF64>(comm, where, static_cast<double*>(params), static_cast<const double*>(grads),
                           static_cast<double*>(momentum), count, lr, beta1, beta2, weightDecay);
    case svFloat16:
      return lion<LionF16>(comm, where, static_cast<uint16_t*>(params), static_cast<const uint16_t*>(grads), m32,
                           count, lr, beta1, beta2, weightDecay);
    default:
      return lion<LionBf16>(comm, where, static_cast<uint16_t*>(params), static_cast<const uint16_t*>(grads), m32,
                            count, lr, beta1, beta2, weightDecay);
  }
}

}  // extern "C"
