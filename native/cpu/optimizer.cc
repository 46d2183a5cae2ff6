// Optimiser steps on a flat parameter vector, and the float64 sum of squares used for global-norm
// clipping and for detecting non-finite gradients.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu_backend.h"
#include "threadpool.h"
#include "vectorize.h"

namespace hn {
namespace cpu {

namespace {

constexpr int64_t kChunk = 1 << 16;

// Eight float64 lanes in a fixed pattern: vectorisable, and the same result for every thread count.
HN_VECTORIZE
double sum_squares_range(const float* x, int64_t begin, int64_t end) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    for (int q = 0; q < 8; ++q) acc[q] += static_cast<double>(x[i + q]) * x[i + q];
  }
  for (; i < end; ++i) acc[0] += static_cast<double>(x[i]) * x[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

}  // namespace

double CpuBackend::sum_squares(const float* x, int64_t count) {
  // Fixed chunks summed in order: the same result for every thread count.
  const int64_t tasks = (count + kChunk - 1) / kChunk;
  if (tasks == 0) return 0.0;
  std::vector<double> partial(static_cast<size_t>(tasks), 0.0);
  global_pool().parallel_for(tasks, [&](int64_t t) {
    const int64_t begin = t * kChunk, end = std::min(count, begin + kChunk);
    partial[static_cast<size_t>(t)] = sum_squares_range(x, begin, end);
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

namespace {

// The update loops take their hyper-parameters by value (locals the compiler can keep in registers while it
// vectorises; read through a reference they would be reloaded after every store).
HN_VECTORIZE
void adam_range(float* __restrict params, const float* __restrict grad, float* __restrict m, float* __restrict v,
                int64_t begin, int64_t end, float grad_scale, float beta1, float beta2, float step_size,
                float inv_sqrt_bc2, float eps, float l2_decay, float decoupled_decay) {
  const float one_m_b1 = 1.0f - beta1, one_m_b2 = 1.0f - beta2;
  for (int64_t i = begin; i < end; ++i) {
    const float g = grad[i] * grad_scale + l2_decay * params[i];
    const float mi = beta1 * m[i] + one_m_b1 * g;
    const float vi = beta2 * v[i] + one_m_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const float p = params[i] - decoupled_decay * params[i];
    params[i] = p - step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
  }
}

HN_VECTORIZE
void sgd_range(float* __restrict params, const float* __restrict grad, float* __restrict buf, int64_t begin,
               int64_t end, float grad_scale, float lr, float weight_decay, float momentum, bool nesterov) {
  for (int64_t i = begin; i < end; ++i) {
    float g = grad[i] * grad_scale + weight_decay * params[i];
    if (momentum != 0.0f) {
      const float b = momentum * buf[i] + g;
      buf[i] = b;
      g = nesterov ? g + momentum * b : b;
    }
    params[i] -= lr * g;
  }
}

}  // namespace

void CpuBackend::optimizer_step(const OptimizerStep& h, float* params, const float* grad, float* m, float* v,
                                int64_t count) {
  const int64_t tasks = std::max<int64_t>(1, (count + kChunk - 1) / kChunk);
  const AdamScales scales = adam_scales(h);
  const float step_size = scales.step_size, inv_sqrt_bc2 = scales.inv_sqrt_bc2;
  const OptimizerRule rule = h.rule;
  const float lr = h.lr, grad_scale = h.grad_scale;
  global_pool().parallel_for(tasks, [&](int64_t t) {
    const int64_t begin = t * kChunk, end = std::min(count, begin + kChunk);
    if (rule.kind == OptimizerKind::Sgd) {
      sgd_range(params, grad, m, begin, end, grad_scale, lr, rule.weight_decay, rule.momentum, rule.nesterov);
    } else {
      const bool decoupled = rule.kind == OptimizerKind::AdamW;
      adam_range(params, grad, m, v, begin, end, grad_scale, rule.beta1, rule.beta2, step_size, inv_sqrt_bc2, rule.eps,
                 decoupled ? 0.0f : rule.weight_decay, decoupled ? lr * rule.weight_decay : 0.0f);
    }
  });
}

}  // namespace cpu
}  // namespace hn
