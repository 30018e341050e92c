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
//
// Output as nccl-tests 2.19: each row has its 13 columns (21 with -I 1, the
// per-iteration i_min/i_max/i_p99/i_cv% after each placement); the
// baselines and the --link bound go to a table of '#' lines after the
// footer, so parsers of nccl-tests' table keep reading ours. -J file.json
// writes nccl-tests' JSON (version 3: config, devices, results with
// out_of_place/in_place and, with -I, *_per_iter), plus a "baselines" and a
// "bound" object per result.
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "bitlogic.h"
#include "json_writer.h"
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
  int hierarchy = SV_CONFIG_UNDEF_INT;  // --hierarchy (else SV_HIERARCHY)
  std::vector<std::string> baselines;
  double linkBitsPerSec = 0;  // --link: print the lower bound max(W, M)
  int device = 0;             // --device 1 / -G: device buffers, device communicator
  std::string transport = "nccl";  // --transport nccl|mpi (device mode)
  std::string jsonPath;            // -J: nccl-tests' JSON output
  int perIter = 0;                 // -I 1: per-iteration times and their statistics
  int perIterSkip = 0;             // -K n: leave the first n iterations out of those statistics
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
        "\t[-J,--output_file <file.json>] nccl-tests' JSON (rank 0 writes it; an existing file is kept, .0, .1... added)\n"
        "\t[-I,--per_iter_timing <0/1>] time every iteration: i_min, i_max, i_p99, i_cv%% of the max over ranks\n"
        "\t[-K,--per_iter_skip <n>] leave the first n iterations out of those statistics\n"
        "\t[--device <0/1>] device buffers on a device communicator (CUDA+NCCL builds)\n"
        "\t[--transport nccl|mpi] the device communicator's transport (default nccl)\n"
        "\t[--baseline mpi|gloo|allgather|ps|flat|nccl[,...]] fp32 MPI_Allreduce sum; fp32 Gloo ring all-reduce\n"
        "\t                 (TCP; SV_GLOO_IFACE picks the interface, else 127.0.0.1); naive all-gather\n"
        "\t                 vote; parameter server (gather at rank 0, vote, broadcast); the flat vote\n"
        "\t                 (svAllReduceSign, same policies, SV_HIERARCHY=off)\n"
        "\t[--hierarchy auto|on|off] the vote's config.hierarchy (default: SV_HIERARCHY, else auto)\n"
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
      {"transport", required_argument, 0, 1006}, {"output_file", required_argument, 0, 'J'},
      {"per_iter_timing", required_argument, 0, 'I'}, {"per_iter_skip", required_argument, 0, 'K'},
      {"hierarchy", required_argument, 0, 1007},
      {"help", no_argument, 0, 'h'}, {}};
  int c, idx;
  while ((c = getopt_long(argc, argv, "b:e:i:f:n:w:c:o:d:z:G:a:t:g:m:J:I:K:h", longopts, &idx)) != -1) {
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
      case 'J': o.jsonPath = optarg; break;
      case 'I': o.perIter = atoi(optarg); break;
      case 'K': o.perIterSkip = atoi(optarg); break;
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
          bool known = b == "mpi" || b == "allgather" || b == "ps" || b == "flat";
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
      case 1007:
        o.hierarchy = !strcmp(optarg, "on") ? 1 : !strcmp(optarg, "off") ? 0 : !strcmp(optarg, "auto") ? -1 : -2;
        if (o.hierarchy == -2) die("invalid --hierarchy %s (auto, on, off)", optarg);
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
  if (o.perIter != 0 && o.perIter != 1) die("-I takes 0 or 1, not %s", std::to_string(o.perIter).c_str());
  if (o.perIter && o.graph > 0) die("-I 1 cannot time the iterations of a CUDA graph (-G)%s", "");
  if (o.perIterSkip < 0 || o.perIterSkip >= o.iters)
    die("-K must be at least 0 and below the iteration count (-n)%s", "");
  if (o.perIterSkip && !o.perIter) die("-K needs -I 1%s", "");
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

// ---- Timing -------------------------------------------------------------------
// us: the time per iteration as -a says (rank 0's, the mean, min or max over
// ranks of each rank's mean). With -I 1 also each iteration's time on every
// rank (rank 0 holds them): iterUs[i] is the slowest rank's time of
// iteration i, and stats summarise iterUs past the first -K iterations, as
// nccl-tests' i_* columns do.
struct IterStats {
  double min = 0, max = 0, avg = 0, p50 = 0, p95 = 0, p99 = 0, stdev = 0, cvPct = 0;
};
struct Timing {
  double us = 0;
  std::vector<double> iterUs, rankUs;  // -I 1: iterations; ranks x iterations
  IterStats stats;
};

double combineRanks(const Options& o, double t) {
  double r = t;
  switch (o.average) {
    case 0: MPI_Bcast(&r, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD); break;
    case 2: MPI_Allreduce(&t, &r, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD); break;
    case 3: MPI_Allreduce(&t, &r, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD); break;
    default: MPI_Allreduce(&t, &r, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD); r /= nranks_; break;
  }
  return r;
}

IterStats iterStats(const std::vector<double>& times, int skip) {
  std::vector<double> v(times.begin() + skip, times.end());
  IterStats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const int n = (int)v.size();
  auto pct = [&](int p) { return v[std::min(n - 1, (n * p + 99) / 100 - 1)]; };  // nccl-tests' index
  s.min = v.front();
  s.max = v.back();
  s.p50 = v[n / 2];
  s.p95 = pct(95);
  s.p99 = pct(99);
  double sum = 0, var = 0;
  for (double x : v) sum += x;
  s.avg = sum / n;
  for (double x : v) var += (x - s.avg) * (x - s.avg);
  s.stdev = sqrt(var / n);
  s.cvPct = s.avg > 0 ? s.stdev / s.avg * 100 : 0;
  return s;
}

// Rank 0 gathers every rank's per-iteration times (us).
void gatherIterations(const Options& o, const std::vector<double>& mine, Timing& t) {
  if (rank_ == 0) t.rankUs.resize((size_t)nranks_ * o.iters);
  MPI_Gather(mine.data(), o.iters, MPI_DOUBLE, t.rankUs.data(), o.iters, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (rank_ != 0) return;
  t.iterUs.assign(o.iters, 0.0);
  for (int r = 0; r < nranks_; ++r)
    for (int i = 0; i < o.iters; ++i) t.iterUs[i] = std::max(t.iterUs[i], t.rankUs[(size_t)r * o.iters + i]);
  t.stats = iterStats(t.iterUs, o.perIterSkip);
}

template <typename F>
Timing timeIt(const Options& o, F&& op) {
  for (int i = 0; i < o.warmup; ++i) op();
  std::vector<double> mine(o.perIter ? o.iters : 0);
  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  for (int i = 0; i < o.iters; ++i) {
    if (o.perIter) {
      const double a = MPI_Wtime();
      op();
      mine[i] = (MPI_Wtime() - a) * 1e6;
    } else {
      op();
    }
  }
  Timing t;
  t.us = combineRanks(o, (MPI_Wtime() - t0) / o.iters * 1e6);  // us per op
  if (o.perIter) gatherIterations(o, mine, t);
  return t;
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
// -I 1: an event between iterations, each iteration's time from its pair.
template <typename F>
Timing timeDevice(const Options& o, F&& op) {
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
  std::vector<cudaEvent_t> ev(o.perIter ? o.iters + 1 : 0);
  for (auto& e : ev) CUDA_PERF(cudaEventCreate(&e));
  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  if (exec) {
    for (int k = 0; k < o.graph; ++k) CUDA_PERF(cudaGraphLaunch(exec, stream_));
  } else {
    if (o.perIter) CUDA_PERF(cudaEventRecord(ev[0], stream_));
    for (int i = 0; i < o.iters; ++i) {
      op();
      if (o.perIter) CUDA_PERF(cudaEventRecord(ev[i + 1], stream_));
    }
  }
  CUDA_PERF(cudaStreamSynchronize(stream_));
  const int n = exec ? o.iters * o.graph : o.iters;
  Timing t;
  t.us = combineRanks(o, (MPI_Wtime() - t0) / n * 1e6);
  if (exec) CUDA_PERF(cudaGraphExecDestroy(exec));
  if (o.perIter) {
    std::vector<double> mine(o.iters);
    for (int i = 0; i < o.iters; ++i) {
      float ms = 0;
      CUDA_PERF(cudaEventElapsedTime(&ms, ev[i], ev[i + 1]));
      mine[i] = ms * 1e3;
    }
    for (auto& e : ev) CUDA_PERF(cudaEventDestroy(e));
    gatherIterations(o, mine, t);
  }
  return t;
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

// -J: rank 0 creates the file, never overwriting one: an existing name gets
// .0, .1, ... appended, as nccl-tests does.
FILE* jsonFile_ = nullptr;
FILE* openJson(const std::string& path) {
  std::string tryPath = path;
  for (int n = 0; n < 1000; ++n) {
    jsonFile_ = fopen(tryPath.c_str(), "wx");
    if (jsonFile_ != nullptr) {
      printf("# Writing JSON output to %s\n", tryPath.c_str());
      return jsonFile_;
    }
    if (errno != EEXIST) break;
    tryPath = path + "." + std::to_string(n);
  }
  printf("# skipping json output; %s not accessible\n", tryPath.c_str());
  return nullptr;
}
void closeJson() {
  fputc('\n', jsonFile_);
  fclose(jsonFile_);
}
std::string now() {
  char buf[64];
  time_t t = time(nullptr);
  strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", localtime(&t));
  return buf;
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
  const std::vector<std::string> args(argv, argv + argc);  // before getopt permutes argv
  Options o = parseArgs(argc, argv);
  JsonWriter json(rank_ == 0 && !o.jsonPath.empty() ? openJson(o.jsonPath) : nullptr);
  if (json.active()) {
    json.beginObject();  // closed after the footer
    json.key("version"); json.integer(3);  // nccl-tests 2.19's JSON_FILE_VERSION
    json.key("start_time"); json.string(now());
    json.key("args"); json.beginList();
    for (auto& a : args) json.string(a);
    json.endList();
    // The variables that change what is measured (nccl-tests writes them all).
    json.key("env"); json.beginList();
    for (char** e = environ; *e; ++e)
      for (const char* prefix : {"SV_", "NCCL_", "OMPI_MCA_", "UCX_", "CUDA_VISIBLE_DEVICES"})
        if (!strncmp(*e, prefix, strlen(prefix))) json.string(*e);
    json.endList();
  }

  svConfig_t cfg = SV_CONFIG_INITIALIZER;
  cfg.tiePolicy = o.tie;
  cfg.zeroPolicy = o.zero;
  cfg.algorithm = o.algo;
  cfg.hierarchy = o.hierarchy;
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
  svComm_t flatComm = nullptr;  // --baseline flat: the vote's policies without the hierarchy
  if (!o.device && std::find(o.baselines.begin(), o.baselines.end(), "flat") != o.baselines.end()) {
    svConfig_t flat = cfg;
    flat.hierarchy = 0;
    SVCHECK_PERF(svCommInitMPI(&flatComm, MPI_COMM_WORLD, &flat));
  }
  const double scale = 1.0;

  int version;
  svGetVersion(&version);
  PRINT("# nThread 1 nGpus 1 minBytes %zu maxBytes %zu step: %zu(%s) warmup iters: %d iters: %d agg iters: 1 validation: %d graph: %d\n",
        o.minBytes, o.maxBytes, o.stepFactor > 1 ? o.stepFactor : o.stepBytes, o.stepFactor > 1 ? "factor" : "bytes",
        o.warmup, o.iters, o.check, o.graph);
  if (o.perIter) {
    PRINT("# Per-Iteration Report: %s timing; i_* uses max over ranks", o.device ? "CUDA event" : "host");
    if (o.perIterSkip) PRINT("; summary skips first %d iterations", o.perIterSkip);
    PRINT(" \n");
  }
  if (json.active()) {
    json.key("signvote_version"); json.integer(version);
    json.key("config"); json.beginObject();
    json.key("nthreads"); json.integer(1);
    json.key("ngpus"); json.integer(1);
    json.key("minimum_bytes"); json.integer((long long)o.minBytes);
    json.key("maximum_bytes"); json.integer((long long)o.maxBytes);
    if (o.stepFactor > 1) { json.key("step_factor"); json.integer((long long)o.stepFactor); }
    else { json.key("step_bytes"); json.integer((long long)o.stepBytes); }
    json.key("warmup_iters"); json.integer(o.warmup);
    json.key("iterations"); json.integer(o.iters);
    json.key("aggregated_iterations"); json.integer(1);
    json.key("validation"); json.integer(o.check);
    json.key("graph"); json.integer(o.graph);
    json.key("blocking_collectives"); json.boolean(o.blocking != 0);
    json.key("per_iter_timing"); json.boolean(o.perIter != 0);
    json.key("per_iter_skip"); json.integer(o.perIterSkip);
    json.key("parallel_init"); json.boolean(false);
    json.key("datatype"); json.string(typeName(o.type));
    json.key("tie"); json.string(o.tie == SV_TIE_ZERO ? "zero" : o.tie == SV_TIE_RANDOM ? "random" : "positive");
    json.key("zero"); json.string(o.zero == SV_ZERO_ABSTAIN ? "abstain" : "positive");
    json.key("algo"); json.string(o.algo == SV_ALGO_ALLTOALL ? "alltoall" : o.algo == SV_ALGO_ALLGATHER ? "allgather" : "auto");
    json.key("communicator"); json.string(o.device ? (o.transport == "mpi" ? "device (MPI)" : "device (NCCL)") : "host");
    json.key("devices"); json.beginList();  // filled below, closed with config
  }
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
      if (json.active()) {
        json.beginObject();
        json.key("rank"); json.integer(r);
        json.key("group"); json.integer(0);
        json.key("pid"); json.integer(pid);
        json.key("hostname"); json.string(h);
        json.key("device"); json.integer(dev);
        json.key("device_hex"); json.string(dev < 0 ? "host CPU" : "cuda");
        json.key("device_info"); json.string(dev < 0 ? "host CPU" : "cuda");
        json.endObject();
      }
    }
  }
  if (json.active()) {
    json.endList();    // devices
    json.endObject();  // config
  }
  PRINT("#\n");
  if (o.perIter) {
    PRINT("# %10s  %12s  %8s  %6s  %6s              out-of-place (+ per-iteration)                                in-place (+ per-iteration)\n", "", "", "", "", "");
    PRINT("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %7s  %7s  %7s  %7s  %6s  %6s  %6s  %7s  %7s  %7s  %7s\n",
          "size", "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong", "i_min", "i_max", "i_p99",
          "i_cv%", "time", "algbw", "busbw", "#wrong", "i_min", "i_max", "i_p99", "i_cv%");
    PRINT("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %7s  %7s  %7s  %7s  %6s  %6s  %6s  %7s  %7s  %7s  %7s\n",
          "(B)", "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(us)", "(us)", "(%)", "(us)",
          "(GB/s)", "(GB/s)", "", "(us)", "(us)", "(us)", "(%)");
  } else {
    PRINT("# %10s  %12s  %8s  %6s  %6s           out-of-place                       in-place          \n", "", "", "", "", "");
    PRINT("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s\n", "size", "count", "type", "redop",
          "root", "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw", "#wrong");
    PRINT("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s\n", "(B)", "(elements)", "", "", "",
          "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "");
  }
  if (json.active()) {
    json.key("results");
    json.beginList();
  }
  // One row of the baseline table per size (printed after the footer).
  struct BaselineRow {
    size_t size;
    double vote;
    std::vector<double> times;
    double w, m;
  };
  std::vector<BaselineRow> baselineRows;

  const size_t esz = typeSize(o.type);
  const size_t maxCount = std::max<size_t>(o.maxBytes / esz, 1);
  // in and out; the in-place run reuses out; ref only for the sign baselines
  // and M, fin/fout only for the fp32 ones (1 GiB runs must fit in memory).
  std::vector<char> in(maxCount * esz), out(maxCount * esz), ref;
  std::vector<float> fin, fout;
  auto wants = [&](const char* b) { return std::find(o.baselines.begin(), o.baselines.end(), b) != o.baselines.end(); };
  if (wants("ps") || wants("allgather") || wants("flat") || o.linkBitsPerSec > 0) ref.resize(maxCount * esz);
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
    const Timing tOut = timeVote([&] { vote(in.data(), out.data(), count); });
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
    const Timing tIn = timeVote([&] { vote(inplace.data(), inplace.data(), count); });
    long long wrongIn = -1;
    if (o.check) {
      memcpy(inplace.data(), in.data(), size);
      upload(in.data(), size, true);
      wrongIn = checkCall(inplace.data(), inplace.data());
      totalWrong += wrongOut + wrongIn;
    }
    const double factor = nranks_ > 1 ? 2.0 * (nranks_ - 1) / nranks_ : 1.0;
    const double algOut = size / tOut.us / 1e3, algIn = size / tIn.us / 1e3;  // GB/s
    bwSum += algOut * factor + algIn * factor;
    bwCount += 2;
    // The statistic the baseline table compares: the time column's, or with
    // -I 1 the median iteration (nccl-tests' p50 of the max over ranks).
    auto stat = [&](const Timing& t) { return o.perIter ? t.stats.p50 : t.us; };
    BaselineRow row{size, stat(tOut), {}, 0, 0};
    for (auto& b : o.baselines) {
      Timing tb;
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
      else if (b == "flat")
        tb = flatComm ? timeIt(o, [&] { SVCHECK_PERF(svAllReduceSign(in.data(), ref.data(), count, o.type, flatComm, nullptr)); })
                      : Timing{};
      else
        tb = timeIt(o, [&] { sb.ps(in.data(), ref.data(), count, o.type); });
      row.times.push_back(stat(tb));
    }
    if (o.linkBitsPerSec > 0) {
      // W: the sign traffic each rank must send, at the link rate. M: every
      // rank at once reading its input and writing its output (memcpy).
      row.w = factor * (count / 8.0) * 8.0 / o.linkBitsPerSec * 1e6;
      row.m = stat(timeIt(o, [&] { memcpy(ref.data(), in.data(), size); }));
    }
    if (!o.baselines.empty() || o.linkBitsPerSec > 0) baselineRows.push_back(row);
    char wo[16], wi[16];
    if (o.check) {
      snprintf(wo, sizeof(wo), "%6g", (double)wrongOut);
      snprintf(wi, sizeof(wi), "%6g", (double)wrongIn);
    } else {
      snprintf(wo, sizeof(wo), "   N/A");
      snprintf(wi, sizeof(wi), "   N/A");
    }
    auto iterCells = [&](const Timing& t) {
      if (!o.perIter) return std::string();
      return "  " + fmt(t.stats.min, 7) + "  " + fmt(t.stats.max, 7) + "  " + fmt(t.stats.p99, 7) + "  " +
             fmt(t.stats.cvPct, 7);
    };
    PRINT("%12zu  %12zu  %8s  %6s  %6d  %7s  %6s  %6s  %6s%s  %7s  %6s  %6s  %6s%s\n", size, count, typeName(o.type),
          "vote", -1, fmt(tOut.us, 7).c_str(), fmt(algOut, 6).c_str(), fmt(algOut * factor, 6).c_str(), wo,
          iterCells(tOut).c_str(), fmt(tIn.us, 7).c_str(), fmt(algIn, 6).c_str(), fmt(algIn * factor, 6).c_str(), wi,
          iterCells(tIn).c_str());
    if (json.active()) {
      json.beginObject();
      json.key("size"); json.integer((long long)size);
      json.key("count"); json.integer((long long)count);
      json.key("type"); json.string(typeName(o.type));
      json.key("redop"); json.string("vote");
      json.key("root"); json.string("    -1");  // nccl-tests writes the %6i column
      auto placement = [&](const char* name, const Timing& t, double alg, long long wrong) {
        json.key(name); json.beginObject();
        json.key("time"); json.number(t.us);
        json.key("alg_bw"); json.number(alg);
        json.key("bus_bw"); json.number(alg * factor);
        json.key("nwrong");
        if (o.check) json.number((double)wrong);
        else json.null();
        json.endObject();
        if (!o.perIter) return;
        json.key(name == std::string("out_of_place") ? "out_of_place_per_iter" : "in_place_per_iter");
        json.beginObject();
        json.key("skipped_iterations"); json.integer(o.perIterSkip);
        json.key("min_us"); json.number(t.stats.min);
        json.key("max_us"); json.number(t.stats.max);
        json.key("avg_us"); json.number(t.stats.avg);
        json.key("p50_us"); json.number(t.stats.p50);
        json.key("p95_us"); json.number(t.stats.p95);
        json.key("p99_us"); json.number(t.stats.p99);
        json.key("stdev_us"); json.number(t.stats.stdev);
        json.key("cv_pct"); json.number(t.stats.cvPct);
        json.key("times_us"); json.beginList();
        for (double x : t.iterUs) json.number(x);
        json.endList();
        if (nranks_ > 1) {
          json.key("per_process_max_times_us"); json.beginList();
          for (int r = 0; r < nranks_; ++r) {
            json.beginList();
            for (int i = 0; i < o.iters; ++i) json.number(t.rankUs[(size_t)r * o.iters + i]);
            json.endList();
          }
          json.endList();
        }
        json.endObject();
      };
      placement("out_of_place", tOut, algOut, wrongOut);
      placement("in_place", tIn, algIn, wrongIn);
      if (!o.baselines.empty()) {
        json.key("baselines"); json.beginObject();
        for (size_t i = 0; i < o.baselines.size(); ++i) {
          json.key(o.baselines[i].c_str()); json.beginObject();
          json.key(o.perIter ? "p50_us" : "time"); json.number(row.times[i]);
          json.key("speedup"); json.number(row.times[i] / row.vote);
          json.endObject();
        }
        json.endObject();
      }
      if (o.linkBitsPerSec > 0) {
        json.key("bound"); json.beginObject();
        json.key("w_us"); json.number(row.w);
        json.key("m_us"); json.number(row.m);
        json.key("vote_over_max_w_m"); json.number(row.vote / std::max(row.w, row.m));
        json.endObject();
      }
      json.key("actual_iterations"); json.integer(o.iters);
      json.key("experiment_name"); json.string("sv_allreduce_perf");
      json.endObject();
    }
    if (o.stepFactor > 1) {
      if (bytes == 0) bytes = 1;
      bytes *= o.stepFactor;
    } else {
      bytes += o.stepBytes ? o.stepBytes : 1;
    }
  }
  if (json.active()) json.endList();  // results
  const double avgBusBw = bwCount ? bwSum / bwCount : 0.0;
  PRINT("# %-20s : %lld %s\n", "Out of bounds values", totalWrong, totalWrong ? "FAILED" : "OK");
  PRINT("# %-20s : %g \n", "Avg bus bandwidth", avgBusBw);
  PRINT("#\n# Collective test concluded: sv_allreduce_perf\n");
  if (!baselineRows.empty()) {
    // '#' lines, so that nccl-tests parsers skip them; rows start with "#+".
    const char* what = o.perIter ? "median iteration (p50 of the max over ranks)" : "time column's statistic (-a)";
    PRINT("#\n# Baselines in the same run, same ranks and sizes: the %s in us; speedup = its time / the vote's\n"
          "# out-of-place time%s\n", what,
          o.linkBitsPerSec > 0 ? "; W = 2(P-1)/P n/8 bytes at the --link rate, M = every rank memcpy'ing the buffer" : "");
    char cell[96];
    snprintf(cell, sizeof(cell), "# %12s  %13s", "size(B)", "vote(us)");
    std::string head = cell;
    for (auto& b : o.baselines) {
      snprintf(cell, sizeof(cell), "  %13s  %7s", (b + "(us)").c_str(), "speedup");
      head += cell;
    }
    if (o.linkBitsPerSec > 0) head += "     W(us)     M(us)  vs max(W,M)";
    PRINT("%s\n", head.c_str());
    for (auto& r : baselineRows) {
      snprintf(cell, sizeof(cell), "#+ %11zu  %13s", r.size, fmt(r.vote, 13).c_str());
      std::string line = cell;
      for (double t : r.times) {
        snprintf(cell, sizeof(cell), "  %13s  %7s", fmt(t, 13).c_str(), fmt(t / r.vote, 7).c_str());
        line += cell;
      }
      if (o.linkBitsPerSec > 0) {
        snprintf(cell, sizeof(cell), "  %8s  %8s  %11s", fmt(r.w, 8).c_str(), fmt(r.m, 8).c_str(),
                 fmt(r.vote / std::max(r.w, r.m), 11).c_str());
        line += cell;
      }
      PRINT("%s\n", line.c_str());
    }
  }
  if (json.active()) {
    json.key("out_of_bounds"); json.beginObject();
    json.key("count"); json.integer(totalWrong);
    json.key("okay"); json.boolean(totalWrong == 0);
    json.endObject();
    json.key("average_bus_bandwidth"); json.beginObject();
    json.key("bandwidth"); json.number(avgBusBw);
    json.key("okay"); json.string("unchecked");
    json.endObject();
    json.key("end_time"); json.string(now());
    json.endObject();
    closeJson();
  }
  if (flatComm) svCommDestroy(flatComm);
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
