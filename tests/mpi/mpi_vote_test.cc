// SPDX-License-Identifier: MIT
// Multi-rank tests of the sign-majority all-reduce, run under mpirun with any
// number of ranks (ctest runs it for P = 1..8).
//
// Every rank regenerates EVERY rank's input from a seeded PRNG (the seed
// depends on the case and on the world rank), counts the +1 and -1 votes per
// element with plain integers (the oracle never calls the library), and
// checks its own output bit for bit. Then all ranks compare a hash of their
// output (every rank must end with bitwise-identical output) and the result
// code. Guard bytes before and after every buffer must survive every call.
//
// Groups of cases:
//   matrix     every tie x zero x NaN policy x algorithm, every datatype,
//              counts 0..65537, in place and out of place, several scales and
//              chunk sizes, inputs full of +-0, +-NaN, +-inf and denormals
//   big        a few calls with millions of elements (fewer with more ranks)
//   random     SV_TIE_RANDOM: the same input through all-to-all, all-gather
//              and auto gives the same output; ties are split both ways
//   nan-error  SV_NAN_ERROR: every rank fails alike, names the culprit ranks,
//              leaves recvbuff untouched; without NaNs it succeeds
//   packed     svAllReduceSignPacked against the same oracle
//   stats      svCommGetStats, bytes sent per algorithm, getters
//   split      svCommInitMPI on the halves of an MPI_Comm_split, config NULL
//   config     bad configs and environment variables
//   args       bad arguments: the right error, nothing written, comm usable
//
// Usage: mpi_vote_test [--seed=N] [--big=N] [--only=GROUP[,GROUP...]] [-v]
#include <mpi.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmath>
#include <string>
#include <vector>

#include "signvote.h"
#include "signvote_mpi.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "this test stores element bit patterns little-endian"
#endif

namespace {

// ---- Reporting ---------------------------------------------------------------
int gWorldRank = 0, gWorldSize = 1;
long gFailures = 0;
long gChecks = 0;
long gCalls = 0;
bool gVerbose = false;
// Emulated nodes (tests/mpi/emulated_nodes.sh): the node of each world rank,
// empty when every rank is on one node. With SV_HIERARCHY=on every call
// with data on a communicator spanning 2+ nodes must run the hierarchy.
std::vector<int> gNodeOfWorld;
bool gHierarchyOn = false;
uint64_t gSeed = 20240611;
char gCase[640] = "startup";
const unsigned kWatchdogSeconds = 90;

void onAlarm(int) {
  char buf[800];
  int len = snprintf(buf, sizeof buf, "rank %d: WATCHDOG: no progress for %u s in case [%s]; aborting\n", gWorldRank,
                     kWatchdogSeconds, gCase);
  if (len > 0) {
    ssize_t ignored = write(2, buf, static_cast<size_t>(len) < sizeof buf ? len : sizeof buf - 1);
    (void)ignored;
  }
  _exit(3);
}

// Names the case now running (for failures and the watchdog) and re-arms
// the watchdog: a hang in any one case aborts with its name.
__attribute__((format(printf, 1, 2))) void setCase(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(gCase, sizeof gCase, fmt, ap);
  va_end(ap);
  alarm(kWatchdogSeconds);
  if (gVerbose && gWorldRank == 0) fprintf(stderr, "case: %s\n", gCase);
}

__attribute__((format(printf, 2, 3))) void failAt(int line, const char* fmt, ...) {
  ++gFailures;
  if (gFailures > 40) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "FAIL rank %d (line %d) case [%s] seed %llu: %s\n", gWorldRank, line, gCase,
          (unsigned long long)gSeed, msg);
  if (gFailures == 40) fprintf(stderr, "rank %d: further failures not printed\n", gWorldRank);
}

#define CHECK(cond, ...)                                  \
  do {                                                    \
    ++gChecks;                                            \
    if (!(cond)) failAt(__LINE__, __VA_ARGS__);           \
  } while (0)

#define CHECK_RC(rc, want, what)                                                                 \
  CHECK((rc) == (want), "%s returned %d (%s), expected %d (%s); last error \"%s\"", what, (int)(rc), \
        svGetErrorString(rc), (int)(want), svGetErrorString(want), svGetLastError(nullptr))

// ---- Deterministic inputs ----------------------------------------------------
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {  // splitmix64
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};
uint64_t hashMix(uint64_t a, uint64_t b) {
  Rng r(a ^ (b * 0xd6e8feb86659fd93ull) ^ 0x2545f4914f6cdd1dull);
  r.next();
  return r.next();
}

struct TypeDesc {
  svDataType_t dt;
  const char* name;
  int bytes;
  int expBits;
  int manBits;
  uint64_t signBit() const { return 1ull << (bytes * 8 - 1); }
  uint64_t infBits() const { return ((1ull << expBits) - 1) << manBits; }
  uint64_t manMask() const { return (1ull << manBits) - 1; }
};
const TypeDesc kTypes[] = {
    {svFloat16, "half", 2, 5, 10},
    {svBfloat16, "bfloat16", 2, 8, 7},
    {svFloat32, "float", 4, 8, 23},
    {svFloat64, "double", 8, 11, 52},
};
const TypeDesc& typeOf(svDataType_t dt) {
  for (const TypeDesc& t : kTypes)
    if (t.dt == dt) return t;
  abort();
}

uint64_t loadBits(const unsigned char* p, const TypeDesc& t, size_t i) {
  uint64_t v = 0;
  memcpy(&v, p + i * t.bytes, t.bytes);
  return v;
}
void storeBits(unsigned char* p, const TypeDesc& t, size_t i, uint64_t v) { memcpy(p + i * t.bytes, &v, t.bytes); }

// An element's class from its IEEE fields: the oracle's only notion of sign.
enum Cls { kPos, kNeg, kZero, kNaN };
Cls classify(uint64_t b, const TypeDesc& t) {
  const uint64_t mag = b & ~t.signBit();
  if (mag > t.infBits()) return kNaN;
  if (mag == 0) return kZero;
  return (b & t.signBit()) ? kNeg : kPos;
}

// Input mixes: probabilities out of 256 for each kind; the rest are normal
// numbers. negEven/negOdd: probability (of 256) of the sign bit for ranks of
// even / odd world rank (lopsided majorities).
struct Mix {
  const char* name;
  unsigned zero, inf, denorm, nan;
  unsigned negEven, negOdd;
};
const Mix kMixes[] = {
    {"ordinary", 6, 3, 6, 3, 128, 128},
    {"specials", 40, 30, 40, 30, 128, 128},
    {"zeros", 120, 0, 8, 8, 128, 128},
    {"lopsided", 10, 10, 10, 10, 56, 180},
};
const int kNumMixes = sizeof(kMixes) / sizeof(kMixes[0]);

uint64_t genElem(Rng& g, const TypeDesc& t, const Mix& m, unsigned negProb, bool allowNan) {
  const uint64_t r = g.next(), r2 = g.next();
  unsigned cat = static_cast<unsigned>(r & 255);
  const bool neg = ((r >> 8) & 255) < negProb;
  const uint64_t expMax = (1ull << t.expBits) - 1;
  uint64_t e, man = r2 & t.manMask();
  const unsigned nanP = allowNan ? m.nan : 0;
  if (cat < m.zero) {
    e = 0;
    man = 0;
  } else if ((cat -= m.zero) < m.inf) {
    e = expMax;
    man = 0;
  } else if ((cat -= m.inf) < m.denorm) {
    e = 0;
    if (man == 0) man = 1;
  } else if ((cat -= m.denorm) < nanP) {  // any payload: quiet and signalling
    e = expMax;
    if (man == 0) man = 1;
  } else {
    e = 1 + (r >> 16) % (expMax - 1);
  }
  return (neg ? t.signBit() : 0) | (e << t.manBits) | man;
}

// ---- Expected output values ----------------------------------------------------
// Value of a non-negative bit pattern up to +inf; +inf stands for 2^(emax+1),
// the value it takes in round-to-nearest.
double valueOf(const TypeDesc& t, uint64_t p) {
  const int bias = (1 << (t.expBits - 1)) - 1;
  const uint64_t e = p >> t.manBits, m = p & t.manMask();
  if (e == 0) return std::ldexp(static_cast<double>(m), 1 - bias - t.manBits);
  return std::ldexp(static_cast<double>(m | (1ull << t.manBits)), static_cast<int>(e) - bias - t.manBits);
}

