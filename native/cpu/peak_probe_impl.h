// The peak-FMA probe's timed loop, written once over the vector traits S (instantiated per ISA by the
// isa_*.cc files; see isa_kernels.h). acc = acc * x + y with x < 1 converges, so values stay normal.
#pragma once

#include <cstdint>

#include "isa_kernels.h"

namespace hn {
namespace cpu {
namespace {

// S: float or double traits (the float64 peak is what the exact KL's fraction of peak is measured against).
// Returns the floating-point operations done; the values are kept alive through opaque().
template <class S>
double fma_chains(int64_t rounds) {
  using V = typename S::V;
  using T = typename S::T;
  V acc[kProbeChains];
  for (int i = 0; i < kProbeChains; ++i) acc[i] = S::set1(static_cast<T>(1.0 + 0.01 * i));
  const V x = S::set1(static_cast<T>(0.999999)), y = S::set1(static_cast<T>(1e-6));
  for (int64_t r = 0; r < rounds; ++r) {
    for (int64_t it = 0; it < kProbeIters; ++it) {
#pragma GCC unroll 12
      for (int i = 0; i < kProbeChains; ++i) acc[i] = S::fma(acc[i], x, y);
    }
    // Keeps the compiler from collapsing or hoisting the rounds.
    S::opaque(acc[0]);
    S::opaque(acc[5]);
    S::opaque(acc[11]);
  }
  V s = acc[0];
  for (int i = 1; i < kProbeChains; ++i) s = S::add(s, acc[i]);
  S::opaque(s);
  return 2.0 * S::kWidth * kProbeChains * static_cast<double>(kProbeIters) * static_cast<double>(rounds);
}

}  // namespace
}  // namespace cpu
}  // namespace hn
