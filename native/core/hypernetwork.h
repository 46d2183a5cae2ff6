// The noise hypernetwork on any backend: parameters, initialisation, inference and the
// training forward/backward. Host-pointer methods are the library boundary; *_device methods take
// backend memory and are what the trainer composes.
#pragma once

#include <cstdint>
#include <mutex>
#include <shared_mutex>

#include "backend.h"
#include "buffer.h"
#include "hypernetwork_layout.h"
#include "options.h"

namespace hn {

class Hypernetwork {
 public:
  Hypernetwork(Backend& backend, const HypernetDesc& desc);

  const HypernetDesc& desc() const noexcept { return desc_; }
  const HypernetLayout& layout() const noexcept { return layout_; }
  Backend& backend() const noexcept { return backend_; }
  int64_t param_count() const noexcept { return layout_.total; }
  // Bytes of backend memory held (parameters, gradients, caches), for reporting to V8.
  size_t memory_bytes() const noexcept;

  // A ~ N(0, 1/D), U ~ N(0, 1/C), W_k ~ N(0, 1/r), biases, B and bo zero: the identity map.
  void init(uint64_t seed);
  void set_params(const float* host, int64_t count);
  void get_params(float* host, int64_t count) const;

  // Inference: eps_hat = eps + f(eps, c). Host memory in and out.
  void forward(const float* eps, const float* cond, int64_t n, float* eps_hat) const;
  // Per-sample KL statistics (kHypernetStatRows x n, laid out as HypernetStats), exact KL included.
  void kl(const float* eps, const float* cond, int64_t n, float* stats_out) const;

  // Training, host memory: forward that keeps what backward needs for the KL term `kl` (inputs are copied;
  // a backward with the exact KL needs a forward with it), then the gradient
  // of sum_i [kl_weight * KL_i + <d_eps_hat_i, eps_hat_i>] into the object's gradient buffer, which
  // get_gradient() copies out. d_scale multiplies d_eps_hat first (e.g. -1/(alpha n) for a reward gradient).
  void forward_train(const float* eps, const float* cond, int64_t n, KlKind kl, float* eps_hat, float* stats_out);
  void backward(const float* d_eps_hat, int64_t n, KlKind kl, float kl_weight, float d_scale = 1.0f);
  void get_gradient(float* host, int64_t count) const;

  // Device-side training pieces (the fused trainer step).
  void forward_train_device(const float* eps, const float* cond, int64_t n, KlKind kl, float* eps_hat);
  void backward_device(const float* eps, const float* cond, const float* eps_hat, const float* d_eps_hat, int64_t n,
                       KlKind kl, float kl_weight);
  const float* stats_device() const noexcept { return cache_view_.stats; }
  float* params_device() noexcept { return params_.f32(); }
  const float* grad_device() const noexcept { return grad_.f32(); }

  // Serialises the object's users: shared for inference, exclusive for training and parameter writes.
  std::shared_mutex& mutex() const noexcept { return mutex_; }
  // Called after the parameters change (optimiser step, set_params): the exact-KL constant K is stale.
  void params_changed() noexcept { ++version_; }

 private:
  void check_batch(int64_t n) const;
  void prepare_cache(int64_t n, KlKind kl);

  Backend& backend_;
  HypernetDesc desc_;
  HypernetLayout layout_;
  DeviceBuffer params_;
  DeviceBuffer grad_;
  // Training state: the cache of the last forward_train and the copied inputs it saw.
  DeviceBuffer cache_;
  HypernetCacheView cache_view_;
  int64_t cache_n_ = 0;
  KlKind cache_kl_ = KlKind::L2;
  DeviceBuffer train_inputs_;  // eps, cond, eps_hat of the last forward_train (host path)
  uint64_t version_ = 0;
  mutable std::shared_mutex mutex_;
};

// The hypernetwork's options: noiseDim (required), condDim, rank, depth, activation, scale.
const OptionTable<HypernetDesc>& hypernetwork_options();
void validate_hypernet_desc(const HypernetDesc& d);

}  // namespace hn
