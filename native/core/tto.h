// Test-time noise optimisation, ReNO-style: per sample, no learned parameters, SGD with
// Nesterov momentum on the noise itself under the reward and the chi-norm prior, returning the iterate
// with the best reward. Iterations are run in slices so that the caller can report progress and stop.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "backend.h"
#include "buffer.h"
#include "options.h"
#include "reward.h"
#include "sequential.h"

namespace hn {

struct RenoConfig {
  int iterations = 50;  // forward passes (iterations - 1 updates)
  float lr = 5.0f;
  float momentum = 0.9f;
  bool nesterov = true;
  float grad_clip = 0.1f;  // per-sample gradient norm
  float lambda_chi = 0.01f;
};

// The options of test-time optimisation: iterations, lr, momentum, nesterov, gradClip, regWeight.
const OptionTable<RenoConfig>& reno_options();
void validate_reno_config(const RenoConfig& c);

class RenoRun {
 public:
  // eps0: host n x D; cond: host n x C (or null); classes: host int32 n (or null).
  RenoRun(std::shared_ptr<const SequentialModel> generator, std::shared_ptr<const Reward> reward,
          const RenoConfig& config, const float* eps0, int64_t n, const float* cond, int64_t cond_dim,
          const int32_t* classes);

  // Runs up to `passes` more forward passes; returns how many remain.
  int iterate(int passes);
  int done() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return done_;
  }
  const RenoConfig& config() const noexcept { return config_; }
  // Backend memory held (the iterates, their outputs and the generator's activations).
  size_t memory_bytes() const noexcept { return work_.bytes() + cache_.bytes(); }
  int64_t n() const noexcept { return n_; }
  // Mean reward of the current iterate at each pass so far.
  std::vector<double> history() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return history_;
  }

  // Throws Error(Shape) unless eps_len is n x D and x_len is n x P (-1: not asked for).
  void check_best_shapes(int64_t eps_len, int64_t x_len) const;
  // Host outputs: best noise (n x D), its output (n x P), its reward (n).
  void best(float* eps, float* x, float* reward) const;

 private:
  std::shared_ptr<const SequentialModel> generator_;
  std::shared_ptr<const Reward> reward_;
  RenoConfig config_;
  int64_t n_, D_, P_, C_;
  int done_ = 0;
  DeviceBuffer work_;  // eps, velocity, d_eps (n x D); x, grad_x (n x P); value (n); best_eps, best_x, best_value; cond; classes
  float *eps_, *vel_, *d_eps_, *x_, *grad_x_, *value_, *best_eps_, *best_x_, *best_value_, *cond_;
  int32_t* classes_ = nullptr;
  SeqCache cache_;
  std::vector<double> history_;
  mutable std::mutex mutex_;  // one iterate()/best() at a time
};

}  // namespace hn
