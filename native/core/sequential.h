// A stack of linear and activation layers (the generator, the classifiers): forward, input VJP and weight
// gradients on any backend. Layers as in a PyTorch nn.Sequential; a linear layer followed by an
// activation runs as one fused stage.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "backend.h"
#include "buffer.h"

namespace hn {

struct LayerSpec {
  bool linear = false;  // else an activation
  int64_t in = 0, out = 0;  // linear only
  Activation activation = Activation::Identity;  // activation only

  static LayerSpec dense(int64_t in, int64_t out) {
    LayerSpec l;
    l.linear = true;
    l.in = in;
    l.out = out;
    return l;
  }
  static LayerSpec act(Activation a) {
    LayerSpec l;
    l.activation = a;
    return l;
  }
};

// Activations a forward keeps for the backward (backend memory).
class SeqCache {
 public:
  void prepare(Backend& backend, const std::vector<SeqStage>& stages, int64_t n);
  float* z(size_t stage) const { return z_[stage]; }
  float* y(size_t stage) const { return y_[stage]; }
  int64_t n() const noexcept { return n_; }
  size_t bytes() const noexcept { return buf_.bytes(); }

 private:
  DeviceBuffer buf_;
  std::vector<float*> z_, y_;
  int64_t n_ = 0;
};

class SequentialModel {
 public:
  // Throws Error(Argument) when the layers do not chain (a linear's `in` differs from the width before it).
  SequentialModel(Backend& backend, std::vector<LayerSpec> layers);

  Backend& backend() const noexcept { return backend_; }
  const std::vector<LayerSpec>& layers() const noexcept { return layers_; }
  int64_t input_dim() const noexcept { return input_dim_; }
  int64_t output_dim() const noexcept { return output_dim_; }
  int64_t param_count() const noexcept { return param_count_; }
  // Offsets of layer i's weight and bias in the flat parameter vector (-1 for activations).
  int64_t weight_offset(size_t layer) const { return w_offsets_[layer]; }
  int64_t bias_offset(size_t layer) const { return b_offsets_[layer]; }
  size_t memory_bytes() const noexcept { return params_.bytes(); }

  void set_params(const float* host, int64_t count);
  void get_params(float* host, int64_t count) const;
  // Kaiming-uniform weights and biases as torch.nn.Linear does, from the Philox stream of `seed`.
  void init(uint64_t seed);

  // Host memory in and out.
  void forward(const float* x, int64_t n, float* y) const;
  // dx = J^T dy at x.
  void vjp(const float* x, const float* dy, int64_t n, float* dx) const;
  // Weight gradients of sum_i <dy_i, model(x_i)> into grad (param_count, overwritten), and dx when non-null.
  void gradients(const float* x, const float* dy, int64_t n, float* dx, float* grad) const;

  // Backend memory. forward_device with a cache keeps the activations; backward_device then computes
  // dx (if non-null) and adds weight gradients into grad (if non-null). dy is overwritten.
  void forward_device(const float* x, int64_t n, float* y, SeqCache* cache) const;
  void backward_device(const float* x, float* dy, int64_t n, const SeqCache& cache, float* dx, float* grad) const;
  // The mutable pointer is for writers holding the exclusive lock: it marks the prepared weights stale.
  float* params_device() noexcept {
    ++version_;
    return params_.f32();
  }
  const float* params_device() const noexcept { return params_.f32(); }

  const std::vector<SeqStage>& stages() const noexcept { return stages_; }
  std::shared_mutex& mutex() const noexcept { return mutex_; }

 private:
  Backend& backend_;
  std::vector<LayerSpec> layers_;
  std::vector<SeqStage> stages_;
  std::vector<int64_t> w_offsets_, b_offsets_;
  int64_t input_dim_ = 0, output_dim_ = 0, param_count_ = 0;
  // The stages with the backend's prepared weights for the current parameters (null: the backend
  // prepares none); rebuilt after a parameter write or a change of the backend's layout key.
  struct PreparedStages {
    uint64_t version = 0;
    uintptr_t key = 0;
    std::vector<SeqStage> stages;
    std::vector<std::unique_ptr<PreparedWeights>> owned;
  };
  std::shared_ptr<const PreparedStages> prepared_stages() const;

  DeviceBuffer params_;
  mutable std::shared_mutex mutex_;
  uint64_t version_ = 1;  // bumped by every parameter write (under the exclusive lock)
  mutable std::mutex prepared_mutex_;
  mutable std::shared_ptr<const PreparedStages> prepared_;
};

}  // namespace hn
