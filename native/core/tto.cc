#include "tto.h"

#include <cmath>
#include <limits>
#include <mutex>
#include <string>

#include "errors.h"

namespace hn {

const OptionTable<RenoConfig>& reno_options() {
  using C = RenoConfig;
  static const OptionTable<C> table{
      "reno",
      {
          HN_OPTION(C, integer_spec("iterations", 1.0, 1000000.0), iterations),
          HN_OPTION(C, number_spec("lr", 0.0), lr),
          HN_OPTION(C, number_spec("momentum", 0.0, 1.0, false, true), momentum),
          HN_OPTION(C, boolean_spec("nesterov"), nesterov),
          // <= 0 disables clipping
          HN_OPTION(C, number_spec("gradClip"), grad_clip),
          HN_OPTION(C, number_spec("regWeight", 0.0), lambda_chi),
      }};
  return table;
}

void validate_reno_config(const RenoConfig& c) { reno_options().validate(c); }

RenoRun::RenoRun(std::shared_ptr<const SequentialModel> generator, std::shared_ptr<const Reward> reward,
                 const RenoConfig& config, const float* eps0, int64_t n, const float* cond, int64_t cond_dim,
                 const int32_t* classes)
    : generator_(std::move(generator)), reward_(std::move(reward)), config_(config), n_(n) {
  validate_reno_config(config);
  require(n > 0, ErrorCode::Shape, "Expected at least one sample");
  D_ = generator_->input_dim();
  P_ = generator_->output_dim();
  C_ = cond_dim;
  reward_->check(P_, C_, classes != nullptr);
  if (classes) reward_->check_classes(classes, n);
  Backend& b = generator_->backend();
  const int64_t floats = 3 * n * D_ + 2 * n * P_ + n + n * D_ + n * P_ + n + n * C_ + n;
  work_ = DeviceBuffer(b, static_cast<size_t>(floats) * sizeof(float));
  float* at = work_.f32();
  auto take = [&](int64_t count) {
    float* p = at;
    at += count;
    return p;
  };
  eps_ = take(n * D_);
  vel_ = take(n * D_);
  d_eps_ = take(n * D_);
  x_ = take(n * P_);
  grad_x_ = take(n * P_);
  value_ = take(n);
  best_eps_ = take(n * D_);
  best_x_ = take(n * P_);
  best_value_ = take(n);
  cond_ = take(n * C_);
  classes_ = reinterpret_cast<int32_t*>(take(n));
  b.to_device(eps_, eps0, static_cast<size_t>(n * D_) * sizeof(float));
  b.fill(vel_, 0.0f, n * D_);
  b.fill(best_value_, -std::numeric_limits<float>::infinity(), n);
  b.copy(best_eps_, eps_, static_cast<size_t>(n * D_) * sizeof(float));
  b.fill(best_x_, 0.0f, n * P_);
  if (C_ > 0) b.to_device(cond_, cond, static_cast<size_t>(n * C_) * sizeof(float));
  if (classes) {
    b.to_device(classes_, classes, static_cast<size_t>(n) * sizeof(int32_t));
  } else {
    classes_ = nullptr;
  }
}

int RenoRun::iterate(int passes) {
  std::lock_guard<std::mutex> run_lock(mutex_);
  Backend& b = generator_->backend();
  std::shared_lock<std::shared_mutex> lock(generator_->mutex());
  std::vector<float> host(static_cast<size_t>(n_));
  for (int p = 0; p < passes && done_ < config_.iterations; ++p) {
    generator_->forward_device(eps_, n_, x_, &cache_);
    reward_->evaluate_device(b, x_, n_, P_, C_ > 0 ? cond_ : nullptr, C_, classes_, value_, grad_x_);
    b.keep_best(value_, n_, best_value_, eps_, D_, best_eps_, x_, P_, best_x_);
    b.to_host(host.data(), value_, host.size() * sizeof(float));
    double mean = 0.0;
    for (float v : host) mean += v;
    history_.push_back(mean / static_cast<double>(n_));
    ++done_;
    if (done_ == config_.iterations) break;
    // Minimise -reward: d(-r)/dx = -grad_x.
    b.axpby(-1.0f, grad_x_, 0.0f, grad_x_, n_ * P_);
    generator_->backward_device(eps_, grad_x_, n_, cache_, d_eps_, nullptr);
    b.noise_sgd_step(eps_, d_eps_, vel_, n_, D_, config_.lr, config_.momentum, config_.nesterov, config_.grad_clip,
                     config_.lambda_chi);
  }
  return config_.iterations - done_;
}

void RenoRun::check_best_shapes(int64_t eps_len, int64_t x_len) const {
  require(eps_len < 0 || eps_len == n_ * D_, ErrorCode::Shape,
          "Expected epsOut to have length " + std::to_string(n_ * D_) + " but received " + std::to_string(eps_len));
  require(x_len < 0 || x_len == n_ * P_, ErrorCode::Shape,
          "Expected xOut to have length " + std::to_string(n_ * P_) + " but received " + std::to_string(x_len));
}

void RenoRun::best(float* eps, float* x, float* reward) const {
  std::lock_guard<std::mutex> run_lock(mutex_);
  Backend& b = generator_->backend();
  if (eps) b.to_host(eps, best_eps_, static_cast<size_t>(n_ * D_) * sizeof(float));
  if (x) b.to_host(x, best_x_, static_cast<size_t>(n_ * P_) * sizeof(float));
  if (reward) b.to_host(reward, best_value_, static_cast<size_t>(n_) * sizeof(float));
}

}  // namespace hn
