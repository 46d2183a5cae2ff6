// The emulator's launch entry point (see cuda_runtime.h here); used by native/cuda/common.cuh's launch()
// when HN_CUDA_EMULATION is defined.
#pragma once

#include <functional>

#include "cuda_runtime.h"

namespace hn_emu {

// Runs `kernel_body` once per CUDA thread of every block of `grid`, blocks one after the other, the threads
// of a block as fibers switched at barriers. A bad configuration sets the error cudaGetLastError returns.
void run_grid(dim3 grid, dim3 block, const std::function<void()>& kernel_body);

// A kernel launch on stream s: run now, or recorded while s captures a graph (the body then owns copies of the
// kernel's arguments).
void submit(cudaStream_t s, dim3 grid, dim3 block, std::function<void()> kernel_body);

// cp.async as the device runs it, one thread's copies at a time: cp_async records a copy of `bytes` bytes
// (the rest of the 16 zero-filled) in the thread's open group, cp_async_commit closes the group, and
// cp_async_wait(n) performs every group but the newest n, in order. Until then the destination keeps what it
// held (NaN bytes in a fresh block), so a read before the wait that covers it shows up as a parity failure.
void cp_async(void* smem, const void* gmem, int bytes);
void cp_async_commit();
void cp_async_wait(int pending);

// A kernel argument that is a pointer must be null or point into (or one past the end of) a live emulated
// device allocation: a host pointer or a freed buffer handed to a kernel is reported and aborts the run.
void check_device_pointer(const void* p, const char* what);
template <class T>
inline void check_kernel_arg(T* p) {
  check_device_pointer(p, "kernel argument");
}
template <class T>
inline void check_kernel_arg(const T&) {}

}  // namespace hn_emu
