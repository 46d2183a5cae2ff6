// One sampling request, or a batch of coalesced requests, in one call: the base noise of every request
// (Philox rows keyed by its seed and sample index), the hypernetwork (when there is one) and the generator.
// Every op here is row-independent (each GEMM row's sum runs over K in a fixed order, activations are
// element-wise), so a request's samples are bit-identical whether it runs alone or inside a batch.
#pragma once

#include <cstdint>
#include <vector>

#include "hypernetwork.h"
#include "sequential.h"

namespace hn {

// `count` rows of noise from sample `first_sample` on under `seed`.
struct NoiseSegment {
  uint64_t seed = 0;
  uint64_t first_sample = 0;
  int64_t count = 0;
};

// Rows are the segments' rows in order (n = their sum). Host memory: cond is n x condDim (null for an
// unconditional hypernetwork or none); base_noise and x are required, n x noiseDim and n x outputDim;
// noise (n x noiseDim, the hypernetwork's output) may be null and is ignored without a hypernetwork. Throws
// Error(Shape) when the hypernetwork's noiseDim differs from the generator's input or a count is negative.
void sample_requests(const Hypernetwork* hypernetwork, const SequentialModel& generator,
                     const std::vector<NoiseSegment>& segments, uint32_t stream, const float* cond,
                     float* base_noise, float* noise, float* x);

}  // namespace hn