// Correctly rounded (nearest, ties to even) pattern of d > 0 in a narrow
// format, by bisection over its ordered patterns.
uint64_t roundNarrow(const TypeDesc& t, double d) {
  const uint64_t inf = t.infBits();
  if (valueOf(t, inf) <= d) return inf;
  uint64_t lo = 0, hi = inf;  // v(lo) <= d < v(hi)
  while (hi - lo > 1) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (valueOf(t, mid) <= d) lo = mid;
    else hi = mid;
  }
  const double vl = valueOf(t, lo), vh = valueOf(t, hi);
  if (vl == d) return lo;
  const double m = (vl + vh) / 2;  // exact: both have few significand bits
  if (d < m) return lo;
  if (d > m) return hi;
  return (lo & 1) ? hi : lo;
}

// Bit pattern of +scale in type t (scale > 0).
uint64_t scaleBits(const TypeDesc& t, double scale) {
  switch (t.dt) {
    case svFloat64: {
      uint64_t u;
      memcpy(&u, &scale, 8);
      return u;
    }
    case svFloat32: {
      const float f = static_cast<float>(scale);
      uint32_t u;
      memcpy(&u, &f, 4);
      return u;
    }
    default: return roundNarrow(t, scale);
  }
}

// ---- Policies and communicators ---------------------------------------------
struct Policy {
  int tie = SV_TIE_POSITIVE;
  int zero = SV_ZERO_POSITIVE;
  int nan = SV_NAN_AS_ZERO;
  int algo = SV_ALGO_AUTO;
  long long chunk = 0;        // 0: leave unset (library default)
  double scale = 1.0;
  long long seed = 0;
  long long agThreshold = -1; // -1: leave unset
};

const char* tieName(int v) { return v == SV_TIE_POSITIVE ? "positive" : v == SV_TIE_ZERO ? "zero" : "random"; }
const char* zeroName(int v) { return v == SV_ZERO_POSITIVE ? "positive" : "abstain"; }
const char* nanName(int v) { return v == SV_NAN_AS_ZERO ? "as-zero" : "error"; }
const char* algoName(int v) {
  return v == SV_ALGO_AUTO ? "auto" : v == SV_ALGO_ALLTOALL ? "alltoall" : v == SV_ALGO_ALLGATHER ? "allgather" : "?";
}

std::string describe(const Policy& p) {
  char b[200];
  snprintf(b, sizeof b, "tie=%s zero=%s nan=%s algo=%s chunk=%lld scale=%g seed=%lld", tieName(p.tie),
           zeroName(p.zero), nanName(p.nan), algoName(p.algo), p.chunk, p.scale, p.seed);
  return b;
}

svConfig_t makeConfig(const Policy& p) {
  svConfig_t c = SV_CONFIG_INITIALIZER;
  c.tiePolicy = p.tie;
  c.zeroPolicy = p.zero;
  c.nanPolicy = p.nan;
  c.algorithm = p.algo;
  c.scale = p.scale;
  c.seed = p.seed;
  if (p.chunk > 0) c.chunkBytes = p.chunk;
  if (p.agThreshold >= 0) c.allGatherThreshold = p.agThreshold;
  return c;
}

// The ranks of a communicator: world rank of each member, and mine.
struct Group {
  MPI_Comm mpi = MPI_COMM_WORLD;
  std::vector<int> world;  // world rank of member j
  int me = 0;
  int size() const { return static_cast<int>(world.size()); }
};

// Whether a call of n elements on g must take the hierarchical vote.
bool expectHierarchy(const Group& g, size_t n) {
  if (!gHierarchyOn || n == 0 || gNodeOfWorld.empty()) return false;
  for (int w : g.world)
    if (gNodeOfWorld[w] != gNodeOfWorld[g.world[0]]) return true;
  return false;
}

Group worldGroup() {
  Group g;
  g.mpi = MPI_COMM_WORLD;
  for (int r = 0; r < gWorldSize; ++r) g.world.push_back(r);
  g.me = gWorldRank;
  return g;
}

struct Comm {
  svComm_t h = nullptr;
  Policy pol;
  Group grp;
  bool ok() const { return h != nullptr; }
};

// Collective over g.mpi. Returns a comm with h == nullptr (and a recorded
// failure) when init fails.
Comm makeComm(const Policy& p, const Group& g, bool nullConfig = false) {
  Comm c;
  c.pol = p;
  c.grp = g;
  svConfig_t cfg = makeConfig(p);
  svResult_t rc = svCommInitMPI(&c.h, g.mpi, nullConfig ? nullptr : &cfg);
  CHECK_RC(rc, svSuccess, "svCommInitMPI");
  if (rc != svSuccess) c.h = nullptr;
  return c;
}

void destroyComm(Comm& c) {
  if (!c.h) return;
  svResult_t rc = svCommDestroy(c.h);
  CHECK_RC(rc, svSuccess, "svCommDestroy");
  c.h = nullptr;
}

// ---- Guarded buffers ---------------------------------------------------------
// [64 guard bytes + offset][data][64 guard bytes], 8-aligned storage: the
// data pointer is element-aligned but, with an offset, not 16-aligned.
struct GuardedBuf {
  static constexpr size_t kGuard = 64;
  static constexpr unsigned char kFront = 0xC3, kBack = 0x3C;
  std::vector<uint64_t> store;
  size_t front = 0, bytes = 0;

  void init(size_t dataBytes, size_t offsetBytes, unsigned char fill) {
    front = kGuard + offsetBytes;
    bytes = dataBytes;
    store.assign((front + bytes + kGuard + 7) / 8, 0);
    unsigned char* b = base();
    memset(b, kFront, front);
    memset(b + front, fill, bytes);
    memset(b + front + bytes, kBack, kGuard);
  }
  unsigned char* base() { return reinterpret_cast<unsigned char*>(store.data()); }
  unsigned char* data() { return base() + front; }
  // Index of the first damaged guard byte (negative: before), or 0 if intact.
  bool guardsOk(long* where) {
    const unsigned char* b = base();
    for (size_t i = 0; i < front; ++i)
      if (b[i] != kFront) {
        *where = static_cast<long>(i) - static_cast<long>(front);
        return false;
      }
    for (size_t i = 0; i < kGuard; ++i)
      if (b[front + bytes + i] != kBack) {
        *where = static_cast<long>(bytes + i);
        return false;
      }
    return true;
  }
};

