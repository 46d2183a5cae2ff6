// Test-time noise optimisation (ReNO) kernels on the GPU: the per-sample regularised, clipped Nesterov
// step on the noise (one block per sample: two float64 norms by fixed-order block sums, then the update),
// and best-iterate tracking.
#include <cmath>

#include "common.cuh"

namespace hn {
namespace cuda {

namespace {

__global__ void __launch_bounds__(detail::kBlock)
    noise_sgd_kernel(float* __restrict__ eps, const float* __restrict__ grad, float* __restrict__ velocity,
                     int64_t dim, float lr, float momentum, bool nesterov, float clip, float lambda_chi) {
  __shared__ double sh[detail::kBlock];
  const int64_t i = blockIdx.x;
  float* e = eps + i * dim;
  const float* g = grad + i * dim;
  float* vel = velocity + i * dim;
  double e2 = 0.0;
  for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) e2 += static_cast<double>(e[j]) * e[j];
  e2 = detail::block_sum<detail::kBlock>(e2, sh);
  // d/de [0.5||e||^2 - (D-1) log||e||] = e (1 - (D-1)/||e||^2)
  const float chi_coef =
      lambda_chi == 0.0f ? 0.0f : static_cast<float>(lambda_chi * (1.0 - static_cast<double>(dim - 1) / e2));
  double g2 = 0.0;
  for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) {
    const double gj = static_cast<double>(g[j]) + static_cast<double>(chi_coef) * e[j];
    g2 += gj * gj;
  }
  g2 = detail::block_sum<detail::kBlock>(g2, sh);
  const double norm = sqrt(g2);
  const float clip_scale = (clip > 0.0f && norm > clip) ? static_cast<float>(clip / norm) : 1.0f;
  for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) {
    float gj = (g[j] + chi_coef * e[j]) * clip_scale;
    if (momentum != 0.0f) {
      const float v = momentum * vel[j] + gj;
      vel[j] = v;
      gj = nesterov ? gj + momentum * v : v;
    }
    e[j] -= lr * gj;
  }
}

// Block per sample: everyone reads the comparison before thread 0 overwrites best_value.
__global__ void __launch_bounds__(detail::kBlock) keep_best_kernel(const float* __restrict__ value, float* best_value, const float* __restrict__ a,
                                 int64_t da, float* __restrict__ best_a, const float* __restrict__ b, int64_t db,
                                 float* __restrict__ best_b) {
  const int64_t i = blockIdx.x;
  const float v = value[i];
  const bool take = v > best_value[i];
  __syncthreads();
  if (!take) return;
  if (threadIdx.x == 0) best_value[i] = v;
  for (int64_t j = threadIdx.x; j < da; j += blockDim.x) best_a[i * da + j] = a[i * da + j];
  if (b != nullptr) {
    for (int64_t j = threadIdx.x; j < db; j += blockDim.x) best_b[i * db + j] = b[i * db + j];
  }
}

}  // namespace

void CudaBackend::noise_sgd_step(float* eps, const float* grad, float* velocity, int64_t n, int64_t dim, float lr,
                                 float momentum, bool nesterov, float clip, float lambda_chi) {
  if (n <= 0) return;
  detail::launch(*this, noise_sgd_kernel, static_cast<unsigned>(n), detail::kBlock, eps, grad, velocity, dim, lr,
                 momentum, nesterov, clip, lambda_chi);
}

void CudaBackend::keep_best(const float* value, int64_t n, float* best_value, const float* a, int64_t da,
                            float* best_a, const float* b, int64_t db, float* best_b) {
  if (n <= 0) return;
  detail::launch(*this, keep_best_kernel, static_cast<unsigned>(n), detail::kBlock, value, best_value, a, da, best_a, b,
                 db, best_b);
}

}  // namespace cuda
}  // namespace hn
