#include "addon_util.h"

#include "buffer_pin.h"

#include <cmath>
#include <memory>
#include <new>

#include "core/checks.h"
#include "core/errors.h"
#include "core/options.h"
#include "registry/backends.h"

namespace hn {
namespace addon {

EnvData& env_data(Napi::Env env) {
  EnvData* d = env.GetInstanceData<EnvData>();
  if (d == nullptr) {
    // Ownership passes to the environment, which deletes it when the environment is torn down.
    d = std::make_unique<EnvData>().release();
    env.SetInstanceData<EnvData>(d);
  }
  return *d;
}

Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message) {
  EnvData& d = env_data(env);
  Napi::Object err;
  if (!d.error_class.IsEmpty()) {
    err = d.error_class.New({Napi::String::New(env, message), Napi::String::New(env, code)});
  } else {
    err = Napi::Error::New(env, message).Value();
    err.Set("code", Napi::String::New(env, code));
  }
  return Napi::Error(env, err);
}

void throw_error(Napi::Env env, const std::string& code, const std::string& message) {
  throw make_error(env, code, message);
}

CodedMessage current_exception_message() {
  try {
    throw;
  } catch (const Error& e) {
    return {error_code_name(e.code()), e.what()};
  } catch (const std::bad_alloc&) {
    return {"ERR_MEMORY", "Out of memory"};
  } catch (const std::exception& e) {
    return {"ERR_INTERNAL", e.what()};
  } catch (...) {
    return {"ERR_INTERNAL", "Unknown native exception"};
  }
}

void rethrow_as_js(Napi::Env env) {
  try {
    throw;
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    const CodedMessage m = current_exception_message();
    throw_error(env, m.code, m.message);
  }
}

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_int8_array: return "an Int8Array";
      case napi_uint8_array: return "a Uint8Array";
      case napi_uint8_clamped_array: return "a Uint8ClampedArray";
      case napi_int16_array: return "an Int16Array";
      case napi_uint16_array: return "a Uint16Array";
      case napi_int32_array: return "an Int32Array";
      case napi_uint32_array: return "a Uint32Array";
      case napi_float32_array: return "a Float32Array";
      case napi_float64_array: return "a Float64Array";
      default: return "a typed array";
    }
  }
  if (v.IsArray()) return "an Array";
  if (v.IsNumber()) return number_text(v.As<Napi::Number>().DoubleValue()) + " of type number";
  if (v.IsString()) return "'" + v.As<Napi::String>().Utf8Value() + "' of type string";
  if (v.IsBoolean()) return std::string(v.As<Napi::Boolean>().Value() ? "true" : "false") + " of type boolean";
  if (v.IsBigInt()) return "a bigint";
  if (v.IsFunction()) return "a function";
  return "an object";
}

namespace {

// A typed array of kind `type` (named `type_name` in messages) and, unless expected_len < 0, of that length.
template <typename A>
A typed_array(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t expected_len, napi_typedarray_type type,
              const char* type_name) {
  Napi::Env env = info.Env();
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw_error(env, "ERR_DTYPE", std::string("Expected a ") + type_name + " for " + name + " but received " + describe(v));
  }
  A a = v.As<A>();
  // Not a.ArrayBuffer().ByteLength(): napi_get_arraybuffer_info refuses the SharedArrayBuffer behind a shared
  // array (a plain "Invalid argument" Error). A detached array has length 0 and is never read.
  if (a.ElementLength() > 0 && a.Data() == nullptr) {
    throw_error(env, "ERR_DTYPE", std::string("Expected a usable ") + type_name + " for " + name + " (its buffer is detached)");
  }
  if (expected_len >= 0 && static_cast<int64_t>(a.ElementLength()) != expected_len) {
    throw_error(env, "ERR_SHAPE", std::string("Expected ") + name + " to have length " + std::to_string(expected_len) +
                                      " but received length " + std::to_string(a.ElementLength()));
  }
  return a;
}

}  // namespace

