// The evaluation metrics (core/metrics.h) as synchronous functions on the calling thread: each is one
// report's bookkeeping, milliseconds long, run through run() so that a failed allocation is ERR_MEMORY.
// src/metrics.ts checks shapes and converts inputs to Float64Array; the readers here still check every argument.
#include <napi.h>

#include "metrics_functions.h"

#include "addon_util.h"
#include "core/metrics.h"

namespace hn {
namespace addon {

namespace {

constexpr int64_t kMaxDim = int64_t{1} << 24;

// gaussianOf(x, n, d, mean, cov)
Napi::Value GaussianOf(const Napi::CallbackInfo& info) {
  const int64_t n = integer(info, 1, "n", 0, int64_t{1} << 31);
  const int64_t d = integer(info, 2, "d", 0, 1 << 14);
  Napi::Float64Array x = double_array(info, 0, "x", n * d);
  Napi::Float64Array mean = double_array(info, 3, "mean", d);
  Napi::Float64Array cov = double_array(info, 4, "cov", d * d);
  return run(info.Env(), false, {}, [&] { metrics::gaussian_of(x.Data(), n, d, mean.Data(), cov.Data()); });
}

// symmetricEigen(a, n, tol, maxSweeps, values, vectors)
Napi::Value SymmetricEigen(const Napi::CallbackInfo& info) {
  const int64_t n = integer(info, 1, "n", 0, 1 << 14);
  Napi::Float64Array a = double_array(info, 0, "a", n * n);
  const double tol = number(info, 2, "tol");
  const int sweeps = static_cast<int>(integer(info, 3, "maxSweeps", 0, 1 << 20));
  Napi::Float64Array values = double_array(info, 4, "values", n);
  Napi::Float64Array vectors = double_array(info, 5, "vectors", n * n);
  return run(info.Env(), false, {}, [&] { metrics::symmetric_eigen(a.Data(), n, tol, sweeps, values.Data(), vectors.Data()); });
}

// sqrtPsd(a, n, out)
Napi::Value SqrtPsd(const Napi::CallbackInfo& info) {
  const int64_t n = integer(info, 1, "n", 0, 1 << 14);
  Napi::Float64Array a = double_array(info, 0, "a", n * n);
  Napi::Float64Array out = double_array(info, 2, "out", n * n);
  return run(info.Env(), false, {}, [&] { metrics::sqrt_psd(a.Data(), n, out.Data()); });
}

// frechetDistance(mean1, cov1, mean2, cov2, d)
Napi::Value FrechetDistance(const Napi::CallbackInfo& info) {
  const int64_t d = integer(info, 4, "d", 0, 1 << 14);
  Napi::Float64Array m1 = double_array(info, 0, "mean1", d);
  Napi::Float64Array s1 = double_array(info, 1, "cov1", d * d);
  Napi::Float64Array m2 = double_array(info, 2, "mean2", d);
  Napi::Float64Array s2 = double_array(info, 3, "cov2", d * d);
  double fd = 0.0;
  return run(info.Env(), false, {}, [&] { fd = metrics::frechet_distance(m1.Data(), s1.Data(), m2.Data(), s2.Data(), d); },
             [&](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, fd); });
}

// meanPairwiseDistance(x, n, d)
Napi::Value MeanPairwiseDistance(const Napi::CallbackInfo& info) {
  const int64_t n = integer(info, 1, "n", 0, 1 << 20);
  const int64_t d = integer(info, 2, "d", 0, kMaxDim);
  Napi::Float64Array x = double_array(info, 0, "x", n * d);
  double mean = 0.0;
  return run(info.Env(), false, {}, [&] { mean = metrics::mean_pairwise_distance(x.Data(), n, d); },
             [&](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, mean); });
}

}  // namespace

void register_metrics(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("gaussianOf", Napi::Function::New(env, GaussianOf, "gaussianOf"));
  o.Set("symmetricEigen", Napi::Function::New(env, SymmetricEigen, "symmetricEigen"));
  o.Set("sqrtPsd", Napi::Function::New(env, SqrtPsd, "sqrtPsd"));
  o.Set("frechetDistance", Napi::Function::New(env, FrechetDistance, "frechetDistance"));
  o.Set("meanPairwiseDistance", Napi::Function::New(env, MeanPairwiseDistance, "meanPairwiseDistance"));
  exports.Set("metrics", o);
}

}  // namespace addon
}  // namespace hn
