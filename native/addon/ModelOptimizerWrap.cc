// JavaScript class ModelOptimizer: an optimiser over a SequentialModel's parameters (training the shipped
// models), with the same lifecycle as the other wrappers (dispose, memory reported to V8).
#include "core/errors.h"
#include "js_options.h"
#include "wraps.h"

namespace hn {
namespace addon {

using W = ModelOptimizerWrap;

Napi::Function ModelOptimizerWrap::Init(Napi::Env env) {
  return define(env,
                     {
                         InstanceMethod<&W::Step>("step"),
                     });
}

// new ModelOptimizer(model, optimizerOptions)
ModelOptimizerWrap::ModelOptimizerWrap(const Napi::CallbackInfo& info) : CoreWrap(info) {
  Napi::Env env = info.Env();
  auto model = unwrap_as<ModelWrap>(env, info[0], env_data(env).model_ctor, "SequentialModel")->core(env);
  const OptimizerConfig c = read_options(env, info[1], optimizer_options(), "optimizer.");
  adopt(env, [&] { return std::make_shared<ModelOptimizer>(model, c); });
}

// step(grad) -> { gradNorm, skipped, lr }
Napi::Value ModelOptimizerWrap::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = core(env);
  Napi::Float32Array g = float_array(info, 0, "grad", o->model().param_count());
  OptimizerStepResult r;
  run(env, false, {}, [&] { r = o->step(g.Data()); });
  return step_result(env, r);
}

}  // namespace addon
}  // namespace hn
