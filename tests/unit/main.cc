// SPDX-License-Identifier: MIT
// Catch2 main of the unit tests. The SV_* configuration variables of the
// caller's environment are removed first: the tests set what they need, and
// a stray SV_TIE=zero in a developer's shell must not change their results.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <stdlib.h>

int main(int argc, char* argv[]) {
  static const char* const kVars[] = {"SV_TIE",  "SV_ZERO",        "SV_NAN",
                                      "SV_ALGO", "SV_SCALE",       "SV_SEED",
                                      "SV_CHUNK_BYTES", "SV_ALLGATHER_THRESHOLD", "SV_DEVICE", "SV_MPI_CUDA_AWARE"};
  for (const char* v : kVars) unsetenv(v);
  return Catch::Session().run(argc, argv);
}