uint64_t fnv1a(const unsigned char* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

// All members agree on rc, and (when asked) on the output hash. Also the
// case's synchronisation point.
void checkAgreement(const Group& g, svResult_t rc, uint64_t hash, bool compareHash, const char* what) {
  uint64_t mine[2] = {static_cast<uint64_t>(rc), hash};
  std::vector<uint64_t> all(2 * g.size());
  MPI_Allgather(mine, 2, MPI_UINT64_T, all.data(), 2, MPI_UINT64_T, g.mpi);
  for (int j = 0; j < g.size(); ++j) {
    CHECK(all[2 * j] == mine[0], "%s: member %d (world rank %d) returned %d, this rank %d", what, j, g.world[j],
          (int)all[2 * j], (int)rc);
    if (compareHash && all[2 * j] == mine[0])
      CHECK(all[2 * j + 1] == hash, "%s: output differs from member %d (world rank %d): hash %016llx vs mine %016llx",
            what, j, g.world[j], (unsigned long long)all[2 * j + 1], (unsigned long long)hash);
  }
}

// Does the line name rank r: "rank" (any form) followed later by r as a
// whole number?
bool namesRank(const char* line, int r) {
  const char* p = strstr(line, "rank");
  if (!p) return false;
  char num[16];
  snprintf(num, sizeof num, "%d", r);
  const size_t len = strlen(num);
  for (const char* q = strstr(p, num); q; q = strstr(q + 1, num)) {
    const bool before = q > line && q[-1] >= '0' && q[-1] <= '9';
    const bool after = q[len] >= '0' && q[len] <= '9';
    if (!before && !after) return true;
  }
  return false;
}

// ---- The typed vote ---------------------------------------------------------------
struct CaseSpec {
  const TypeDesc* t = &kTypes[2];
  size_t n = 0;
  bool inPlace = false;
  int mix = 0;
  uint32_t nanMembers = ~0u;  // members whose input may hold NaNs (bit j)
  bool plantNan = false;      // those members get at least one NaN
  size_t offsetElems = 0;
  bool nullPtrs = false;      // count 0 with NULL pointers
  uint64_t seed = 0;
};

struct CaseResult {
  svResult_t rc = svSuccess;
  std::vector<unsigned char> out;  // filled when asked
  size_t ties = 0;
};

uint64_t caseSeed(uint64_t serial) { return hashMix(gSeed, serial); }

// Input of world rank wr for a case, element by element into sink(i, bits).
template <typename Sink>
void genInput(const CaseSpec& c, int wr, bool allowNan, Sink&& sink) {
  const TypeDesc& t = *c.t;
  const Mix& m = kMixes[c.mix];
  Rng g(hashMix(c.seed, static_cast<uint64_t>(wr) + 1));
  const unsigned negProb = (wr % 2) ? m.negOdd : m.negEven;
  const size_t plantAt = (c.plantNan && allowNan && c.n > 0) ? (c.seed >> 7) % c.n : SIZE_MAX;
  for (size_t i = 0; i < c.n; ++i) {
    uint64_t b = genElem(g, t, m, negProb, allowNan);
    if (i == plantAt) b = (((c.seed >> 3) & 1) ? t.signBit() : 0) | t.infBits() | (1ull << (t.manBits - 1));
    sink(i, b);
  }
}

CaseResult runCase(Comm& comm, const CaseSpec& c, bool keepOutput = false) {
  CaseResult res;
  const TypeDesc& t = *c.t;
  const Policy& pol = comm.pol;
  const Group& g = comm.grp;
  const int P = g.size();
  const size_t n = c.n;
  setCase("P=%d %s n=%zu %s mix=%s off=%zu nanMembers=%x%s | %s", P, t.name, n, c.inPlace ? "in-place" : "out-of-place",
          kMixes[c.mix].name, c.offsetElems, c.nanMembers & ((P < 32) ? ((1u << P) - 1) : ~0u),
          c.plantNan ? "(planted)" : "", describe(pol).c_str());
  if (!comm.ok()) {
    CHECK(false, "no communicator");
    return res;
  }
  if (P > 255) {
    CHECK(false, "the oracle counts in uint8_t: at most 255 ranks");
    return res;
  }

  // Oracle: per-element +1 / -1 vote counts over all members.
  std::vector<uint8_t> pos(n, 0), neg(n, 0);
  std::vector<uint64_t> nanOf(P, 0);
  GuardedBuf send, recv;
  const size_t dataBytes = n * t.bytes;
  send.init(dataBytes, c.offsetElems * t.bytes, 0x00);
  recv.init(dataBytes, c.offsetElems * t.bytes, 0xA5);
  for (int j = 0; j < P; ++j) {
    const bool allowNan = (c.nanMembers >> (j % 32)) & 1u;
    const bool mine = j == g.me;
    unsigned char* dst = c.inPlace ? recv.data() : send.data();
    uint64_t nans = 0;
    genInput(c, g.world[j], allowNan, [&](size_t i, uint64_t b) {
      if (mine) storeBits(dst, t, i, b);
      switch (classify(b, t)) {
        case kPos: ++pos[i]; break;
        case kNeg: ++neg[i]; break;
        case kNaN: ++nans;  // as a zero would
          /* fall through */
        case kZero:
          if (pol.zero == SV_ZERO_POSITIVE) ++pos[i];
          break;
      }
    });
    nanOf[j] = nans;
  }
  uint64_t totalNans = 0;
  for (int j = 0; j < P; ++j) totalNans += nanOf[j];
  const bool expectError = pol.nan == SV_NAN_ERROR && totalNans > 0;

  // Snapshots to prove "untouched".
  const std::vector<uint64_t> sendBefore = send.store;
  const std::vector<uint64_t> recvBefore = recv.store;

  svCommStats_t st0{}, st1{};
  CHECK_RC(svCommGetStats(comm.h, &st0), svSuccess, "svCommGetStats");
  const void* sp = c.inPlace ? recv.data() : send.data();
  void* rp = recv.data();
  if (c.nullPtrs) sp = rp = nullptr;
  ++gCalls;
  const svResult_t rc = svAllReduceSign(sp, rp, n, t.dt, comm.h, nullptr);
  res.rc = rc;
  CHECK_RC(svCommGetStats(comm.h, &st1), svSuccess, "svCommGetStats");

  long gw = 0;
  CHECK(send.guardsOk(&gw), "sendbuff guard byte at offset %ld was overwritten", gw);
  CHECK(recv.guardsOk(&gw), "recvbuff guard byte at offset %ld was overwritten", gw);
  if (!c.inPlace) CHECK(send.store == sendBefore, "sendbuff was modified by an out-of-place call");
  CHECK(st1.lastNanCount == nanOf[g.me], "stats.lastNanCount %llu, this rank's input has %llu NaNs",
        st1.lastNanCount, (unsigned long long)nanOf[g.me]);

  if (expectError) {
    CHECK(rc == svInvalidArgument, "SV_NAN_ERROR with %llu NaN(s) returned %d (%s), expected svInvalidArgument",
          (unsigned long long)totalNans, (int)rc, svGetErrorString(rc));
    CHECK(recv.store == recvBefore, "SV_NAN_ERROR: recvbuff was written although the call failed");
    const char* le = svGetLastError(comm.h);
    for (int j = 0; j < P; ++j)
      if (nanOf[j]) CHECK(namesRank(le, j), "svGetLastError(comm) = \"%s\" does not name rank %d (%llu NaNs)", le, j,
                          (unsigned long long)nanOf[j]);
    CHECK(st1.totalNanCount == st0.totalNanCount + nanOf[g.me], "stats.totalNanCount %llu, expected %llu + %llu",
          st1.totalNanCount, st0.totalNanCount, (unsigned long long)nanOf[g.me]);
    checkAgreement(g, rc, 0, false, "nan-error");
    return res;
  }

  CHECK(rc == svSuccess, "svAllReduceSign returned %d (%s): \"%s\"", (int)rc, svGetErrorString(rc),
        svGetLastError(comm.h));
  if (rc != svSuccess) {
    checkAgreement(g, rc, 0, false, "failed call");
    return res;
  }
  // Stats of a successful call.
  CHECK(st1.calls == st0.calls + 1, "stats.calls went from %llu to %llu", st0.calls, st1.calls);
  CHECK(st1.bytesSent == st0.bytesSent + st1.lastBytesSent, "stats.bytesSent %llu != %llu + lastBytesSent %llu",
        st1.bytesSent, st0.bytesSent, st1.lastBytesSent);
  CHECK(st1.totalNanCount == st0.totalNanCount + nanOf[g.me], "stats.totalNanCount %llu, expected %llu + %llu",
        st1.totalNanCount, st0.totalNanCount, (unsigned long long)nanOf[g.me]);
  if (expectHierarchy(g, n))
    CHECK(st1.lastAlgorithm == SV_ALGO_HIERARCHICAL, "stats.lastAlgorithm %d with SV_HIERARCHY=on on %d ranks of 2+ nodes",
          st1.lastAlgorithm, P);
  else if (pol.algo != SV_ALGO_AUTO)
    CHECK(st1.lastAlgorithm == pol.algo, "stats.lastAlgorithm %d, forced %d", st1.lastAlgorithm, pol.algo);
  else
    CHECK(st1.lastAlgorithm == SV_ALGO_ALLTOALL || st1.lastAlgorithm == SV_ALGO_ALLGATHER ||
              (st1.lastAlgorithm == SV_ALGO_HIERARCHICAL && !gNodeOfWorld.empty()),
          "stats.lastAlgorithm %d after auto", st1.lastAlgorithm);
  if (n == 0 || P == 1) CHECK(st1.lastBytesSent == 0, "stats.lastBytesSent %llu for n=%zu P=%d", st1.lastBytesSent, n, P);

  // Element by element against the oracle.
  const uint64_t plus = scaleBits(t, pol.scale), minus = plus ^ t.signBit();
  const unsigned char* out = recv.data();
  size_t bad = 0, firstBad = SIZE_MAX, tiePlus = 0, tieMinus = 0;
  uint64_t firstGot = 0, firstWant = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t got = loadBits(out, t, i);
    uint64_t want;
    bool ok;
    if (pos[i] > neg[i]) {
      want = plus;
      ok = got == want;
    } else if (neg[i] > pos[i]) {
      want = minus;
      ok = got == want;
    } else {
      ++res.ties;
      if (pol.tie == SV_TIE_POSITIVE) {
        want = plus;
        ok = got == want;
      } else if (pol.tie == SV_TIE_ZERO) {
        want = 0;
        ok = got == want;
      } else {
        want = plus;  // or minus
        ok = got == plus || got == minus;
        tiePlus += got == plus;
        tieMinus += got == minus;
      }
    }
    if (!ok) {
      if (bad == 0) {
        firstBad = i;
        firstGot = got;
        firstWant = want;
      }
      ++bad;
    }
  }
  if (bad) {
    uint64_t mineIn = loadBits(c.inPlace ? reinterpret_cast<const unsigned char*>(recvBefore.data()) + recv.front
                                         : send.data(),
                               t, firstBad);
    CHECK(false,
          "%zu of %zu elements wrong; first at [%zu]: got 0x%llx, expected 0x%llx%s (votes +1: %d, -1: %d of %d; "
          "this rank's input 0x%llx)",
          bad, n, firstBad, (unsigned long long)firstGot, (unsigned long long)firstWant,
          pol.tie == SV_TIE_RANDOM && pos[firstBad] == neg[firstBad] ? " or its negation" : "", pos[firstBad],
          neg[firstBad], P, (unsigned long long)mineIn);
  }
  if (pol.tie == SV_TIE_RANDOM && res.ties >= 128)
    CHECK(tiePlus > 0 && tieMinus > 0, "SV_TIE_RANDOM: %zu ties all resolved one way (+%zu / -%zu)", res.ties,
          tiePlus, tieMinus);
  const uint64_t h = fnv1a(out, dataBytes);
  checkAgreement(g, rc, h, true, "output");
  if (keepOutput) res.out.assign(out, out + dataBytes);
  return res;
}

