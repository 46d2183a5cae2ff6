// Built-in rewards on the CPU: the pixel rewards and the log-softmax pick behind classifierLogProb.
#include <cmath>
#include <limits>

#include "cpu_backend.h"
#include "threadpool.h"

namespace hn {
namespace cpu {

void CpuBackend::pixel_reward(PixelReward kind, const float* x, int64_t n, int64_t p, float weight, float* value,
                              float* grad) {
  global_pool().parallel_for(n, [&](int64_t i) {
    const float* xi = x + i * p;
    float* gi = grad ? grad + i * p : nullptr;
    double acc = 0.0;
    if (kind == PixelReward::Brightness) {
      for (int64_t j = 0; j < p; ++j) acc += xi[j];
      acc /= static_cast<double>(p);
      if (gi) {
        const float g = weight / static_cast<float>(p);
        for (int64_t j = 0; j < p; ++j) gi[j] += g;
      }
    } else {  // redness: channel-first [3, H, W]; mean over pixels of R - (G + B) / 2
      const int64_t hw = p / 3;
      const float* r = xi;
      const float* g = xi + hw;
      const float* b = xi + 2 * hw;
      for (int64_t j = 0; j < hw; ++j) acc += static_cast<double>(r[j]) - 0.5 * (static_cast<double>(g[j]) + b[j]);
      acc /= static_cast<double>(hw);
      if (gi) {
        const float gr = weight / static_cast<float>(hw), gb = -0.5f * gr;
        for (int64_t j = 0; j < hw; ++j) {
          gi[j] += gr;
          gi[hw + j] += gb;
          gi[2 * hw + j] += gb;
        }
      }
    }
    value[i] += weight * static_cast<float>(acc);
  });
}

void CpuBackend::log_softmax_pick(const float* logits, int64_t n, int64_t k, const int32_t* classes, float weight,
                                  float* value, float* dlogits) {
  global_pool().parallel_for(n, [&](int64_t i) {
    const float* li = logits + i * k;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < k; ++j) mx = li[j] > mx ? li[j] : mx;
    double sum = 0.0;
    for (int64_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(li[j]) - mx);
    const double lse = mx + std::log(sum);
    const int32_t c = classes[i];
    value[i] += weight * static_cast<float>(static_cast<double>(li[c]) - lse);
    if (dlogits) {
      float* di = dlogits + i * k;
      for (int64_t j = 0; j < k; ++j) {
        const double softmax = std::exp(static_cast<double>(li[j]) - lse);
        di[j] = weight * static_cast<float>((j == c ? 1.0 : 0.0) - softmax);
      }
    }
  });
}

void CpuBackend::argmax_classes(const float* cond, int64_t n, int64_t cond_dim, int64_t offset, int64_t k,
                                int32_t* classes) {
  for (int64_t i = 0; i < n; ++i) {
    const float* ci = cond + i * cond_dim + offset;
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j) {
      if (ci[j] > ci[best]) best = j;
    }
    classes[i] = static_cast<int32_t>(best);
  }
}

}  // namespace cpu
}  // namespace hn
