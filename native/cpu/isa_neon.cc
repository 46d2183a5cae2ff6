// The kernels for AArch64 NEON: 8 x 12 SGEMM register blocking (8 rows x 3 vectors = 24 accumulators + 3 B
// vectors + 1 broadcast of the 32 registers), float64 KL groups of 2 samples. Built on AArch64 only.
#if defined(__aarch64__)
#include "isa_kernels.h"
#include "simd_neon.h"
#include "elementwise_impl.h"
#include "gemm_kernels_impl.h"
#include "kl_impl.h"
#include "peak_probe_impl.h"

namespace hn {
namespace cpu {

const IsaKernels& neon_isa_kernels() {
  static const IsaKernels k{Isa::Neon, simd::NeonFloat::kWidth, simd::NeonDouble::kWidth,
                            &detail::kernel_set<simd::NeonFloat, 8, 12, 256, 1024, 512, true>(Isa::Neon),
                            &fma_chains<simd::NeonFloat>, &fma_chains<simd::NeonDouble>,
                            &kl_forward_group<simd::NeonDouble>, &kl_backward_sample_d1<simd::NeonDouble>,
                            kElementwiseKernels};
  return k;
}

}  // namespace cpu
}  // namespace hn
#endif
