// Optimiser steps on a flat parameter vector, and the float64 sum of squares used for global-norm
// clipping and for detecting non-finite gradients; the loops are elementwise_impl.h's, for the ISA in use.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu_backend.h"
#include "threadpool.h"
#include "isa_kernels.h"

namespace hn {
namespace cpu {

namespace {

constexpr int64_t kChunk = 1 << 16;

}  // namespace

double CpuBackend::sum_squares(const float* x, int64_t count) {
  // Fixed chunks summed in order: the same result for every thread count.
  const int64_t tasks = (count + kChunk - 1) / kChunk;
  if (tasks == 0) return 0.0;
  const auto sum_squares_range = active_kernels().elementwise.sum_squares_range;
  std::vector<double> partial(static_cast<size_t>(tasks), 0.0);
  global_pool().parallel_for(tasks, [&](int64_t t) {
    const int64_t begin = t * kChunk, end = std::min(count, begin + kChunk);
    partial[static_cast<size_t>(t)] = sum_squares_range(x, begin, end);
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

void CpuBackend::optimizer_step(const OptimizerStep& h, float* params, const float* grad, float* m, float* v,
                                int64_t count) {
  const int64_t tasks = std::max<int64_t>(1, (count + kChunk - 1) / kChunk);
  const AdamScales scales = adam_scales(h);
  const float step_size = scales.step_size, inv_sqrt_bc2 = scales.inv_sqrt_bc2;
  const OptimizerRule rule = h.rule;
  const float lr = h.lr, grad_scale = h.grad_scale;
  const ElementwiseKernels& k = active_kernels().elementwise;
  global_pool().parallel_for(tasks, [&](int64_t t) {
    const int64_t begin = t * kChunk, end = std::min(count, begin + kChunk);
    if (rule.kind == OptimizerKind::Sgd) {
      k.sgd_range(params, grad, m, begin, end, grad_scale, lr, rule.weight_decay, rule.momentum, rule.nesterov);
    } else {
      const bool decoupled = rule.kind == OptimizerKind::AdamW;
      k.adam_range(params, grad, m, v, begin, end, grad_scale, rule.beta1, rule.beta2, step_size, inv_sqrt_bc2,
                   rule.eps, decoupled ? 0.0f : rule.weight_decay, decoupled ? lr * rule.weight_decay : 0.0f);
    }
  });
}

}  // namespace cpu
}  // namespace hn
