#include "trainer.h"

#include <cmath>
#include <mutex>
#include <string>
#include <vector>

#include "errors.h"
#include "philox.h"

namespace hn {

const OptionTable<TrainerConfig>& trainer_options() {
  using C = TrainerConfig;
  static const OptionTable<C> table{
      "trainer",
      {
          HN_OPTION(C, choice_spec("kl", {kl_name(KlKind::L2), kl_name(KlKind::Exact), kl_name(KlKind::Chi)}), kl),
          HN_OPTION(C, number_spec("lambda", 0.0), lambda),
          HN_OPTION(C, number_spec("alpha", 0.0, HUGE_VAL, true), alpha),
          HN_OPTION(C, integer_spec("batchSize", 1.0, 16777216.0), batch),
          HN_OPTION(C, choice_spec("noise", {"inf", "batch", "one"}), noise),
      }};
  return table;
}

void validate_trainer_config(const TrainerConfig& c) {
  trainer_options().validate(c);
  validate_optimizer_config(c.optimizer);
}

Trainer::Trainer(std::shared_ptr<Hypernetwork> hypernetwork, std::shared_ptr<const SequentialModel> generator,
                 std::shared_ptr<const Reward> reward, const TrainerConfig& config)
    : hn_(std::move(hypernetwork)),
      generator_(std::move(generator)),
      reward_(std::move(reward)),
      config_(config),
      optimizer_(hn_->backend(), config.optimizer, hn_->param_count()) {
  validate_trainer_config(config);
  const HypernetDesc& d = hn_->desc();
  if (generator_) {
    require(&generator_->backend() == &hn_->backend(), ErrorCode::Argument,
            "The generator and the hypernetwork must be on the same backend");
    require(generator_->input_dim() == d.noise_dim, ErrorCode::Shape,
            "The generator takes " + std::to_string(generator_->input_dim()) +
                " noise dimensions but the hypernetwork has noiseDim " + std::to_string(d.noise_dim));
  }
  if (reward_ && generator_) {
    for (const RewardTerm& t : reward_->terms()) {
      if (t.model) {
        require(&t.model->backend() == &hn_->backend(), ErrorCode::Argument,
                "The reward's classifier and the hypernetwork must be on the same backend");
      }
    }
  }
}

size_t Trainer::memory_bytes() const noexcept { return work_.bytes() + gen_cache_.bytes() + optimizer_.memory_bytes(); }

void Trainer::noise_device(int64_t step, float* out) {
  Backend& b = hn_->backend();
  const int64_t n = config_.batch, D = hn_->desc().noise_dim;
  switch (config_.noise) {
    case NoiseMode::Inf:
      b.sample_noise(out, n, D, config_.seed, static_cast<uint64_t>(step) * static_cast<uint64_t>(n), philox::kTrainStream);
      break;
    case NoiseMode::Batch: b.sample_noise(out, n, D, config_.seed, 0, philox::kTrainStream); break;
    case NoiseMode::One:
      b.sample_noise(out, 1, D, config_.seed, 0, philox::kTrainStream);
      for (int64_t i = 1; i < n; ++i) b.copy(out + i * D, out, static_cast<size_t>(D) * sizeof(float));
      break;
  }
}

void Trainer::noise(int64_t step, float* host_out) {
  require(step >= 0, ErrorCode::Argument, "Expected a step index >= 0");
  Backend& b = hn_->backend();
  const int64_t n = config_.batch, D = hn_->desc().noise_dim;
  DeviceBuffer buf(b, static_cast<size_t>(n * D) * sizeof(float));
  noise_device(step, buf.f32());
  b.to_host(host_out, buf.data(), buf.bytes());
}

OptimizerStepResult Trainer::apply_gradient() {
  std::unique_lock<std::shared_mutex> lock(hn_->mutex());
  OptimizerStepResult r = optimizer_.step(hn_->params_device(), hn_->grad_device());
  if (!r.skipped) hn_->params_changed();
  return r;
}

void Trainer::record_skip() {
  std::unique_lock<std::shared_mutex> lock(hn_->mutex());
  optimizer_.record_skip();
}

OptimizerCounters Trainer::get_optimizer_state(float* m, float* v) const {
  std::shared_lock<std::shared_mutex> lock(hn_->mutex());
  optimizer_.get_state(m, v);
  return optimizer_.counters();
}

void Trainer::set_optimizer_state(const float* m, const float* v, const OptimizerCounters& c) {
  std::unique_lock<std::shared_mutex> lock(hn_->mutex());
  optimizer_.set_state(m, v, c.steps, c.applied, c.skipped);
}

TrainStepStats Trainer::step(int64_t step, const float* cond, const int32_t* classes) {
  require(fused(), ErrorCode::Internal, "Trainer::step needs a native generator and reward");
  require(step >= 0, ErrorCode::Argument, "Expected a step index >= 0");
  Backend& b = hn_->backend();
  const HypernetDesc& d = hn_->desc();
  const int64_t n = config_.batch, D = d.noise_dim, C = d.cond_dim, P = generator_->output_dim();
  require(C == 0 || cond != nullptr, ErrorCode::Shape, "Expected a condition for every sample (condDim > 0)");
  reward_->check(P, C, classes != nullptr);
  if (classes) reward_->check_classes(classes, n);

  std::unique_lock<std::shared_mutex> hn_lock(hn_->mutex());
  std::shared_lock<std::shared_mutex> gen_lock(generator_->mutex());

  // eps | eps_hat | d_eps_hat (n x D), x | grad_x (n x P), value (n), cond (n x C), classes (n int32)
  const int64_t floats = 3 * n * D + 2 * n * P + n + n * C + n;
  work_.ensure(b, static_cast<size_t>(floats) * sizeof(float));
  float* eps = work_.f32();
  float* eps_hat = eps + n * D;
  float* d_eps_hat = eps_hat + n * D;
  float* x = d_eps_hat + n * D;
  float* grad_x = x + n * P;
  float* value = grad_x + n * P;
  float* cond_dev = value + n;
  int32_t* classes_dev = reinterpret_cast<int32_t*>(cond_dev + n * C);
  if (C > 0) b.to_device(cond_dev, cond, static_cast<size_t>(n * C) * sizeof(float));
  if (classes) b.to_device(classes_dev, classes, static_cast<size_t>(n) * sizeof(int32_t));

  noise_device(step, eps);
  hn_->forward_train_device(eps, cond_dev, n, config_.kl, eps_hat);
  generator_->forward_device(eps_hat, n, x, &gen_cache_);
  reward_->evaluate_device(b, x, n, P, C > 0 ? cond_dev : nullptr, C, classes ? classes_dev : nullptr, value, grad_x);
  // d loss / dx = -(1/alpha) (1/n) dr/dx
  b.axpby(-1.0f / (config_.alpha * static_cast<float>(n)), grad_x, 0.0f, grad_x, n * P);
  generator_->backward_device(eps_hat, grad_x, n, gen_cache_, d_eps_hat, nullptr);
  hn_->backward_device(eps, cond_dev, eps_hat, d_eps_hat, n, config_.kl, config_.lambda / static_cast<float>(n));

  TrainStepStats s;
  std::vector<float> values(static_cast<size_t>(n));
  std::vector<float> stats(static_cast<size_t>(kHypernetStatRows * n));
  b.to_host(values.data(), value, values.size() * sizeof(float));
  b.to_host(stats.data(), hn_->stats_device(), stats.size() * sizeof(float));
  const HypernetStats st = hypernet_stats_view(stats.data(), n);
  const float* kl_row = config_.kl == KlKind::L2 ? st.l2 : (config_.kl == KlKind::Chi ? st.chi : st.exact);
  double sum_r = 0.0, sum_kl = 0.0, sum_l2 = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(values[static_cast<size_t>(i)])) s.nonfinite_reward = true;
    sum_r += values[static_cast<size_t>(i)];
    sum_kl += kl_row[i];
    sum_l2 += st.l2[i];
    if (st.noninvertible[i] != 0.0f) ++s.noninvertible;
  }
  s.reward = sum_r / static_cast<double>(n);
  s.kl = sum_kl / static_cast<double>(n);
  s.kl_l2 = sum_l2 / static_cast<double>(n);
  s.loss = config_.lambda * s.kl - s.reward / config_.alpha;

  if (s.nonfinite_reward) {
    // Skip the update, as the paper's code does for non-finite losses; the optimiser counts it.
    s.skipped = true;
    s.grad_norm = NAN;
    optimizer_.record_skip();
    return s;
  }
  const OptimizerStepResult r = optimizer_.step(hn_->params_device(), hn_->grad_device());
  if (!r.skipped) hn_->params_changed();
  s.grad_norm = r.grad_norm;
  s.skipped = r.skipped;
  s.lr = r.lr;
  return s;
}

}  // namespace hn