Napi::Float64Array double_array(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t expected_len) {
  return typed_array<Napi::Float64Array>(info, i, name, expected_len, napi_float64_array, "Float64Array");
}

Napi::Float32Array float_array(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t expected_len,
                               bool nullable, bool finite) {
  Napi::Env env = info.Env();
  Napi::Value v = info[i];
  if (nullable && (v.IsNull() || v.IsUndefined())) return Napi::Float32Array();
  Napi::Float32Array a = typed_array<Napi::Float32Array>(info, i, name, expected_len, napi_float32_array, "Float32Array");
  if (finite) {
    const int64_t bad = first_non_finite(a.Data(), static_cast<int64_t>(a.ElementLength()));
    if (bad >= 0) {
      throw_error(env, "ERR_NON_FINITE", std::string("Expected finite values in ") + name + " but element " +
                                             std::to_string(bad) + " is " + std::to_string(a.Data()[bad]));
    }
  }
  return a;
}

Napi::Int32Array int_array(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t expected_len,
                           bool nullable) {
  Napi::Env env = info.Env();
  Napi::Value v = info[i];
  if (nullable && (v.IsNull() || v.IsUndefined())) return Napi::Int32Array();
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw_error(env, "ERR_DTYPE", std::string("Expected an Int32Array for ") + name + " but received " + describe(v));
  }
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  if (expected_len >= 0 && static_cast<int64_t>(a.ElementLength()) != expected_len) {
    throw_error(env, "ERR_SHAPE", std::string("Expected ") + name + " to have length " + std::to_string(expected_len) +
                                      " but received length " + std::to_string(a.ElementLength()));
  }
  return a;
}

namespace {

// v as an integer in [min, max], or ERR_ARGUMENT naming `name`.
int64_t integer_value(Napi::Env env, const Napi::Value& v, const char* name, int64_t min, int64_t max) {
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!v.IsNumber() || !std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(min) ||
      d > static_cast<double>(max)) {
    throw_error(env, "ERR_ARGUMENT", std::string("Expected an integer in [") + std::to_string(min) + ", " +
                                         std::to_string(max) + "] for " + name + " but received " + describe(v));
  }
  return static_cast<int64_t>(d);
}

// v as a finite number, or ERR_ARGUMENT naming `name`.
double number_value(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue())) {
    throw_error(env, "ERR_ARGUMENT", std::string("Expected a finite number for ") + name + " but received " + describe(v));
  }
  return v.As<Napi::Number>().DoubleValue();
}

}  // namespace

int64_t integer(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t min, int64_t max) {
  return integer_value(info.Env(), info[i], name, min, max);
}

double number(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return number_value(info.Env(), info[i], name);
}

bool boolean(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsBoolean()) {
    throw_error(info.Env(), "ERR_ARGUMENT", std::string("Expected a boolean for ") + name + " but received " + describe(v));
  }
  return v.As<Napi::Boolean>().Value();
}

std::string string(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsString()) {
    throw_error(info.Env(), "ERR_ARGUMENT", std::string("Expected a string for ") + name + " but received " + describe(v));
  }
  return v.As<Napi::String>().Utf8Value();
}

uint64_t seed_value(const Napi::Value& v, const char* name) {
  if (v.IsBigInt()) {
    bool lossless = false;
    const uint64_t s = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw_error(v.Env(), "ERR_ARGUMENT", std::string("Expected ") + name + " to fit in 64 unsigned bits");
    return s;
  }
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!v.IsNumber() || !std::isfinite(d) || d < 0 || std::floor(d) != d || d > 9007199254740991.0) {
    throw_error(v.Env(), "ERR_ARGUMENT",
                std::string("Expected a non-negative safe integer or a bigint for ") + name + " but received " + describe(v));
  }
  return static_cast<uint64_t>(d);
}

Napi::Object object(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsObject() || v.IsArray() || v.IsFunction()) {
    throw_error(info.Env(), "ERR_ARGUMENT", std::string("Expected an object for ") + name + " but received " + describe(v));
  }
  return v.As<Napi::Object>();
}

