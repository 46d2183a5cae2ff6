// Small host-side checks the boundary layers share.
#pragma once

#include <cmath>
#include <cstdint>

namespace hn {

// Index of the first non-finite element, or -1.
inline int64_t first_non_finite(const float* x, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    if (!std::isfinite(x[i])) return i;
  }
  return -1;
}

}  // namespace hn
