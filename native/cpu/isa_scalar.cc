// The kernels for any CPU: 4 x 8 scalar register blocking, the portable fallback.
#include "isa_kernels.h"
#include "simd_scalar.h"
#include "gemm_kernels_impl.h"
#include "elementwise_impl.h"
#include "kl_impl.h"
#include "peak_probe_impl.h"

namespace hn {
namespace cpu {

const IsaKernels& scalar_isa_kernels() {
  static const IsaKernels k{Isa::Scalar, simd::ScalarFloat::kWidth, simd::ScalarDouble::kWidth,
                            &detail::kernel_set<simd::ScalarFloat, 4, 8, 256, 512, 256, false>(Isa::Scalar),
                            &fma_chains<simd::Baseline16<float>>, &fma_chains<simd::Baseline16<double>>,
                            &kl_forward_group<simd::ScalarDouble>, &kl_backward_sample_d1<simd::ScalarDouble>,
                            kElementwiseKernels};
  return k;
}

}  // namespace cpu
}  // namespace hn
