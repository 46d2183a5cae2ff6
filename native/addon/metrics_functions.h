// The evaluation metrics the addon exports (core/metrics.h), synchronous.
#pragma once

#include <napi.h>

namespace hn {
namespace addon {

// Adds `metrics` (gaussianOf, symmetricEigen, sqrtPsd, frechetDistance, meanPairwiseDistance) to exports.
void register_metrics(Napi::Env env, Napi::Object exports);

}  // namespace addon
}  // namespace hn
