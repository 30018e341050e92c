// SPDX-License-Identifier: MIT
// Data-parallel training of a small model on Fashion-MNIST with a switchable
// gradient exchange, and Byzantine ranks (examples/train/README.md):
//
//   sgd     fp32 MPI_Allreduce of the gradients, mean, SGD with momentum
//   signum  svSignumStep: Signum, the momentum's signs majority-voted
//   ef      svEFSignStep: error-feedback signSGD, signs majority-voted
//   lion    svLionStep: Lion, its update's signs majority-voted (Distributed
//           Lion "MaVo", Liu et al. 2024)
//   lion-fp32  fp32 MPI_Allreduce mean, then Lion (at P = 1: plain Lion)
//   adamw   fp32 MPI_Allreduce mean, then AdamW (torch.optim.AdamW's rule)
//
// Every rank trains on its own shard of the training set (rank r takes the
// examples r, r+P, ... of one seeded permutation); libtorch gives the model
// and autograd, one thread per rank. Adversaries are the last K ranks, so
// rank 0 (which evaluates) is honest. One line and one CSV row per epoch.
//
//   mpirun -np 4 sv_train --method signum --epochs 5 --csv out.csv
#include <mpi.h>
#include <torch/torch.h>
#include <zlib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "signvote.h"
#include "signvote_mpi.h"

