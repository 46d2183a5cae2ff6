// One stage of a SequentialModel as the backends run it: an optional linear map and the activation after it.
#pragma once

#include <cstdint>

#include "activations.h"

namespace hn {

// A stage's weights as a backend laid them out for its kernels (the CPU's packed GEMM panels), made by
// Backend::seq_prepare for one version of the parameters; opaque to the core.
class PreparedWeights {
 public:
  virtual ~PreparedWeights() = default;
};

struct SeqStage {
  bool has_linear = false;
  int64_t in = 0, out = 0;             // widths (in == out for an activation-only stage)
  int64_t w_offset = 0, b_offset = 0;  // floats into the parameter buffer (linear stages)
  Activation activation = Activation::Identity;
  const PreparedWeights* prepared = nullptr;  // set on the copies SequentialModel hands the backend
};

}  // namespace hn
