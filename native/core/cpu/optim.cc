// Optimiser steps on a flat parameter vector, and the float64 sum of squares used for global-norm
// clipping and for detecting non-finite gradients.
#include <cmath>
#include <vector>

#include "cpu_backend.h"
#include "threadpool.h"

namespace hn {
namespace cpu {

namespace {
constexpr int64_t kChunk = 1 << 16;
}

double CpuBackend::sum_squares(const float* x, int64_t count) {
  // Fixed chunks summed in order: the same result for every thread count.
  const int64_t tasks = (count + kChunk - 1) / kChunk;
  if (tasks == 0) return 0.0;
  std::vector<double> partial(static_cast<size_t>(tasks), 0.0);
  global_pool().parallel_for(tasks, [&](int64_t t) {
    const int64_t begin = t * kChunk, end = std::min(count, begin + kChunk);
    double acc[4] = {0, 0, 0, 0};
    int64_t i = begin;
    for (; i + 4 <= end; i += 4) {
      for (int j = 0; j < 4; ++j) acc[j] += static_cast<double>(x[i + j]) * x[i + j];
    }
    for (; i < end; ++i) acc[0] += static_cast<double>(x[i]) * x[i];
    partial[static_cast<size_t>(t)] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

void CpuBackend::optimizer_step(const OptimizerHyper& h, float* params, const float* grad, float* m, float* v,
                                int64_t count) {
  const int64_t tasks = std::max<int64_t>(1, (count + kChunk - 1) / kChunk);
  const double bc1 = 1.0 - std::pow(static_cast<double>(h.beta1), static_cast<double>(h.step));
  const double bc2 = 1.0 - std::pow(static_cast<double>(h.beta2), static_cast<double>(h.step));
  const float step_size = static_cast<float>(h.lr / bc1);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  global_pool().parallel_for(tasks, [&](int64_t t) {
    const int64_t begin = t * kChunk, end = std::min(count, begin + kChunk);
    switch (h.kind) {
      case OptimizerKind::Adam:
      case OptimizerKind::AdamW: {
        const bool decoupled = h.kind == OptimizerKind::AdamW;
        for (int64_t i = begin; i < end; ++i) {
          float g = grad[i] * h.grad_scale;
          if (!decoupled && h.weight_decay != 0.0f) g += h.weight_decay * params[i];
          m[i] = h.beta1 * m[i] + (1.0f - h.beta1) * g;
          v[i] = h.beta2 * v[i] + (1.0f - h.beta2) * g * g;
          if (decoupled && h.weight_decay != 0.0f) params[i] -= h.lr * h.weight_decay * params[i];
          params[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + h.eps);
        }
        break;
      }
      case OptimizerKind::Sgd: {
        for (int64_t i = begin; i < end; ++i) {
          float g = grad[i] * h.grad_scale;
          if (h.weight_decay != 0.0f) g += h.weight_decay * params[i];
          if (h.momentum != 0.0f) {
            m[i] = h.momentum * m[i] + g;
            g = h.nesterov ? g + h.momentum * m[i] : m[i];
          }
          params[i] -= h.lr * g;
        }
        break;
      }
    }
  });
}

}  // namespace cpu
}  // namespace hn
