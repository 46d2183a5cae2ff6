// An optimiser over a SequentialModel's own parameters (how the shipped generators and classifiers are
// trained): the optimiser state and a gradient buffer on the model's backend.
#pragma once

#include <memory>

#include "buffer.h"
#include "optimizer.h"
#include "sequential.h"

namespace hn {

class ModelOptimizer {
 public:
  ModelOptimizer(std::shared_ptr<SequentialModel> model, const OptimizerConfig& config);

  const SequentialModel& model() const noexcept { return *model_; }
  // One update from a host gradient (param_count floats, as SequentialModel::gradients writes it), under the
  // model's exclusive lock.
  OptimizerStepResult step(const float* host_grad);
  size_t memory_bytes() const noexcept { return optimizer_.memory_bytes() + grad_.bytes(); }

 private:
  std::shared_ptr<SequentialModel> model_;
  Optimizer optimizer_;
  DeviceBuffer grad_;
};

}  // namespace hn
