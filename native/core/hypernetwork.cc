#include "hypernetwork.h"

#include <cmath>
#include <string>

#include "errors.h"
#include "philox.h"
#include "staging.h"

namespace hn {

const OptionTable<HypernetDesc>& hypernetwork_options() {
  using C = HypernetDesc;
  static const OptionTable<C> table{
      "hypernetwork",
      {
          HN_OPTION(C, integer_spec("noiseDim", 1.0, 2147483648.0, true), noise_dim),
          HN_OPTION(C, integer_spec("condDim", 0.0, 2147483648.0), cond_dim),
          HN_OPTION(C, integer_spec("rank", 1.0, 65536.0), rank),
          HN_OPTION(C, integer_spec("depth", 1.0, 64.0), depth),
          HN_OPTION(C, choice_spec("activation", activation_names()), activation),
          HN_OPTION(C, number_spec("scale"), scale),
      }};
  return table;
}

void validate_hypernet_desc(const HypernetDesc& d) {
  hypernetwork_options().validate(d);
  const double total = static_cast<double>(d.rank) * (2.0 * d.noise_dim + d.cond_dim + d.rank * (d.depth - 1.0));
  require(total < 4e9, ErrorCode::Argument, "Hypernetwork too large: " + std::to_string(total) + " parameters");
}

Hypernetwork::Hypernetwork(Backend& backend, const HypernetDesc& desc)
    : backend_(backend), desc_(desc), layout_(hypernet_layout(desc)) {
  validate_hypernet_desc(desc);
  params_ = DeviceBuffer(backend_, static_cast<size_t>(layout_.total) * sizeof(float));
  grad_ = DeviceBuffer(backend_, static_cast<size_t>(layout_.total) * sizeof(float));
  backend_.fill(params_.f32(), 0.0f, layout_.total);
  backend_.fill(grad_.f32(), 0.0f, layout_.total);
}

size_t Hypernetwork::memory_bytes() const noexcept {
  return params_.bytes() + grad_.bytes() + cache_.bytes() + train_inputs_.bytes();
}

void Hypernetwork::init(uint64_t seed) {
  std::unique_lock<std::shared_mutex> lock(mutex_);
  float* p = params_.f32();
  const int64_t D = desc_.noise_dim, C = desc_.cond_dim, r = desc_.rank;
  backend_.fill(p, 0.0f, layout_.total);
  backend_.sample_noise(p + layout_.A, r, D, seed, 0, philox::kInitStream);
  backend_.axpby(static_cast<float>(1.0 / std::sqrt(static_cast<double>(D))), p + layout_.A, 0.0f, p + layout_.A, r * D);
  if (C > 0) {
    backend_.sample_noise(p + layout_.U, r, C, seed, static_cast<uint64_t>(r), philox::kInitStream);
    backend_.axpby(static_cast<float>(1.0 / std::sqrt(static_cast<double>(C))), p + layout_.U, 0.0f, p + layout_.U,
                   r * C);
  }
  for (int k = 2; k <= desc_.depth; ++k) {
    float* W = p + layout_.W[static_cast<size_t>(k - 2)];
    backend_.sample_noise(W, r, r, seed, static_cast<uint64_t>(k) * 1000003ull, philox::kInitStream);
    backend_.axpby(static_cast<float>(1.0 / std::sqrt(static_cast<double>(r))), W, 0.0f, W, r * r);
  }
  params_changed();
}

void Hypernetwork::set_params(const float* host, int64_t count) {
  require(count == layout_.total, ErrorCode::Shape,
          "Expected " + std::to_string(layout_.total) + " parameters but received " + std::to_string(count));
  std::unique_lock<std::shared_mutex> lock(mutex_);
  backend_.to_device(params_.data(), host, static_cast<size_t>(count) * sizeof(float));
  params_changed();
}

void Hypernetwork::get_params(float* host, int64_t count) const {
  require(count == layout_.total, ErrorCode::Shape,
          "Expected room for " + std::to_string(layout_.total) + " parameters but received " + std::to_string(count));
  std::shared_lock<std::shared_mutex> lock(mutex_);
  backend_.to_host(host, params_.data(), static_cast<size_t>(count) * sizeof(float));
}

void Hypernetwork::get_gradient(float* host, int64_t count) const {
  require(count == layout_.total, ErrorCode::Shape,
          "Expected room for " + std::to_string(layout_.total) + " gradients but received " + std::to_string(count));
  std::shared_lock<std::shared_mutex> lock(mutex_);
  backend_.to_host(host, grad_.data(), static_cast<size_t>(count) * sizeof(float));
}

void Hypernetwork::check_batch(int64_t n) const {
  require(n >= 0, ErrorCode::Shape, "Expected a non-negative batch size but received " + std::to_string(n));
}

void Hypernetwork::forward(const float* eps, const float* cond, int64_t n, float* eps_hat) const {
  check_batch(n);
  if (n == 0) return;
  std::shared_lock<std::shared_mutex> lock(mutex_);
  const int64_t D = desc_.noise_dim, C = desc_.cond_dim;
  StagedIn e(backend_, eps, static_cast<size_t>(n * D) * sizeof(float));
  StagedIn c(backend_, cond, static_cast<size_t>(n * C) * sizeof(float));
  StagedOut out(backend_, eps_hat, static_cast<size_t>(n * D) * sizeof(float));
  DeviceBuffer stats(backend_, static_cast<size_t>(kHypernetStatRows * n) * sizeof(float));
  HypernetCacheView view;
  view.stats = stats.f32();
  backend_.hypernet_forward(desc_, params_.f32(), e.f32(), C > 0 ? c.f32() : nullptr, n, out.f32(), KlKind::L2, false, view);
  out.finish();
}

void Hypernetwork::kl(const float* eps, const float* cond, int64_t n, float* stats_out) const {
  check_batch(n);
  if (n == 0) return;
  std::shared_lock<std::shared_mutex> lock(mutex_);
  const int64_t D = desc_.noise_dim, C = desc_.cond_dim, r = desc_.rank;
  StagedIn e(backend_, eps, static_cast<size_t>(n * D) * sizeof(float));
  StagedIn c(backend_, cond, static_cast<size_t>(n * C) * sizeof(float));
  StagedOut stats(backend_, stats_out, static_cast<size_t>(kHypernetStatRows * n) * sizeof(float));
  DeviceBuffer work(backend_, static_cast<size_t>(n * D + r * r) * sizeof(float));
  HypernetCacheView view;
  view.stats = stats.f32();
  view.K = work.f32() + n * D;
  backend_.hypernet_k(desc_, params_.f32(), view.K);
  backend_.hypernet_forward(desc_, params_.f32(), e.f32(), C > 0 ? c.f32() : nullptr, n, work.f32(), KlKind::Exact,
                            false, view);
  stats.finish();
}

void Hypernetwork::prepare_cache(int64_t n, KlKind kl) {
  const int64_t floats = hypernet_cache_floats(desc_, n, kl);
  cache_.ensure(backend_, static_cast<size_t>(floats) * sizeof(float));
  cache_view_ = hypernet_cache_view(desc_, n, kl, cache_.f32());
  cache_n_ = n;
  cache_kl_ = kl;
}

void Hypernetwork::forward_train_device(const float* eps, const float* cond, int64_t n, KlKind kl, float* eps_hat) {
  prepare_cache(n, kl);
  if (kl == KlKind::Exact) backend_.hypernet_k(desc_, params_.f32(), cache_view_.K);
  backend_.hypernet_forward(desc_, params_.f32(), eps, desc_.cond_dim > 0 ? cond : nullptr, n, eps_hat, kl, true,
                            cache_view_);
}

void Hypernetwork::backward_device(const float* eps, const float* cond, const float* eps_hat, const float* d_eps_hat,
                                   int64_t n, KlKind kl, float kl_weight) {
  require(cache_n_ == n && cache_view_.stats != nullptr, ErrorCode::Argument,
          "backward() needs a forwardTrain() of the same batch size first");
  require(kl != KlKind::Exact || cache_kl_ == KlKind::Exact, ErrorCode::Argument,
          "backward() with kl 'exact' needs forwardTrain() with kl 'exact'");
  backend_.hypernet_backward(desc_, params_.f32(), eps, desc_.cond_dim > 0 ? cond : nullptr, eps_hat, n, d_eps_hat, kl,
                             kl_weight, cache_view_, grad_.f32());
}

void Hypernetwork::forward_train(const float* eps, const float* cond, int64_t n, KlKind kl, float* eps_hat,
                                 float* stats_out) {
  check_batch(n);
  require(n > 0, ErrorCode::Shape, "Expected a batch of at least one sample");
  std::unique_lock<std::shared_mutex> lock(mutex_);
  const int64_t D = desc_.noise_dim, C = desc_.cond_dim;
  // Keep our own copies of the inputs and output: backward needs them and the caller may reuse its arrays.
  train_inputs_.ensure(backend_, static_cast<size_t>(n * (2 * D + C)) * sizeof(float));
  float* e = train_inputs_.f32();
  float* eh = e + n * D;
  float* c = eh + n * D;
  backend_.to_device(e, eps, static_cast<size_t>(n * D) * sizeof(float));
  if (C > 0) backend_.to_device(c, cond, static_cast<size_t>(n * C) * sizeof(float));
  forward_train_device(e, c, n, kl, eh);
  backend_.to_host(eps_hat, eh, static_cast<size_t>(n * D) * sizeof(float));
  if (stats_out) {
    backend_.to_host(stats_out, cache_view_.stats, static_cast<size_t>(kHypernetStatRows * n) * sizeof(float));
  }
}

void Hypernetwork::backward(const float* d_eps_hat, int64_t n, KlKind kl, float kl_weight, float d_scale) {
  std::unique_lock<std::shared_mutex> lock(mutex_);
  require(cache_n_ == n && train_inputs_.data() != nullptr, ErrorCode::Argument,
          "backward() needs a forwardTrain() of the same batch size first");
  const int64_t D = desc_.noise_dim;
  StagedIn g(backend_, d_eps_hat, static_cast<size_t>(n * D) * sizeof(float));
  const float* dg = g.f32();
  DeviceBuffer scaled;
  if (d_scale != 1.0f) {
    scaled = DeviceBuffer(backend_, static_cast<size_t>(n * D) * sizeof(float));
    backend_.axpby(d_scale, dg, 0.0f, scaled.f32(), n * D);
    dg = scaled.f32();
  }
  const float* e = train_inputs_.f32();
  backward_device(e, e + 2 * n * D, e + n * D, dg, n, kl, kl_weight);
}

}  // namespace hn
