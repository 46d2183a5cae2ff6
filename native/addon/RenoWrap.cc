// JavaScript class RenoRun: test-time noise optimisation of a batch, advanced in slices of passes.
#include "core/errors.h"
#include "js_options.h"
#include "wraps.h"

namespace hn {
namespace addon {

using W = RenoWrap;

Napi::Function RenoWrap::Init(Napi::Env env) {
  return define(env,
                     {
                         InstanceMethod<&W::Bound<&W::Iterate, true>>("iterate"),
                         InstanceMethod<&W::Bound<&W::Iterate, false>>("iterateSync"),
                         InstanceMethod<&W::Best>("best"),
                         InstanceMethod<&W::History>("history"),
                         InstanceAccessor<&W::Done>("done"),
                     });
}

// new RenoRun(generator, reward, config, eps0, n, cond | null, condDim, classes | null)
RenoWrap::RenoWrap(const Napi::CallbackInfo& info) : CoreWrap(info) {
  Napi::Env env = info.Env();
  EnvData& ed = env_data(env);
  auto gen = unwrap_as<ModelWrap>(env, info[0], ed.model_ctor, "SequentialModel")->core(env);
  auto reward = unwrap_as<RewardWrap>(env, info[1], ed.reward_ctor, "Reward")->core(env);
  Napi::Object o = object(info, 2, "config");
  const RenoConfig c = read_options(env, o, reno_options(), "");
  const int64_t n = integer(info, 4, "n", 1, int64_t{1} << 31);
  const int64_t cd = integer(info, 6, "condDim", 0, int64_t{1} << 31);
  Napi::Float32Array eps = float_array(info, 3, "eps", n * gen->input_dim(), false, true);
  Napi::Float32Array cond = float_array(info, 5, "cond", n * cd, cd == 0, true);
  Napi::Int32Array classes = int_array(info, 7, "classes", n, true);
  adopt(env, [&] { return std::make_shared<RenoRun>(gen, reward, c, eps.Data(), n, data_of(cond), cd, data_of(classes)); });
}

// iterate(passes) -> remaining passes
Napi::Value RenoWrap::Iterate(const Napi::CallbackInfo& info, bool async) {
  Napi::Env env = info.Env();
  auto r = core(env);
  const int passes = static_cast<int>(integer(info, 0, "passes", 0, 1 << 30));
  auto remaining = std::make_shared<int>(0);
  return run(env, async, {Value()}, [r, passes, remaining] { *remaining = r->iterate(passes); },
             [remaining](Napi::Env e) { return Napi::Number::New(e, *remaining); });
}

// best(epsOut | null, xOut | null, rewardOut | null)
Napi::Value RenoWrap::Best(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto r = core(env);
  const int64_t n = r->n();
  Napi::Float32Array eps = float_array(info, 0, "epsOut", -1, true);
  Napi::Float32Array x = float_array(info, 1, "xOut", -1, true);
  Napi::Float32Array rew = float_array(info, 2, "rewardOut", n, true);
  return run(env, false, {}, [&] {
    r->check_best_shapes(eps.IsEmpty() ? -1 : static_cast<int64_t>(eps.ElementLength()),
                         x.IsEmpty() ? -1 : static_cast<int64_t>(x.ElementLength()));
    r->best(data_of(eps), data_of(x), data_of(rew));
  });
}

Napi::Value RenoWrap::History(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto r = core(env);
  const std::vector<double> h = r->history();
  Napi::Array a = Napi::Array::New(env, h.size());
  for (size_t i = 0; i < h.size(); ++i) a.Set(static_cast<uint32_t>(i), h[i]);
  return a;
}

Napi::Value RenoWrap::Done(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), core(info.Env())->done());
}

}  // namespace addon
}  // namespace hn