double opt_number(const Napi::Object& o, const char* key, double dflt) {
  Napi::Value v = o.Get(key);
  return v.IsUndefined() ? dflt : number_value(o.Env(), v, key);
}

int64_t opt_integer(const Napi::Object& o, const char* key, int64_t dflt, int64_t min, int64_t max) {
  Napi::Value v = o.Get(key);
  return v.IsUndefined() ? dflt : integer_value(o.Env(), v, key, min, max);
}

bool opt_bool(const Napi::Object& o, const char* key, bool dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return dflt;
  if (!v.IsBoolean()) {
    throw_error(o.Env(), "ERR_ARGUMENT", std::string("Expected a boolean for ") + key + " but received " + describe(v));
  }
  return v.As<Napi::Boolean>().Value();
}

std::string opt_string(const Napi::Object& o, const char* key, const std::string& dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return dflt;
  if (!v.IsString()) {
    throw_error(o.Env(), "ERR_ARGUMENT", std::string("Expected a string for ") + key + " but received " + describe(v));
  }
  return v.As<Napi::String>().Utf8Value();
}

std::string string_option(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) {
    throw_error(o.Env(), "ERR_ARGUMENT", std::string("Expected a string for ") + key + " but received " + describe(v));
  }
  return v.As<Napi::String>().Utf8Value();
}

KlKind kl_named(Napi::Env env, const std::string& name) {
  try {
    return parse_kl(name);
  } catch (...) {
    rethrow_as_js(env);
  }
}

Backend& backend_named(Napi::Env env, const std::string& name) {
  try {
    return hn::backend_named(name);
  } catch (...) {
    rethrow_as_js(env);
  }
}

float* data_of(Napi::Float32Array a) { return a.IsEmpty() ? nullptr : a.Data(); }
int32_t* data_of(Napi::Int32Array a) { return a.IsEmpty() ? nullptr : a.Data(); }
Napi::Value or_null(Napi::Env env, const Napi::TypedArray& a) { return a.IsEmpty() ? env.Null() : Napi::Value(a); }

namespace {

class Job final : public Napi::AsyncWorker {
 public:
  Job(Napi::Env env, std::vector<Napi::Value> keep, std::function<void()> work,
      std::function<Napi::Value(Napi::Env)> result)
      : Napi::AsyncWorker(env, "hypernoise"),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        result_(std::move(result)) {
    for (Napi::Value& v : keep) {
      if (!v.IsObject()) continue;
      refs_.push_back(Napi::Persistent(v.As<Napi::Object>()));
      // The reference keeps the array object; the pin keeps its memory, even if the buffer is transferred.
      if (v.IsTypedArray() || v.IsArrayBuffer() || v.IsDataView()) pins_.emplace_back(v);
    }
  }
  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      work_();
    } catch (...) {
      const CodedMessage m = current_exception_message();
      code_ = m.code;
      SetError(m.message);
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(result_ ? result_(env) : env.Undefined());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(make_error(Env(), code_, e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<void()> work_;
  std::function<Napi::Value(Napi::Env)> result_;
  std::vector<Napi::ObjectReference> refs_;
  std::vector<BufferPin> pins_;
  std::string code_ = "ERR_INTERNAL";
};

}  // namespace

Napi::Value run(Napi::Env env, bool async, std::vector<Napi::Value> keep, std::function<void()> work,
                std::function<Napi::Value(Napi::Env)> result) {
  if (!async) {
    try {
      work();
    } catch (...) {
      rethrow_as_js(env);
    }
    return result ? result(env) : env.Undefined();
  }
  // Ownership passes to libuv's queue: AsyncWorker deletes itself after OnOK/OnError.
  Job* job = std::make_unique<Job>(env, std::move(keep), std::move(work), std::move(result)).release();
  Napi::Promise p = job->promise();
  job->Queue();
  return p;
}

}  // namespace addon
}  // namespace hn
