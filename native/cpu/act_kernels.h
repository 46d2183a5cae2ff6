// Activations over arrays on the CPU, vectorised for the ISA in use: the libm expf/tanhf/erff the reference
// definitions in core/activations.h call are scalar, and in an MLP's epilogue they cost as much as the GEMM.
// These use a branch-free exp (Cody–Waite reduction and a degree-6 polynomial, < 2 ulp; elementwise_impl.h)
// and agree with the reference to float precision (the tests compare against float64).
#pragma once

#include <cstdint>

#include "core/activations.h"

namespace hn {
namespace cpu {

// y = act(z + bias[j]) for a row of `count` values (bias may be null); with `keep_z`, z is rewritten with
// z + bias (the pre-activation the backward needs).
void bias_act_row(Activation a, float* z, const float* bias, float* y, int64_t count, bool keep_z);
// y[i] = act(x[i]).
void act_array(Activation a, const float* x, float* y, int64_t count);
// dy[i] *= act'(z[i]).
void act_d1_mul(Activation a, const float* z, float* dy, int64_t count);
// acc[i] += g[i] * act'(z[i]).
void act_d1_fma(Activation a, const float* z, const float* g, float* acc, int64_t count);

}  // namespace cpu
}  // namespace hn