// ---- Packed API --------------------------------------------------------------------
struct PackedResult {
  svResult_t rc = svSuccess;
  std::vector<uint32_t> out;
};

PackedResult runPackedCase(Comm& comm, size_t n, bool inPlace, size_t offsetWords, uint64_t seed,
                           svResult_t expectRc = svSuccess) {
  PackedResult res;
  const Policy& pol = comm.pol;
  const Group& g = comm.grp;
  const int P = g.size();
  setCase("packed P=%d n=%zu %s off=%zu expect=%d | %s", P, n, inPlace ? "in-place" : "out-of-place", offsetWords,
          (int)expectRc, describe(pol).c_str());
  if (!comm.ok()) {
    CHECK(false, "no communicator");
    return res;
  }
  const size_t words = (n + 31) / 32;
  std::vector<uint16_t> ones(n, 0);
  GuardedBuf send, recv;
  send.init(words * 4, offsetWords * 4, 0);
  recv.init(words * 4, offsetWords * 4, 0x5A);
  for (int j = 0; j < P; ++j) {
    Rng r(hashMix(seed, static_cast<uint64_t>(g.world[j]) + 101));
    std::vector<uint32_t> w(words);
    for (size_t k = 0; k < words; ++k) {
      // Vary the density so majorities are not all coin flips.
      const uint64_t a = r.next(), b = r.next();
      switch ((seed + k / 7) % 3) {
        case 0: w[k] = static_cast<uint32_t>(a); break;
        case 1: w[k] = static_cast<uint32_t>(a | b); break;
        default: w[k] = static_cast<uint32_t>(a & (b >> 32)); break;
      }
    }
    // w's unused high bits of the last word stay random: they must be ignored.
    for (size_t i = 0; i < n; ++i) ones[i] += (w[i / 32] >> (i % 32)) & 1u;
    if (j == g.me && words) memcpy(inPlace ? recv.data() : send.data(), w.data(), words * 4);
  }
  const std::vector<uint64_t> sendBefore = send.store, recvBefore = recv.store;
  svCommStats_t st0{}, st1{};
  svCommGetStats(comm.h, &st0);
  const uint32_t* sp = reinterpret_cast<const uint32_t*>(inPlace ? recv.data() : send.data());
  uint32_t* rp = reinterpret_cast<uint32_t*>(recv.data());
  ++gCalls;
  const svResult_t rc = svAllReduceSignPacked(sp, rp, n, comm.h, nullptr);
  res.rc = rc;
  svCommGetStats(comm.h, &st1);
  long gw = 0;
  CHECK(send.guardsOk(&gw), "sendbits guard byte at offset %ld was overwritten", gw);
  CHECK(recv.guardsOk(&gw), "recvbits guard byte at offset %ld was overwritten", gw);
  if (!inPlace) CHECK(send.store == sendBefore, "sendbits modified by an out-of-place call");
  if (expectRc != svSuccess) {
    CHECK(rc == expectRc, "svAllReduceSignPacked returned %d (%s), expected %d (%s)", (int)rc, svGetErrorString(rc),
          (int)expectRc, svGetErrorString(expectRc));
    CHECK(recv.store == recvBefore, "recvbits written by a failing call");
    CHECK(st1.calls == st0.calls, "a rejected call was counted in stats.calls (%llu -> %llu)", st0.calls, st1.calls);
    checkAgreement(g, rc, 0, false, "packed error");
    return res;
  }
  CHECK(rc == svSuccess, "svAllReduceSignPacked returned %d (%s): \"%s\"", (int)rc, svGetErrorString(rc),
        svGetLastError(comm.h));
  if (rc != svSuccess) {
    checkAgreement(g, rc, 0, false, "packed");
    return res;
  }
  CHECK(st1.calls == st0.calls + 1, "stats.calls went from %llu to %llu", st0.calls, st1.calls);
  const uint32_t* out = reinterpret_cast<const uint32_t*>(recv.data());
  size_t bad = 0, firstBad = 0, ties = 0, tieOnes = 0;
  for (size_t i = 0; i < n; ++i) {
    const unsigned got = (out[i / 32] >> (i % 32)) & 1u;
    const int plus = ones[i], minus = P - ones[i];
    bool ok;
    if (plus != minus) ok = got == (plus > minus ? 1u : 0u);
    else {
      ++ties;
      tieOnes += got;
      ok = pol.tie == SV_TIE_RANDOM || got == 1u;
    }
    if (!ok && bad++ == 0) firstBad = i;
  }
  if (bad)
    CHECK(false, "%zu of %zu bits wrong; first at bit %zu: got %u, +1 votes %d of %d", bad, n, firstBad,
          (out[firstBad / 32] >> (firstBad % 32)) & 1u, ones[firstBad], P);
  if (n % 32)
    CHECK((out[words - 1] >> (n % 32)) == 0, "unused high bits of the last output word are 0x%x, expected 0",
          out[words - 1] >> (n % 32));
  if (pol.tie == SV_TIE_RANDOM && ties >= 128)
    CHECK(tieOnes > 0 && tieOnes < ties, "SV_TIE_RANDOM: %zu ties all resolved one way (%zu ones)", ties, tieOnes);
  checkAgreement(g, rc, fnv1a(recv.data(), words * 4), true, "packed output");
  res.out.assign(out, out + words);
  return res;
}

// ---- Test groups --------------------------------------------------------------------
size_t bigCount(int P, size_t override) {
  if (override) return override;
  if (P <= 2) return 3000017;
  if (P <= 4) return 2000003;
  return 1000003;
}

uint64_t gSerial = 0;  // case counter: every rank runs the same cases in the same order

void testMatrix() {
  const Group world = worldGroup();
  const int P = world.size();
  const size_t kCounts[] = {0, 1, 31, 32, 33, 64, 65, 1000, 65537};
  const double kScales[] = {1.0, 0.25, 1e-3, 1.0 / 3.0, 1e-6, 70000.0, 3.0};
  const int kNumScales = sizeof(kScales) / sizeof(kScales[0]);
  int cfgIdx = 0;
  for (int tie : {SV_TIE_POSITIVE, SV_TIE_ZERO, SV_TIE_RANDOM})
    for (int zero : {SV_ZERO_POSITIVE, SV_ZERO_ABSTAIN})
      for (int nan : {SV_NAN_AS_ZERO, SV_NAN_ERROR})
        for (int algo : {SV_ALGO_ALLTOALL, SV_ALGO_ALLGATHER, SV_ALGO_AUTO}) {
          Policy p;
          p.tie = tie;
          p.zero = zero;
          p.nan = nan;
          p.algo = algo;
          // Small chunks (many pipeline chunks for the larger counts) on two
          // of every three communicators.
          p.chunk = (cfgIdx % 3 == 0) ? 0 : (cfgIdx % 3 == 1) ? 1024 : 4096;
          p.scale = kScales[cfgIdx % kNumScales];
          p.seed = 1000 + cfgIdx;
          ++cfgIdx;
          Comm comm = makeComm(p, world);
          if (!comm.ok()) continue;
          int k = 0;
          for (const TypeDesc& t : kTypes)
            for (size_t n : kCounts)
              for (bool inPlace : {false, true}) {
                CaseSpec c;
                c.t = &t;
                c.n = n;
                c.inPlace = inPlace;
                c.mix = (k + cfgIdx) % kNumMixes;
                c.offsetElems = static_cast<size_t>(k % 5);
                c.seed = caseSeed(++gSerial);
                c.nullPtrs = n == 0 && inPlace && (k % 4 == 1);
                if (nan == SV_NAN_ERROR) {
                  // Alternate: no NaN anywhere (must succeed) / NaN on one
                  // member / NaN on two members.
                  switch (k % 3) {
                    case 0: c.nanMembers = 0; break;
                    case 1: c.nanMembers = 1u << ((k / 3) % P); c.plantNan = true; break;
                    default:
                      c.nanMembers = (1u << ((k / 3) % P)) | (1u << ((k / 3 + 1 + P / 2) % P));
                      c.plantNan = true;
                  }
                }
                runCase(comm, c);
                ++k;
              }
          destroyComm(comm);
        }
}

