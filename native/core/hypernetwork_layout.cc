// Parameter layout and cache sizing of the hypernetwork, shared by every backend.
#include "hypernetwork_layout.h"

namespace hn {

HypernetLayout hypernet_layout(const HypernetDesc& d) {
  HypernetLayout l;
  int64_t at = 0;
  l.A = at;
  at += d.rank * d.noise_dim;
  l.U = at;
  at += d.rank * d.cond_dim;
  l.b1 = at;
  at += d.rank;
  for (int k = 2; k <= d.depth; ++k) {
    l.W.push_back(at);
    at += d.rank * d.rank;
    l.b.push_back(at);
    at += d.rank;
  }
  l.B = at;
  at += d.noise_dim * d.rank;
  l.bo = at;
  at += d.noise_dim;
  l.total = at;
  return l;
}

int64_t hypernet_cache_floats(const HypernetDesc& d, int64_t n, KlKind kl) {
  const int64_t r = d.rank, L = d.depth;
  const bool exact = kl == KlKind::Exact;
  int64_t total = 2 * L * n * r + n * d.noise_dim + kHypernetStatRows * n;
  if (exact) {
    total += r * r + n * r * r;
    if (L > 1) total += n * r * r;
  }
  return total;
}

HypernetCacheView hypernet_cache_view(const HypernetDesc& d, int64_t n, KlKind kl, float* base) {
  const int64_t r = d.rank, L = d.depth;
  const bool exact = kl == KlKind::Exact;
  HypernetCacheView v;
  float* at = base;
  v.stats = at;
  at += kHypernetStatRows * n;
  v.z = at;
  at += L * n * r;
  v.h = at;
  at += L * n * r;
  v.f = at;
  at += n * d.noise_dim;
  if (exact) {
    v.K = at;
    at += r * r;
    v.P = at;
    at += n * r * r;
    if (L > 1) {
      v.M = at;
      at += n * r * r;
    }
  }
  return v;
}

}  // namespace hn
