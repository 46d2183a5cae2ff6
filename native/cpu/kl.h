// The exact noise KL's per-sample work on the CPU (float64 LU, inverse and the r x r products), used by
// the hypernetwork forward and backward (hypernetwork.cc).
#pragma once

#include <cstdint>

#include "core/hypernetwork_layout.h"

namespace hn {
namespace cpu {

// For each sample: M (r x r; diagonal act'(z1) at depth 1), G = I + M K, trace = Tr(MK),
// logdet = log det G, noninvertible = det G <= 0; with keep, P = I - G^{-1} (I when non-invertible).
void exact_kl_forward(const HypernetDesc& d, const float* params, const float* K, const float* z, int64_t n,
                      bool keep, float* M_out, float* P_out, float* trace, float* logdet, float* noninvertible);
// Backward of sum_i w * E_i with E = Tr(MK) - log det G: adds w * dE/dz_k into dz (L x n x r) and
// w * dE/dW_k into grad, and returns S = w * sum_i (P_i M_i)^T (r x r) for the dA/dB GEMMs.
void exact_kl_backward(const HypernetDesc& d, const float* params, const float* K, const float* z, const float* P,
                       const float* M, int64_t n, float w, float* dz, float* grad, float* S);

}  // namespace cpu
}  // namespace hn