void testBig(size_t bigOverride) {
  const Group world = worldGroup();
  const int P = world.size();
  const size_t N = bigCount(P, bigOverride);
  struct Big {
    svDataType_t dt;
    int tie, zero, nan, algo;
    long long chunk;
    double scale;
    bool inPlace;
    int mix;
    uint32_t nanMembers;
  };
  const Big kBig[] = {
      {svFloat32, SV_TIE_POSITIVE, SV_ZERO_POSITIVE, SV_NAN_AS_ZERO, SV_ALGO_ALLTOALL, 4096, 1e-3, false, 0, ~0u},
      {svFloat64, SV_TIE_ZERO, SV_ZERO_ABSTAIN, SV_NAN_AS_ZERO, SV_ALGO_ALLGATHER, 0, 0.25, true, 2, ~0u},
      {svFloat16, SV_TIE_RANDOM, SV_ZERO_POSITIVE, SV_NAN_AS_ZERO, SV_ALGO_AUTO, 1024, 0.25, false, 1, ~0u},
      {svBfloat16, SV_TIE_POSITIVE, SV_ZERO_ABSTAIN, SV_NAN_ERROR, SV_ALGO_ALLTOALL, 0, 1e-3, true, 3, 0u},
      {svBfloat16, SV_TIE_ZERO, SV_ZERO_POSITIVE, SV_NAN_ERROR, SV_ALGO_ALLTOALL, 4096, 1.0, false, 0,
       1u << (P - 1)},
      {svFloat32, SV_TIE_RANDOM, SV_ZERO_ABSTAIN, SV_NAN_AS_ZERO, SV_ALGO_ALLTOALL, 1024, 3.0, true, 2, ~0u},
      {svFloat16, SV_TIE_ZERO, SV_ZERO_POSITIVE, SV_NAN_AS_ZERO, SV_ALGO_ALLTOALL, 0, 1.0 / 3.0, true, 1, ~0u},
  };
  int k = 0;
  for (const Big& b : kBig) {
    Policy p;
    p.tie = b.tie;
    p.zero = b.zero;
    p.nan = b.nan;
    p.algo = b.algo;
    p.chunk = b.chunk;
    p.scale = b.scale;
    p.seed = 77 + k;
    Comm comm = makeComm(p, world);
    CaseSpec c;
    c.t = &typeOf(b.dt);
    c.n = N - (k % 3);  // different tails
    c.inPlace = b.inPlace;
    c.mix = b.mix;
    c.nanMembers = b.nanMembers;
    c.plantNan = b.nan == SV_NAN_ERROR && b.nanMembers != 0;
    c.offsetElems = k % 3;
    c.seed = caseSeed(++gSerial);
    runCase(comm, c);
    destroyComm(comm);
    ++k;
  }
}

// SV_TIE_RANDOM: the same input, at the same call number, through every
// algorithm gives the same output.
void testRandomTies() {
  const Group world = worldGroup();
  const size_t kCounts[] = {1, 33, 1000, 65537, 200003};
  for (int zero : {SV_ZERO_POSITIVE, SV_ZERO_ABSTAIN})
    for (long long chunk : {0LL, 1024LL}) {
      Policy p;
      p.tie = SV_TIE_RANDOM;
      p.zero = zero;
      p.seed = 0x5151 + chunk;
      p.chunk = chunk;
      p.scale = 0.5;
      Comm comms[3];
      const int algos[3] = {SV_ALGO_ALLTOALL, SV_ALGO_ALLGATHER, SV_ALGO_AUTO};
      for (int a = 0; a < 3; ++a) {
        p.algo = algos[a];
        comms[a] = makeComm(p, world);
      }
      int k = 0;
      for (const TypeDesc& t : kTypes)
        for (size_t n : kCounts) {
          if (n > 100000 && (t.dt == svFloat64 || t.dt == svBfloat16)) continue;
          CaseSpec c;
          c.t = &t;
          c.n = n;
          c.inPlace = k % 2;
          c.mix = zero == SV_ZERO_ABSTAIN ? 2 : 0;
          c.seed = caseSeed(++gSerial);
          c.offsetElems = k % 3;
          CaseResult r[3];
          for (int a = 0; a < 3; ++a) r[a] = runCase(comms[a], c, true);
          setCase("random-ties cross-algorithm P=%d %s n=%zu zero=%s chunk=%lld", world.size(), t.name, n,
                  zeroName(zero), chunk);
          for (int a = 1; a < 3; ++a) {
            if (r[0].rc != svSuccess || r[a].rc != svSuccess) continue;
            size_t first = SIZE_MAX;
            for (size_t i = 0; i < r[0].out.size() && first == SIZE_MAX; ++i)
              if (r[0].out[i] != r[a].out[i]) first = i / t.bytes;
            CHECK(first == SIZE_MAX, "%s and %s disagree (same input, seed and call number); first at element %zu",
                  algoName(algos[0]), algoName(algos[a]), first);
          }
          ++k;
        }
      // Packed: same again.
      if (zero == SV_ZERO_POSITIVE) {
        for (size_t n : {size_t(95), size_t(70001)}) {
          const uint64_t s = caseSeed(++gSerial);
          PackedResult r[3];
          for (int a = 0; a < 3; ++a) r[a] = runPackedCase(comms[a], n, false, 1, s);
          for (int a = 1; a < 3; ++a)
            CHECK(r[0].out == r[a].out, "packed: %s and %s disagree on random ties", algoName(algos[0]),
                  algoName(algos[a]));
        }
      }
      for (Comm& cm : comms) destroyComm(cm);
    }
}

void testPacked(size_t bigOverride) {
  const Group world = worldGroup();
  const int P = world.size();
  const size_t kCounts[] = {0, 1, 31, 32, 33, 63, 64, 65, 1000, 65537};
  int idx = 0;
  for (int tie : {SV_TIE_POSITIVE, SV_TIE_RANDOM})
    for (int algo : {SV_ALGO_ALLTOALL, SV_ALGO_ALLGATHER, SV_ALGO_AUTO}) {
      Policy p;
      p.tie = tie;
      p.algo = algo;
      p.chunk = idx % 2 ? 1024 : 0;
      p.nan = idx % 3 == 1 ? SV_NAN_ERROR : SV_NAN_AS_ZERO;  // no NaNs in bits: irrelevant
      p.seed = 9 + idx;
      ++idx;
      Comm comm = makeComm(p, world);
      int k = 0;
      for (size_t n : kCounts)
        for (bool inPlace : {false, true}) runPackedCase(comm, n, inPlace, (k++) % 3, caseSeed(++gSerial));
      runPackedCase(comm, bigCount(P, bigOverride) * 2 + 17, idx % 2, 0, caseSeed(++gSerial));
      destroyComm(comm);
    }
  // Two-bit policies are refused by the one-bit API.
  {
    Policy p;
    p.zero = SV_ZERO_ABSTAIN;
    Comm comm = makeComm(p, world);
    runPackedCase(comm, 100, false, 0, caseSeed(++gSerial), svInvalidUsage);
    destroyComm(comm);
  }
  {
    Policy p;
    p.tie = SV_TIE_ZERO;
    Comm comm = makeComm(p, world);
    if (P % 2 == 0) {
      runPackedCase(comm, 100, true, 0, caseSeed(++gSerial), svInvalidUsage);
    } else {
      // The header says SV_TIE_ZERO gives svInvalidUsage here; with an odd
      // rank count no tie can occur, and the library accepts the call. Either
      // is tolerated (reported in the test log), the vote must then be right.
      setCase("packed tie=zero P=%d (odd)", P);
      const size_t words = 4;
      std::vector<uint32_t> in(words, 0xF0F0F0F0u ^ static_cast<uint32_t>(gWorldRank)), out(words, 0xdeadbeefu);
      const svResult_t rc = svAllReduceSignPacked(in.data(), out.data(), 128, comm.h, nullptr);
      CHECK(rc == svSuccess || rc == svInvalidUsage, "packed SV_TIE_ZERO with odd P returned %d", (int)rc);
      if (rc == svInvalidUsage) CHECK(out[0] == 0xdeadbeefu, "recvbits written by a failing call");
      checkAgreement(world, rc, rc == svSuccess ? fnv1a(reinterpret_cast<unsigned char*>(out.data()), 16) : 0,
                     rc == svSuccess, "packed tie=zero odd P");
    }
    destroyComm(comm);
  }
}

