#include "optimizer.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "errors.h"

namespace hn {

OptimizerConfig optimizer_defaults(OptimizerKind kind) {
  OptimizerConfig c;
  c.rule.kind = kind;
  if (kind == OptimizerKind::AdamW) c.rule.weight_decay = 0.01f;
  return c;
}

const OptionTable<OptimizerConfig>& optimizer_options() {
  using C = OptimizerConfig;
  constexpr double kMaxSteps = 1099511627776.0;  // 2^40
  static const OptionTable<C> table{
      "optimizer",
      {
          HN_OPTION(C, choice_spec("type", {"adam", "adamw", "sgd"}), rule.kind),
          HN_OPTION(C, number_spec("lr", 0.0), lr),
          HN_OPTION(C, number_spec("beta1", 0.0, 1.0, false, true), rule.beta1),
          HN_OPTION(C, number_spec("beta2", 0.0, 1.0, false, true), rule.beta2),
          HN_OPTION(C, number_spec("eps", 0.0, HUGE_VAL, true), rule.eps),
          HN_OPTION(C, number_spec("weightDecay", 0.0), rule.weight_decay),
          HN_OPTION(C, number_spec("momentum", 0.0, 1.0, false, true), rule.momentum),
          HN_OPTION(C, boolean_spec("nesterov"), rule.nesterov),
          HN_OPTION(C, number_spec("gradClip", 0.0), grad_clip),
          HN_OPTION(C, integer_spec("warmupSteps", 0.0, kMaxSteps), warmup_steps),
          HN_OPTION(C, integer_spec("decaySteps", 0.0, kMaxSteps), decay_steps),
          HN_OPTION(C, number_spec("minLr", 0.0), min_lr),
      },
      [](const C& so_far) { return optimizer_defaults(so_far.rule.kind); }};
  return table;
}

void validate_optimizer_config(const OptimizerConfig& c) {
  optimizer_options().validate(c, "optimizer.");
  require(c.min_lr <= c.lr, ErrorCode::Argument,
          "Expected optimizer.minLr (" + std::to_string(c.min_lr) + ") to be at most optimizer.lr (" +
              std::to_string(c.lr) + ")");
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
  OptimizerStep h;
  h.rule = config_.rule;
  const double warm =
      config_.warmup_steps > 0 ? std::min(1.0, static_cast<double>(steps_) / static_cast<double>(config_.warmup_steps))
                               : 1.0;
  double decay = 1.0;
  if (config_.decay_steps > 0) {
    const double t = std::min(1.0, static_cast<double>(std::max<int64_t>(0, steps_ - config_.warmup_steps)) /
                                       static_cast<double>(config_.decay_steps));
    decay = 0.5 * (1.0 + std::cos(3.14159265358979323846 * t));
  }
  // The cosine from lr down to min_lr (as PyTorch's CosineAnnealingLR with eta_min); min_lr = 0 keeps the
  // product in its original order, so schedules without a floor are bit-identical to before it existed.
  h.lr = config_.min_lr > 0.0f
             ? static_cast<float>((config_.min_lr + (static_cast<double>(config_.lr) - config_.min_lr) * decay) * warm)
             : static_cast<float>(config_.lr * warm * decay);
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
