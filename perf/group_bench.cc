// SPDX-License-Identifier: MIT
// sv_group_bench: a trainer's step with ResNet-50's 161 parameter tensors
// (25,557,032 fp32 elements), voted three ways on a host communicator:
//
//   separate  one svAllReduceSign per tensor
//   group     the same 161 calls between svGroupStart and svGroupEnd
//   single    one call over one buffer of the same total size
//
// The goal (issue 13): group about as fast as single. Prints the median of
// --reps steps of each (interleaved, so drift hits all three alike) and the
// ratios to single, and checks that every tensor's group output equals its
// separate output bit for bit (exit 1 otherwise).
//
//   mpirun -np 4 build/perf/sv_group_bench [--reps=9]
//   perf/netem/netem.sh -n 4 -r 1gbit -- build/perf/sv_group_bench
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <random>
#include <vector>

#include "resnet50_sizes.h"
#include "signvote_mpi.h"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void check(svResult_t r, const char* what, svComm_t comm) {
  if (r == svSuccess) return;
  fprintf(stderr, "sv_group_bench: %s: %s\n", what, svGetLastError(comm));
  MPI_Abort(MPI_COMM_WORLD, 1);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, P = 1, reps = 9;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  for (int i = 1; i < argc; ++i) {
    if (!strncmp(argv[i], "--reps=", 7)) reps = std::max(1, atoi(argv[i] + 7));
    else {
      if (rank == 0) fprintf(stderr, "usage: sv_group_bench [--reps=N]\n");
      MPI_Finalize();
      return 2;
    }
  }
  const std::vector<size_t> sizes = svperf::resnet50Sizes();
  size_t total = 0;
  for (size_t n : sizes) total += n;
  if (sizes.size() != 161 || total != 25557032) {
    fprintf(stderr, "sv_group_bench: ResNet-50 layout wrong (%zu tensors, %zu elements)\n", sizes.size(), total);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  svComm_t comm = nullptr;
  check(svCommInitMPI(&comm, MPI_COMM_WORLD, nullptr), "svCommInitMPI", comm);
  std::mt19937 rng(1234 + rank);
  std::normal_distribution<float> normal;
  std::vector<float> grads(total), separate(total), grouped(total), single(total);
  for (float& g : grads) g = normal(rng);
  std::vector<size_t> offs(sizes.size());
  for (size_t i = 1; i < sizes.size(); ++i) offs[i] = offs[i - 1] + sizes[i - 1];

  std::vector<double> tSep, tGroup, tSingle;
  for (int rep = -1; rep < reps; ++rep) {  // rep -1: warm-up
    MPI_Barrier(MPI_COMM_WORLD);
    double t = MPI_Wtime();
    for (size_t i = 0; i < sizes.size(); ++i)
      check(svAllReduceSign(&grads[offs[i]], &separate[offs[i]], sizes[i], svFloat32, comm, nullptr), "separate", comm);
    const double sep = MPI_Wtime() - t;
    MPI_Barrier(MPI_COMM_WORLD);
    t = MPI_Wtime();
    check(svGroupStart(), "svGroupStart", comm);
    for (size_t i = 0; i < sizes.size(); ++i)
      check(svAllReduceSign(&grads[offs[i]], &grouped[offs[i]], sizes[i], svFloat32, comm, nullptr), "grouped", comm);
    check(svGroupEnd(), "svGroupEnd", comm);
    const double grp = MPI_Wtime() - t;
    MPI_Barrier(MPI_COMM_WORLD);
    t = MPI_Wtime();
    check(svAllReduceSign(grads.data(), single.data(), total, svFloat32, comm, nullptr), "single", comm);
    const double one = MPI_Wtime() - t;
    double mine[3] = {sep, grp, one}, slowest[3];
    MPI_Allreduce(mine, slowest, 3, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (rep < 0) continue;
    tSep.push_back(slowest[0] * 1e3);
    tGroup.push_back(slowest[1] * 1e3);
    tSingle.push_back(slowest[2] * 1e3);
  }
  // A tensor's output does not depend on the calls around it (default ties).
  long long wrong = 0, all = 0;
  for (size_t i = 0; i < total; ++i) wrong += memcmp(&separate[i], &grouped[i], sizeof(float)) != 0;
  MPI_Allreduce(&wrong, &all, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) {
    const double s = median(tSingle);
    printf("# sv_group_bench: P=%d, ResNet-50: %zu fp32 tensors, %zu elements; median of %d steps, slowest rank\n", P,
           sizes.size(), total, reps);
    printf("#   way        time(ms)   vs single\n");
    printf("    separate   %8.2f   %8.2f\n", median(tSep), median(tSep) / s);
    printf("    group      %8.2f   %8.2f\n", median(tGroup), median(tGroup) / s);
    printf("    single     %8.2f   %8.2f\n", s, 1.0);
    printf("# group output %s separate calls' (%lld elements differ over all ranks)\n", all ? "DIFFERS FROM" : "equals",
           all);
  }
  svCommDestroy(comm);
  MPI_Finalize();
  return all ? 1 : 0;
}
