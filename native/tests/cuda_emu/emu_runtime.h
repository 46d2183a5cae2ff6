// The emulator's launch entry point (see cuda_runtime.h here); used by native/cuda/common.cuh's launch()
// when HN_CUDA_EMULATION is defined.
#pragma once

#include <functional>

#include "cuda_runtime.h"

namespace hn_emu {

// Runs `kernel_body` once per CUDA thread of every block of `grid`, blocks one after the other, the threads
// of a block as fibers switched at barriers. A bad configuration sets the error cudaGetLastError returns.
void run_grid(dim3 grid, dim3 block, const std::function<void()>& kernel_body);

}  // namespace hn_emu
