// SPDX-License-Identifier: MIT
// The emulated CUDA runtime (cuda_runtime_api.h here); no device code.
#pragma once
#include "cuda_runtime_api.h"
