// Built-in rewards: redness, brightness, classifier log-probability and weighted sums of
// them, evaluated on a batch of generator outputs with their gradients.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backend.h"
#include "sequential.h"

namespace hn {

struct RewardTerm {
  enum class Kind { Redness, Brightness, ClassifierLogProb } kind = Kind::Brightness;
  float weight = 1.0f;
  std::shared_ptr<const SequentialModel> model;  // classifier
  // Class of each sample for the classifier: fixed_class >= 0, or the argmax of the condition's entries
  // [class_offset, class_offset + classes), or given per call.
  int32_t fixed_class = -1;
  int64_t class_offset = 0;
};

class Reward {
 public:
  explicit Reward(std::vector<RewardTerm> terms);

  const std::vector<RewardTerm>& terms() const noexcept { return terms_; }
  // Backend memory of its own (none: its classifiers are SequentialModels that report theirs).
  size_t memory_bytes() const noexcept { return 0; }
  bool needs_classes() const noexcept;
  // The backend of the reward's classifiers (all the same), or null for pixel-only rewards.
  Backend* backend() const noexcept;
  // Checks that the reward can score outputs of width p with conditions of width cond_dim.
  void check(int64_t p, int64_t cond_dim, bool classes_given) const;
  // Checks per-sample classes (host memory): 0 <= c < the classifier's outputs.
  void check_classes(const int32_t* classes, int64_t n) const;

  // Backend memory. value (n) = sum_k w_k r_k(x_i); grad (n x p) = d value / dx when non-null.
  // classes: per-sample classes (backend int32, n) or null to derive them from cond.
  void evaluate_device(Backend& b, const float* x, int64_t n, int64_t p, const float* cond, int64_t cond_dim,
                       const int32_t* classes, float* value, float* grad) const;
  // Host memory in and out. Checks the classes (0 <= c < classifier outputs).
  void evaluate(Backend& b, const float* x, int64_t n, int64_t p, const float* cond, int64_t cond_dim,
                const int32_t* classes, float* value, float* grad) const;

 private:
  std::vector<RewardTerm> terms_;
};

}  // namespace hn