namespace {

int gRank = 0, gSize = 1;

[[noreturn]] void die(const char* fmt, const char* arg = "") {
  fprintf(stderr, "[rank %d] sv_train: ", gRank);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  MPI_Abort(MPI_COMM_WORLD, 2);
  exit(2);
}

#define SVOK(call)                                                      \
  do {                                                                  \
    svResult_t r_ = (call);                                             \
    if (r_ != svSuccess) die("%s", svGetLastError(nullptr));            \
  } while (0)

// ---- Options -------------------------------------------------------------------
struct Options {
  std::string method = "signum";  // sgd | signum | ef | lion | lion-fp32 | adamw
  std::string data = "/usr/share/datasets/fashion-mnist";
  std::string csv;
  std::string attack = "flip";  // flip | random | alie | ipm | labelflip
  std::string tag;              // free text copied into the CSV
  std::string tie = "zero";     // positive | zero | random: svConfig_t tiePolicy
  int epochs = 5;
  int globalBatch = 128;   // split evenly over the ranks
  int hidden = 256;        // MLP 784-hidden-10
  int trainSubset = 0;     // 0: all 60000
  int testSubset = 0;      // 0: all 10000
  int stepsPerEpoch = 0;   // 0: one pass over the shard
  int adversaries = 0;
  bool collude = true;
  double lr = -1;          // per method default below
  double momentum = 0.9;   // SGD momentum, Signum beta, Lion/AdamW beta1
  double beta2 = -1;       // Lion (0.99) / AdamW (0.999) beta2
  double eps = 1e-8;       // AdamW
  double wd = -1;          // -1: 0.01 for adamw, else 0
  double ipmEps = 10;
  double alieZ = -1;       // -1: Baruch et al.'s z_max from P and K
  double flipScale = -1;  // -1: P (see README)
  long long seed = 1;
  bool debug = false;      // hash-compare the params on every rank each step
};

const char* kUsage =
    "usage: sv_train [--method sgd|signum|ef|lion|lion-fp32|adamw] [--epochs N] [--global-batch N]\n"
    "  [--hidden N] [--lr X] [--momentum X] [--beta2 X] [--eps X] [--wd X] [--seed N] [--train-subset N] [--test-subset N]\n"
    "  [--steps-per-epoch N] [--adversaries K] [--attack flip|random|alie|ipm|labelflip]\n"
    "  [--no-collude] [--ipm-eps X] [--alie-z X] [--flip-scale X] [--data DIR] [--csv FILE]\n"
    "  [--tag TEXT] [--tie positive|zero|random] [--debug]\n";

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) die("missing value after %s", argv[i]);
      return argv[++i];
    };
    if (a == "--method") o.method = val();
    else if (a == "--data") o.data = val();
    else if (a == "--csv") o.csv = val();
    else if (a == "--attack") o.attack = val();
    else if (a == "--tag") o.tag = val();
    else if (a == "--tie") o.tie = val();
    else if (a == "--epochs") o.epochs = atoi(val());
    else if (a == "--global-batch") o.globalBatch = atoi(val());
    else if (a == "--hidden") o.hidden = atoi(val());
    else if (a == "--train-subset") o.trainSubset = atoi(val());
    else if (a == "--test-subset") o.testSubset = atoi(val());
    else if (a == "--steps-per-epoch") o.stepsPerEpoch = atoi(val());
    else if (a == "--adversaries") o.adversaries = atoi(val());
    else if (a == "--no-collude") o.collude = false;
    else if (a == "--lr") o.lr = atof(val());
    else if (a == "--momentum") o.momentum = atof(val());
    else if (a == "--wd") o.wd = atof(val());
    else if (a == "--beta2") o.beta2 = atof(val());
    else if (a == "--eps") o.eps = atof(val());
    else if (a == "--ipm-eps") o.ipmEps = atof(val());
    else if (a == "--alie-z") o.alieZ = atof(val());
    else if (a == "--flip-scale") o.flipScale = atof(val());
    else if (a == "--seed") o.seed = atoll(val());
    else if (a == "--debug") o.debug = true;
    else if (a == "--help" || a == "-h") {
      if (gRank == 0) fputs(kUsage, stdout);
      MPI_Finalize();
      exit(0);
    } else {
      if (gRank == 0) fputs(kUsage, stderr);
      die("unknown argument %s", argv[i]);
    }
  }
  if (o.method != "sgd" && o.method != "signum" && o.method != "ef" && o.method != "lion" && o.method != "lion-fp32" &&
      o.method != "adamw")
    die("--method %s: sgd, signum, ef, lion, lion-fp32 or adamw", o.method.c_str());
  if (o.attack != "flip" && o.attack != "random" && o.attack != "alie" && o.attack != "ipm" && o.attack != "labelflip")
    die("--attack %s: flip, random, alie, ipm or labelflip", o.attack.c_str());
  if (o.adversaries < 0 || o.adversaries >= gSize) die("--adversaries must be in 0 .. P-1 (rank 0 stays honest)");
  if (o.globalBatch < gSize || o.globalBatch % gSize) die("--global-batch must be a multiple of the rank count");
  if (o.tie != "positive" && o.tie != "zero" && o.tie != "random") die("--tie %s: positive, zero or random", o.tie.c_str());
  if (o.flipScale < 0) o.flipScale = gSize;
  if (o.lr < 0)
    o.lr = o.method == "sgd" || o.method == "ef" ? 0.05 : o.method == "adamw" ? 1e-3 : 1e-4;  // signum, lion*
  if (o.beta2 < 0) o.beta2 = o.method == "adamw" ? 0.999 : 0.99;
  if (o.wd < 0) o.wd = o.method == "adamw" ? 0.01 : 0;
  return o;
}

// ---- Data (IDX files, gzipped as Debian ships them, or plain) ---------------------
std::vector<uint8_t> readIdx(const std::string& path, std::vector<int>* dims) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) die("cannot open %s (install dataset-fashion-mnist or pass --data)", path.c_str());
  unsigned char hdr[4];
  if (gzread(f, hdr, 4) != 4 || hdr[0] || hdr[1] || hdr[2] != 0x08) die("%s: not an unsigned-byte IDX file", path.c_str());
  dims->assign(hdr[3], 0);
  size_t total = 1;
  for (auto& d : *dims) {
    unsigned char b[4];
    if (gzread(f, b, 4) != 4) die("%s: truncated header", path.c_str());
    d = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    total *= d;
  }
  std::vector<uint8_t> out(total);
  size_t got = 0;
  while (got < total) {
    int n = gzread(f, out.data() + got, static_cast<unsigned>(std::min<size_t>(total - got, 1 << 30)));
    if (n <= 0) die("%s: truncated data", path.c_str());
    got += n;
  }
  gzclose(f);
  return out;
}

