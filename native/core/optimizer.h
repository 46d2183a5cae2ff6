// Adam, AdamW and SGD (+Nesterov) over a flat parameter vector, with linear warm-up, cosine decay, global
// gradient-norm clipping and skipping of non-finite gradients (counted).
#pragma once

#include <cstdint>

#include "backend.h"
#include "buffer.h"
#include "optimizer_config.h"
#include "options.h"

namespace hn {

// step() calls, updates applied (Adam's t) and steps skipped for a non-finite gradient or reward.
struct OptimizerCounters {
  int64_t steps = 0, applied = 0, skipped = 0;
};

struct OptimizerStepResult {
  double grad_norm = 0.0;  // before clipping (NaN/Inf when skipped)
  bool skipped = false;    // non-finite gradient: parameters and state untouched
  float lr = 0.0f;         // the rate used
};

// The `optimizer` options: type, lr, beta1, beta2, eps, weightDecay, momentum, nesterov, gradClip,
// warmupSteps, decaySteps.
const OptionTable<OptimizerConfig>& optimizer_options();
// The defaults for an optimiser type (AdamW decays weights by 0.01 unless told otherwise, as PyTorch's).
OptimizerConfig optimizer_defaults(OptimizerKind kind);
void validate_optimizer_config(const OptimizerConfig& c);

class Optimizer {
 public:
  Optimizer(Backend& backend, const OptimizerConfig& config, int64_t count);

  const OptimizerConfig& config() const noexcept { return config_; }
  int64_t count() const noexcept { return count_; }
  int64_t steps() const noexcept { return steps_; }      // step() calls
  int64_t applied() const noexcept { return applied_; }  // updates applied (Adam's t)
  int64_t skipped() const noexcept { return skipped_; }
  OptimizerCounters counters() const noexcept { return {steps_, applied_, skipped_}; }

  // Backend memory.
  OptimizerStepResult step(float* params, const float* grad);
  // Counts a step that was skipped before reaching the optimiser (e.g. a non-finite reward).
  void record_skip() noexcept {
    ++steps_;
    ++skipped_;
  }

  // State for checkpoints (host memory): m and v (count floats each) and the counters.
  void get_state(float* m, float* v) const;
  void set_state(const float* m, const float* v, int64_t steps, int64_t applied, int64_t skipped);
  size_t memory_bytes() const noexcept { return m_.bytes() + v_.bytes(); }

 private:
  Backend& backend_;
  OptimizerConfig config_;
  int64_t count_;
  DeviceBuffer m_, v_;
  int64_t steps_ = 0, applied_ = 0, skipped_ = 0;
};

}  // namespace hn
