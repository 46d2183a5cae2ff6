// The generic SGEMM op and the GEMM entry points the other op families share (strided-batched GEMM,
// GEMM with bias + activation, column sums). All run on the tile engine of gemm_tile.cuh; the transposes
// follow native/cpu/gemm.h (trans_a: A stored K x M; trans_b: B stored N x K).
#include "gemm_tile.cuh"

namespace hn {
namespace cuda {
namespace detail {

namespace {

template <bool TA, bool TB>
void gemm_typed(CudaBackend& be, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                int64_t sa, const float* b, int64_t ldb, int64_t sb, float beta, float* c, int64_t ldc, int64_t sc,
                int64_t batch) {
  run_gemm(be, m, n, k, batch, Mat<TA>{a, lda, sa}, Mat<TB>{b, ldb, sb}, EpiAB{c, ldc, sc, alpha, beta});
}

// One thread per column, rows summed in order in float64: deterministic, coalesced across columns.
__global__ void __launch_bounds__(kBlock) column_sums_kernel(const float* __restrict__ x, int64_t rows, int64_t cols, int64_t ld, float alpha,
                                   float* out, bool accumulate) {
  for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < cols;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    double acc = 0.0;
    for (int64_t i = 0; i < rows; ++i) acc += x[i * ld + j];
    const float v = alpha * static_cast<float>(acc);
    out[j] = accumulate ? out[j] + v : v;
  }
}

}  // namespace

void gemm_batched(CudaBackend& be, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                  int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b, float beta, float* c,
                  int64_t ldc, int64_t stride_c, int64_t batch) {
  if (m <= 0 || n <= 0 || batch <= 0) return;
  if (ta) {
    if (tb) {
      gemm_typed<true, true>(be, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c, batch);
    } else {
      gemm_typed<true, false>(be, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c, batch);
    }
  } else {
    if (tb) {
      gemm_typed<false, true>(be, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c, batch);
    } else {
      gemm_typed<false, false>(be, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c, batch);
    }
  }
}

void gemm_bias_act(CudaBackend& be, int64_t m, int64_t n, int64_t k, const float* x, const float* w,
                   const float* bias, Activation act, float* z, float* y) {
  run_gemm(be, m, n, k, 1, Mat<false>{x, k, 0}, Mat<true>{w, k, 0}, EpiBiasAct{z, y, n, bias, act, 1.0f});
}

void column_sums(CudaBackend& be, const float* x, int64_t rows, int64_t cols, int64_t ld, float alpha, float* out,
                 bool accumulate) {
  if (cols <= 0) return;
  launch(be, column_sums_kernel, grid_for(be, cols), kBlock, x, rows, cols, ld, alpha, out, accumulate);
}

}  // namespace detail

void CudaBackend::gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                       int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  detail::gemm_batched(*this, trans_a, trans_b, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
}

}  // namespace cuda
}  // namespace hn
