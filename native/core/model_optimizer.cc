#include "model_optimizer.h"

#include <mutex>
#include <shared_mutex>

namespace hn {

ModelOptimizer::ModelOptimizer(std::shared_ptr<SequentialModel> model, const OptimizerConfig& config)
    : model_(std::move(model)),
      optimizer_(model_->backend(), config, model_->param_count()),
      grad_(model_->backend(), static_cast<size_t>(model_->param_count()) * sizeof(float)) {}

OptimizerStepResult ModelOptimizer::step(const float* host_grad) {
  std::unique_lock<std::shared_mutex> lock(model_->mutex());
  model_->backend().to_device(grad_.data(), host_grad, grad_.bytes());
  return optimizer_.step(model_->params_device(), grad_.f32());
}

}  // namespace hn
