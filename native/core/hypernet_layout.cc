// Parameter layout and cache sizing of the hypernetwork, shared by every backend.
#include "backend.h"
#include "errors.h"

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

int64_t hypernet_cache_floats(const HypernetDesc& d, int64_t n, bool exact) {
  const int64_t r = d.rank, L = d.depth;
  int64_t total = 2 * L * n * r + n * d.noise_dim + kHypernetStatRows * n;
  if (exact) {
    total += r * r + n * r * r;
    if (L > 1) total += n * r * r;
  }
  return total;
}

HypernetCacheView hypernet_cache_view(const HypernetDesc& d, int64_t n, bool exact, float* base) {
  const int64_t r = d.rank, L = d.depth;
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

HypernetStats hypernet_stats_view(float* stats, int64_t n) {
  HypernetStats s;
  s.l2 = stats;
  s.chi = stats + n;
  s.exact = stats + 2 * n;
  s.trace = stats + 3 * n;
  s.logdet = stats + 4 * n;
  s.noninvertible = stats + 5 * n;
  s.sqnorm = stats + 6 * n;
  return s;
}

const char* kl_name(KlKind k) noexcept {
  switch (k) {
    case KlKind::L2: return "l2";
    case KlKind::Exact: return "exact";
    case KlKind::Chi: return "chi";
  }
  return "l2";
}

KlKind parse_kl(const std::string& name) {
  if (name == "l2") return KlKind::L2;
  if (name == "exact") return KlKind::Exact;
  if (name == "chi") return KlKind::Chi;
  fail(ErrorCode::Argument, "Expected kl to be one of 'l2', 'exact', 'chi' but received '" + name + "'");
}

}  // namespace hn
