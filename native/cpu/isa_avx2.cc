// The kernels for AVX2 + FMA: 6 x 16 register blocking (6 rows x 2 ymm = 12 accumulators + 2 B vectors
// + 1 broadcast = 15 of the 16 ymm registers, enough independent chains for two FMA pipes with 4-cycle
// latency).
#if defined(__x86_64__) || defined(__i386__)
#include "isa_kernels.h"
#include "simd_target.h"

HN_TARGET_BEGIN(HN_AVX2_TARGET)
#include "simd_avx2.h"
#include "gemm_kernels_impl.h"
#include "elementwise_impl.h"
#include "kl_impl.h"
#include "peak_probe_impl.h"

namespace hn {
namespace cpu {

const IsaKernels& avx2_isa_kernels() {
  static const IsaKernels k{Isa::Avx2, simd::Avx2Float::kWidth, simd::Avx2Double::kWidth,
                            &detail::kernel_set<simd::Avx2Float, 6, 16, 256, 1024, 512, true>(Isa::Avx2),
                            &fma_chains<simd::Avx2Float>, &fma_chains<simd::Avx2Double>,
                            &kl_forward_group<simd::Avx2Double>, &kl_backward_sample_d1<simd::Avx2Double>,
                            kElementwiseKernels};
  return k;
}

}  // namespace cpu
}  // namespace hn
HN_TARGET_END
#endif
