// JavaScript class Hypernetwork: the core hypernetwork, with Promise methods and their Sync twins.
#include "core/errors.h"
#include "js_options.h"
#include "wraps.h"

namespace hn {
namespace addon {

using W = HypernetworkWrap;

namespace {

// The (eps, cond | null, n) arguments every batch call starts with, checked against the hypernetwork.
struct EpsCond {
  int64_t n;
  Napi::Float32Array eps, cond;
};

EpsCond read_eps_cond(const Napi::CallbackInfo& info, const HypernetDesc& d, int64_t min_n) {
  const int64_t n = integer(info, 2, "n", min_n, int64_t{1} << 31);
  return {n, float_array(info, 0, "eps", n * d.noise_dim, false, true),
          float_array(info, 1, "cond", n * d.cond_dim, d.cond_dim == 0, true)};
}

}  // namespace

Napi::Function HypernetworkWrap::Init(Napi::Env env) {
  return define(env,
                     {
                         InstanceMethod<&W::Info>("info"),
                         InstanceMethod<&W::Init_>("init"),
                         InstanceMethod<&W::SetParams>("setParams"),
                         InstanceMethod<&W::GetParams>("getParams"),
                         InstanceMethod<&W::GetGradient>("getGradient"),
                         InstanceMethod<&W::Bound<&W::Forward, true>>("forward"),
                         InstanceMethod<&W::Bound<&W::Forward, false>>("forwardSync"),
                         InstanceMethod<&W::Bound<&W::Kl, true>>("kl"),
                         InstanceMethod<&W::Bound<&W::Kl, false>>("klSync"),
                         InstanceMethod<&W::Bound<&W::ForwardTrain, true>>("forwardTrain"),
                         InstanceMethod<&W::Bound<&W::ForwardTrain, false>>("forwardTrainSync"),
                         InstanceMethod<&W::Bound<&W::Backward, true>>("backward"),
                         InstanceMethod<&W::Bound<&W::Backward, false>>("backwardSync"),
                     });
}

HypernetworkWrap::HypernetworkWrap(const Napi::CallbackInfo& info) : CoreWrap(info) {
  Napi::Env env = info.Env();
  Napi::Object o = object(info, 0, "options");
  const HypernetDesc d = read_options(env, o, hypernetwork_options(), "");
  Backend& b = backend_named(env, string_option(o, "backend"));
  adopt(env, [&] { return std::make_shared<Hypernetwork>(b, d); });
}

Napi::Value HypernetworkWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto h = core(env);
  const HypernetDesc& d = h->desc();
  const HypernetLayout& l = h->layout();
  Napi::Object o = Napi::Object::New(env);
  o.Set("noiseDim", static_cast<double>(d.noise_dim));
  o.Set("condDim", static_cast<double>(d.cond_dim));
  o.Set("rank", static_cast<double>(d.rank));
  o.Set("depth", d.depth);
  o.Set("activation", activation_name(d.activation));
  o.Set("scale", d.scale);
  o.Set("backend", h->backend().name());
  o.Set("paramCount", static_cast<double>(h->param_count()));
  o.Set("memoryBytes", static_cast<double>(h->memory_bytes()));
  // Tensor name -> [offset, length] in the flat parameter vector (the names of hypernetwork_layout.h).
  Napi::Object t = Napi::Object::New(env);
  auto put = [&](const std::string& name, int64_t off, int64_t len) {
    Napi::Array a = Napi::Array::New(env, 2);
    a.Set(0u, static_cast<double>(off));
    a.Set(1u, static_cast<double>(len));
    t.Set(name, a);
  };
  put("A", l.A, d.rank * d.noise_dim);
  if (d.cond_dim > 0) put("U", l.U, d.rank * d.cond_dim);
  put("b1", l.b1, d.rank);
  for (int k = 2; k <= d.depth; ++k) {
    put("W" + std::to_string(k), l.W[static_cast<size_t>(k - 2)], d.rank * d.rank);
    put("b" + std::to_string(k), l.b[static_cast<size_t>(k - 2)], d.rank);
  }
  put("B", l.B, d.noise_dim * d.rank);
  put("bo", l.bo, d.noise_dim);
  o.Set("tensors", t);
  return o;
}

Napi::Value HypernetworkWrap::Init_(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto h = core(env);
  const uint64_t seed = seed_value(info[0], "seed");
  return run(env, false, {}, [h, seed] { h->init(seed); });
}

Napi::Value HypernetworkWrap::SetParams(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto h = core(env);
  Napi::Float32Array p = float_array(info, 0, "params", h->param_count(), false, true);
  return run(env, false, {}, [&] { h->set_params(p.Data(), h->param_count()); });
}

Napi::Value HypernetworkWrap::GetParams(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto h = core(env);
  Napi::Float32Array p = float_array(info, 0, "out", h->param_count());
  return run(env, false, {}, [&] { h->get_params(p.Data(), h->param_count()); });
}

Napi::Value HypernetworkWrap::GetGradient(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto h = core(env);
  Napi::Float32Array p = float_array(info, 0, "out", h->param_count());
  return run(env, false, {}, [&] { h->get_gradient(p.Data(), h->param_count()); });
}

Napi::Value HypernetworkWrap::Infer(const Napi::CallbackInfo& info, bool async, const char* out_name,
                                    int64_t out_per_sample, InferMethod method) {
  Napi::Env env = info.Env();
  auto h = core(env);
  const EpsCond in = read_eps_cond(info, h->desc(), 0);
  const int64_t n = in.n;
  Napi::Float32Array out = float_array(info, 3, out_name, n * out_per_sample);
  const float* e = in.eps.Data();
  const float* c = data_of(in.cond);
  float* o = out.Data();
  return run(env, async, {Value(), in.eps, or_null(env, in.cond), out},
             [h, e, c, n, o, method] { ((*h).*method)(e, c, n, o); });
}

// forward(eps, cond | null, n, out)
Napi::Value HypernetworkWrap::Forward(const Napi::CallbackInfo& info, bool async) {
  return Infer(info, async, "out", core(info.Env())->desc().noise_dim, &Hypernetwork::forward);
}

// kl(eps, cond | null, n, statsOut)  statsOut: kHypernetStatRows x n
Napi::Value HypernetworkWrap::Kl(const Napi::CallbackInfo& info, bool async) {
  return Infer(info, async, "statsOut", kHypernetStatRows, &Hypernetwork::kl);
}

// forwardTrain(eps, cond | null, n, kl, epsHatOut, statsOut | null)
Napi::Value HypernetworkWrap::ForwardTrain(const Napi::CallbackInfo& info, bool async) {
  Napi::Env env = info.Env();
  auto h = core(env);
  const EpsCond in = read_eps_cond(info, h->desc(), 1);
  const int64_t n = in.n;
  const KlKind kl = kl_named(env, string(info, 3, "kl"));
  Napi::Float32Array out = float_array(info, 4, "epsHatOut", n * h->desc().noise_dim);
  Napi::Float32Array stats = float_array(info, 5, "statsOut", kHypernetStatRows * n, true);
  const float* e = in.eps.Data();
  const float* c = data_of(in.cond);
  float* o = out.Data();
  float* s = data_of(stats);
  Napi::Value result = run(env, async, {Value(), in.eps, or_null(env, in.cond), out, or_null(env, stats)},
                           [h, e, c, n, kl, o, s] { h->forward_train(e, c, n, kl, o, s); });
  report_memory(env);
  return result;
}

// backward(dEpsHat, n, kl, klWeight, dScale)
Napi::Value HypernetworkWrap::Backward(const Napi::CallbackInfo& info, bool async) {
  Napi::Env env = info.Env();
  auto h = core(env);
  const int64_t n = integer(info, 1, "n", 1, int64_t{1} << 31);
  Napi::Float32Array g = float_array(info, 0, "dEpsHat", n * h->desc().noise_dim, false, true);
  const KlKind kl = kl_named(env, string(info, 2, "kl"));
  const float w = static_cast<float>(number(info, 3, "klWeight"));
  const float scale = info[4].IsUndefined() ? 1.0f : static_cast<float>(number(info, 4, "dScale"));
  const float* gp = g.Data();
  return run(env, async, {Value(), g}, [h, gp, n, kl, w, scale] { h->backward(gp, n, kl, w, scale); });
}

}  // namespace addon
}  // namespace hn
