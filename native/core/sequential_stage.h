// One stage of a SequentialModel as the backends run it: an optional linear map and the activation after it.
#pragma once

#include <cstdint>

#include "activations.h"

namespace hn {

struct SeqStage {
  bool has_linear = false;
  int64_t in = 0, out = 0;             // widths (in == out for an activation-only stage)
  int64_t w_offset = 0, b_offset = 0;  // floats into the parameter buffer (linear stages)
  Activation activation = Activation::Identity;
};

}  // namespace hn
