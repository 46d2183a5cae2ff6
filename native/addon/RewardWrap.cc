// JavaScript class Reward: a weighted sum of built-in reward terms, evaluated with gradients.
#include "core/errors.h"
#include "wraps.h"

namespace hn {
namespace addon {

using W = RewardWrap;

Napi::Function RewardWrap::Init(Napi::Env env) {
  return define(env,
                     {
                         InstanceMethod<&W::Bound<&W::Evaluate, true>>("evaluate"),
                         InstanceMethod<&W::Bound<&W::Evaluate, false>>("evaluateSync"),
                         InstanceMethod<&W::NeedsClasses>("needsClasses"),
                     });
}

// new Reward([{ kind, weight, model?, fixedClass?, classOffset? }])
RewardWrap::RewardWrap(const Napi::CallbackInfo& info) : CoreWrap(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw_error(env, "ERR_ARGUMENT", "Expected an array of reward terms but received " + describe(info[0]));
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<RewardTerm> terms;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value v = arr.Get(i);
    if (!v.IsObject()) throw_error(env, "ERR_ARGUMENT", "Reward term " + std::to_string(i) + ": expected an object");
    Napi::Object o = v.As<Napi::Object>();
    RewardTerm t;
    const std::string kind = opt_string(o, "kind", "");
    t.weight = static_cast<float>(opt_number(o, "weight", 1.0));
    if (kind == "redness") {
      t.kind = RewardTerm::Kind::Redness;
    } else if (kind == "brightness") {
      t.kind = RewardTerm::Kind::Brightness;
    } else if (kind == "classifierLogProb") {
      t.kind = RewardTerm::Kind::ClassifierLogProb;
      ModelWrap* m = unwrap_as<ModelWrap>(env, o.Get("model"), env_data(env).model_ctor, "SequentialModel");
      t.model = m->core(env);
      t.fixed_class = static_cast<int32_t>(opt_integer(o, "fixedClass", -1, -1, 1 << 30));
      t.class_offset = opt_integer(o, "classOffset", 0, 0, int64_t{1} << 30);
    } else {
      throw_error(env, "ERR_ARGUMENT", "Reward term " + std::to_string(i) +
                                           ": expected kind 'redness', 'brightness' or 'classifierLogProb' but received '" + kind + "'");
    }
    terms.push_back(std::move(t));
  }
  adopt(env, [&] { return std::make_shared<Reward>(std::move(terms)); });
}

Napi::Value RewardWrap::NeedsClasses(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), core(info.Env())->needs_classes());
}

// evaluate(x, n, p, cond | null, condDim, classes | null, valueOut, gradOut | null, backend)
Napi::Value RewardWrap::Evaluate(const Napi::CallbackInfo& info, bool async) {
  Napi::Env env = info.Env();
  auto r = core(env);
  const int64_t n = integer(info, 1, "n", 0, int64_t{1} << 31);
  const int64_t p = integer(info, 2, "p", 1, int64_t{1} << 31);
  const int64_t cd = integer(info, 4, "condDim", 0, int64_t{1} << 31);
  Napi::Float32Array x = float_array(info, 0, "x", n * p, false, true);
  Napi::Float32Array cond = float_array(info, 3, "cond", n * cd, true, true);
  Napi::Int32Array classes = int_array(info, 5, "classes", n, true);
  Napi::Float32Array value = float_array(info, 6, "valueOut", n);
  Napi::Float32Array grad = float_array(info, 7, "gradOut", n * p, true);
  // A reward with a classifier runs where its classifier lives; pixel rewards on the backend asked for.
  Backend* model_backend = r->backend();
  Backend& b = model_backend ? *model_backend : backend_named(env, string(info, 8, "backend"));
  try {
    r->check(p, cond.IsEmpty() ? 0 : cd, !classes.IsEmpty());
  } catch (...) {
    rethrow_as_js(env);
  }
  const float* xp = x.Data();
  const float* cp = data_of(cond);
  const int32_t* kp = data_of(classes);
  float* vp = value.Data();
  float* gp = data_of(grad);
  Backend* bp = &b;
  return run(env, async,
             {Value(), x, or_null(env, cond),
              or_null(env, classes), value, or_null(env, grad)},
             [r, bp, xp, n, p, cp, cd, kp, vp, gp] { r->evaluate(*bp, xp, n, p, cp, cp ? cd : 0, kp, vp, gp); });
}

}  // namespace addon
}  // namespace hn
