// The hypernetwork's shape (HypernetDesc), where each tensor sits in its flat parameter vector, and the
// cache a training forward leaves for the backward. Shared by the core and every backend.
#pragma once

#include <cstdint>
#include <vector>

#include "activations.h"
#include "hypernetwork_stats.h"
#include "kl.h"

namespace hn {

// eps_hat = eps + s (B h_L + bo),  h_1 = act(A eps + U c + b1),  h_k = act(W_k h_{k-1} + b_k).
struct HypernetDesc {
  int64_t noise_dim = 0;  // D
  int64_t cond_dim = 0;   // C (0: unconditional)
  int64_t rank = 64;      // r
  int depth = 1;          // L >= 1
  Activation activation = Activation::Silu;
  float scale = 1.0f;     // s
};

// Offsets (in floats) of each tensor in the flat parameter buffer: A, U, b1, W2, b2, ..., WL, bL, B, bo.
struct HypernetLayout {
  int64_t A = 0, U = 0, b1 = 0, B = 0, bo = 0, total = 0;
  std::vector<int64_t> W, b;  // W[k-2], b[k-2] for k = 2..L
};
HypernetLayout hypernet_layout(const HypernetDesc& d);

// What the backward needs from the forward. Owned by the caller (sized by hypernet_cache_floats).
struct HypernetCacheView {
  float* z = nullptr;      // L x n x r pre-activations
  float* h = nullptr;      // L x n x r activations
  float* f = nullptr;      // n x D hypernetwork output (before the residual add)
  float* K = nullptr;      // r x r, s A B   (exact KL only)
  float* P = nullptr;      // n x r x r, I - G^{-1} per sample (identity where non-invertible)  (exact only)
  float* M = nullptr;      // n x r x r Jacobian core M per sample (exact, depth > 1 only)
  float* stats = nullptr;  // kHypernetStatRows x n, laid out as HypernetStats
};
// Floats a cache needs for batch n when training with `kl` (the exact KL keeps K, P and M as well).
int64_t hypernet_cache_floats(const HypernetDesc& d, int64_t n, KlKind kl);
HypernetCacheView hypernet_cache_view(const HypernetDesc& d, int64_t n, KlKind kl, float* base);

}  // namespace hn
