// JavaScript option objects read through the core's option tables (core/options.h): every field's default
// and range comes from the table, so the addon writes none of its own. Also turns the resolved values back
// into a JavaScript object, for the TypeScript layer's own copy of a configuration (resolveOptions).
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "addon_util.h"
#include "core/options.h"

namespace hn {
namespace addon {

// The value of one field as given in `o` (checked against its spec; errors name prefix + key), or NaN
// when `o` does not set it (undefined).
double read_option_value(const Napi::Object& o, const OptionSpec& spec, const std::string& prefix);
// A resolved value as JavaScript: a number, a boolean or the choice's name. Defaults (from float fields)
// are given as the shortest decimal that rounds to the same float, so 1e-3f reads back as 0.001.
Napi::Value option_to_js(Napi::Env env, const OptionSpec& spec, double value, bool is_default);

// Reads every field of `table` from `o` (an object, or undefined for all defaults) into a Config.
// `values`, when given, receives the value of each field (given or default) and whether it was a default.
template <class Config>
Config read_options(Napi::Env env, const Napi::Value& o, const OptionTable<Config>& table, const std::string& prefix,
                    std::vector<std::pair<double, bool>>* values = nullptr) {
  if (!o.IsUndefined() && (!o.IsObject() || o.IsArray() || o.IsFunction())) {
    throw_error(env, "ERR_ARGUMENT", "Expected an options object for " +
                                         (prefix.empty() ? std::string(table.name) : prefix.substr(0, prefix.size() - 1)) +
                                         " but received " + describe(o));
  }
  const Napi::Object obj = o.IsUndefined() ? Napi::Object::New(env) : o.As<Napi::Object>();
  Config c{};
  for (const OptionField<Config>& f : table.fields) {
    double v = read_option_value(obj, f.spec, prefix);
    const bool is_default = v != v;
    if (is_default) {
      if (f.spec.required) {
        throw_error(env, "ERR_ARGUMENT", "Expected " + option_expectation(f.spec) + " for " + prefix + f.spec.key +
                                             " but received undefined");
      }
      v = f.get(table.defaults(c));
    }
    f.set(c, v);
    if (values) values->push_back({v, is_default});
  }
  return c;
}

// Reads `o` through `table` and returns every field as a plain object (the resolved configuration).
template <class Config>
Napi::Object resolve_options(Napi::Env env, const Napi::Value& o, const OptionTable<Config>& table,
                             const std::string& prefix) {
  std::vector<std::pair<double, bool>> values;
  read_options(env, o, table, prefix, &values);
  Napi::Object out = Napi::Object::New(env);
  for (size_t i = 0; i < table.fields.size(); ++i) {
    const OptionSpec& s = table.fields[i].spec;
    out.Set(s.key, option_to_js(env, s, values[i].first, values[i].second));
  }
  return out;
}

}  // namespace addon
}  // namespace hn
