// SPDX-License-Identifier: MIT
// sv_allreduce_perf: nccl-tests' all_reduce_perf for the sign vote. Same
// flags where they apply, same table and footer, so nccl-tests parsers read
// it; redop prints "vote". Optional baselines run in the same process on the
// same ranks and sizes, and each row shows the speedup against them.
//
//   mpirun -np 4 sv_allreduce_perf -b 8 -e 128M -f 2 -c 1 --baseline mpi
//   mpirun -np 4 sv_allreduce_perf --device 1 -b 4K -e 1G -f 2 --baseline nccl
//
// --device 1 (or -G N, nccl-tests' CUDA-graph flag): device buffers on a
// device communicator (NCCL by default, --transport mpi for the MPI device
// transport), every call enqueued on one stream and the stream synchronised
// after the timed loop, as nccl-tests does; -G N > 0 captures the timed
// loop into a CUDA graph once and launches it N times. --baseline nccl:
// ncclAllReduce of fp32 sums on the same ranks. Device options exist only in
// builds with CUDA and NCCL (SV_PERF_WITH_DEVICE).
//
// algbw = size / time and busbw = algbw * 2(P-1)/P, with size the bytes of
// the user buffer (count * sizeof(type)), exactly as all_reduce_perf defines
// them, so a vote's row compares directly with an fp32 all-reduce's row.
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "bitlogic.h"
#include "signvote_mpi.h"

#if defined(SV_PERF_WITH_DEVICE)
#include <cuda_runtime_api.h>
#include <nccl.h>

#include "signvote_nccl.h"
#endif

#if defined(SV_PERF_WITH_GLOO)
#include <gloo/allreduce.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

#include <chrono>
#include <memory>
#endif

