// JavaScript class Trainer: the fused native training step, the training noise stream, the optimiser
// step for the decomposed (JS generator or reward) path, and optimiser state for checkpoints.
#include <cmath>

#include "../core/errors.h"
#include "wraps.h"

namespace hn {
namespace addon {

using W = TrainerWrap;

OptimizerConfig parse_optimizer(Napi::Object o) {
  Napi::Env env = o.Env();
  OptimizerConfig c;
  const std::string type = opt_string(o, "type", "adam");
  if (type == "adam") {
    c.kind = OptimizerKind::Adam;
  } else if (type == "adamw") {
    c.kind = OptimizerKind::AdamW;
  } else if (type == "sgd") {
    c.kind = OptimizerKind::Sgd;
  } else {
    throw_error(env, "ERR_ARGUMENT", "Expected optimizer.type to be 'adam', 'adamw' or 'sgd' but received '" + type + "'");
  }
  c.lr = static_cast<float>(opt_number(o, "lr", 1e-3));
  c.beta1 = static_cast<float>(opt_number(o, "beta1", 0.9));
  c.beta2 = static_cast<float>(opt_number(o, "beta2", 0.999));
  c.eps = static_cast<float>(opt_number(o, "eps", 1e-8));
  c.weight_decay = static_cast<float>(opt_number(o, "weightDecay", c.kind == OptimizerKind::AdamW ? 0.01 : 0.0));
  c.momentum = static_cast<float>(opt_number(o, "momentum", 0.0));
  c.nesterov = opt_bool(o, "nesterov", false);
  c.grad_clip = static_cast<float>(opt_number(o, "gradClip", 0.0));
  c.warmup_steps = opt_integer(o, "warmupSteps", 0, 0, int64_t{1} << 40);
  c.decay_steps = opt_integer(o, "decaySteps", 0, 0, int64_t{1} << 40);
  try {
    validate_optimizer_config(c);
  } catch (...) {
    rethrow_as_js(env);
  }
  return c;
}

namespace {

Napi::Object step_result(Napi::Env env, const OptimizerStepResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("gradNorm", r.grad_norm);
  o.Set("skipped", r.skipped);
  o.Set("lr", r.lr);
  return o;
}

}  // namespace

Napi::Function TrainerWrap::Init(Napi::Env env) {
  return DefineClass(env, "Trainer",
                     {
                         InstanceMethod<&W::Bound<&W::Step, true>>("step"),
                         InstanceMethod<&W::Bound<&W::Step, false>>("stepSync"),
                         InstanceMethod<&W::Noise>("noise"),
                         InstanceMethod<&W::Bound<&W::ApplyGradient, true>>("applyGradient"),
                         InstanceMethod<&W::Bound<&W::ApplyGradient, false>>("applyGradientSync"),
                         InstanceMethod<&W::RecordSkip>("recordSkip"),
                         InstanceMethod<&W::GetOptimizerState>("getOptimizerState"),
                         InstanceMethod<&W::SetOptimizerState>("setOptimizerState"),
                         InstanceMethod<&W::Dispose>("dispose"),
                     });
}

// new Trainer(hypernetwork, generator | null, reward | null, config)
TrainerWrap::TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
  Napi::Env env = info.Env();
  EnvData& ed = env_data(env);
  HypernetworkWrap* hw = unwrap_as<HypernetworkWrap>(env, info[0], ed.hypernetwork_ctor, "Hypernetwork");
  std::shared_ptr<const SequentialModel> gen;
  std::shared_ptr<const Reward> reward;
  if (!info[1].IsNull() && !info[1].IsUndefined()) {
    gen = unwrap_as<ModelWrap>(env, info[1], ed.model_ctor, "SequentialModel")->core(env);
  }
  if (!info[2].IsNull() && !info[2].IsUndefined()) {
    reward = unwrap_as<RewardWrap>(env, info[2], ed.reward_ctor, "Reward")->core(env);
  }
  Napi::Object o = object(info, 3, "config");
  TrainerConfig c;
  try {
    c.kl = parse_kl(opt_string(o, "kl", "exact"));
  } catch (...) {
    rethrow_as_js(env);
  }
  c.lambda = static_cast<float>(opt_number(o, "lambda", 1.0));
  c.alpha = static_cast<float>(opt_number(o, "alpha", 1.0));
  c.batch = opt_integer(o, "batchSize", 64, 1, 1 << 24);
  const std::string noise = opt_string(o, "noise", "inf");
  if (noise == "inf") {
    c.noise = NoiseMode::Inf;
  } else if (noise == "batch") {
    c.noise = NoiseMode::Batch;
  } else if (noise == "one") {
    c.noise = NoiseMode::One;
  } else {
    throw_error(env, "ERR_ARGUMENT", "Expected noise to be 'inf', 'batch' or 'one' but received '" + noise + "'");
  }
  Napi::Value seed = o.Get("seed");
  c.seed = seed.IsUndefined() ? 0 : seed_value(seed, "seed");
  Napi::Value opt = o.Get("optimizer");
  c.optimizer = parse_optimizer(opt.IsObject() ? opt.As<Napi::Object>() : Napi::Object::New(env));
  try {
    auto core = std::make_shared<Trainer>(hw->core(env), gen, reward, c);
    holder_.set(env, core, static_cast<int64_t>(core->memory_bytes()));
  } catch (...) {
    rethrow_as_js(env);
  }
  hn_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
}

TrainerWrap::~TrainerWrap() { holder_.dispose(Env()); }

// step(stepIndex, cond | null, classes | null) -> { loss, reward, kl, klL2, nonInvertible, gradNorm, skipped, ... }
Napi::Value TrainerWrap::Step(const Napi::CallbackInfo& info, bool async) {
  Napi::Env env = info.Env();
  auto t = holder_.get(env, "Trainer");
  const int64_t step = integer(info, 0, "step", 0, int64_t{1} << 52);
  const int64_t n = t->config().batch, C = t->hypernetwork().desc().cond_dim;
  Napi::Float32Array cond = float_array(info, 1, "cond", n * C, C == 0, true);
  Napi::Int32Array classes = int_array(info, 2, "classes", n, true);
  const float* cp = data_of(cond);
  const int32_t* kp = data_of(classes);
  auto stats = std::make_shared<TrainStepStats>();
  Napi::Value result = run(
      env, async,
      {Value(), cond.IsEmpty() ? env.Null() : Napi::Value(cond), classes.IsEmpty() ? env.Null() : Napi::Value(classes)},
      [t, step, cp, kp, stats] { *stats = t->step(step, cp, kp); },
      [stats](Napi::Env e) {
        Napi::Object o = Napi::Object::New(e);
        o.Set("loss", stats->loss);
        o.Set("reward", stats->reward);
        o.Set("kl", stats->kl);
        o.Set("klL2", stats->kl_l2);
        o.Set("nonInvertible", static_cast<double>(stats->noninvertible));
        o.Set("gradNorm", stats->grad_norm);
        o.Set("skipped", stats->skipped);
        o.Set("nonFiniteReward", stats->nonfinite_reward);
        o.Set("lr", stats->lr);
        return o;
      });
  holder_.report(env, static_cast<int64_t>(t->memory_bytes()));
  return result;
}

// noise(stepIndex, out)
Napi::Value TrainerWrap::Noise(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto t = holder_.get(env, "Trainer");
  const int64_t step = integer(info, 0, "step", 0, int64_t{1} << 52);
  Napi::Float32Array out = float_array(info, 1, "out", t->config().batch * t->hypernetwork().desc().noise_dim);
  float* o = out.Data();
  return run(env, false, {}, [t, step, o] { t->noise(step, o); });
}

Napi::Value TrainerWrap::ApplyGradient(const Napi::CallbackInfo& info, bool async) {
  Napi::Env env = info.Env();
  auto t = holder_.get(env, "Trainer");
  auto res = std::make_shared<OptimizerStepResult>();
  return run(env, async, {Value()}, [t, res] { *res = t->apply_gradient(); },
             [res](Napi::Env e) { return step_result(e, *res); });
}

// recordSkip(): a step the decomposed path skipped before the optimiser (non-finite reward).
Napi::Value TrainerWrap::RecordSkip(const Napi::CallbackInfo& info) {
  auto t = holder_.get(info.Env(), "Trainer");
  std::unique_lock<std::shared_mutex> lock(t->hypernetwork().mutex());
  t->optimizer().record_skip();
  return info.Env().Undefined();
}

// getOptimizerState(mOut, vOut) -> { steps, applied, skipped }
Napi::Value TrainerWrap::GetOptimizerState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto t = holder_.get(env, "Trainer");
  const Optimizer& opt = t->optimizer();
  Napi::Float32Array m = float_array(info, 0, "mOut", opt.count());
  Napi::Float32Array v = float_array(info, 1, "vOut", opt.count());
  float* mp = m.Data();
  float* vp = v.Data();
  run(env, false, {}, [&] {
    std::shared_lock<std::shared_mutex> lock(t->hypernetwork().mutex());
    opt.get_state(mp, vp);
  });
  Napi::Object o = Napi::Object::New(env);
  o.Set("steps", static_cast<double>(opt.steps()));
  o.Set("applied", static_cast<double>(opt.applied()));
  o.Set("skipped", static_cast<double>(opt.skipped()));
  return o;
}