std::string findFile(const std::string& dir, const std::string& base) {
  for (const char* ext : {".gz", ""}) {
    std::string p = dir + "/" + base + ext;
    if (FILE* f = fopen(p.c_str(), "rb")) {
      fclose(f);
      return p;
    }
  }
  die("no %s(.gz) in --data", base.c_str());
}

struct Dataset {
  torch::Tensor x;  // N x 784 float, normalized
  torch::Tensor y;  // N int64
};

Dataset load(const std::string& dir, const char* images, const char* labels, int subset) {
  std::vector<int> di, dl;
  auto img = readIdx(findFile(dir, images), &di);
  auto lab = readIdx(findFile(dir, labels), &dl);
  if (di.size() != 3 || dl.size() != 1 || di[0] != dl[0] || di[1] * di[2] != 784) die("unexpected IDX shapes in %s", dir.c_str());
  int n = di[0];
  if (subset > 0 && subset < n) n = subset;
  Dataset d;
  d.x = torch::from_blob(img.data(), {n, 784}, torch::kUInt8).to(torch::kFloat32).div_(255.0).sub_(0.2860).div_(0.3530);
  d.y = torch::from_blob(lab.data(), {n}, torch::kUInt8).to(torch::kInt64);
  return d;
}

// ---- Flat parameter views -------------------------------------------------------------
// Every parameter becomes a view into one contiguous buffer, so the exchange
// and the optimizer steps see one vector.
struct Flat {
  std::vector<torch::Tensor> params;
  torch::Tensor x, g;  // params and gradients, n floats each
  int64_t n = 0;
};

Flat flatten(torch::nn::Module& m) {
  Flat f;
  f.params = m.parameters();
  for (auto& p : f.params) f.n += p.numel();
  f.x = torch::empty({f.n});
  f.g = torch::zeros({f.n});
  int64_t off = 0;
  for (auto& p : f.params) {
    auto view = f.x.narrow(0, off, p.numel()).view(p.sizes());
    view.copy_(p.detach());
    p.set_data(view);
    off += p.numel();
  }
  return f;
}

void gatherGrads(Flat& f) {
  int64_t off = 0;
  for (auto& p : f.params) {
    f.g.narrow(0, off, p.numel()).copy_(p.grad().reshape({-1}));
    off += p.numel();
  }
}

uint64_t fnv(const void* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(p)[i]) * 1099511628211ull;
  return h;
}