void testStats(size_t bigOverride) {
  const Group world = worldGroup();
  const int P = world.size();
  setCase("stats getters P=%d", P);
  Policy pa, pg;
  pa.algo = SV_ALGO_ALLTOALL;
  pg.algo = SV_ALGO_ALLGATHER;
  Comm ca = makeComm(pa, world), cg = makeComm(pg, world);
  if (!ca.ok() || !cg.ok()) return;
  int v = -7;
  CHECK_RC(svCommCount(ca.h, &v), svSuccess, "svCommCount");
  CHECK(v == P, "svCommCount = %d, expected %d", v, P);
  CHECK_RC(svCommUserRank(ca.h, &v), svSuccess, "svCommUserRank");
  CHECK(v == gWorldRank, "svCommUserRank = %d, expected %d", v, gWorldRank);
  v = 12345;
  CHECK_RC(svCommCuDevice(ca.h, &v), svSuccess, "svCommCuDevice");
  CHECK(v == SV_DEVICE_HOST && v == -1, "svCommCuDevice = %d, expected -1 (host)", v);
  CHECK_RC(svCommCount(ca.h, nullptr), svInvalidArgument, "svCommCount(NULL)");
  CHECK_RC(svCommGetStats(ca.h, nullptr), svInvalidArgument, "svCommGetStats(NULL)");
  svCommStats_t st{};
  CHECK_RC(svCommGetStats(ca.h, &st), svSuccess, "svCommGetStats");
  CHECK(st.calls == 0 && st.bytesSent == 0 && st.totalNanCount == 0, "fresh comm has stats calls=%llu bytes=%llu nans=%llu",
        st.calls, st.bytesSent, st.totalNanCount);

  const size_t N = bigCount(P, bigOverride);
  unsigned long long sentA = 0, sentG = 0;
  for (int rep = 0; rep < 2; ++rep) {
    CaseSpec c;
    c.t = &kTypes[2];
    c.n = N;
    c.seed = caseSeed(++gSerial);
    runCase(ca, c);
    svCommGetStats(ca.h, &st);
    sentA = st.lastBytesSent;
    CHECK(st.calls == static_cast<unsigned long long>(rep + 1), "alltoall comm: stats.calls = %llu after %d calls",
          st.calls, rep + 1);
    runCase(cg, c);
    svCommGetStats(cg.h, &st);
    sentG = st.lastBytesSent;
    CHECK(st.calls == static_cast<unsigned long long>(rep + 1), "allgather comm: stats.calls = %llu after %d calls",
          st.calls, rep + 1);
  }
  setCase("stats bytes P=%d n=%zu", P, N);
  const unsigned long long packed = (N + 7) / 8;
  // all-gather: every rank sends all its bits to every other rank.
  CHECK(sentG >= (P - 1) * packed && sentG <= (P - 1) * (packed + 64),
        "allgather sent %llu bytes for n=%zu, expected (P-1) x %llu packed bytes", sentG, N, packed);
  // all-to-all: 2 (P-1)/P x packed, up to segment alignment.
  const unsigned long long perSeg = packed / P + 1024;
  CHECK(sentA <= 2ull * (P - 1) * perSeg, "alltoall sent %llu bytes for n=%zu on %d ranks, expected about 2(P-1)/P x %llu",
        sentA, N, P, packed);
  unsigned long long sumA = 0;
  MPI_Allreduce(&sentA, &sumA, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  CHECK(sumA >= 2ull * (P - 1) * packed && sumA <= 2ull * (P - 1) * (packed + 1024),
        "alltoall sent %llu bytes over all ranks, expected about 2(P-1) x %llu", sumA, packed);
  if (P >= 4) CHECK(sentA < sentG, "alltoall sent %llu >= allgather's %llu at P=%d", sentA, sentG, P);
  if (gVerbose && gWorldRank == 0)
    fprintf(stderr, "P=%d n=%zu: alltoall %llu bytes, allgather %llu bytes\n", P, N, sentA, sentG);

  // AUTO follows the documented threshold.
  {
    Policy p;
    p.agThreshold = 1LL << 40;
    Comm c1 = makeComm(p, world);
    CaseSpec c;
    c.n = 100000;
    c.seed = caseSeed(++gSerial);
    runCase(c1, c);
    svCommGetStats(c1.h, &st);
    CHECK(st.lastAlgorithm == SV_ALGO_ALLGATHER, "auto with a huge allGatherThreshold chose %d", st.lastAlgorithm);
    destroyComm(c1);
    p.agThreshold = 0;
    Comm c2 = makeComm(p, world);
    runCase(c2, c);
    svCommGetStats(c2.h, &st);
    if (P >= 3)
      CHECK(st.lastAlgorithm == SV_ALGO_ALLTOALL, "auto with allGatherThreshold 0 at P=%d chose %d", P,
            st.lastAlgorithm);
    destroyComm(c2);
  }
  destroyComm(ca);
  destroyComm(cg);
}

void testSplit() {
  const int P = gWorldSize;
  setCase("split P=%d", P);
  const int color = gWorldRank % 2;
  MPI_Comm sub;
  MPI_Comm_split(MPI_COMM_WORLD, color, -gWorldRank, &sub);  // reversed key: sub rank order != world order
  Group g;
  g.mpi = sub;
  int subRank = 0, subSize = 0;
  MPI_Comm_rank(sub, &subRank);
  MPI_Comm_size(sub, &subSize);
  g.world.resize(subSize);
  MPI_Allgather(&gWorldRank, 1, MPI_INT, g.world.data(), 1, MPI_INT, sub);
  g.me = subRank;

  Comm a = makeComm(Policy(), g, /*nullConfig=*/true);  // config NULL: defaults
  Policy pz;
  pz.tie = SV_TIE_ZERO;
  pz.algo = SV_ALGO_ALLTOALL;
  pz.chunk = 1024;
  Comm b = makeComm(pz, g);
  Comm w = makeComm(Policy(), worldGroup());
  if (!a.ok() || !b.ok() || !w.ok()) return;
  int v = -1;
  svCommCount(a.h, &v);
  CHECK(v == subSize, "split comm: svCommCount = %d, expected %d", v, subSize);
  svCommUserRank(b.h, &v);
  CHECK(v == subRank, "split comm: svCommUserRank = %d, expected %d", v, subRank);
  // The library duplicated the communicator: ours may go now.
  MPI_Comm_free(&sub);
  a.grp.mpi = b.grp.mpi = MPI_COMM_NULL;
  // checkAgreement needs a communicator over the half: make our own.
  MPI_Comm check;
  MPI_Comm_split(MPI_COMM_WORLD, color, -gWorldRank, &check);
  a.grp.mpi = b.grp.mpi = check;

  // Interleave the halves' votes with a vote over the world: the two halves
  // run different calls at the same time.
  int k = 0;
  for (const TypeDesc& t : kTypes)
    for (size_t n : {size_t(33), size_t(4099), size_t(70000)}) {
      CaseSpec c;
      c.t = &t;
      c.n = n;
      c.inPlace = k % 2;
      c.mix = k % kNumMixes;
      c.seed = caseSeed(++gSerial + 1000003 * color);  // halves vote on different inputs
      if (color == 1) c.n += 3;                        // and on different counts
      runCase(k % 2 ? a : b, c);
      CaseSpec cw = c;
      cw.seed = caseSeed(++gSerial);
      cw.n = n;
      runCase(w, cw);
      ++k;
    }
  destroyComm(a);
  destroyComm(b);
  destroyComm(w);
  MPI_Comm_free(&check);
}

void testConfig() {
  const Group world = worldGroup();
  struct Bad {
    const char* what;
    void (*mutate)(svConfig_t*);
  };
  const Bad kBad[] = {
      {"bad magic", [](svConfig_t* c) { c->magic = 0x1234; }},
      {"zero magic", [](svConfig_t* c) { c->magic = 0; }},
      {"size 0", [](svConfig_t* c) { c->size = 0; }},
      {"tiePolicy 3", [](svConfig_t* c) { c->tiePolicy = 3; }},
      {"tiePolicy -1", [](svConfig_t* c) { c->tiePolicy = -1; }},
      {"zeroPolicy 2", [](svConfig_t* c) { c->zeroPolicy = 2; }},
      {"nanPolicy 7", [](svConfig_t* c) { c->nanPolicy = 7; }},
      {"algorithm 3", [](svConfig_t* c) { c->algorithm = 3; }},
      {"scale inf", [](svConfig_t* c) { c->scale = HUGE_VAL; }},
      {"scale NaN", [](svConfig_t* c) { c->scale = NAN; }},
      {"chunkBytes 512", [](svConfig_t* c) { c->chunkBytes = 512; }},  // 0 is auto; 1..1023 invalid
      {"chunkBytes -4096", [](svConfig_t* c) { c->chunkBytes = -4096; }},
      {"allGatherThreshold -1", [](svConfig_t* c) { c->allGatherThreshold = -1; }},
      {"device -5", [](svConfig_t* c) { c->device = -5; }},
      {"mpiCudaAware 3", [](svConfig_t* c) { c->mpiCudaAware = 3; }},
  };
  for (const Bad& b : kBad) {
    setCase("config P=%d: %s", world.size(), b.what);
    svConfig_t cfg = SV_CONFIG_INITIALIZER;
    b.mutate(&cfg);
    svComm_t comm = nullptr;
    const svResult_t rc = svCommInitMPI(&comm, MPI_COMM_WORLD, &cfg);
    CHECK(rc == svInvalidArgument, "svCommInitMPI with %s returned %d (%s), expected svInvalidArgument", b.what,
          (int)rc, svGetErrorString(rc));
    CHECK(strlen(svGetLastError(nullptr)) > 0, "svGetLastError(NULL) is empty after a failed init");
    if (rc == svSuccess) svCommDestroy(comm);
    checkAgreement(world, rc, 0, false, b.what);
  }
  {
    // device 0 asks for a device communicator: refused in a build without
    // CUDA (svInvalidUsage) or without a visible GPU (svUnhandledCudaError);
    // on a GPU machine it is one, bound to device 0.
    setCase("config P=%d: device 0", world.size());
    svConfig_t cfg = SV_CONFIG_INITIALIZER;
    cfg.device = 0;
    svComm_t comm = nullptr;
    const svResult_t rc = svCommInitMPI(&comm, MPI_COMM_WORLD, &cfg);
    CHECK(rc == svInvalidUsage || rc == svUnhandledCudaError || rc == svSuccess,
          "svCommInitMPI with device 0 returned %d (%s): %s", (int)rc, svGetErrorString(rc), svGetLastError(nullptr));
    if (rc == svSuccess) {
      int dev = -1;
      CHECK_RC(svCommCuDevice(comm, &dev), svSuccess, "svCommCuDevice");
      CHECK(dev == 0, "svCommCuDevice says %d, expected 0", dev);
      svCommDestroy(comm);
    } else {
      CHECK(strstr(svGetLastError(nullptr), "CUDA") != nullptr, "the refusal does not mention CUDA: %s",
            svGetLastError(nullptr));
    }
    checkAgreement(world, rc, 0, false, "device 0");
  }
  setCase("config P=%d: NULL arguments", world.size());
  CHECK_RC(svCommInitMPI(nullptr, MPI_COMM_WORLD, nullptr), svInvalidArgument, "svCommInitMPI(NULL comm)");
  {
    svComm_t comm = nullptr;
    CHECK_RC(svCommInitMPI(&comm, MPI_COMM_NULL, nullptr), svInvalidArgument, "svCommInitMPI(MPI_COMM_NULL)");
  }
  // A config from the first released header (version 100, the struct
  // ending at device): the fields added since are not read, even where the
  // caller's memory holds garbage (mpiCudaAware lies in its padding).
  setCase("config P=%d: first released layout", world.size());
  {
    svConfig_t cfg = SV_CONFIG_INITIALIZER;
    cfg.version = 100;
    cfg.size = offsetof(svConfig_t, mpiCudaAware) + sizeof(int);  // 72 on LP64
    cfg.tiePolicy = SV_TIE_ZERO;
    cfg.mpiCudaAware = 99;  // padding in that layout: ignored
    cfg.timeout = NAN;      // beyond size: ignored
    cfg.check = 7;          // beyond size: ignored
    svComm_t h = nullptr;
    const svResult_t rc = svCommInitMPI(&h, MPI_COMM_WORLD, &cfg);
    CHECK(rc == svSuccess, "svCommInitMPI with the first released layout returned %d: %s", (int)rc,
          svGetLastError(nullptr));
    if (rc == svSuccess) {
      Comm c;
      c.h = h;
      c.grp = world;
      c.pol.tie = SV_TIE_ZERO;
      CaseSpec cs;
      cs.n = 777;
      cs.seed = caseSeed(++gSerial);
      runCase(c, cs);
      destroyComm(c);
    }
  }
  // Environment variables: read at init for the fields left unset; an
  // explicit field wins.
  setCase("config P=%d: environment", world.size());
  setenv("SV_TIE", "zero", 1);
  setenv("SV_ZERO", "abstain", 1);
  setenv("SV_ALGO", "alltoall", 1);
  setenv("SV_SCALE", "0.5", 1);
  setenv("SV_CHUNK_BYTES", "1024", 1);
  setenv("SV_NAN", "error", 1);
  {
    Policy expect;
    expect.tie = SV_TIE_ZERO;
    expect.zero = SV_ZERO_ABSTAIN;
    expect.algo = SV_ALGO_ALLTOALL;
    expect.scale = 0.5;
    expect.nan = SV_NAN_ERROR;
    Comm c = makeComm(expect, world, /*nullConfig=*/true);
    CaseSpec cs;
    cs.t = &kTypes[0];
    cs.n = 20000;
    cs.mix = 2;
    cs.nanMembers = 0;
    cs.seed = caseSeed(++gSerial);
    runCase(c, cs);
    cs.nanMembers = 1u << (world.size() - 1);
    cs.plantNan = true;
    cs.seed = caseSeed(++gSerial);
    runCase(c, cs);  // SV_NAN=error applies
    destroyComm(c);
    // Explicit fields win over the environment.
    Policy explicitP = expect;
    explicitP.tie = SV_TIE_POSITIVE;
    explicitP.algo = SV_ALGO_ALLGATHER;
    explicitP.scale = 0.25;
    svConfig_t cfg = SV_CONFIG_INITIALIZER;
    cfg.tiePolicy = SV_TIE_POSITIVE;
    cfg.algorithm = SV_ALGO_ALLGATHER;
    cfg.scale = 0.25;
    svComm_t h = nullptr;
    CHECK_RC(svCommInitMPI(&h, MPI_COMM_WORLD, &cfg), svSuccess, "svCommInitMPI (explicit fields + env)");
    if (h) {
      Comm c2;
      c2.h = h;
      c2.grp = world;
      c2.pol = explicitP;
      cs.nanMembers = 0;
      cs.plantNan = false;
      cs.seed = caseSeed(++gSerial);
      runCase(c2, cs);
      destroyComm(c2);
    }
  }
  // Bad environment values fail the init on every rank.
  const char* kBadEnv[][2] = {{"SV_TIE", "sometimes"}, {"SV_SCALE", "inf"}, {"SV_CHUNK_BYTES", "12"},
                              {"SV_ALGO", "9"}, {"SV_NAN", ""}};
  for (auto& e : kBadEnv) {
    setCase("config P=%d: env %s=%s", world.size(), e[0], e[1]);
    const char* old = getenv(e[0]);
    std::string saved = old ? old : "";
    setenv(e[0], e[1], 1);
    svComm_t h = nullptr;
    const svResult_t rc = svCommInitMPI(&h, MPI_COMM_WORLD, nullptr);
    CHECK(rc == svInvalidArgument, "svCommInitMPI with %s=\"%s\" returned %d, expected svInvalidArgument", e[0], e[1],
          (int)rc);
    if (rc == svSuccess) svCommDestroy(h);
    checkAgreement(world, rc, 0, false, "bad env");
    if (old) setenv(e[0], saved.c_str(), 1);
    else unsetenv(e[0]);
  }
  for (const char* v : {"SV_TIE", "SV_ZERO", "SV_ALGO", "SV_SCALE", "SV_CHUNK_BYTES", "SV_NAN"}) unsetenv(v);
}

void testArgs() {
  const Group world = worldGroup();
  setCase("args P=%d", world.size());
  int version = 0;
  CHECK_RC(svGetVersion(&version), svSuccess, "svGetVersion");
  CHECK(version == SIGNVOTE_VERSION_CODE, "svGetVersion = %d, header SIGNVOTE_VERSION_CODE = %d", version,
        SIGNVOTE_VERSION_CODE);
  CHECK_RC(svGetVersion(nullptr), svInvalidArgument, "svGetVersion(NULL)");
  for (int r = 0; r < svNumResults; ++r)
    CHECK(svGetErrorString(static_cast<svResult_t>(r)) != nullptr, "svGetErrorString(%d) is NULL", r);

  Comm c = makeComm(Policy(), world);
  if (!c.ok()) return;
  svCommStats_t st0{}, st1{};
  svCommGetStats(c.h, &st0);
  std::vector<float> in(100, 1.0f), out(104, 7.0f);
  const std::vector<float> outBefore = out;
  auto untouched = [&](const char* what) {
    CHECK(out == outBefore, "%s: recvbuff was written by a failing call", what);
    CHECK(strlen(svGetLastError(c.h)) > 0 || strlen(svGetLastError(nullptr)) > 0, "%s: no last error", what);
  };
  CHECK_RC(svAllReduceSign(nullptr, out.data(), 100, svFloat32, c.h, nullptr), svInvalidArgument, "sendbuff NULL");
  untouched("sendbuff NULL");
  CHECK_RC(svAllReduceSign(in.data(), nullptr, 100, svFloat32, c.h, nullptr), svInvalidArgument, "recvbuff NULL");
  CHECK_RC(svAllReduceSign(in.data(), out.data(), 100, static_cast<svDataType_t>(3), c.h, nullptr), svInvalidArgument,
           "datatype 3");
  untouched("datatype 3");
  CHECK_RC(svAllReduceSign(in.data(), out.data(), 100, static_cast<svDataType_t>(42), c.h, nullptr),
           svInvalidArgument, "datatype 42");
  untouched("datatype 42");
  CHECK_RC(svAllReduceSign(in.data(), reinterpret_cast<char*>(out.data()) + 2, 50, svFloat32, c.h, nullptr),
           svInvalidArgument, "misaligned recvbuff");
  untouched("misaligned recvbuff");
  CHECK_RC(svAllReduceSign(in.data(), reinterpret_cast<char*>(out.data()) + 2, 50, svFloat16, c.h, nullptr),
           svSuccess, "half at a 2-byte offset");  // allowed: 2-byte aligned
  out = outBefore;
  CHECK_RC(svAllReduceSign(out.data() + 1, out.data(), 50, svFloat32, c.h, nullptr), svInvalidArgument,
           "overlapping buffers");
  untouched("overlapping buffers");
  CHECK_RC(svAllReduceSign(in.data(), out.data(), SIZE_MAX, svFloat32, c.h, nullptr), svInvalidArgument,
           "count SIZE_MAX");
  untouched("count SIZE_MAX");
  CHECK_RC(svAllReduceSign(in.data(), out.data(), 100, svFloat32, nullptr, nullptr), svInvalidArgument, "comm NULL");
  untouched("comm NULL");
  CHECK_RC(svAllReduceSignPacked(nullptr, reinterpret_cast<uint32_t*>(out.data()), 100, c.h, nullptr),
           svInvalidArgument, "packed sendbits NULL");
  untouched("packed sendbits NULL");
  svCommGetStats(c.h, &st1);
  CHECK(st1.calls == st0.calls + 1, "stats.calls %llu -> %llu: only the one valid call may count", st0.calls,
        st1.calls);
  // Still usable after errors.
  CaseSpec cs;
  cs.n = 1001;
  cs.seed = caseSeed(++gSerial);
  runCase(c, cs);
  // A destroyed communicator is refused.
  svComm_t dead = c.h;
  destroyComm(c);
  setCase("args P=%d: destroyed comm", world.size());
  CHECK_RC(svAllReduceSign(in.data(), out.data(), 100, svFloat32, dead, nullptr), svInvalidUsage,
           "svAllReduceSign on a destroyed comm");
  untouched("destroyed comm");
  int v = 0;
  CHECK_RC(svCommCount(dead, &v), svInvalidUsage, "svCommCount on a destroyed comm");
  CHECK_RC(svCommDestroy(dead), svInvalidUsage, "svCommDestroy twice");
  // Abort releases without communication.
  Comm c3 = makeComm(Policy(), world);
  if (c3.ok()) CHECK_RC(svCommAbort(c3.h), svSuccess, "svCommAbort");
  MPI_Barrier(MPI_COMM_WORLD);
}

bool wanted(const std::string& only, const char* group) {
  if (only.empty()) return true;
  std::string s = "," + only + ",";
  return s.find(std::string(",") + group + ",") != std::string::npos;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &gWorldRank);
  MPI_Comm_size(MPI_COMM_WORLD, &gWorldSize);
  signal(SIGALRM, onAlarm);
  size_t bigOverride = 0;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (!strncmp(argv[i], "--seed=", 7)) gSeed = strtoull(argv[i] + 7, nullptr, 0);
    else if (!strncmp(argv[i], "--big=", 6)) bigOverride = strtoull(argv[i] + 6, nullptr, 0);
    else if (!strncmp(argv[i], "--only=", 7)) only = argv[i] + 7;
    else if (!strcmp(argv[i], "-v")) gVerbose = true;
    else {
      if (gWorldRank == 0) fprintf(stderr, "usage: %s [--seed=N] [--big=N] [--only=GROUP,...] [-v]\n", argv[0]);
      MPI_Finalize();
      return 2;
    }
  }
  // The tests set every field they mean; the caller's SV_* settings (other
  // than logging) must not change the expectations.
  for (const char* v : {"SV_TIE", "SV_ZERO", "SV_NAN", "SV_ALGO", "SV_SCALE", "SV_SEED", "SV_CHUNK_BYTES",
                        "SV_ALLGATHER_THRESHOLD", "SV_DEVICE"})
    unsetenv(v);
  if (const char* sizes = getenv("SV_TEST_NODE_SIZES")) {
    int node = 0;
    for (const char* p = sizes; *p;) {
      const long k = strtol(p, const_cast<char**>(&p), 10);
      for (long i = 0; i < k; ++i) gNodeOfWorld.push_back(node);
      ++node;
      if (*p == ',') ++p;
      else if (*p) break;
    }
    if (static_cast<int>(gNodeOfWorld.size()) != gWorldSize) {
      if (gWorldRank == 0) fprintf(stderr, "SV_TEST_NODE_SIZES=%s does not add up to %d ranks\n", sizes, gWorldSize);
      MPI_Finalize();
      return 2;
    }
    const char* h = getenv("SV_HIERARCHY");
    gHierarchyOn = h != nullptr && (!strcasecmp(h, "on") || !strcmp(h, "1"));
  }
  // gSeed must agree on all ranks.
  MPI_Bcast(&gSeed, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);

  const double t0 = MPI_Wtime();
  struct {
    const char* name;
    void (*run)(size_t);
  } groups[] = {
      {"args", [](size_t) { testArgs(); }},
      {"config", [](size_t) { testConfig(); }},
      {"stats", testStats},
      {"split", [](size_t) { testSplit(); }},
      {"random", [](size_t) { testRandomTies(); }},
      {"packed", testPacked},
      {"matrix", [](size_t) { testMatrix(); }},
      {"big", testBig},
  };
  for (auto& g : groups) {
    if (!wanted(only, g.name)) continue;
    const double tg = MPI_Wtime();
    g.run(bigOverride);
    MPI_Barrier(MPI_COMM_WORLD);
    if (gWorldRank == 0)
      printf("P=%d %-7s done in %6.2f s\n", gWorldSize, g.name, MPI_Wtime() - tg);
    fflush(stdout);
  }
  alarm(0);

  long totals[3] = {gFailures, gChecks, gCalls}, sums[3] = {0, 0, 0};
  MPI_Allreduce(totals, sums, 3, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  if (gWorldRank == 0)
    printf("P=%d: %ld checks, %ld calls over all ranks, %ld failure(s), %.2f s (seed %llu)\n", gWorldSize, sums[1],
           sums[2], sums[0], MPI_Wtime() - t0, (unsigned long long)gSeed);
  MPI_Finalize();
  return sums[0] == 0 ? 0 : 1;
}
