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

struct AdamArgs {
  float lr, beta1, beta2, eps, weight_decay, grad_scale, step_size, inv_sqrt_bc2;
  bool decoupled;
};

__global__ void adam_kernel(AdamArgs h, float* __restrict__ params, const float* __restrict__ grad,
                            float* __restrict__ m, float* __restrict__ v, int64_t count) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float p = params[i];
    float g = grad[i] * h.grad_scale;
    if (!h.decoupled && h.weight_decay != 0.0f) g += h.weight_decay * p;
    const float mi = h.beta1 * m[i] + (1.0f - h.beta1) * g;
    const float vi = h.beta2 * v[i] + (1.0f - h.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    if (h.decoupled && h.weight_decay != 0.0f) p -= h.lr * h.weight_decay * p;
    params[i] = p - h.step_size * mi / (sqrtf(vi) * h.inv_sqrt_bc2 + h.eps);
  }
}

struct SgdArgs {
  float lr, weight_decay, momentum, grad_scale;
  bool nesterov;
};

__global__ void sgd_kernel(SgdArgs h, float* __restrict__ params, const float* __restrict__ grad,
                           float* __restrict__ m, int64_t count) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float g = grad[i] * h.grad_scale;
    if (h.weight_decay != 0.0f) g += h.weight_decay * params[i];
    if (h.momentum != 0.0f) {
      const float mi = h.momentum * m[i] + g;
      m[i] = mi;
      g = h.nesterov ? g + h.momentum * mi : mi;
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

void CudaBackend::optimizer_step(const OptimizerHyper& h, float* params, const float* grad, float* m, float* v,
                                 int64_t count) {
  if (count <= 0) return;
  const unsigned grid = detail::grid_for(*this, count);
  switch (h.kind) {
    case OptimizerKind::Adam:
    case OptimizerKind::AdamW: {
      const AdamScales scales = adam_scales(h);  // the same rounded values as the CPU backend
      AdamArgs a;
      a.lr = h.lr;
      a.beta1 = h.beta1;
      a.beta2 = h.beta2;
      a.eps = h.eps;
      a.weight_decay = h.weight_decay;
      a.grad_scale = h.grad_scale;
      a.step_size = scales.step_size;
      a.inv_sqrt_bc2 = scales.inv_sqrt_bc2;
      a.decoupled = h.kind == OptimizerKind::AdamW;
      detail::launch(*this, adam_kernel, grid, detail::kBlock, a, params, grad, m, v, count);
      break;
    }
    case OptimizerKind::Sgd: {
      SgdArgs a;
      a.lr = h.lr;
      a.weight_decay = h.weight_decay;
      a.momentum = h.momentum;
      a.grad_scale = h.grad_scale;
      a.nesterov = h.nesterov;
      detail::launch(*this, sgd_kernel, grid, detail::kBlock, a, params, grad, m, count);
      break;
    }
  }
}

}  // namespace cuda
}  // namespace hn
