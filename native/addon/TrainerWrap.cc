// JavaScript class Trainer: the fused native training step, the training noise stream, the optimiser
// step for the decomposed (JS generator or reward) path, and optimiser state for checkpoints. Options are
// read through the core's tables (trainer_options, optimizer_options).
#include "core/errors.h"
#include "js_options.h"
#include "wraps.h"

namespace hn {
namespace addon {

using W = TrainerWrap;

Napi::Function TrainerWrap::Init(Napi::Env env) {
  return define(env,
                     {
                         InstanceMethod<&W::Bound<&W::Step, true>>("step"),
                         InstanceMethod<&W::Bound<&W::Step, false>>("stepSync"),
                         InstanceMethod<&W::Noise>("noise"),
                         InstanceMethod<&W::Bound<&W::ApplyGradient, true>>("applyGradient"),
                         InstanceMethod<&W::Bound<&W::ApplyGradient, false>>("applyGradientSync"),
                         InstanceMethod<&W::RecordSkip>("recordSkip"),
                         InstanceMethod<&W::GetOptimizerState>("getOptimizerState"),
                         InstanceMethod<&W::SetOptimizerState>("setOptimizerState"),
                     });
}

// new Trainer(hypernetwork, generator | null, reward | null, config)
TrainerWrap::TrainerWrap(const Napi::CallbackInfo& info) : CoreWrap(info) {
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
  TrainerConfig c = read_options(env, o, trainer_options(), "");
  c.optimizer = read_options(env, o.Get("optimizer"), optimizer_options(), "optimizer.");
  Napi::Value seed = o.Get("seed");
  c.seed = seed.IsUndefined() ? 0 : seed_value(seed, "seed");
  adopt(env, [&] { return std::make_shared<Trainer>(hw->core(env), gen, reward, c); });
  hn_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
}

// step(stepIndex, cond | null, classes | null) -> { loss, reward, kl, klL2, nonInvertible, gradNorm, skipped, ... }
Napi::Value TrainerWrap::Step(const Napi::CallbackInfo& info, bool async) {
  Napi::Env env = info.Env();
  auto t = core(env);
  const int64_t step = integer(info, 0, "step", 0, int64_t{1} << 52);
  const int64_t n = t->config().batch, C = t->hypernetwork().desc().cond_dim;
  Napi::Float32Array cond = float_array(info, 1, "cond", n * C, C == 0, true);
  Napi::Int32Array classes = int_array(info, 2, "classes", n, true);
  const float* cp = data_of(cond);
  const int32_t* kp = data_of(classes);
  auto stats = std::make_shared<TrainStepStats>();
  Napi::Value result = run(
      env, async,
      {Value(), or_null(env, cond), or_null(env, classes)},
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
  report_memory(env);
  return result;
}

// noise(stepIndex, out)
Napi::Value TrainerWrap::Noise(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto t = core(env);
  const int64_t step = integer(info, 0, "step", 0, int64_t{1} << 52);
  Napi::Float32Array out = float_array(info, 1, "out", t->config().batch * t->hypernetwork().desc().noise_dim);
  float* o = out.Data();
  return run(env, false, {}, [t, step, o] { t->noise(step, o); });
}

Napi::Value TrainerWrap::ApplyGradient(const Napi::CallbackInfo& info, bool async) {
  Napi::Env env = info.Env();
  auto t = core(env);
  auto res = std::make_shared<OptimizerStepResult>();
  return run(env, async, {Value()}, [t, res] { *res = t->apply_gradient(); },
             [res](Napi::Env e) { return step_result(e, *res); });
}

// recordSkip(): a step the decomposed path skipped before the optimiser (non-finite reward).
Napi::Value TrainerWrap::RecordSkip(const Napi::CallbackInfo& info) {
  auto t = core(info.Env());
  return run(info.Env(), false, {}, [&] { t->record_skip(); });
}

// getOptimizerState(mOut, vOut) -> { steps, applied, skipped }
Napi::Value TrainerWrap::GetOptimizerState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto t = core(env);
  const int64_t count = t->optimizer().count();
  Napi::Float32Array m = float_array(info, 0, "mOut", count);
  Napi::Float32Array v = float_array(info, 1, "vOut", count);
  OptimizerCounters c;
  run(env, false, {}, [&] { c = t->get_optimizer_state(m.Data(), v.Data()); });
  Napi::Object o = Napi::Object::New(env);
  o.Set("steps", static_cast<double>(c.steps));
  o.Set("applied", static_cast<double>(c.applied));
  o.Set("skipped", static_cast<double>(c.skipped));
  return o;
}

// setOptimizerState(m, v, steps, applied, skipped)
Napi::Value TrainerWrap::SetOptimizerState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto t = core(env);
  const int64_t count = t->optimizer().count();
  Napi::Float32Array m = float_array(info, 0, "m", count, false, true);
  Napi::Float32Array v = float_array(info, 1, "v", count, false, true);
  OptimizerCounters c;
  c.steps = integer(info, 2, "steps", 0, int64_t{1} << 52);
  c.applied = integer(info, 3, "applied", 0, int64_t{1} << 52);
  c.skipped = integer(info, 4, "skipped", 0, int64_t{1} << 52);
  return run(env, false, {}, [&] { t->set_optimizer_state(m.Data(), v.Data(), c); });
}

}  // namespace addon
}  // namespace hn
