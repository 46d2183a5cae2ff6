// One hypernetwork training step on the backend, end to end: noise, hypernetwork forward,
// generator forward, reward and its gradient, generator VJP, hypernetwork backward with the KL term,
// optimiser step. With a JS generator or reward the TypeScript layer composes the same pieces itself and
// calls apply_gradient().
#pragma once

#include <cstdint>
#include <memory>

#include "backend.h"
#include "buffer.h"
#include "hypernetwork.h"
#include "optimizer.h"
#include "options.h"
#include "reward.h"
#include "sequential.h"

namespace hn {

enum class NoiseMode { Inf = 0, Batch = 1, One = 2 };  // as the paper's code: fresh, one fixed batch, one noise

struct TrainerConfig {
  KlKind kl = KlKind::Exact;
  float lambda = 1.0f;
  float alpha = 1.0f;
  int64_t batch = 64;
  NoiseMode noise = NoiseMode::Inf;
  uint64_t seed = 0;
  OptimizerConfig optimizer;
};

struct TrainStepStats {
  double loss = 0.0;          // mean over the batch of lambda * KL - reward / alpha
  double reward = 0.0;        // mean reward
  double kl = 0.0;            // mean of the configured KL term
  double kl_l2 = 0.0;         // mean 0.5 ||f||^2
  int64_t noninvertible = 0;  // samples whose log-det was excluded (exact KL)
  double grad_norm = 0.0;
  bool skipped = false;       // non-finite reward or gradient: no update
  bool nonfinite_reward = false;
  float lr = 0.0f;
};

// The trainer's options (kl, lambda, alpha, batchSize, noise; the seed and the optimiser are read apart).
const OptionTable<TrainerConfig>& trainer_options();
void validate_trainer_config(const TrainerConfig& c);

class Trainer {
 public:
  // generator and reward may be null: then only the decomposed path (noise + apply_gradient) is used.
  Trainer(std::shared_ptr<Hypernetwork> hypernetwork, std::shared_ptr<const SequentialModel> generator,
          std::shared_ptr<const Reward> reward, const TrainerConfig& config);

  const TrainerConfig& config() const noexcept { return config_; }
  Optimizer& optimizer() noexcept { return optimizer_; }
  const Optimizer& optimizer() const noexcept { return optimizer_; }
  Hypernetwork& hypernetwork() noexcept { return *hn_; }
  bool fused() const noexcept { return generator_ != nullptr && reward_ != nullptr; }

  // The training noise of step `step` (host, batch x D): the stream the fused step uses.
  void noise(int64_t step, float* host_out);
  // The fused step. cond: host (batch x C) or null when C == 0; classes: host int32 (batch) or null.
  TrainStepStats step(int64_t step, const float* cond, const int32_t* classes);
  // Decomposed path: an optimiser step on the hypernetwork's current gradient (from Hypernetwork::backward).
  OptimizerStepResult apply_gradient();
  // Decomposed path: a step skipped before the optimiser (a non-finite reward), counted.
  void record_skip();

  // Optimiser state for checkpoints (host m and v, param_count floats each) and its counters.
  OptimizerCounters get_optimizer_state(float* m, float* v) const;
  void set_optimizer_state(const float* m, const float* v, const OptimizerCounters& counters);

  size_t memory_bytes() const noexcept;

 private:
  void noise_device(int64_t step, float* out);

  std::shared_ptr<Hypernetwork> hn_;
  std::shared_ptr<const SequentialModel> generator_;
  std::shared_ptr<const Reward> reward_;
  TrainerConfig config_;
  Optimizer optimizer_;
  DeviceBuffer work_;  // eps, eps_hat, x, grad_x, d_eps_hat, value, cond, classes
  SeqCache gen_cache_;
};

}  // namespace hn
