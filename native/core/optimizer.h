// Adam, AdamW and SGD (+Nesterov) over a flat parameter vector, with linear warm-up, global gradient-norm
// clipping and skipping of non-finite gradients (counted), as DESIGN §3 op 5.
#pragma once

#include <cstdint>

#include "backend.h"
#include "buffer.h"

namespace hn {

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::Adam;
  float lr = 1e-3f;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0.0f;
  float momentum = 0.0f;
  bool nesterov = false;
  float grad_clip = 0.0f;  // global L2 norm; <= 0: off
  int64_t warmup_steps = 0;
  int64_t decay_steps = 0;  // > 0: cosine decay of the rate to 0 over this many steps (after warm-up)
};

struct OptimizerStepResult {
  double grad_norm = 0.0;  // before clipping (NaN/Inf when skipped)
  bool skipped = false;    // non-finite gradient: parameters and state untouched
  float lr = 0.0f;         // the rate used
};

void validate_optimizer_config(const OptimizerConfig& c);

class Optimizer {
 public:
  Optimizer(Backend& backend, const OptimizerConfig& config, int64_t count);

  const OptimizerConfig& config() const noexcept { return config_; }
  int64_t count() const noexcept { return count_; }
  int64_t steps() const noexcept { return steps_; }      // step() calls
  int64_t applied() const noexcept { return applied_; }  // updates applied (Adam's t)
  int64_t skipped() const noexcept { return skipped_; }

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
