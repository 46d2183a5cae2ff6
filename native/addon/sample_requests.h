// The sampling functions the addon exports: one native call per request or batch of requests.
#pragma once

#include <napi.h>

namespace hn {
namespace addon {

// Adds sampleRequests (Promise) and sampleRequestsSync to exports.
void register_sampling(Napi::Env env, Napi::Object exports);

}  // namespace addon
}  // namespace hn