namespace {

struct Options {
  size_t minBytes = 32 << 20, maxBytes = 32 << 20, stepBytes = 1 << 20, stepFactor = 1;
  int iters = 20, warmup = 1, check = 1, average = 1, blocking = 0, graph = 0;
  svDataType_t type = svFloat32;
  int tie = SV_TIE_POSITIVE, zero = SV_ZERO_POSITIVE, algo = SV_ALGO_AUTO;
  std::vector<std::string> baselines;
  double linkBitsPerSec = 0;  // --link: print the lower bound max(W, M)
  int device = 0;             // --device 1 / -G: device buffers, device communicator
  std::string transport = "nccl";  // --transport nccl|mpi (device mode)
};

int rank_ = 0, nranks_ = 1;

#define PRINT(...) \
  do {             \
    if (rank_ == 0) printf(__VA_ARGS__); \
  } while (0)

[[noreturn]] void die(const char* fmt, const char* arg) {
  if (rank_ == 0) {
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
  }
  MPI_Finalize();
  exit(2);
}

#define SVCHECK_PERF(call)                                                                   \
  do {                                                                                       \
    svResult_t r_ = (call);                                                                  \
    if (r_ != svSuccess) {                                                                   \
      fprintf(stderr, "rank %d: %s failed: %s: %s\n", rank_, #call, svGetErrorString(r_),   \
              svGetLastError(nullptr));                                                      \
      MPI_Abort(MPI_COMM_WORLD, 1);                                                          \
    }                                                                                        \
  } while (0)

double parseSize(const char* s) {  // 8, 64K, 1M, 2G as nccl-tests
  double v;
  char unit = 0;
  int n = sscanf(s, "%lf %c", &v, &unit);
  if (n < 1) return -1;
  if (n == 2) {
    switch (unit) {
      case 'G': case 'g': v *= 1 << 30; break;
      case 'M': case 'm': v *= 1 << 20; break;
      case 'K': case 'k': v *= 1 << 10; break;
      default: return -1;
    }
  }
  return v;
}

size_t typeSize(svDataType_t t) { return t == svFloat64 ? 8 : t == svFloat32 ? 4 : 2; }
const char* typeName(svDataType_t t) {
  return t == svFloat64 ? "double" : t == svFloat32 ? "float" : t == svFloat16 ? "half" : "bfloat16";
}

void usage(const char* prog) {
  PRINT("USAGE: %s\n"
        "\t[-b,--minbytes <min size in bytes>] [-e,--maxbytes <max size in bytes>]\n"
        "\t[-i,--stepbytes <increment size>] [-f,--stepfactor <increment factor>]\n"
        "\t[-n,--iters <iteration count>] [-w,--warmup_iters <warmup iteration count>]\n"
        "\t[-c,--check <0/1>] [-d,--datatype <float|half|bfloat16|double>] [-o,--op <vote>]\n"
        "\t[-a,--average <0/1/2/3> report average iteration time <0=RANK0/1=AVG/2=MIN/3=MAX>]\n"
        "\t[-z,--blocking <0/1>] [-G,--cudagraph <num>] (N > 0: device mode, timed loop as a CUDA graph launched N times)\n"
        "\t[--device <0/1>] device buffers on a device communicator (CUDA+NCCL builds)\n"
        "\t[--transport nccl|mpi] the device communicator's transport (default nccl)\n"
        "\t[--baseline mpi|gloo|allgather|ps|nccl[,...]] fp32 MPI_Allreduce sum; fp32 Gloo ring all-reduce\n"
        "\t                 (TCP; SV_GLOO_IFACE picks the interface, else 127.0.0.1); naive all-gather\n"
        "\t                 vote; parameter server (gather at rank 0, vote, broadcast)\n"
        "\t[--link <bits/s, e.g. 1G>] also print the lower bound max(W, M): W = 2(P-1)/P * n/8 bytes\n"
        "\t                 at that rate, M = all ranks at once memcpy'ing the buffer (measured)\n"
        "\t[--tie positive|zero|random] [--zero positive|abstain] [--algo auto|alltoall|allgather]\n"
        "\t[-h,--help]\n",
        prog);
}

Options parseArgs(int argc, char** argv) {
  Options o;
  static struct option longopts[] = {
      {"minbytes", required_argument, 0, 'b'}, {"maxbytes", required_argument, 0, 'e'},
      {"stepbytes", required_argument, 0, 'i'}, {"stepfactor", required_argument, 0, 'f'},
      {"iters", required_argument, 0, 'n'}, {"warmup_iters", required_argument, 0, 'w'},
      {"check", required_argument, 0, 'c'}, {"op", required_argument, 0, 'o'},
      {"datatype", required_argument, 0, 'd'}, {"blocking", required_argument, 0, 'z'},
      {"cudagraph", required_argument, 0, 'G'}, {"average", required_argument, 0, 'a'},
      {"baseline", required_argument, 0, 1000}, {"tie", required_argument, 0, 1001},
      {"zero", required_argument, 0, 1002}, {"algo", required_argument, 0, 1003},
      {"link", required_argument, 0, 1004}, {"device", required_argument, 0, 1005},
      {"transport", required_argument, 0, 1006},
      {"help", no_argument, 0, 'h'}, {}};
  int c, idx;
  while ((c = getopt_long(argc, argv, "b:e:i:f:n:w:c:o:d:z:G:a:t:g:m:h", longopts, &idx)) != -1) {
    switch (c) {
      case 'b': { double v = parseSize(optarg); if (v < 0) die("invalid size for -b: %s", optarg); o.minBytes = (size_t)v; break; }
      case 'e': { double v = parseSize(optarg); if (v < 0) die("invalid size for -e: %s", optarg); o.maxBytes = (size_t)v; break; }
      case 'i': { double v = parseSize(optarg); if (v < 0) die("invalid size for -i: %s", optarg); o.stepBytes = (size_t)v; o.stepFactor = 1; break; }
      case 'f': o.stepFactor = strtoul(optarg, nullptr, 0); break;
      case 'n': o.iters = atoi(optarg); break;
      case 'w': o.warmup = atoi(optarg); break;
      case 'c': o.check = atoi(optarg); break;
      case 'a': o.average = atoi(optarg); break;
      case 'z': o.blocking = atoi(optarg); break;
      case 'G': o.graph = atoi(optarg); break;
      case 't': case 'g': case 'm':
        if (atoi(optarg) != 1) die("-t/-g/-m other than 1 are not supported (one rank per process): %s", optarg);
        break;
      case 'o':
        if (strcmp(optarg, "vote") && strcmp(optarg, "sum")) die("unsupported op %s (vote)", optarg);
        break;
      case 'd':
        if (!strcmp(optarg, "float") || !strcmp(optarg, "float32")) o.type = svFloat32;
        else if (!strcmp(optarg, "half") || !strcmp(optarg, "float16")) o.type = svFloat16;
        else if (!strcmp(optarg, "bfloat16")) o.type = svBfloat16;
        else if (!strcmp(optarg, "double") || !strcmp(optarg, "float64")) o.type = svFloat64;
        else die("unsupported datatype %s (float, half, bfloat16, double)", optarg);
        break;
      case 1000: {
        std::string s = optarg;
        size_t p = 0;
        while (p <= s.size()) {
          size_t q = s.find(',', p);
          if (q == std::string::npos) q = s.size();
          std::string b = s.substr(p, q - p);
          bool known = b == "mpi" || b == "allgather" || b == "ps";
#if defined(SV_PERF_WITH_GLOO)
          known |= b == "gloo";
#endif
#if defined(SV_PERF_WITH_DEVICE)
          known |= b == "nccl";
#endif
          if (!known)
            die("unsupported baseline %s (mpi, gloo when built with Gloo, allgather, ps; nccl needs the GPU build)",
                b.c_str());
          o.baselines.push_back(b);
          p = q + 1;
        }
        break;
      }
      case 1001:
        o.tie = !strcmp(optarg, "zero") ? SV_TIE_ZERO : !strcmp(optarg, "random") ? SV_TIE_RANDOM : SV_TIE_POSITIVE;
        break;
      case 1002: o.zero = !strcmp(optarg, "abstain") ? SV_ZERO_ABSTAIN : SV_ZERO_POSITIVE; break;
      case 1003:
        o.algo = !strcmp(optarg, "alltoall") ? SV_ALGO_ALLTOALL : !strcmp(optarg, "allgather") ? SV_ALGO_ALLGATHER : SV_ALGO_AUTO;
        break;
      case 1004: {
        double v = parseSize(optarg);  // K/M/G are powers of two there; rates are decimal
        if (v <= 0) die("invalid --link rate %s", optarg);
        char unit = optarg[strlen(optarg) - 1];
        if (unit == 'G' || unit == 'g') v = v / (1 << 30) * 1e9;
        else if (unit == 'M' || unit == 'm') v = v / (1 << 20) * 1e6;
        else if (unit == 'K' || unit == 'k') v = v / (1 << 10) * 1e3;
        o.linkBitsPerSec = v;
        break;
      }
      case 1005: o.device = atoi(optarg); break;
      case 1006:
        if (strcmp(optarg, "nccl") && strcmp(optarg, "mpi")) die("unsupported transport %s (nccl, mpi)", optarg);
        o.transport = optarg;
        break;
      case 'h': default:
        usage(argv[0]);
        MPI_Finalize();
        exit(c == 'h' ? 0 : 2);
    }
  }
  if (o.minBytes > o.maxBytes) die("minbytes > maxbytes%s", "");
  if (o.graph > 0) o.device = 1;
#if !defined(SV_PERF_WITH_DEVICE)
  if (o.device) die("--device / -G need a build with CUDA and NCCL%s", "");
#endif
  if (!o.device && std::find(o.baselines.begin(), o.baselines.end(), "nccl") != o.baselines.end())
    die("--baseline nccl needs --device 1%s", "");
  if (o.iters < 1) die("iters must be >= 1%s", "");
  return o;
}

// ---- Data and the independent oracle ---------------------------------------
// Inputs: uniform in [-1, 1) with ~3% exact zeros, per rank and size. The
// oracle does not use the library: each rank turns its input into int8 votes
// by plain float comparison and MPI_Allreduce sums them.
float halfToFloat(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  float mag;
  if (exp == 0) mag = ldexpf((float)man, -24);
  else if (exp == 31) mag = man ? NAN : INFINITY;
  else mag = ldexpf((float)(man | 0x400), (int)exp - 25);
  uint32_t u;
  memcpy(&u, &mag, 4);
  u |= sign;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
float bf16ToFloat(uint16_t b) {
  uint32_t u = (uint32_t)b << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
double elementValue(const void* buf, size_t i, svDataType_t t) {
  switch (t) {
    case svFloat32: return static_cast<const float*>(buf)[i];
    case svFloat64: return static_cast<const double*>(buf)[i];
    case svFloat16: return halfToFloat(static_cast<const uint16_t*>(buf)[i]);
    case svBfloat16: return bf16ToFloat(static_cast<const uint16_t*>(buf)[i]);
  }
  return 0;
}

void fillInput(void* buf, size_t count, svDataType_t t, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (size_t i = 0; i < count; ++i) {
    float v = (g() % 32 == 0) ? 0.f : u(g);
    switch (t) {
      case svFloat32: static_cast<float*>(buf)[i] = v; break;
      case svFloat64: static_cast<double*>(buf)[i] = v; break;
      case svBfloat16: {
        uint32_t x;
        memcpy(&x, &v, 4);
        static_cast<uint16_t*>(buf)[i] = (uint16_t)(x >> 16);  // truncation keeps the sign
        break;
      }
      case svFloat16: {
        // |v| < 1: sign, then a magnitude from the half grid (may be 0).
        uint16_t mag = v == 0.f ? 0 : (uint16_t)(fabsf(v) * 0x3bff);  // below 1.0 (0x3c00)
        static_cast<uint16_t*>(buf)[i] = (uint16_t)((v < 0 ? 0x8000u : 0) | mag);
        break;
      }
    }
  }
}

// Elements of out that differ from the vote of everyone's input (in).
long long countWrong(const void* in, const void* out, size_t count, const Options& o, double scale) {
  std::vector<signed char> votes(count);
  for (size_t i = 0; i < count; ++i) {
    const double x = elementValue(in, i, o.type);
    votes[i] = (o.zero == SV_ZERO_ABSTAIN && (x == 0 || isnan(x))) ? 0 : (x < 0 ? -1 : 1);
  }
  std::vector<int> sum(count);
  std::vector<int> v32(votes.begin(), votes.end());
  MPI_Allreduce(v32.data(), sum.data(), (int)count, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  long long wrong = 0;
  for (size_t i = 0; i < count; ++i) {
    const double got = elementValue(out, i, o.type);
    double want;
    if (sum[i] > 0) want = scale;
    else if (sum[i] < 0) want = -scale;
    else if (o.tie == SV_TIE_ZERO) want = 0;
    else if (o.tie == SV_TIE_POSITIVE) want = scale;
    else want = (got == scale || got == -scale) ? got : NAN;  // random: +-scale (identity checked below)
    if (!(got == want)) ++wrong;
  }
  return wrong;
}

// ---- Baselines ---------------------------------------------------------------
// Both sign baselines use the library's public pack/unpack and the same
// bit-sliced vote as the library, so only the communication pattern differs.
struct SignBaseline {
  svComm_t comm;
  std::vector<uint64_t> mine, all, voted;
  void vote(size_t words, const uint64_t* in, size_t stride, uint64_t* out) {
    sv::VoteParams p{nranks_, 1, 1, sv::kTiePositive, 0, 0};
    for (size_t w = 0; w < words; ++w) sv::voteWord(in + w, stride, p, w, out + w);
  }
  // Naive all-gather: every rank receives every rank's bits and votes all.
  void allgather(const void* in, void* out, size_t count, svDataType_t t) {
    const size_t words = sv::divUp(count, 64);
    mine.assign(words, 0);
    all.resize(words * nranks_);
    voted.resize(words);
    svPackSigns(in, reinterpret_cast<uint32_t*>(mine.data()), count, t, comm, nullptr);
    MPI_Allgather(mine.data(), (int)(words * 8), MPI_BYTE, all.data(), (int)(words * 8), MPI_BYTE, MPI_COMM_WORLD);
    vote(words, all.data(), words, voted.data());
    svUnpackSigns(reinterpret_cast<uint32_t*>(voted.data()), out, count, t, comm, nullptr);
  }
  // The paper's reference scheme: gather at rank 0, vote there, broadcast.
  void ps(const void* in, void* out, size_t count, svDataType_t t) {
    const size_t words = sv::divUp(count, 64);
    mine.assign(words, 0);
    all.resize(words * nranks_);
    voted.resize(words);
    svPackSigns(in, reinterpret_cast<uint32_t*>(mine.data()), count, t, comm, nullptr);
    MPI_Gather(mine.data(), (int)(words * 8), MPI_BYTE, all.data(), (int)(words * 8), MPI_BYTE, 0, MPI_COMM_WORLD);
    if (rank_ == 0) vote(words, all.data(), words, voted.data());
    MPI_Bcast(voted.data(), (int)(words * 8), MPI_BYTE, 0, MPI_COMM_WORLD);
    svUnpackSigns(reinterpret_cast<uint32_t*>(voted.data()), out, count, t, comm, nullptr);
  }
};

#if defined(SV_PERF_WITH_GLOO)
// fp32 ring all-reduce of Gloo over TCP, the all-reduce PyTorch DDP runs on
// CPU. Rendezvous through a FileStore in a directory rank 0 creates.
struct GlooBaseline {
  std::shared_ptr<gloo::rendezvous::Context> ctx;
  void init() {
    char dir[256] = "/tmp/sv_perf_gloo.XXXXXX";
    if (rank_ == 0 && mkdtemp(dir) == nullptr) MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Bcast(dir, sizeof(dir), MPI_CHAR, 0, MPI_COMM_WORLD);
    gloo::transport::tcp::attr attr;
    if (const char* iface = getenv("SV_GLOO_IFACE")) attr.iface = iface;
    else attr.hostname = "127.0.0.1";
    auto dev = gloo::transport::tcp::CreateDevice(attr);
    gloo::rendezvous::FileStore fs(dir);
    gloo::rendezvous::PrefixStore store("sv_allreduce_perf", fs);
    ctx = std::make_shared<gloo::rendezvous::Context>(rank_, nranks_);
    ctx->setTimeout(std::chrono::seconds(600));
    ctx->connectFullMesh(store, dev);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank_ == 0) {
      std::string cmd = std::string("rm -rf ") + dir;
      if (system(cmd.c_str()) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
  }
  void allreduce(float* in, float* out, size_t count) {
    gloo::AllreduceOptions opts(ctx);
    opts.setInput(in, count);
    opts.setOutput(out, count);
    opts.setAlgorithm(gloo::AllreduceOptions::Algorithm::RING);
    void (*fn)(void*, const void*, const void*, size_t) = &gloo::sum<float>;
    opts.setReduceFunction(fn);
    gloo::allreduce(opts);
  }
};
#endif

template <typename F>
double timeIt(const Options& o, F&& op) {
  for (int i = 0; i < o.warmup; ++i) op();
  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  for (int i = 0; i < o.iters; ++i) op();
  double t = (MPI_Wtime() - t0) / o.iters * 1e6;  // us per op, this rank
  double r = t;
  switch (o.average) {
    case 0: MPI_Bcast(&r, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD); break;
    case 2: MPI_Allreduce(&t, &r, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD); break;
    case 3: MPI_Allreduce(&t, &r, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD); break;
    default: MPI_Allreduce(&t, &r, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD); r /= nranks_; break;
  }
  return r;
}

#if defined(SV_PERF_WITH_DEVICE)
#define CUDA_PERF(call)                                                                         \
  do {                                                                                          \
    cudaError_t e_ = (call);                                                                    \
    if (e_ != cudaSuccess) {                                                                    \
      fprintf(stderr, "rank %d: %s failed: %s\n", rank_, #call, cudaGetErrorString(e_));       \
      MPI_Abort(MPI_COMM_WORLD, 1);                                                             \
    }                                                                                           \
  } while (0)

cudaStream_t stream_ = nullptr;

// nccl-tests' timing: enqueue the iterations, synchronise the stream once.
// With -G N the timed loop is captured into a graph and launched N times.
template <typename F>
double timeDevice(const Options& o, F&& op) {
  for (int i = 0; i < o.warmup; ++i) op();
  CUDA_PERF(cudaStreamSynchronize(stream_));
  cudaGraphExec_t exec = nullptr;
  if (o.graph > 0) {
    cudaGraph_t g;
    CUDA_PERF(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeGlobal));
    for (int i = 0; i < o.iters; ++i) op();
    CUDA_PERF(cudaStreamEndCapture(stream_, &g));
    CUDA_PERF(cudaGraphInstantiate(&exec, g, 0));
    CUDA_PERF(cudaGraphDestroy(g));
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  if (exec) {
    for (int k = 0; k < o.graph; ++k) CUDA_PERF(cudaGraphLaunch(exec, stream_));
  } else {
    for (int i = 0; i < o.iters; ++i) op();
  }
  CUDA_PERF(cudaStreamSynchronize(stream_));
  const int n = exec ? o.iters * o.graph : o.iters;
  double t = (MPI_Wtime() - t0) / n * 1e6, r = t;
  if (exec) CUDA_PERF(cudaGraphExecDestroy(exec));
  switch (o.average) {
    case 0: MPI_Bcast(&r, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD); break;
    case 2: MPI_Allreduce(&t, &r, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD); break;
    case 3: MPI_Allreduce(&t, &r, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD); break;
    default: MPI_Allreduce(&t, &r, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD); r /= nranks_; break;
  }
  return r;
}

ncclComm_t makeNcclComm() {
  ncclUniqueId id;
  if (rank_ == 0 && ncclGetUniqueId(&id) != ncclSuccess) MPI_Abort(MPI_COMM_WORLD, 1);
  MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
  ncclComm_t c = nullptr;
  if (ncclCommInitRank(&c, nranks_, id, rank_) != ncclSuccess) {
    fprintf(stderr, "rank %d: ncclCommInitRank failed (ranks sharing a GPU need distinct NCCL_HOSTID)\n", rank_);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return c;
}
#endif

// nccl-tests' number formatting: widest precision that fits the column.
std::string fmt(double v, int width) {
  char s[32];
  if (snprintf(s, width + 1, "%*.2f", width, v) <= width) return s;
  if (snprintf(s, width + 1, "%*.1f", width, v) <= width) return s;
  if (snprintf(s, width + 1, "%*.0f", width, v) <= width) return s;
  snprintf(s, width + 1, width >= 7 ? "%*.1e" : "%*.0e", width, v);
  return s;
}

uint64_t hashBytes(const void* p, size_t n) {  // FNV-1a
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(p)[i]) * 1099511628211ull;
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks_);
  Options o = parseArgs(argc, argv);

  svConfig_t cfg = SV_CONFIG_INITIALIZER;
  cfg.tiePolicy = o.tie;
  cfg.zeroPolicy = o.zero;
  cfg.algorithm = o.algo;
  svComm_t comm;
  int cudaDev = -1;
#if defined(SV_PERF_WITH_DEVICE)
  ncclComm_t ncclBase = nullptr;
  if (o.device) {
    // Node-local rank -> GPU, round robin (ranks may share a GPU).
    MPI_Comm local;
    int localRank = 0, ndev = 0;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &localRank);
    MPI_Comm_free(&local);
    CUDA_PERF(cudaGetDeviceCount(&ndev));
    cudaDev = localRank % ndev;
    CUDA_PERF(cudaSetDevice(cudaDev));
    CUDA_PERF(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    cfg.device = cudaDev;
    if (o.transport == "mpi") {
      SVCHECK_PERF(svCommInitMPI(&comm, MPI_COMM_WORLD, &cfg));
    } else {
      svUniqueId id;
      if (rank_ == 0) SVCHECK_PERF(svGetUniqueId(&id));
      MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
      SVCHECK_PERF(svCommInitRankConfig(&comm, nranks_, id, rank_, &cfg));
    }
    if (std::find(o.baselines.begin(), o.baselines.end(), "nccl") != o.baselines.end()) ncclBase = makeNcclComm();
  } else
#endif
  SVCHECK_PERF(svCommInitMPI(&comm, MPI_COMM_WORLD, &cfg));
  svComm_t plainComm;  // default policies, for the sign baselines' pack/unpack
  SVCHECK_PERF(svCommInitMPI(&plainComm, MPI_COMM_WORLD, nullptr));
  const double scale = 1.0;

  int version;
  svGetVersion(&version);
  PRINT("# nThread 1 nGpus 1 minBytes %zu maxBytes %zu step: %zu(%s) warmup iters: %d iters: %d agg iters: 1 validation: %d graph: %d\n",
        o.minBytes, o.maxBytes, o.stepFactor > 1 ? o.stepFactor : o.stepBytes, o.stepFactor > 1 ? "factor" : "bytes",
        o.warmup, o.iters, o.check, o.graph);
  PRINT("#\n# signvote %d, %d ranks, %s communicators; redop vote; tie %s zero %s algo %s\n", version, nranks_,
        o.device ? (o.transport == "mpi" ? "device (MPI)" : "device (NCCL)") : "host",
        o.tie == SV_TIE_ZERO ? "zero" : o.tie == SV_TIE_RANDOM ? "random" : "positive",
        o.zero == SV_ZERO_ABSTAIN ? "abstain" : "positive",
        o.algo == SV_ALGO_ALLTOALL ? "alltoall" : o.algo == SV_ALGO_ALLGATHER ? "allgather" : "auto");
  PRINT("# Using devices\n");
  {
    char host[64] = "";
    gethostname(host, sizeof(host) - 1);
    for (int r = 0; r < nranks_; ++r) {
      int pid = getpid();
      char h[64];
      memcpy(h, host, sizeof(h));
      if (r != 0) {
        if (rank_ == r) {
          MPI_Send(&pid, 1, MPI_INT, 0, 7, MPI_COMM_WORLD);
          MPI_Send(host, 64, MPI_CHAR, 0, 8, MPI_COMM_WORLD);
        }
        if (rank_ == 0) {
          MPI_Recv(&pid, 1, MPI_INT, r, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
          MPI_Recv(h, 64, MPI_CHAR, r, 8, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
      }
      int dev = cudaDev;
      if (r != 0) {
        if (rank_ == r) MPI_Send(&dev, 1, MPI_INT, 0, 9, MPI_COMM_WORLD);
        if (rank_ == 0) MPI_Recv(&dev, 1, MPI_INT, r, 9, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      }
      PRINT("#  Rank %2d Group  0 Pid %6d on %10s device %2d [%s]\n", r, pid, h, dev, dev < 0 ? "host CPU" : "cuda");
    }
  }
  std::string baseHeader, baseUnits;
  for (auto& b : o.baselines) {
    char h[64], u[64];
    snprintf(h, sizeof(h), "  %13s  %7s", (b + "(us)").c_str(), "speedup");
    snprintf(u, sizeof(u), "  %13s  %7s", "", "(x)");
    baseHeader += h;
    baseUnits += u;
  }
  if (o.linkBitsPerSec > 0) {
    baseHeader += "     W(us)     M(us)  vs max(W,M)";
    baseUnits += "                                (x)";
  }
  PRINT("#\n");
  PRINT("# %10s  %12s  %8s  %6s  %6s           out-of-place                       in-place          \n", "", "", "", "", "");
  PRINT("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s%s\n", "size", "count", "type", "redop",
        "root", "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw", "#wrong", baseHeader.c_str());
  PRINT("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s%s\n", "(B)", "(elements)", "", "", "",
        "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "", baseUnits.c_str());

  const size_t esz = typeSize(o.type);
  const size_t maxCount = std::max<size_t>(o.maxBytes / esz, 1);
  // in and out; the in-place run reuses out; ref only for the sign baselines
  // and M, fin/fout only for the fp32 ones (1 GiB runs must fit in memory).
  std::vector<char> in(maxCount * esz), out(maxCount * esz), ref;
  std::vector<float> fin, fout;
  auto wants = [&](const char* b) { return std::find(o.baselines.begin(), o.baselines.end(), b) != o.baselines.end(); };
  if (wants("ps") || wants("allgather") || o.linkBitsPerSec > 0) ref.resize(maxCount * esz);
  std::vector<char>& inplace = out;
  if (wants("mpi") || wants("gloo")) {
    fin.assign(maxCount, 1.f);
    fout.resize(maxCount);
  }
#if defined(SV_PERF_WITH_GLOO)
  GlooBaseline gloo;
  if (wants("gloo")) gloo.init();
#endif
  SignBaseline sb{plainComm, {}, {}, {}};
#if defined(SV_PERF_WITH_DEVICE)
  void *dIn = nullptr, *dOut = nullptr;
  float *dfIn = nullptr, *dfOut = nullptr;
  if (o.device) {
    CUDA_PERF(cudaMalloc(&dIn, maxCount * esz));
    CUDA_PERF(cudaMalloc(&dOut, maxCount * esz));
    if (ncclBase) {
      CUDA_PERF(cudaMalloc(reinterpret_cast<void**>(&dfIn), maxCount * sizeof(float)));
      CUDA_PERF(cudaMalloc(reinterpret_cast<void**>(&dfOut), maxCount * sizeof(float)));
      CUDA_PERF(cudaMemset(dfIn, 0, maxCount * sizeof(float)));
    }
  }
#endif
  // One collective on this rank's buffers: host pointers, or (device mode)
  // the device copies of in/out, enqueued on the stream.
  auto vote = [&](const void* src, void* dst, size_t count) {
#if defined(SV_PERF_WITH_DEVICE)
    if (o.device) {
      const char* hin = in.data();
      const void* s = src == hin ? dIn : dOut;  // src is in or out (in place)
      SVCHECK_PERF(svAllReduceSign(s, dOut, count, o.type, comm, stream_));
      return;
    }
#endif
    SVCHECK_PERF(svAllReduceSign(src, dst, count, o.type, comm, nullptr));
  };
  auto timeVote = [&](auto&& op) {
#if defined(SV_PERF_WITH_DEVICE)
    if (o.device) return timeDevice(o, op);
#endif
    return timeIt(o, op);
  };
  // Device mode: bring dst's device copy (dOut) back to the host buffer.
  auto fetch = [&](void* dst, size_t size) {
#if defined(SV_PERF_WITH_DEVICE)
    if (o.device) {
      CUDA_PERF(cudaStreamSynchronize(stream_));
      CUDA_PERF(cudaMemcpy(dst, dOut, size, cudaMemcpyDeviceToHost));
    }
#endif
    (void)dst;
    (void)size;
  };
  // Device mode: copy a host buffer into dIn (src == in) or dOut (in place).
  auto upload = [&](const void* src, size_t size, bool toOut) {
#if defined(SV_PERF_WITH_DEVICE)
    if (o.device) CUDA_PERF(cudaMemcpy(toOut ? dOut : dIn, src, size, cudaMemcpyHostToDevice));
#endif
    (void)src;
    (void)size;
    (void)toOut;
  };
  long long totalWrong = 0;
  double bwSum = 0;
  int bwCount = 0;
  for (size_t bytes = o.minBytes; bytes <= o.maxBytes;) {
    const size_t count = bytes / esz;
    const size_t size = count * esz;
    fillInput(in.data(), count, o.type, 0x5eed0000ull + 7919ull * rank_ + count);
    // Out of place.
    upload(in.data(), size, false);
    double tOut = timeVote([&] { vote(in.data(), out.data(), count); });
    // Wrong elements over all ranks of one fresh call from `src` into `dst`
    // (checked against the oracle, and every rank must hold the same bits).
    auto checkCall = [&](void* src, void* dst) {
      vote(src, dst, count);
      fetch(dst, size);
      long long w = countWrong(in.data(), dst, count, o, scale), sum = 0;
      uint64_t h = hashBytes(dst, size), h0 = h;
      MPI_Bcast(&h0, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
      if (h != h0) w += (long long)count;
      MPI_Allreduce(&w, &sum, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
      return sum;
    };
    long long wrongOut = o.check ? checkCall(in.data(), out.data()) : -1;
    // In place: the buffer is voted again each iteration (the vote of
    // identical inputs is itself); checked on a fresh copy.
    memcpy(inplace.data(), in.data(), size);
    upload(in.data(), size, true);
    double tIn = timeVote([&] { vote(inplace.data(), inplace.data(), count); });
    long long wrongIn = -1;
    if (o.check) {
      memcpy(inplace.data(), in.data(), size);
      upload(in.data(), size, true);
      wrongIn = checkCall(inplace.data(), inplace.data());
      totalWrong += wrongOut + wrongIn;
    }
    const double factor = nranks_ > 1 ? 2.0 * (nranks_ - 1) / nranks_ : 1.0;
    const double algOut = size / tOut / 1e3, algIn = size / tIn / 1e3;  // GB/s
    bwSum += algOut * factor + algIn * factor;
    bwCount += 2;
    std::string base;
    for (auto& b : o.baselines) {
      double tb = 0;
#if defined(SV_PERF_WITH_DEVICE)
      if (b == "nccl") {
        tb = timeDevice(o, [&] {
          if (ncclAllReduce(dfIn, dfOut, count, ncclFloat32, ncclSum, ncclBase, stream_) != ncclSuccess)
            MPI_Abort(MPI_COMM_WORLD, 1);
        });
      } else
#endif
      if (b == "mpi")
        tb = timeIt(o, [&] { MPI_Allreduce(fin.data(), fout.data(), (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); });
#if defined(SV_PERF_WITH_GLOO)
      else if (b == "gloo")
        tb = timeIt(o, [&] { gloo.allreduce(fin.data(), fout.data(), count); });
#endif
      else if (b == "allgather")
        tb = timeIt(o, [&] { sb.allgather(in.data(), ref.data(), count, o.type); });
      else
        tb = timeIt(o, [&] { sb.ps(in.data(), ref.data(), count, o.type); });
      char cell[64];
      snprintf(cell, sizeof(cell), "  %13s  %7s", fmt(tb, 13).c_str(), fmt(tb / tOut, 7).c_str());
      base += cell;
    }
    if (o.linkBitsPerSec > 0) {
      // W: the sign traffic each rank must send, at the link rate. M: every
      // rank at once reading its input and writing its output (memcpy).
      const double w = factor * (count / 8.0) * 8.0 / o.linkBitsPerSec * 1e6;
      const double m = timeIt(o, [&] { memcpy(ref.data(), in.data(), size); });
      char cell[96];
      snprintf(cell, sizeof(cell), "  %8s  %8s  %11s", fmt(w, 8).c_str(), fmt(m, 8).c_str(),
               fmt(tOut / std::max(w, m), 11).c_str());
      base += cell;
    }
    char wo[16], wi[16];
    if (o.check) {
      snprintf(wo, sizeof(wo), "%6g", (double)wrongOut);
      snprintf(wi, sizeof(wi), "%6g", (double)wrongIn);
    } else {
      snprintf(wo, sizeof(wo), "   N/A");
      snprintf(wi, sizeof(wi), "   N/A");
    }
    PRINT("%12zu  %12zu  %8s  %6s  %6d  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s%s\n", size, count, typeName(o.type),
          "vote", -1, fmt(tOut, 7).c_str(), fmt(algOut, 6).c_str(), fmt(algOut * factor, 6).c_str(), wo,
          fmt(tIn, 7).c_str(), fmt(algIn, 6).c_str(), fmt(algIn * factor, 6).c_str(), wi, base.c_str());
    if (o.stepFactor > 1) {
      if (bytes == 0) bytes = 1;
      bytes *= o.stepFactor;
    } else {
      bytes += o.stepBytes ? o.stepBytes : 1;
    }
  }
  PRINT("# %-20s : %lld %s\n", "Out of bounds values", totalWrong, totalWrong ? "FAILED" : "OK");
  PRINT("# %-20s : %g \n", "Avg bus bandwidth", bwCount ? bwSum / bwCount : 0.0);
  PRINT("#\n# Collective test concluded: sv_allreduce_perf\n");
  svCommDestroy(plainComm);
  svCommDestroy(comm);
#if defined(SV_PERF_WITH_DEVICE)
  if (o.device) {
    cudaFree(dIn);
    cudaFree(dOut);
    if (dfIn) cudaFree(dfIn);
    if (dfOut) cudaFree(dfOut);
    if (ncclBase) ncclCommDestroy(ncclBase);
    cudaStreamDestroy(stream_);
  }
#endif
  MPI_Finalize();
  return totalWrong ? 1 : 0;
}
