// SPDX-License-Identifier: MIT
// The parameter tensors of ResNet-50, for the group benchmarks
// (perf/group_bench.cc on host communicators, perf/gpu/gpu_vote_bench.cc -g
// on device ones): 161 tensors, 25,557,032 elements.
#pragma once

#include <stddef.h>

#include <vector>

namespace svperf {

// torchvision's resnet50().parameters() sizes, in order: conv1 and bn1,
// then each bottleneck (1x1, 3x3, 1x1 convolutions with their batch norms'
// weight and bias; the first block of a stage also a 1x1 downsample and its
// batch norm), then fc.weight and fc.bias.
inline std::vector<size_t> resnet50Sizes() {
  std::vector<size_t> s = {64 * 3 * 7 * 7, 64, 64};
  const int blocks[4] = {3, 4, 6, 3}, widths[4] = {64, 128, 256, 512};
  size_t in = 64;
  for (int stage = 0; stage < 4; ++stage) {
    const size_t w = widths[stage], out = 4 * w;
    for (int b = 0; b < blocks[stage]; ++b) {
      for (size_t n : {in * w, w, w, w * w * 9, w, w, w * out, out, out}) s.push_back(n);
      if (b == 0) for (size_t n : {in * out, out, out}) s.push_back(n);
      in = out;
    }
  }
  s.push_back(2048 * 1000);
  s.push_back(1000);
  return s;
}

}  // namespace svperf
