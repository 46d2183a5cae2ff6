// What the CPU backend compiles once per instruction set: a table of kernels per ISA (isa_scalar.cc,
// isa_avx2.cc, isa_avx512.cc), each written once as a template over the vector traits of simd_*.h in a
// *_impl.h header and instantiated there with that ISA's register blocking. Callers take the table of
// active_isa(), so HYPERNOISE_ISA selects the code path of every kernel in it.
#pragma once

#include <cstdint>

#include "gemm_kernels.h"
#include "isa.h"

namespace hn {
namespace cpu {

struct IsaKernels {
  Isa isa;
  int float_lanes;                       // floats per vector register
  const detail::KernelSet* gemm;         // SGEMM packing routines and micro-kernels
  double (*fma_chains)(int64_t rounds);  // peak probe: rounds x kProbeIters x kProbeChains vector FMAs
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
const IsaKernels& avx2_isa_kernels();    // only on CPUs with AVX2 + FMA
const IsaKernels& avx512_isa_kernels();  // only on CPUs with AVX-512 F/BW/DQ/VL

}  // namespace cpu
}  // namespace hn
