// The optimiser's settings: the update rule and its constants (OptimizerRule), the schedule around it
// (OptimizerConfig, what the user sets), and what one update needs (OptimizerStep: the rule plus this
// step's rate, clipping factor and count), with Adam's bias corrections, which every backend takes from here.
#pragma once

#include <cmath>
#include <cstdint>

namespace hn {

enum class OptimizerKind { Adam = 0, AdamW = 1, Sgd = 2 };

struct OptimizerRule {
  OptimizerKind kind = OptimizerKind::Adam;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;  // Adam, AdamW
  float weight_decay = 0.0f;  // L2 (Adam, SGD) or decoupled (AdamW, whose default is 0.01)
  float momentum = 0.0f;      // SGD
  bool nesterov = false;      // SGD
};

struct OptimizerConfig {
  OptimizerRule rule;
  float lr = 1e-3f;
  float grad_clip = 0.0f;    // global L2 norm; <= 0: off
  int64_t warmup_steps = 0;  // linear warm-up of the rate
  int64_t decay_steps = 0;   // > 0: cosine decay of the rate to min_lr over this many steps (after warm-up)
  float min_lr = 0.0f;       // the decay's floor, held after warm-up + decay (<= lr)
};

struct OptimizerStep {
  OptimizerRule rule;
  float lr = 1e-3f;          // the rate used this step (warm-up and decay applied)
  float grad_scale = 1.0f;   // multiplies every gradient first (global-norm clipping)
  int64_t step = 1;          // 1-based Adam step for bias correction
};

// Adam's bias corrections for h.step: the step size lr / (1 - beta1^t) and 1 / sqrt(1 - beta2^t), computed in
// float64 and rounded once here, so that every backend applies the same values.
struct AdamScales {
  float step_size;
  float inv_sqrt_bc2;
};
inline AdamScales adam_scales(const OptimizerStep& h) {
  const double bc1 = 1.0 - std::pow(static_cast<double>(h.rule.beta1), static_cast<double>(h.step));
  const double bc2 = 1.0 - std::pow(static_cast<double>(h.rule.beta2), static_cast<double>(h.step));
  return {static_cast<float>(h.lr / bc1), static_cast<float>(1.0 / std::sqrt(bc2))};
}

}  // namespace hn
