// Small host-side checks the boundary layers share.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace hn {

// Index of the first non-finite element, or -1. Tests the exponent bits as integers (all ones means Inf
// or NaN) in blocks, which the compiler vectorises; the exact index is searched only on a hit.
inline int64_t first_non_finite(const float* x, int64_t count) {
  constexpr int64_t kBlock = 1024;
  for (int64_t b = 0; b < count; b += kBlock) {
    const int64_t e = b + kBlock < count ? b + kBlock : count;
    uint32_t hit = 0;
    for (int64_t i = b; i < e; ++i) {
      uint32_t bits;
      std::memcpy(&bits, x + i, sizeof(bits));
      hit |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (hit) {
      for (int64_t i = b; i < e; ++i) {
        if (!std::isfinite(x[i])) return i;
      }
    }
  }
  return -1;
}

}  // namespace hn
