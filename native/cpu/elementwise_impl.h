// The element-wise CPU kernels (activations and their derivatives, Philox noise blocks, the optimiser
// updates, float64 sums of squares, the output projection's row finish), written as plain loops that the
// compiler vectorises for the ISA of the file that includes this header (isa_*.cc, inside its target
// region). The project builds with -ffp-contract=off and these loops do no reassociation (sums run in a
// fixed 8-lane pattern), so every ISA computes the same values to the last bit.
#pragma once

#include <cstdint>
#include <cstring>

#include "act_math.h"
#include "core/activations.h"
#include "core/philox.h"
#include "isa_kernels.h"

namespace hn {
namespace cpu {
namespace {

// One loop per activation, so that each vectorises without a switch inside.
template <Activation A>
void bias_act_row_t(float* z, const float* bias, float* y, int64_t count, bool keep_z) {
  for (int64_t j = 0; j < count; ++j) {
    const float v = z[j] + (bias ? bias[j] : 0.0f);
    if (keep_z) z[j] = v;
    y[j] = apply_v(A, v);
  }
}

template <Activation A>
void d1_mul_t(const float* z, float* dy, int64_t count) {
  for (int64_t i = 0; i < count; ++i) dy[i] *= d1_v(A, z[i]);
}

template <Activation A>
void d1_fma_t(const float* z, const float* g, float* acc, int64_t count) {
  for (int64_t i = 0; i < count; ++i) acc[i] += g[i] * d1_v(A, z[i]);
}

// The three per-activation kernels of IsaKernels, indexed by Activation.
template <int... I>
constexpr ActivationKernels activation_kernels(std::integer_sequence<int, I...>) {
  return {{&bias_act_row_t<static_cast<Activation>(I)>...},
          {&d1_mul_t<static_cast<Activation>(I)>...},
          {&d1_fma_t<static_cast<Activation>(I)>...}};
}
constexpr ActivationKernels kActivationKernels = activation_kernels(std::make_integer_sequence<int, kActivationCount>{});

// Normals for `count` consecutive Philox blocks of one sample (4 per block), written to out[0, 4*count).
void normal_blocks(uint64_t seed, uint64_t sample, uint32_t first_block, int64_t count, uint32_t stream, float* out) {
  for (int64_t b = 0; b < count; ++b) {
    float v[4];
    philox::normal4(seed, sample, first_block + static_cast<uint32_t>(b), stream, v);
    out[4 * b] = v[0];
    out[4 * b + 1] = v[1];
    out[4 * b + 2] = v[2];
    out[4 * b + 3] = v[3];
  }
}

// Eight float64 lanes in a fixed pattern: vectorisable, and the same result for every thread count and ISA.
double sum_squares_range(const float* x, int64_t begin, int64_t end) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    for (int q = 0; q < 8; ++q) acc[q] += static_cast<double>(x[i + q]) * x[i + q];
  }
  for (; i < end; ++i) acc[0] += static_cast<double>(x[i]) * x[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// The update loops take their hyper-parameters by value (locals the compiler can keep in registers while it
// vectorises; read through a reference they would be reloaded after every store).
void adam_range(float* __restrict params, const float* __restrict grad, float* __restrict m, float* __restrict v,
                int64_t begin, int64_t end, float grad_scale, float beta1, float beta2, float step_size,
                float inv_sqrt_bc2, float eps, float l2_decay, float decoupled_decay) {
  const float one_m_b1 = 1.0f - beta1, one_m_b2 = 1.0f - beta2;
  for (int64_t i = begin; i < end; ++i) {
    const float g = grad[i] * grad_scale + l2_decay * params[i];
    const float mi = beta1 * m[i] + one_m_b1 * g;
    const float vi = beta2 * v[i] + one_m_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const float p = params[i] - decoupled_decay * params[i];
    params[i] = p - step_size * mi / (__builtin_sqrtf(vi) * inv_sqrt_bc2 + eps);
  }
}

void sgd_range(float* __restrict params, const float* __restrict grad, float* __restrict buf, int64_t begin,
               int64_t end, float grad_scale, float lr, float weight_decay, float momentum, bool nesterov) {
  for (int64_t i = begin; i < end; ++i) {
    float g = grad[i] * grad_scale + weight_decay * params[i];
    if (momentum != 0.0f) {
      const float b = momentum * buf[i] + g;
      buf[i] = b;
      g = nesterov ? g + momentum * b : b;
    }
    params[i] -= lr * g;
  }
}

// One row of the output projection's tile: f += s*bo, eps_hat = eps + f, and float64 sums of f^2 and eps_hat^2
// in eight lanes of a fixed pattern.
void finish_output_row(float* fi, const float* ei, float* oi, const float* bi, float s, int64_t cols, double* sum_f,
                       double* sum_e) {
  double sf[8] = {0, 0, 0, 0, 0, 0, 0, 0}, se[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= cols; j += 8) {
    for (int q = 0; q < 8; ++q) {
      const float fv = fi[j + q] + s * bi[j + q];
      const float ev = ei[j + q] + fv;
      fi[j + q] = fv;
      oi[j + q] = ev;
      sf[q] += static_cast<double>(fv) * fv;
      se[q] += static_cast<double>(ev) * ev;
    }
  }
  for (; j < cols; ++j) {
    const float fv = fi[j] + s * bi[j];
    const float ev = ei[j] + fv;
    fi[j] = fv;
    oi[j] = ev;
    sf[0] += static_cast<double>(fv) * fv;
    se[0] += static_cast<double>(ev) * ev;
  }
  *sum_f = ((sf[0] + sf[1]) + (sf[2] + sf[3])) + ((sf[4] + sf[5]) + (sf[6] + sf[7]));
  *sum_e = ((se[0] + se[1]) + (se[2] + se[3])) + ((se[4] + se[5]) + (se[6] + se[7]));
}

// The element-wise part of an IsaKernels table.
constexpr ElementwiseKernels kElementwiseKernels{kActivationKernels, &normal_blocks, &sum_squares_range,
                                                 &adam_range, &sgd_range, &finish_output_row};

}  // namespace
}  // namespace cpu
}  // namespace hn
