// JavaScript class ModelOptimizer: an optimiser over a SequentialModel's parameters (training the shipped
// models), with the same lifecycle as the other wrappers (dispose, memory reported to V8).
#include "core/errors.h"
#include "js_options.h"
#include "wraps.h"

namespace hn {
namespace addon {

using W = ModelOptimizerWrap;

Napi::Function ModelOptimizerWrap::Init(Napi::Env env) {
  return DefineClass(env, "ModelOptimizer",
                     {
                         InstanceMethod<&W::Step>("step"),
                         InstanceMethod<&W::Dispose>("dispose"),
                         InstanceAccessor<&W::Disposed>("disposed"),
                     });
}

// new ModelOptimizer(model, optimizerOptions)
ModelOptimizerWrap::ModelOptimizerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelOptimizerWrap>(info) {
  Napi::Env env = info.Env();
  auto model = unwrap_as<ModelWrap>(env, info[0], env_data(env).model_ctor, "SequentialModel")->core(env);
  const OptimizerConfig c = read_options(env, info[1], optimizer_options(), "optimizer.");
  try {
    auto core = std::make_shared<ModelOptimizer>(model, c);
    holder_.set(env, core, static_cast<int64_t>(core->memory_bytes()));
  } catch (...) {
    rethrow_as_js(env);
  }
}

ModelOptimizerWrap::~ModelOptimizerWrap() { holder_.dispose(Env()); }

// step(grad) -> { gradNorm, skipped, lr }
Napi::Value ModelOptimizerWrap::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = holder_.get(env, "ModelOptimizer");
  Napi::Float32Array g = float_array(info, 0, "grad", o->model().param_count());
  OptimizerStepResult r;
  run(env, false, {}, [&] { r = o->step(g.Data()); });
  return step_result(env, r);
}

Napi::Value ModelOptimizerWrap::Dispose(const Napi::CallbackInfo& info) {
  holder_.dispose(info.Env());
  return info.Env().Undefined();
}

Napi::Value ModelOptimizerWrap::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), holder_.disposed());
}

}  // namespace addon
}  // namespace hn
