// Shared by the CUDA backend's .cu files: launch helpers, deterministic block reductions, and the host
// entry points one op family offers another (GEMM dispatch, column sums, exact-KL pieces).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/activations.h"
#include "core/backend.h"
#include "core/buffer.h"
#include "cuda_backend.h"
#include "cuda_check.h"

#if defined(HN_CUDA_EMULATION)
// Host emulation of the kernels for testing without a GPU (native/tests/cuda_emu, scripts/cuda-emulate.sh).
#include <tuple>

#include "emu_runtime.h"
#endif

namespace hn {
namespace cuda {
namespace detail {

constexpr int kBlock = 256;  // threads per block of the element-wise and per-row kernels

// Blocks for a grid-stride loop over `count` items: enough to fill the device, capped (the loops cover
// the rest). Depends on the device only through the SM count, never on timing: results stay deterministic.
inline unsigned grid_for(const CudaBackend& be, int64_t count, int threads = kBlock) {
  const int64_t want = (count + threads - 1) / threads;
  const int64_t cap = static_cast<int64_t>(be.sm_count()) * 16;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(want, cap)));
}

// kernel<<<grid, block, 0, be.stream()>>>(args...) and the launch check. Every launch goes through here so
// that the host emulation can run the same kernels.
template <class... P, class... A>
inline void launch(const CudaBackend& be, void (*kernel)(P...), dim3 grid, dim3 block, const A&... args) {
#if defined(HN_CUDA_EMULATION)
  (::hn_emu::check_kernel_arg(P(args)), ...);
  ::hn_emu::submit(be.stream(), grid, block,
                   [kernel, bound = std::make_tuple(P(args)...)] { std::apply(kernel, bound); });
#else
  kernel<<<grid, block, 0, be.stream()>>>(P(args)...);
#endif
  HN_CUDA_LAUNCH_CHECK();
}

// Sum of one double per thread over a block of T threads (T a power of two), in a fixed tree order, so the
// result does not depend on timing. `sh` holds T doubles. Every thread gets the sum; `sh` may be reused
// after the call.
template <int T>
__device__ __forceinline__ double block_sum(double v, double* sh) {
  const int tid = threadIdx.x;
  sh[tid] = v;
  __syncthreads();
#pragma unroll
  for (int s = T / 2; s > 0; s >>= 1) {
    if (tid < s) sh[tid] += sh[tid + s];
    __syncthreads();
  }
  const double total = sh[0];
  __syncthreads();
  return total;
}

// ---- asynchronous copies global -> shared (cp.async, sm_80 and later) -----------------------------------

// Starts a 16-byte copy from global memory (16-byte aligned) into shared memory (16-byte aligned); only the
// first `bytes` (0, 4, 8, 12 or 16) are read, the rest of the 16 shared bytes become zeros. The data may be
// read only after the cp_async_wait that covers the copy's group (and, for other threads, a barrier). The
// emulator lands each group's copies only at that wait, so a read that comes too early sees poisoned memory.
__device__ __forceinline__ void cp_async16(float* smem, const float* gmem, int bytes) {
#if defined(HN_CUDA_EMULATION)
  ::hn_emu::cp_async(smem, gmem, bytes);
#else
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(__cvta_generic_to_global(gmem)),
               "r"(bytes)
               : "memory");
#endif
}

// Closes the group of copies started since the last commit.
__device__ __forceinline__ void cp_async_commit() {
#if defined(HN_CUDA_EMULATION)
  ::hn_emu::cp_async_commit();
#else
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// Waits until at most `Pending` of this thread's committed groups are still in flight (the newest ones).
template <int Pending>
__device__ __forceinline__ void cp_async_wait() {
#if defined(HN_CUDA_EMULATION)
  ::hn_emu::cp_async_wait(Pending);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending) : "memory");
#endif
}

__host__ __device__ __forceinline__ bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// ---- entry points shared between files ---------------------------------------------------------------

// Row-major C = alpha op(A) op(B) + beta C for `batch` independent problems (strides in floats; a stride
// of 0 shares the operand). Tiled, register-blocked; split over K (reduced in a fixed order) when the
// output alone cannot fill the device. beta == 0 ignores C's previous contents.
void gemm_batched(CudaBackend& be, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                  int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b, float beta, float* c,
                  int64_t ldc, int64_t stride_c, int64_t batch);

// y = act(x W^T + bias) (x: m x k, W: n x k, y: m x n); z = x W^T + bias too when z is non-null.
void gemm_bias_act(CudaBackend& be, int64_t m, int64_t n, int64_t k, const float* x, const float* w,
                   const float* bias, Activation act, float* z, float* y);

// out[j] = (accumulate ? out[j] : 0) + alpha * sum_i x[i * ld + j] for j < cols, i < rows; the sum in
// float64, over i in order.
void column_sums(CudaBackend& be, const float* x, int64_t rows, int64_t cols, int64_t ld, float alpha, float* out,
                 bool accumulate);

// Exact KL (kl.cu), the CUDA twins of cpu::exact_kl_forward / exact_kl_backward.
// Forward: trace, logdet, noninvertible (each n); with keep, P (n x r x r) and, at depth > 1, M.
void exact_kl_forward(CudaBackend& be, const HypernetDesc& d, const float* params, const float* K, const float* z,
                      int64_t n, bool keep, float* M_out, float* P_out, float* trace, float* logdet,
                      float* noninvertible);
// Backward of sum_i w E_i: writes w dE/dz into dz (L x n x r, every entry), writes w dE/dW_k into grad
// (k = 2..L), and writes S = w sum_i (P_i M_i)^T (r x r).
void exact_kl_backward(CudaBackend& be, const HypernetDesc& d, const float* params, const float* K, const float* z,
                       const float* P, int64_t n, float w, float* dz, float* grad, float* S);

}  // namespace detail
}  // namespace cuda
}  // namespace hn