// setOptimizerState(m, v, steps, applied, skipped)
Napi::Value TrainerWrap::SetOptimizerState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto t = holder_.get(env, "Trainer");
  Optimizer& opt = t->optimizer();
  Napi::Float32Array m = float_array(info, 0, "m", opt.count(), false, true);
  Napi::Float32Array v = float_array(info, 1, "v", opt.count(), false, true);
  const int64_t steps = integer(info, 2, "steps", 0, int64_t{1} << 52);
  const int64_t applied = integer(info, 3, "applied", 0, int64_t{1} << 52);
  const int64_t skipped = integer(info, 4, "skipped", 0, int64_t{1} << 52);
  const float* mp = m.Data();
  const float* vp = v.Data();
  return run(env, false, {}, [&] {
    std::unique_lock<std::shared_mutex> lock(t->hypernetwork().mutex());
    opt.set_state(mp, vp, steps, applied, skipped);
  });
}

Napi::Value TrainerWrap::Dispose(const Napi::CallbackInfo& info) {
  holder_.dispose(info.Env());
  hn_ref_.Reset();
  return info.Env().Undefined();
}

// new ModelOptimizer(model, optimizerConfig); step(grad) -> { gradNorm, skipped, lr }
Napi::Function ModelOptimizerWrap::Init(Napi::Env env) {
  return DefineClass(env, "ModelOptimizer", {InstanceMethod<&ModelOptimizerWrap::Step>("step")});
}

ModelOptimizerWrap::ModelOptimizerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelOptimizerWrap>(info) {
  Napi::Env env = info.Env();
  model_ = unwrap_as<ModelWrap>(env, info[0], env_data(env).model_ctor, "SequentialModel")->core(env);
  const OptimizerConfig c = parse_optimizer(object(info, 1, "optimizer"));
  try {
    optimizer_ = std::make_unique<Optimizer>(model_->backend(), c, model_->param_count());
    grad_ = DeviceBuffer(model_->backend(), static_cast<size_t>(model_->param_count()) * sizeof(float));
  } catch (...) {
    rethrow_as_js(env);
  }
}

Napi::Value ModelOptimizerWrap::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Float32Array g = float_array(info, 0, "grad", model_->param_count());
  OptimizerStepResult r;
  run(env, false, {}, [&] {
    std::unique_lock<std::shared_mutex> lock(model_->mutex());
    model_->backend().to_device(grad_.data(), g.Data(), grad_.bytes());
    r = optimizer_->step(model_->params_device(), grad_.f32());
  });
  return step_result(env, r);
}

}  // namespace addon
}  // namespace hn
