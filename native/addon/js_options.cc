#include "js_options.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/errors.h"

namespace hn {
namespace addon {

namespace {

// The shortest decimal that rounds to the same float as v.
double float_shortest(double v) {
  if (!std::isfinite(v)) return v;
  const float f = static_cast<float>(v);
  char buf[32];
  for (int precision = 1; precision <= 9; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, static_cast<double>(f));
    const double back = std::strtod(buf, nullptr);
    if (static_cast<float>(back) == f) return back;
  }
  return static_cast<double>(f);
}

}  // namespace

double read_option_value(const Napi::Object& o, const OptionSpec& spec, const std::string& prefix) {
  Napi::Env env = o.Env();
  const Napi::Value v = o.Get(spec.key);
  if (v.IsUndefined()) return NAN;
  bool ok = false;
  double x = 0.0;
  switch (spec.type) {
    case OptionType::Boolean:
      ok = v.IsBoolean();
      if (ok) x = v.As<Napi::Boolean>().Value() ? 1.0 : 0.0;
      break;
    case OptionType::Choice:
      if (v.IsString()) {
        const std::string name = v.As<Napi::String>().Utf8Value();
        for (size_t i = 0; i < spec.choices.size() && !ok; ++i) {
          ok = name == spec.choices[i];
          x = static_cast<double>(i);
        }
      }
      break;
    case OptionType::Integer:
    case OptionType::Number:
      ok = v.IsNumber() && option_accepts(spec, v.As<Napi::Number>().DoubleValue());
      if (ok) x = v.As<Napi::Number>().DoubleValue();
      break;
  }
  if (!ok) {
    throw_error(env, "ERR_ARGUMENT",
                "Expected " + option_expectation(spec) + " for " + prefix + spec.key + " but received " + describe(v));
  }
  return x;
}

Napi::Value option_to_js(Napi::Env env, const OptionSpec& spec, double value, bool is_default) {
  switch (spec.type) {
    case OptionType::Boolean: return Napi::Boolean::New(env, value != 0.0);
    case OptionType::Choice: return Napi::String::New(env, spec.choices[static_cast<size_t>(value)]);
    case OptionType::Integer: return Napi::Number::New(env, value);
    case OptionType::Number: return Napi::Number::New(env, is_default ? float_shortest(value) : value);
  }
  return env.Undefined();
}

}  // namespace addon
}  // namespace hn
