// N-API helpers shared by the wrappers: per-environment data, HypernoiseError construction, argument
// checks that say what was expected, and running work as a Promise (libuv pool) or synchronously.
#pragma once

#include <napi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/kl.h"

namespace hn {
namespace addon {

// Per-environment (main thread or worker_thread) state.
struct EnvData {
  Napi::FunctionReference error_class;  // HypernoiseError from the TypeScript layer
  Napi::FunctionReference hypernetwork_ctor, model_ctor, reward_ctor, trainer_ctor, reno_ctor, optimizer_ctor;
};
EnvData& env_data(Napi::Env env);

// A HypernoiseError (or a plain Error with .code before setErrorClass) with `code` and `message`.
Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message);
[[noreturn]] void throw_error(Napi::Env env, const std::string& code, const std::string& message);
// The code and message of the exception being handled (call inside a catch block): hn::Error keeps its
// code, std::bad_alloc is ERR_MEMORY, anything else ERR_INTERNAL.
struct CodedMessage {
  std::string code, message;
};
CodedMessage current_exception_message();
// Rethrows the current C++ exception as a JavaScript error with current_exception_message()'s code.
[[noreturn]] void rethrow_as_js(Napi::Env env);

// "... of type number" / "a Float64Array" etc., for messages.
std::string describe(const Napi::Value& v);

// Argument readers: each throws a coded error that names the argument and what was expected.
Napi::Float32Array float_array(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t expected_len,
                               bool nullable = false, bool finite = false);
Napi::Float64Array double_array(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t expected_len);
Napi::Int32Array int_array(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t expected_len,
                           bool nullable = false);
int64_t integer(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t min, int64_t max);
double number(const Napi::CallbackInfo& info, size_t i, const char* name);
bool boolean(const Napi::CallbackInfo& info, size_t i, const char* name);
std::string string(const Napi::CallbackInfo& info, size_t i, const char* name);
uint64_t seed_value(const Napi::Value& v, const char* name);  // number (safe integer >= 0) or bigint
Napi::Object object(const Napi::CallbackInfo& info, size_t i, const char* name);

// A string an options object must carry (ERR_ARGUMENT naming `key` otherwise).
std::string string_option(const Napi::Object& o, const char* key);
// The KL kind named 'l2' | 'exact' | 'chi', or ERR_ARGUMENT.
KlKind kl_named(Napi::Env env, const std::string& name);

// Option readers on an options object (undefined: the default) for the specs that have no option table
// (layers, reward terms).
double opt_number(const Napi::Object& o, const char* key, double dflt);
int64_t opt_integer(const Napi::Object& o, const char* key, int64_t dflt, int64_t min, int64_t max);
bool opt_bool(const Napi::Object& o, const char* key, bool dflt);
std::string opt_string(const Napi::Object& o, const char* key, const std::string& dflt);

// The backend named by 'auto' | 'cpu' | 'cuda' (registry/backends.h), or a coded JavaScript error.
Backend& backend_named(Napi::Env env, const std::string& name);

float* data_of(Napi::Float32Array a);
// The array, or null for an absent (empty) one: for the values run() keeps alive.
Napi::Value or_null(Napi::Env env, const Napi::TypedArray& a);
int32_t* data_of(Napi::Int32Array a);

// Runs `work` off the main thread and returns a Promise resolved with result(env), or (async == false)
// runs it now and returns result(env). `keep` holds JavaScript values (input arrays, the wrapper) alive
// until the work is done. Exceptions become rejected Promises / thrown errors with their codes.
Napi::Value run(Napi::Env env, bool async, std::vector<Napi::Value> keep, std::function<void()> work,
                std::function<Napi::Value(Napi::Env)> result = nullptr);

}  // namespace addon
}  // namespace hn
