// Optimiser steps on a flat parameter vector, and the float64 sum of squares behind global-norm clipping
// and the non-finite check. The sum is two fixed-shape passes (per-block tree sums, then one block over
// the partials), its shape a function of the count only: the same result on every run.
#include <cmath>

#include "common.cuh"

namespace hn {
namespace cuda {

namespace {

constexpr int kSumBlocks = 1024;  // most first-pass blocks (= second-pass threads)

__global__ void __launch_bounds__(detail::kBlock)
    sum_squares_partial_kernel(const float* __restrict__ x, int64_t count, double* __restrict__ partial) {
  __shared__ double sh[detail::kBlock];
  double acc = 0.0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    acc += static_cast<double>(x[i]) * x[i];
  }
  const double total = detail::block_sum<detail::kBlock>(acc, sh);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

__global__ void __launch_bounds__(kSumBlocks)
    sum_squares_final_kernel(const double* __restrict__ partial, int blocks, double* __restrict__ out) {
  __shared__ double sh[kSumBlocks];
  const double v = static_cast<int>(threadIdx.x) < blocks ? partial[threadIdx.x] : 0.0;
  const double total = detail::block_sum<kSumBlocks>(v, sh);
  if (threadIdx.x == 0) *out = total;
}

__global__ void __launch_bounds__(detail::kBlock) adam_kernel(OptimizerStep h, AdamScales sc, float* __restrict__ params, const float* __restrict__ grad,
                            float* __restrict__ m, float* __restrict__ v, int64_t count) {
  const OptimizerRule& r = h.rule;
  const bool decoupled = r.kind == OptimizerKind::AdamW;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float p = params[i];
    float g = grad[i] * h.grad_scale;
    if (!decoupled && r.weight_decay != 0.0f) g += r.weight_decay * p;
    const float mi = r.beta1 * m[i] + (1.0f - r.beta1) * g;
    const float vi = r.beta2 * v[i] + (1.0f - r.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    if (decoupled && r.weight_decay != 0.0f) p -= h.lr * r.weight_decay * p;
    params[i] = p - sc.step_size * mi / (sqrtf(vi) * sc.inv_sqrt_bc2 + r.eps);
  }
}

__global__ void __launch_bounds__(detail::kBlock) sgd_kernel(OptimizerStep h, float* __restrict__ params, const float* __restrict__ grad,
                           float* __restrict__ m, int64_t count) {
  const OptimizerRule& r = h.rule;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float g = grad[i] * h.grad_scale;
    if (r.weight_decay != 0.0f) g += r.weight_decay * params[i];
    if (r.momentum != 0.0f) {
      const float mi = r.momentum * m[i] + g;
      m[i] = mi;
      g = r.nesterov ? g + r.momentum * mi : mi;
    }
    params[i] -= h.lr * g;
  }
}

}  // namespace

double CudaBackend::sum_squares(const float* x, int64_t count) {
  if (count <= 0) return 0.0;
  // Blocks: a function of count alone (not of the device), so the summation tree is fixed.
  const int64_t per_block = 8 * detail::kBlock;
  const int blocks = static_cast<int>(std::min<int64_t>(kSumBlocks, (count + per_block - 1) / per_block));
  DeviceBuffer partial(*this, static_cast<size_t>(blocks + 1) * sizeof(double));
  double* part = static_cast<double*>(partial.data());
  detail::launch(*this, sum_squares_partial_kernel, blocks, detail::kBlock, x, count, part);
  detail::launch(*this, sum_squares_final_kernel, 1, kSumBlocks, part, blocks, part + blocks);
  double result = 0.0;
  to_host(&result, part + blocks, sizeof(double));
  return result;
}

void CudaBackend::optimizer_step(const OptimizerStep& h, float* params, const float* grad, float* m, float* v,
                                 int64_t count) {
  if (count <= 0) return;
  const unsigned grid = detail::grid_for(*this, count);
  if (h.rule.kind == OptimizerKind::Sgd) {
    detail::launch(*this, sgd_kernel, grid, detail::kBlock, h, params, grad, m, count);
  } else {
    // The same rounded bias corrections as the CPU backend.
    detail::launch(*this, adam_kernel, grid, detail::kBlock, h, adam_scales(h), params, grad, m, v, count);
  }
}

}  // namespace cuda
}  // namespace hn
