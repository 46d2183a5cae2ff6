// Test-time noise optimisation (ReNO) kernels on the CPU: the per-sample regularised, clipped Nesterov
// step on the noise, and best-iterate tracking.
#include <algorithm>
#include <cmath>

#include "cpu_backend.h"
#include "threadpool.h"

namespace hn {
namespace cpu {

void CpuBackend::noise_sgd_step(float* eps, const float* grad, float* velocity, int64_t n, int64_t dim, float lr,
                                float momentum, bool nesterov, float clip, float lambda_chi) {
  global_pool().parallel_for(n, [&](int64_t i) {
    float* e = eps + i * dim;
    const float* g = grad + i * dim;
    float* vel = velocity + i * dim;
    double e2 = 0.0;
    for (int64_t j = 0; j < dim; ++j) e2 += static_cast<double>(e[j]) * e[j];
    // d/de [0.5||e||^2 - (D-1) log||e||] = e (1 - (D-1)/||e||^2)
    const float chi_coef =
        lambda_chi == 0.0f ? 0.0f : static_cast<float>(lambda_chi * (1.0 - static_cast<double>(dim - 1) / e2));
    double g2 = 0.0;
    for (int64_t j = 0; j < dim; ++j) {
      const double gj = static_cast<double>(g[j]) + static_cast<double>(chi_coef) * e[j];
      g2 += gj * gj;
    }
    const double norm = std::sqrt(g2);
    const float clip_scale = (clip > 0.0f && norm > clip) ? static_cast<float>(clip / norm) : 1.0f;
    for (int64_t j = 0; j < dim; ++j) {
      float gj = (g[j] + chi_coef * e[j]) * clip_scale;
      if (momentum != 0.0f) {
        vel[j] = momentum * vel[j] + gj;
        gj = nesterov ? gj + momentum * vel[j] : vel[j];
      }
      e[j] -= lr * gj;
    }
  });
}

void CpuBackend::keep_best(const float* value, int64_t n, float* best_value, const float* a, int64_t da,
                           float* best_a, const float* b, int64_t db, float* best_b) {
  for (int64_t i = 0; i < n; ++i) {
    if (!(value[i] > best_value[i])) continue;
    best_value[i] = value[i];
    std::copy(a + i * da, a + (i + 1) * da, best_a + i * da);
    if (b != nullptr) std::copy(b + i * db, b + (i + 1) * db, best_b + i * db);
  }
}

}  // namespace cpu
}  // namespace hn
