#include "sampling.h"

#include <string>

#include "errors.h"
#include "staging.h"

namespace hn {

void sample_requests(const Hypernetwork* hypernetwork, const SequentialModel& generator,
                     const std::vector<NoiseSegment>& segments, uint32_t stream, const float* cond,
                     float* base_noise, float* noise, float* x) {
  const int64_t dim = generator.input_dim();
  if (hypernetwork && hypernetwork->desc().noise_dim != dim) {
    fail(ErrorCode::Shape, "The hypernetwork's noiseDim " + std::to_string(hypernetwork->desc().noise_dim) +
                               " differs from the generator's input " + std::to_string(dim));
  }
  int64_t n = 0;
  for (const NoiseSegment& s : segments) {
    require(s.count >= 0, ErrorCode::Shape, "Expected a non-negative sample count");
    n += s.count;
  }
  if (n == 0) return;
  {
    Backend& b = generator.backend();
    StagedOut base(b, base_noise, static_cast<size_t>(n * dim) * sizeof(float));
    int64_t row = 0;
    for (const NoiseSegment& s : segments) {
      if (s.count > 0) b.sample_noise(base.f32() + row * dim, s.count, dim, s.seed, s.first_sample, stream);
      row += s.count;
    }
    base.finish();
  }
  const float* input = base_noise;
  if (hypernetwork) {
    require(noise != nullptr, ErrorCode::Internal, "sample_requests: the hypernetwork's output needs a buffer");
    hypernetwork->forward(base_noise, cond, n, noise);
    input = noise;
  }
  generator.forward(input, n, x);
}

}  // namespace hn
