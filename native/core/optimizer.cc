#include "optimizer.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "errors.h"

namespace hn {

void validate_optimizer_config(const OptimizerConfig& c) {
  auto finite_nonneg = [](float v, const char* what) {
    require(std::isfinite(v) && v >= 0.0f, ErrorCode::Argument,
            std::string("Expected optimizer.") + what + " to be a finite number >= 0 but received " + std::to_string(v));
  };
  finite_nonneg(c.lr, "lr");
  finite_nonneg(c.weight_decay, "weightDecay");
  finite_nonneg(c.momentum, "momentum");
  finite_nonneg(c.grad_clip, "gradClip");
  require(c.beta1 >= 0.0f && c.beta1 < 1.0f && c.beta2 >= 0.0f && c.beta2 < 1.0f, ErrorCode::Argument,
          "Expected optimizer betas in [0, 1)");
  require(c.eps > 0.0f && std::isfinite(c.eps), ErrorCode::Argument, "Expected optimizer.eps > 0");
  require(c.warmup_steps >= 0, ErrorCode::Argument, "Expected optimizer.warmupSteps >= 0");
  require(c.decay_steps >= 0, ErrorCode::Argument, "Expected optimizer.decaySteps >= 0");
  require(c.momentum < 1.0f, ErrorCode::Argument, "Expected optimizer.momentum < 1");
}

Optimizer::Optimizer(Backend& backend, const OptimizerConfig& config, int64_t count)
    : backend_(backend), config_(config), count_(count) {
  validate_optimizer_config(config);
  m_ = DeviceBuffer(backend_, static_cast<size_t>(count) * sizeof(float));
  v_ = DeviceBuffer(backend_, static_cast<size_t>(count) * sizeof(float));
  backend_.fill(m_.f32(), 0.0f, count);
  backend_.fill(v_.f32(), 0.0f, count);
}

OptimizerStepResult Optimizer::step(float* params, const float* grad) {
  OptimizerStepResult res;
  ++steps_;
  const double sq = backend_.sum_squares(grad, count_);
  res.grad_norm = std::sqrt(sq);
  if (!std::isfinite(sq)) {
    res.skipped = true;
    ++skipped_;
    return res;
  }
  ++applied_;
  OptimizerHyper h;
  h.kind = config_.kind;
  const double warm =
      config_.warmup_steps > 0 ? std::min(1.0, static_cast<double>(steps_) / static_cast<double>(config_.warmup_steps))
                               : 1.0;
  double decay = 1.0;
  if (config_.decay_steps > 0) {
    const double t = std::min(1.0, static_cast<double>(std::max<int64_t>(0, steps_ - config_.warmup_steps)) /
                                       static_cast<double>(config_.decay_steps));
    decay = 0.5 * (1.0 + std::cos(3.14159265358979323846 * t));
  }
  h.lr = static_cast<float>(config_.lr * warm * decay);
  h.beta1 = config_.beta1;
  h.beta2 = config_.beta2;
  h.eps = config_.eps;
  h.weight_decay = config_.weight_decay;
  h.momentum = config_.momentum;
  h.nesterov = config_.nesterov;
  h.step = applied_;
  // As torch.nn.utils.clip_grad_norm_: scale by clip / (norm + 1e-6) when the norm exceeds clip.
  h.grad_scale = (config_.grad_clip > 0.0f && res.grad_norm > config_.grad_clip)
                     ? static_cast<float>(config_.grad_clip / (res.grad_norm + 1e-6))
                     : 1.0f;
  res.lr = h.lr;
  backend_.optimizer_step(h, params, grad, m_.f32(), v_.f32(), count_);
  return res;
}

void Optimizer::get_state(float* m, float* v) const {
  backend_.to_host(m, m_.data(), static_cast<size_t>(count_) * sizeof(float));
  backend_.to_host(v, v_.data(), static_cast<size_t>(count_) * sizeof(float));
}

void Optimizer::set_state(const float* m, const float* v, int64_t steps, int64_t applied, int64_t skipped) {
  require(steps >= 0 && applied >= 0 && skipped >= 0 && applied + skipped <= steps, ErrorCode::Argument,
          "Optimizer state: inconsistent step counters");
  backend_.to_device(m_.data(), m, static_cast<size_t>(count_) * sizeof(float));
  backend_.to_device(v_.data(), v, static_cast<size_t>(count_) * sizeof(float));
  steps_ = steps;
  applied_ = applied;
  skipped_ = skipped;
}

}  // namespace hn
