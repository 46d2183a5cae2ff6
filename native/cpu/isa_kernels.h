// What the CPU backend compiles once per instruction set: a table of kernels per ISA (isa_scalar.cc,
// isa_avx2.cc, isa_avx512.cc, isa_neon.cc), each written once as a template over the vector traits of simd_*.h in a
// *_impl.h header and instantiated there with that ISA's register blocking. Callers take the table of
// active_isa(), so HYPERNOISE_ISA selects the code path of every kernel in it. Every header the *_impl.h
// files use is included here, before the isa_*.cc files open their target region (see simd_target.h).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "core/activations.h"
#include "core/hypernetwork_layout.h"
#include "core/philox.h"
#include "gemm_kernels.h"
#include "isa.h"

namespace hn {
namespace cpu {

// One group of samples [first, first + count) of the exact-KL forward (count <= double_lanes): G = I + M K,
// log det G, Tr(MK) and, with keep, P = I - G^{-1} (and M at depth > 1); outputs as cpu::exact_kl_forward.
struct KlGroupJob {
  const HypernetDesc* desc;
  const double* K;          // r x r, float64
  const double* const* W;   // W_2 .. W_L, float64 r x r each (depth > 1)
  const float* z;           // L x n x r pre-activations
  int64_t n, first, count;
  bool keep;
  float* M_out;             // n x r x r (depth > 1, keep)
  float* P_out;             // n x r x r (keep)
  float* trace;
  float* logdet;
  float* noninvertible;
};

// Element-wise kernels (elementwise_impl.h): the same values on every ISA, vectorised for each.
using BiasActFn = void (*)(float* z, const float* bias, float* y, int64_t count, bool keep_z);
using ActD1MulFn = void (*)(const float* z, float* dy, int64_t count);
using ActD1FmaFn = void (*)(const float* z, const float* g, float* acc, int64_t count);
struct ActivationKernels {
  BiasActFn bias_act[kActivationCount];  // y = act(z + bias), z rewritten with z + bias when keep_z
  ActD1MulFn d1_mul[kActivationCount];   // dy *= act'(z)
  ActD1FmaFn d1_fma[kActivationCount];   // acc += g * act'(z)
};
struct ElementwiseKernels {
  ActivationKernels act;
  // Normals for `count` consecutive Philox blocks of one sample (4 per block) into out[0, 4 count).
  void (*normal_blocks)(uint64_t seed, uint64_t sample, uint32_t first_block, int64_t count, uint32_t stream,
                        float* out);
  // sum of x[i]^2 over [begin, end) in float64, eight lanes in a fixed pattern.
  double (*sum_squares_range)(const float* x, int64_t begin, int64_t end);
  void (*adam_range)(float* params, const float* grad, float* m, float* v, int64_t begin, int64_t end,
                     float grad_scale, float beta1, float beta2, float step_size, float inv_sqrt_bc2, float eps,
                     float l2_decay, float decoupled_decay);
  void (*sgd_range)(float* params, const float* grad, float* buf, int64_t begin, int64_t end, float grad_scale,
                    float lr, float weight_decay, float momentum, bool nesterov);
  // f += s bo, eps_hat = eps + f, and the float64 sums of f^2 and eps_hat^2, over one row of an output tile.
  void (*finish_output_row)(float* f, const float* eps, float* eps_hat, const float* bo, float s, int64_t cols,
                            double* sum_f, double* sum_e);
};

struct IsaKernels {
  Isa isa;
  int float_lanes;                       // floats per vector register
  int double_lanes;                      // doubles per vector register
  const detail::KernelSet* gemm;         // SGEMM packing routines and micro-kernels
  // Peak probes: rounds x kProbeIters x kProbeChains vector FMAs; each returns the floating-point operations
  // it did (an FMA of one lane counts 2).
  double (*fma_chains)(int64_t rounds);
  double (*fma_chains_f64)(int64_t rounds);  // the same in float64
  void (*kl_forward_group)(const KlGroupJob& job);  // kl_impl.h
  // One sample's depth-1 exact-KL backward terms: kp[a] = (K P)_aa (written) and st[l][a] += P[l][a] m[a].
  void (*kl_backward_sample_d1)(const float* P, const double* Kt, const double* m, int64_t r, double* kp, double* st);
  ElementwiseKernels elementwise;
};

// 12 independent accumulator chains: more than FMA latency x issue width (4 x 2 on current x86), so the
// probe is throughput-bound; a naive single chain would read a fraction of the peak.
constexpr int kProbeChains = 12;
constexpr int64_t kProbeIters = 1 << 16;

// The table of `isa`, which the CPU must support (isa <= detected_isa()).
const IsaKernels& isa_kernels(Isa isa);
// The table of active_isa().
inline const IsaKernels& active_kernels() { return isa_kernels(active_isa()); }

const IsaKernels& scalar_isa_kernels();
#if defined(__x86_64__) || defined(__i386__)
const IsaKernels& avx2_isa_kernels();    // only on CPUs with AVX2 + FMA
const IsaKernels& avx512_isa_kernels();  // only on CPUs with AVX-512 F/BW/DQ/VL
#endif
#if defined(__aarch64__)
const IsaKernels& neon_isa_kernels();
#endif

}  // namespace cpu
}  // namespace hn