// Baruch et al. 2019: s = floor(n/2 + 1) - m supporters needed; z_max with
// Phi(z) = (n - s) / n (0 when that is <= 1/2).
double alieZmax(int n, int m) {
  const int s = n / 2 + 1 - m;
  const double q = static_cast<double>(n - s) / n;
  if (q <= 0.5) return 0;
  double lo = 0, hi = 10;
  for (int it = 0; it < 100; ++it) {
    const double mid = 0.5 * (lo + hi);
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < q ? lo : hi) = mid;
  }
  return lo;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &gRank);
  MPI_Comm_size(MPI_COMM_WORLD, &gSize);
  const Options o = parse(argc, argv);
  const int P = gSize, K = o.adversaries;
  const bool adversary = gRank >= P - K;
  torch::set_num_threads(1);
  torch::manual_seed(o.seed);  // identical initial model on every rank

  Dataset train = load(o.data, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", o.trainSubset);
  Dataset test = load(o.data, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", o.testSubset);
  if (adversary && o.attack == "labelflip") train.y = 9 - train.y;

  // This rank's shard: every P-th example of one seeded permutation.
  std::vector<int64_t> shard;
  {
    std::vector<int64_t> perm(train.x.size(0));
    std::iota(perm.begin(), perm.end(), 0);
    std::mt19937_64 rng(o.seed);
    std::shuffle(perm.begin(), perm.end(), rng);
    for (size_t i = gRank; i < perm.size(); i += P) shard.push_back(perm[i]);
  }
  const int B = o.globalBatch / P;
  int steps = static_cast<int>(shard.size()) / B;
  if (o.stepsPerEpoch > 0) steps = std::min(steps, o.stepsPerEpoch);
  // Every rank takes the same number of steps (shards differ by one at most).
  MPI_Allreduce(MPI_IN_PLACE, &steps, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);

  auto model = torch::nn::Sequential(torch::nn::Linear(784, o.hidden), torch::nn::ReLU(),
                                     torch::nn::Linear(o.hidden, 10));
  Flat f = flatten(*model);
  const size_t n = static_cast<size_t>(f.n);
  float* x = f.x.data_ptr<float>();
  float* g = f.g.data_ptr<float>();
  std::vector<float> state(n, 0.f), attack(n), honestSum(2 * n);
  // fp32 mean of the gradients (MPI_Allreduce), then a local optimizer step.
  const bool fp32Mean = o.method == "sgd" || o.method == "lion-fp32" || o.method == "adamw";
  std::vector<float> second(o.method == "adamw" ? n : 0, 0.f);  // AdamW's v
  int adamSteps = 0;

  svComm_t comm = nullptr;
  svConfig_t cfg = SV_CONFIG_INITIALIZER;
  // A tie (P even) moving every contested weight the same way adds a drift
  // of lr per step; SV_TIE_ZERO leaves such weights alone.
  cfg.tiePolicy = o.tie == "zero" ? SV_TIE_ZERO : o.tie == "random" ? SV_TIE_RANDOM : SV_TIE_POSITIVE;
  cfg.seed = o.seed;
  SVOK(svCommInitMPI(&comm, MPI_COMM_WORLD, &cfg));
  // The adversaries' own communicator, for colluding (outside the measured exchange).
  MPI_Comm advComm;
  MPI_Comm_split(MPI_COMM_WORLD, adversary ? 1 : 0, gRank, &advComm);
  const double z = o.alieZ >= 0 ? o.alieZ : alieZmax(P, K);

  FILE* csv = nullptr;
  if (gRank == 0 && !o.csv.empty()) {
    csv = fopen(o.csv.c_str(), "w");
    if (!csv) die("cannot write %s", o.csv.c_str());
    fprintf(csv, "tag,method,P,K,attack,seed,epoch,steps,train_loss,train_acc,test_acc,epoch_s,exchange_s,"
                 "bytes_per_rank_step,bytes_source,params\n");
  }
  if (gRank == 0)
    printf("sv_train: tie %s, method %s P %d K %d attack %s%s lr %g momentum/beta1 %g beta2 %g wd %g global batch %d, %d steps/epoch, "
           "%zu params, train %lld test %lld%s\n",
           o.tie.c_str(), o.method.c_str(), P, K, K ? o.attack.c_str() : "none", K && o.collude ? " (colluding)" : "", o.lr,
           o.momentum, o.beta2, o.wd, o.globalBatch, steps, n, (long long)train.x.size(0), (long long)test.x.size(0),
           o.attack == "alie" && K ? (" z " + std::to_string(z)).c_str() : "");

  std::mt19937_64 rng(o.seed * 1000003 + gRank);
  std::mt19937_64 attackRng(o.seed * 7 + (o.collude ? 0 : gRank));  // shared by colluders
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    std::shuffle(shard.begin(), shard.end(), rng);
    double lossSum = 0, correct = 0, seen = 0, exchangeS = 0;
    unsigned long long bytes = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    const auto t0 = std::chrono::steady_clock::now();
    for (int s = 0; s < steps; ++s) {
      auto idx = torch::from_blob(shard.data() + static_cast<size_t>(s) * B, {B}, torch::kInt64);
      auto xb = train.x.index_select(0, idx), yb = train.y.index_select(0, idx);
      model->zero_grad();
      auto out = model->forward(xb);
      auto loss = torch::nn::functional::cross_entropy(out, yb);
      loss.backward();
      gatherGrads(f);
      if (!adversary) {
        lossSum += loss.item<double>() * B;
        correct += out.argmax(1).eq(yb).sum().item<double>();
        seen += B;
      }
      // ---- Attacks: adversaries replace their gradient (outside the measured exchange).
      if (K > 0 && o.attack != "labelflip") {
        if (o.attack == "alie" || o.attack == "ipm") {  // omniscient: the honest mean (and std)
          for (size_t i = 0; i < n; ++i) {
            honestSum[i] = adversary ? 0.f : g[i];
            honestSum[n + i] = adversary ? 0.f : g[i] * g[i];
          }
          MPI_Allreduce(MPI_IN_PLACE, honestSum.data(), static_cast<int>(2 * n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        }
        if (adversary) {
          const float h = static_cast<float>(P - K);
          if (o.attack == "flip") {
            for (size_t i = 0; i < n; ++i) attack[i] = g[i];
            if (o.collude) {
              MPI_Allreduce(MPI_IN_PLACE, attack.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, advComm);
              for (auto& a : attack) a /= K;
            }
            for (auto& a : attack) a = static_cast<float>(-o.flipScale) * a;
          } else if (o.attack == "random") {
            // Random signs at the magnitude (RMS) of an honest gradient.
            double ss = 0;
            for (size_t i = 0; i < n; ++i) ss += static_cast<double>(g[i]) * g[i];
            if (o.collude) MPI_Allreduce(MPI_IN_PLACE, &ss, 1, MPI_DOUBLE, MPI_SUM, advComm), ss /= K;
            const float rms = static_cast<float>(std::sqrt(ss / n));
            for (size_t i = 0; i < n; ++i) attack[i] = (attackRng() & 1) ? rms : -rms;
          } else if (o.attack == "alie") {
            for (size_t i = 0; i < n; ++i) {
              const float mu = honestSum[i] / h;
              const float var = std::max(0.f, honestSum[n + i] / h - mu * mu);
              attack[i] = mu - static_cast<float>(z) * std::sqrt(var);
            }
          } else {  // ipm
            for (size_t i = 0; i < n; ++i) attack[i] = static_cast<float>(-o.ipmEps) * honestSum[i] / h;
          }
          std::copy(attack.begin(), attack.end(), g);
        }
      }
      // ---- The measured exchange and the update.
      const auto e0 = std::chrono::steady_clock::now();
      if (fp32Mean) {
        MPI_Allreduce(MPI_IN_PLACE, g, static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        const float inv = 1.f / P, b1 = static_cast<float>(o.momentum), b2 = static_cast<float>(o.beta2),
                    lr = static_cast<float>(o.lr), wd = static_cast<float>(o.wd);
        if (o.method == "sgd") {
          for (size_t i = 0; i < n; ++i) {  // torch.optim.SGD's momentum rule
            const float d = g[i] * inv + wd * x[i];
            state[i] = b1 * state[i] + d;
            x[i] -= lr * state[i];
          }
        } else if (o.method == "lion-fp32") {
          for (size_t i = 0; i < n; ++i) {  // lion-pytorch's rule, sign(0) = 0
            const float gi = g[i] * inv, c = b1 * state[i] + (1.f - b1) * gi;
            x[i] = x[i] * (1.f - lr * wd) - lr * static_cast<float>((c > 0.f) - (c < 0.f));
            state[i] = b2 * state[i] + (1.f - b2) * gi;
          }
        } else {  // adamw: torch.optim.AdamW's rule; state = m, second = v
          ++adamSteps;
          const double bc1 = 1.0 - std::pow(o.momentum, adamSteps), bc2 = 1.0 - std::pow(o.beta2, adamSteps);
          const float stepSize = static_cast<float>(o.lr / bc1), rootBc2 = static_cast<float>(std::sqrt(bc2)),
                      eps = static_cast<float>(o.eps);
          for (size_t i = 0; i < n; ++i) {
            const float gi = g[i] * inv;
            x[i] *= 1.f - lr * wd;
            state[i] = b1 * state[i] + (1.f - b1) * gi;
            second[i] = b2 * second[i] + (1.f - b2) * gi * gi;
            x[i] -= stepSize * state[i] / (std::sqrt(second[i]) / rootBc2 + eps);
          }
        }
        // A ring all-reduce sends 2(P-1)/P of the vector per rank: a model,
        // MPI does not report what it sent.
        bytes += static_cast<unsigned long long>(2.0 * (P - 1) / P * n * sizeof(float));
      } else {
        svCommStats_t st;
        if (o.method == "signum" || o.method == "lion") {
          if (o.method == "signum")
            SVOK(svSignumStep(x, g, state.data(), n, svFloat32, o.lr, o.momentum, o.wd, comm, nullptr));
          else
            SVOK(svLionStep(x, g, state.data(), n, svFloat32, o.lr, o.momentum, o.beta2, o.wd, comm, nullptr));
          SVOK(svCommGetStats(comm, &st));
          bytes += st.lastBytesSent;
        } else {
          // Layer-wise, as Karimireddy et al. compress: one scale per tensor,
          // or the many small first-layer gradients set the step of all.
          size_t off = 0;
          for (auto& p : f.params) {
            const size_t m = static_cast<size_t>(p.numel());
            SVOK(svEFSignStep(x + off, g + off, state.data() + off, m, svFloat32, o.lr, o.wd, comm, nullptr));
            SVOK(svCommGetStats(comm, &st));
            bytes += st.lastBytesSent;
            off += m;
          }
        }
      }
      exchangeS += std::chrono::duration<double>(std::chrono::steady_clock::now() - e0).count();
      if (o.debug) {  // every rank must hold bitwise identical params
        unsigned long long hash = fnv(x, n * sizeof(float)), lo = 0, hi = 0;
        MPI_Allreduce(&hash, &lo, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
        MPI_Allreduce(&hash, &hi, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
        if (lo != hi) die("--debug: params differ between ranks after step %s", std::to_string(s).c_str());
      }
    }
    double epochS = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MPI_Allreduce(MPI_IN_PLACE, &epochS, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &exchangeS, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    double sums[3] = {lossSum, correct, seen};
    MPI_Allreduce(MPI_IN_PLACE, sums, 3, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    double testAcc = 0;
    if (gRank == 0) {
      torch::NoGradGuard ng;
      testAcc = model->forward(test.x).argmax(1).eq(test.y).sum().item<double>() / test.x.size(0);
    }
    const double trainLoss = sums[0] / std::max(1.0, sums[2]), trainAcc = sums[1] / std::max(1.0, sums[2]);
    const double perStep = steps ? static_cast<double>(bytes) / steps : 0;
    const char* src = fp32Mean ? "ring-model" : "measured";
    if (gRank == 0) {
      printf("epoch %d: loss %.4f train acc %.4f test acc %.4f  %.2f s (exchange %.2f s)  %.3g bytes/rank/step (%s)\n",
             epoch, trainLoss, trainAcc, testAcc, epochS, exchangeS, perStep, src);
      fflush(stdout);
      if (csv) {
        fprintf(csv, "%s,%s,%d,%d,%s,%lld,%d,%d,%.6f,%.6f,%.6f,%.4f,%.4f,%.1f,%s,%zu\n", o.tag.c_str(),
                o.method.c_str(), P, K, K ? o.attack.c_str() : "none", o.seed, epoch, steps, trainLoss, trainAcc,
                testAcc, epochS, exchangeS, perStep, src, n);
        fflush(csv);
      }
    }
  }
  if (csv) fclose(csv);
  svCommDestroy(comm);
  MPI_Comm_free(&advComm);
  MPI_Finalize();
  return 0;
}
