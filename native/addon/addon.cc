// Module entry: registers the classes and the free functions (backendInfo, resolveOptions, sampleNoise,
// sampleUniform). Exports whose names start with `_` exist for the benchmarks and tests only (the GEMM and
// the peak probe) and are not part of the library's surface.
#include <napi.h>

#include "core/backend.h"
#include "core/hypernetwork.h"
#include "core/philox.h"
#include "core/staging.h"
#include "core/trainer.h"
#include "core/tto.h"
#include "buffer_pin.h"
#include "js_options.h"
#include "metrics_functions.h"
#include "registry/backends.h"
#include "sample_requests.h"
#include "wraps.h"

namespace hn {
namespace addon {

namespace {

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw_error(info.Env(), "ERR_ARGUMENT", "Expected the HypernoiseError class");
  env_data(info.Env()).error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value BackendInfoFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BackendInfo b;
  try {
    b = backend_info();
  } catch (...) {
    rethrow_as_js(env);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("isa", b.isa);
  o.Set("detectedIsa", b.detected_isa);
  o.Set("threads", b.threads);
  o.Set("cudaCompiled", b.cuda_compiled);
  o.Set("cudaAvailable", b.cuda_available);
  o.Set("cudaReason", b.cuda_reason);
  o.Set("cudaDevice", b.cuda_device);
  o.Set("cudaRuntimeVersion", b.cuda_runtime_version);
  o.Set("cudaDriverVersion", b.cuda_driver_version);
  o.Set("autoBackend", b.cuda_available ? "cuda" : "cpu");
  o.Set("bufferPinning", buffer_pinning());
  Napi::Array warnings = Napi::Array::New(env, b.warnings.size());
  for (size_t i = 0; i < b.warnings.size(); ++i) warnings.Set(static_cast<uint32_t>(i), b.warnings[i]);
  o.Set("warnings", warnings);
  return o;
}

// sampleNoise(out, n, dim, seed, firstSample, stream, backend)
Napi::Value SampleNoise(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t n = integer(info, 1, "n", 0, int64_t{1} << 31);
  const int64_t dim = integer(info, 2, "dim", 0, int64_t{1} << 31);
  Napi::Float32Array out = float_array(info, 0, "out", n * dim);
  const uint64_t seed = seed_value(info[3], "seed");
  const uint64_t first = seed_value(info[4], "firstSample");
  const uint32_t stream = static_cast<uint32_t>(integer(info, 5, "stream", 0, 0xffffffffll));
  Backend& b = backend_named(env, string(info, 6, "backend"));
  float* o = out.Data();
  return run(env, false, {}, [&] {
    if (n * dim == 0) return;
    StagedOut s(b, o, static_cast<size_t>(n * dim) * sizeof(float));
    b.sample_noise(s.f32(), n, dim, seed, first, stream);
    s.finish();
  });
}

// sampleUniform(out: Float64Array, n, dim, seed, firstSample, stream)
Napi::Value SampleUniform(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t n = integer(info, 1, "n", 0, int64_t{1} << 31);
  const int64_t dim = integer(info, 2, "dim", 0, int64_t{1} << 31);
  Napi::Float64Array out = double_array(info, 0, "out", n * dim);
  const uint64_t seed = seed_value(info[3], "seed");
  const uint64_t first = seed_value(info[4], "firstSample");
  const uint32_t stream = static_cast<uint32_t>(integer(info, 5, "stream", 0, 0xffffffffll));
  philox::uniform_rows(out.Data(), n, dim, seed, first, stream);
  return env.Undefined();
}

// resolveOptions(table, options): the options of 'hypernetwork' | 'optimizer' | 'trainer' | 'reno' with
// every default filled in and every value checked, as the native objects read them.
Napi::Value ResolveOptions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string table = string(info, 0, "table");
  if (table == "hypernetwork") return resolve_options(env, info[1], hypernetwork_options(), "");
  if (table == "optimizer") {
    // The fields one by one, then what relates them (minLr <= lr), as the native optimiser will check it.
    const OptimizerConfig c = read_options(env, info[1], optimizer_options(), "optimizer.");
    try {
      validate_optimizer_config(c);
    } catch (...) {
      rethrow_as_js(env);
    }
    return resolve_options(env, info[1], optimizer_options(), "optimizer.");
  }
  if (table == "trainer") return resolve_options(env, info[1], trainer_options(), "");
  if (table == "reno") return resolve_options(env, info[1], reno_options(), "");
  throw_error(env, "ERR_ARGUMENT", "Expected one of 'hypernetwork', 'optimizer', 'trainer', 'reno' for table but received '" + table + "'");
}

// _gemm(transA, transB, m, n, k, a, b, c): C = op(A) op(B) on the CPU backend (benchmarks, tests).
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool ta = boolean(info, 0, "transA"), tb = boolean(info, 1, "transB");
  const int64_t m = integer(info, 2, "m", 1, int64_t{1} << 31);
  const int64_t n = integer(info, 3, "n", 1, int64_t{1} << 31);
  const int64_t k = integer(info, 4, "k", 1, int64_t{1} << 31);
  Napi::Float32Array a = float_array(info, 5, "a", m * k);
  Napi::Float32Array b = float_array(info, 6, "b", k * n);
  Napi::Float32Array c = float_array(info, 7, "c", m * n);
  return run(env, false, {}, [&] {
    get_backend(BackendKind::Cpu).gemm(ta, tb, m, n, k, 1.0f, a.Data(), ta ? m : k, b.Data(), tb ? k : n, 0.0f, c.Data(), n);
  });
}

// _peakGflopsPerCore(seconds, float64)
Napi::Value PeakGflops(const Napi::CallbackInfo& info) {
  const double seconds = number(info, 0, "seconds");
  const bool float64 = boolean(info, 1, "float64");
  return Napi::Number::New(info.Env(), cpu_peak_gflops_per_core(seconds, float64));
}

// _hostMemory() -> { liveBytes, cachedBytes }: the CPU backend's blocks of 64 KiB and more (tests).
Napi::Value HostMemoryFn(const Napi::CallbackInfo& info) {
  const HostMemory m = cpu_host_memory();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("liveBytes", static_cast<double>(m.live_bytes));
  o.Set("cachedBytes", static_cast<double>(m.cached_bytes));
  return o;
}

// _capIsa(name): caps the CPU ISA ('' removes the cap); returns the ISA in use.
Napi::Value CapIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = string(info, 0, "isa");
  std::string active;
  run(env, false, {}, [&] { active = cpu_cap_isa(name); });
  return Napi::String::New(env, active);
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  EnvData& d = env_data(env);
  Napi::Function hn = HypernetworkWrap::Init(env);
  Napi::Function model = ModelWrap::Init(env);
  Napi::Function reward = RewardWrap::Init(env);
  Napi::Function trainer = TrainerWrap::Init(env);
  Napi::Function opt = ModelOptimizerWrap::Init(env);
  Napi::Function reno = RenoWrap::Init(env);
  d.hypernetwork_ctor = Napi::Persistent(hn);
  d.model_ctor = Napi::Persistent(model);
  d.reward_ctor = Napi::Persistent(reward);
  d.trainer_ctor = Napi::Persistent(trainer);
  d.optimizer_ctor = Napi::Persistent(opt);
  d.reno_ctor = Napi::Persistent(reno);
  exports.Set("Hypernetwork", hn);
  exports.Set("SequentialModel", model);
  exports.Set("Reward", reward);
  exports.Set("Trainer", trainer);
  exports.Set("ModelOptimizer", opt);
  exports.Set("RenoRun", reno);
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  exports.Set("backendInfo", Napi::Function::New(env, BackendInfoFn, "backendInfo"));
  exports.Set("sampleNoise", Napi::Function::New(env, SampleNoise, "sampleNoise"));
  exports.Set("sampleUniform", Napi::Function::New(env, SampleUniform, "sampleUniform"));
  exports.Set("resolveOptions", Napi::Function::New(env, ResolveOptions, "resolveOptions"));
  exports.Set("_gemm", Napi::Function::New(env, Gemm, "_gemm"));
  exports.Set("_peakGflopsPerCore", Napi::Function::New(env, PeakGflops, "_peakGflopsPerCore"));
  exports.Set("_capIsa", Napi::Function::New(env, CapIsa, "_capIsa"));
  exports.Set("_hostMemory", Napi::Function::New(env, HostMemoryFn, "_hostMemory"));
  register_sampling(env, exports);
  register_metrics(env, exports);
  exports.Set("statRows", Napi::Number::New(env, kHypernetStatRows));
  Napi::Object streams = Napi::Object::New(env);
  streams.Set("sample", static_cast<double>(philox::kSampleStream));
  streams.Set("trainer", static_cast<double>(philox::kTrainStream));
  streams.Set("conditions", static_cast<double>(philox::kConditionStream));
  streams.Set("bestOfN", static_cast<double>(philox::kBestOfNStream));
  exports.Set("noiseStreams", streams);
  return exports;
}

}  // namespace addon
}  // namespace hn

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return hn::addon::Init(env, exports); }

NODE_API_MODULE(hypernoise, InitModule)
