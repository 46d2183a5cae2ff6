#include "sample_requests.h"

#include <memory>
#include <string>
#include <vector>

#include "core/sampling.h"
#include "wraps.h"

namespace hn {
namespace addon {
namespace {

// sampleRequests(hypernetwork | null, generator, seeds: Seed[], firsts: Float64Array, counts: Int32Array,
//                stream, cond | null, baseOut, noiseOut | null, xOut)
// Request j draws counts[j] samples from seed seeds[j], sample firsts[j] on; the rows of every array are the requests' rows in
// order. cond is checked finite, as hypernetwork.forward checks it.
Napi::Value SampleRequests(const Napi::CallbackInfo& info, bool async) {
  Napi::Env env = info.Env();
  EnvData& ed = env_data(env);
  std::shared_ptr<Hypernetwork> h;
  if (!info[0].IsNull() && !info[0].IsUndefined()) {
    h = unwrap_as<HypernetworkWrap>(env, info[0], ed.hypernetwork_ctor, "Hypernetwork")->core(env);
  }
  auto g = unwrap_as<ModelWrap>(env, info[1], ed.model_ctor, "SequentialModel")->core(env);
  if (!info[2].IsArray()) throw_error(env, "ERR_ARGUMENT", "Expected an array of seeds but received " + describe(info[2]));
  Napi::Array seeds = info[2].As<Napi::Array>();
  const uint32_t requests = seeds.Length();
  // Seeds first: reading them may run JavaScript (getters), which must not see the typed arrays half read.
  std::vector<uint64_t> seed_values(requests);
  for (uint32_t j = 0; j < requests; ++j) seed_values[j] = seed_value(seeds.Get(j), "seed");
  if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[3].As<Napi::Float64Array>().ElementLength() != requests) {
    throw_error(env, "ERR_SHAPE", "Expected a Float64Array of " + std::to_string(requests) + " first-sample indices");
  }
  Napi::Float64Array firsts = info[3].As<Napi::Float64Array>();
  Napi::Int32Array counts = int_array(info, 4, "counts", requests);
  const uint32_t stream = static_cast<uint32_t>(integer(info, 5, "stream", 0, 0xffffffffll));
  std::vector<NoiseSegment> segments(requests);
  int64_t n = 0;
  for (uint32_t j = 0; j < requests; ++j) {
    segments[j].seed = seed_values[j];
    const double first = firsts[j];
    if (!(first >= 0 && first <= 9007199254740991.0) || first != static_cast<double>(static_cast<uint64_t>(first))) {
      throw_error(env, "ERR_ARGUMENT", "Expected a non-negative safe integer first-sample index for request " + std::to_string(j));
    }
    segments[j].first_sample = static_cast<uint64_t>(first);
    segments[j].count = counts[j];
    if (counts[j] < 0) throw_error(env, "ERR_ARGUMENT", "Expected non-negative sample counts but request " + std::to_string(j) + " asks for " + std::to_string(counts[j]));
    n += counts[j];
  }
  if (n > (int64_t{1} << 31)) throw_error(env, "ERR_ARGUMENT", "Expected at most 2^31 samples in one call");
  const int64_t D = g->input_dim();
  const int64_t C = h ? h->desc().cond_dim : 0;
  Napi::Float32Array cond = float_array(info, 6, "cond", n * C, C == 0, true);
  Napi::Float32Array base = float_array(info, 7, "baseOut", n * D);
  Napi::Float32Array noise = float_array(info, 8, "noiseOut", n * D, !h);
  Napi::Float32Array x = float_array(info, 9, "xOut", n * g->output_dim());
  const float* cp = C > 0 ? cond.Data() : nullptr;
  float* bp = base.Data();
  float* np = h ? noise.Data() : nullptr;
  float* xp = x.Data();
  return run(env, async, {info[0], info[1], or_null(env, cond), base, h ? Napi::Value(noise) : env.Null(), x},
             [h, g, segments = std::move(segments), stream, cp, bp, np, xp] {
               sample_requests(h.get(), *g, segments, stream, cp, bp, np, xp);
             });
}

Napi::Value SampleRequestsAsync(const Napi::CallbackInfo& info) { return SampleRequests(info, true); }
Napi::Value SampleRequestsSync(const Napi::CallbackInfo& info) { return SampleRequests(info, false); }

}  // namespace

void register_sampling(Napi::Env env, Napi::Object exports) {
  exports.Set("sampleRequests", Napi::Function::New(env, SampleRequestsAsync, "sampleRequests"));
  exports.Set("sampleRequestsSync", Napi::Function::New(env, SampleRequestsSync, "sampleRequestsSync"));
}

}  // namespace addon
}  // namespace hn
