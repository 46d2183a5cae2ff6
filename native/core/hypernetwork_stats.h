// The per-sample statistics a hypernetwork forward writes (the KL terms and their parts), and the
// finishing arithmetic that turns a sample's float64 norm sums into them. The finishing functions are
// HN_HD: the CPU loop and the CUDA kernel call the same code, so both backends round alike.
#pragma once

#include <cmath>
#include <cstdint>

#include "common.h"

namespace hn {

// Rows of the statistics block (backend memory, each of length n).
struct HypernetStats {
  float* l2 = nullptr;             // 0.5 ||f||^2
  float* chi = nullptr;            // 0.5 ||eps_hat||^2 - (D-1) log ||eps_hat||
  float* exact = nullptr;          // 0.5 ||f||^2 + Tr(MK) - log|det G|  (log-det dropped when G is singular or det<=0)
  float* trace = nullptr;          // Tr(J_f) = Tr(MK)
  float* logdet = nullptr;         // log det(I + J_f) (0 where non-invertible)
  float* noninvertible = nullptr;  // 1 where det G <= 0, else 0
  float* sqnorm = nullptr;         // ||eps_hat||^2
};
constexpr int kHypernetStatRows = 7;  // rows of HypernetCacheView::stats, in the order of HypernetStats

HN_HD HypernetStats hypernet_stats_view(float* stats, int64_t n) {
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

// Sample i's statistics from its sums sf = ||f_i||^2 and se = ||eps_hat_i||^2 (float64). With `exact`,
// trace[i], logdet[i] and noninvertible[i] already hold the exact-KL kernel's results; without, they are
// zeroed with the exact row.
HN_HD void finish_sample_stats(const HypernetStats& st, int64_t i, double sf, double se, int64_t D, bool exact) {
  const float l2 = static_cast<float>(0.5 * sf);
  st.l2[i] = l2;
  st.sqnorm[i] = static_cast<float>(se);
  // (D - 1) log ||eps_hat|| is 0 for D = 1 even at eps_hat = 0 (0 * log 0 would be NaN).
  st.chi[i] = static_cast<float>(0.5 * se - (D > 1 ? 0.5 * static_cast<double>(D - 1) * log(se) : 0.0));
  if (!exact) {
    st.exact[i] = 0.0f;
    st.trace[i] = 0.0f;
    st.logdet[i] = 0.0f;
    st.noninvertible[i] = 0.0f;
    return;
  }
  float e = l2 + st.trace[i] - st.logdet[i];
  // Where the map or its Jacobian overflowed (huge parameters or inputs) the integrand is undefined: count
  // the sample as non-invertible and report an infinite KL, never NaN.
  if (e != e) {
    e = INFINITY;
    st.logdet[i] = 0.0f;
    st.noninvertible[i] = 1.0f;
  }
  st.exact[i] = e;
}

// The chi term's factor in the backward's df = d_eps_hat + coef * eps_hat: w (1 - (D-1)/||eps_hat||^2),
// the quotient in float64 (it cancels badly in float32 at large D).
HN_HD float chi_grad_coef(float w, float sqnorm, int64_t D) {
  return w * static_cast<float>(1.0 - static_cast<double>(D - 1) / static_cast<double>(sqnorm));
}

}  // namespace hn
