// The kernels for AVX-512: 14 x 32 register blocking (14 rows x 2 zmm = 28 accumulators + 2 B vectors +
// 1 broadcast = 31 of the 32 zmm registers; each broadcast A value feeds two FMAs, and 28 independent
// chains hide the FMA latency).
#if defined(__x86_64__) || defined(__i386__)
#include "isa_kernels.h"
#include "simd_target.h"

// GCC 12's AVX-512 headers implement _mm512_undefined_ps as a self-initialised variable, which -Wall
// reports at every use (GCC bug 105593, fixed in 12.3/13). The warning is spurious here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

HN_TARGET_BEGIN(HN_AVX512_TARGET)
#include "simd_avx512.h"
#include "gemm_kernels_impl.h"
#include "elementwise_impl.h"
#include "kl_impl.h"
#include "peak_probe_impl.h"

namespace hn {
namespace cpu {

const IsaKernels& avx512_isa_kernels() {
  static const IsaKernels k{Isa::Avx512, simd::Avx512Float::kWidth, simd::Avx512Double::kWidth,
                            &detail::kernel_set<simd::Avx512Float, 14, 32, 256, 1024, 512, true>(Isa::Avx512),
                            &fma_chains<simd::Avx512Float>, &fma_chains<simd::Avx512Double>,
                            &kl_forward_group<simd::Avx512Double>, &kl_backward_sample_d1<simd::Avx512Double>,
                            kElementwiseKernels};
  return k;
}

}  // namespace cpu
}  // namespace hn
HN_TARGET_END
#endif
