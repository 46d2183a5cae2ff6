// JavaScript class SequentialModel: generators and classifiers (forward, VJP, weight gradients).
#include "core/errors.h"
#include "wraps.h"

namespace hn {
namespace addon {

using W = ModelWrap;

namespace {

// The (x, dy, n) arguments of vjp and gradients: a batch of inputs and the gradient at the outputs.
struct XDy {
  int64_t n;
  Napi::Float32Array x, dy;
};

XDy read_x_dy(const Napi::CallbackInfo& info, const SequentialModel& m, int64_t min_n) {
  const int64_t n = integer(info, 2, "n", min_n, int64_t{1} << 31);
  return {n, float_array(info, 0, "x", n * m.input_dim(), false, true), float_array(info, 1, "dy", n * m.output_dim(), false, true)};
}

}  // namespace

Napi::Function ModelWrap::Init(Napi::Env env) {
  return define(env,
                     {
                         InstanceMethod<&W::Info>("info"),
                         InstanceMethod<&W::Init_>("init"),
                         InstanceMethod<&W::SetParams>("setParams"),
                         InstanceMethod<&W::GetParams>("getParams"),
                         InstanceMethod<&W::Bound<&W::Forward, true>>("forward"),
                         InstanceMethod<&W::Bound<&W::Forward, false>>("forwardSync"),
                         InstanceMethod<&W::Bound<&W::Vjp, true>>("vjp"),
                         InstanceMethod<&W::Bound<&W::Vjp, false>>("vjpSync"),
                         InstanceMethod<&W::Bound<&W::Gradients, true>>("gradients"),
                         InstanceMethod<&W::Bound<&W::Gradients, false>>("gradientsSync"),
                     });
}

// new SequentialModel(layers, backend): layers [{ type: 'linear', in, out } | { type: 'relu' | ... }]
ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : CoreWrap(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw_error(env, "ERR_ARGUMENT", "Expected an array of layers but received " + describe(info[0]));
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<LayerSpec> layers;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value v = arr.Get(i);
    if (!v.IsObject()) throw_error(env, "ERR_ARGUMENT", "Layer " + std::to_string(i) + ": expected an object but received " + describe(v));
    Napi::Object o = v.As<Napi::Object>();
    const std::string type = opt_string(o, "type", "");
    LayerSpec l;
    if (type == "linear") {
      l.linear = true;
      l.in = opt_integer(o, "in", -1, 1, int64_t{1} << 30);
      l.out = opt_integer(o, "out", -1, 1, int64_t{1} << 30);
      if (l.in < 0 || l.out < 0) throw_error(env, "ERR_ARGUMENT", "Layer " + std::to_string(i) + " (linear): expected integer 'in' and 'out'");
    } else {
      try {
        l.activation = parse_activation(type);
      } catch (const Error&) {
        throw_error(env, "ERR_ARGUMENT", "Layer " + std::to_string(i) + ": expected type 'linear' or an activation (identity, relu, silu, gelu, tanh, sigmoid, softplus) but received '" + type + "'");
      }
    }
    layers.push_back(l);
  }
  Backend& b = backend_named(env, string(info, 1, "backend"));
  adopt(env, [&] { return std::make_shared<SequentialModel>(b, std::move(layers)); });
}

Napi::Value ModelWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = core(env);
  Napi::Object o = Napi::Object::New(env);
  o.Set("inputDim", static_cast<double>(m->input_dim()));
  o.Set("outputDim", static_cast<double>(m->output_dim()));
  o.Set("paramCount", static_cast<double>(m->param_count()));
  o.Set("backend", m->backend().name());
  Napi::Array layers = Napi::Array::New(env, m->layers().size());
  for (size_t i = 0; i < m->layers().size(); ++i) {
    const LayerSpec& l = m->layers()[i];
    Napi::Object lo = Napi::Object::New(env);
    if (l.linear) {
      lo.Set("type", "linear");
      lo.Set("in", static_cast<double>(l.in));
      lo.Set("out", static_cast<double>(l.out));
      lo.Set("weightOffset", static_cast<double>(m->weight_offset(i)));
      lo.Set("biasOffset", static_cast<double>(m->bias_offset(i)));
    } else {
      lo.Set("type", activation_name(l.activation));
    }
    layers.Set(static_cast<uint32_t>(i), lo);
  }
  o.Set("layers", layers);
  return o;
}

Napi::Value ModelWrap::Init_(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = core(env);
  const uint64_t seed = seed_value(info[0], "seed");
  return run(env, false, {}, [m, seed] { m->init(seed); });
}

Napi::Value ModelWrap::SetParams(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = core(env);
  Napi::Float32Array p = float_array(info, 0, "params", m->param_count(), false, true);
  return run(env, false, {}, [&] { m->set_params(p.Data(), m->param_count()); });
}

Napi::Value ModelWrap::GetParams(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = core(env);
  Napi::Float32Array p = float_array(info, 0, "out", m->param_count());
  return run(env, false, {}, [&] { m->get_params(p.Data(), m->param_count()); });
}

// forward(x, n, out)
Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info, bool async) {
  Napi::Env env = info.Env();
  auto m = core(env);
  const int64_t n = integer(info, 1, "n", 0, int64_t{1} << 31);
  Napi::Float32Array x = float_array(info, 0, "x", n * m->input_dim(), false, true);
  Napi::Float32Array y = float_array(info, 2, "out", n * m->output_dim());
  const float* xp = x.Data();
  float* yp = y.Data();
  return run(env, async, {Value(), x, y}, [m, xp, n, yp] { m->forward(xp, n, yp); });
}

// vjp(x, dy, n, dxOut)
Napi::Value ModelWrap::Vjp(const Napi::CallbackInfo& info, bool async) {
  Napi::Env env = info.Env();
  auto m = core(env);
  const XDy in = read_x_dy(info, *m, 0);
  const int64_t n = in.n;
  Napi::Float32Array dx = float_array(info, 3, "out", n * m->input_dim());
  const float* xp = in.x.Data();
  const float* dyp = in.dy.Data();
  float* dxp = dx.Data();
  return run(env, async, {Value(), in.x, in.dy, dx}, [m, xp, dyp, n, dxp] { m->vjp(xp, dyp, n, dxp); });
}

// gradients(x, dy, n, dxOut | null, gradOut): weight gradients of <dy, model(x)> (overwrites gradOut).
Napi::Value ModelWrap::Gradients(const Napi::CallbackInfo& info, bool async) {
  Napi::Env env = info.Env();
  auto m = core(env);
  const XDy in = read_x_dy(info, *m, 1);
  const int64_t n = in.n;
  Napi::Float32Array dx = float_array(info, 3, "dxOut", n * m->input_dim(), true);
  Napi::Float32Array grad = float_array(info, 4, "gradOut", m->param_count());
  const float* xp = in.x.Data();
  const float* dyp = in.dy.Data();
  float* dxp = data_of(dx);
  float* gp = grad.Data();
  return run(env, async, {Value(), in.x, in.dy, or_null(env, dx), grad},
             [m, xp, dyp, n, dxp, gp] { m->gradients(xp, dyp, n, dxp, gp); });
}

}  // namespace addon
}  // namespace hn
