// Internal interface between the SGEMM driver (gemm.cc) and its per-ISA packing routines and
// micro-kernels (gemm_kernels_impl.h, instantiated per ISA by isa_scalar.cc, isa_avx2.cc, isa_avx512.cc).
#pragma once

#include <cstdint>

#include "gemm.h"

namespace hn {
namespace cpu {
namespace detail {

// How a micro-kernel combines its K-chunk sum `acc` with C.
enum class Update : int {
  Overwrite = 0,   // C = alpha * acc             (first K chunk, beta == 0: C is never read, NaN-safe)
  Scale = 1,       // C = alpha * acc + beta * C  (first K chunk, beta != 0)
  Accumulate = 2,  // C = C + alpha * acc         (later K chunks)
};

// Packs `lines` lines x kc values into ceil(lines / W) micro-panels of W lines, each stored k-major:
//   dst[p * kc * W + k * W + l] = element(p * W + l, k), zero for lines past `lines`,
// where element(l, k) = k_contiguous ? src[l * ld + k] : src[k * ld + l].
// For A, lines are rows of op(A) (W = mr); for B, lines are columns of op(B) (W = nr).
// dst is 64-byte aligned.
using PackFn = void (*)(const float* src, int64_t ld, bool k_contiguous, int64_t lines, int64_t kc, float* dst);

// Walks the rows of a source rectangle line by line for software prefetching.
struct PrefetchCursor {
  const char* row = nullptr;  // start of the current row
  int64_t ld_bytes = 0;       // distance between rows
  int64_t row_bytes = 0;      // bytes to fetch per row
  int64_t offset = 0;         // next offset within the current row
  int64_t rows_left = 0;      // rows not finished yet (0: nothing to do)
};

// One micro-tile: C[0:mr, 0:nr] (row-major, ldc) updated with the product of a packed A micro-panel
// (kc x MR, k-major) and a packed B micro-panel (kc x NR, k-major), per `mode`. mr <= MR, nr <= NR.
// Each C element's sum runs over k in order with one accumulator, so its value does not depend on which
// tile shape or thread computed it. During its first npf (<= kc) k steps the kernel also prefetches the
// next npf lines of *pf (prefetcht0: measured 5-10% faster than t1 on the skinny shapes) and advances it,
// so the driver can pull in the sources of the next packs while the FMA units are busy instead of in a
// separate memory-bound phase.
using KernelFn = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                          float alpha, float beta, Update mode, PrefetchCursor* pf, int64_t npf);

// One row of C across KernelSet::row_panels adjacent full B micro-panels (panel_floats = kc * NR apart):
// C[0, 0:row_panels * NR] updated like the 1 x NR micro-tile, element for element (same sum order, same
// update), so it gives the same bits. A 1 x NR tile has only NR / L accumulator chains, too few to hide the
// FMA latency when one row is all there is (a single sample: a matrix-vector product); this has row_panels
// times as many, as many as half the ISA's vector registers hold (at most 4 panels).
using RowKernelFn = void (*)(int64_t kc, const float* a, const float* b, int64_t panel_floats, float* c,
                             float alpha, float beta, Update mode);

struct KernelSet {
  Isa isa;
  int mr;  // micro-tile rows (A micro-panel width)
  int nr;  // micro-tile columns (B micro-panel width)
  int64_t kc_max;  // K chunk: the A micro-panel (mr x kc) stays in L1
  int64_t mb_max;  // rows of A packed per K chunk (reused across all column blocks)
  int64_t nb_max;  // columns of a packed B block (kc x nb stays in L2)
  PackFn pack_a;
  PackFn pack_b;
  KernelFn kernel;
  // Optional (null when absent): A micro-panels stored row by row, a_row_stride floats apart
  // (dst[p * mr * a_row_stride + l * a_row_stride + k] = element(p * mr + l, k)), for A read along K
  // (op(A) = A, k_contiguous). Packing is then a plain copy instead of a transpose; the kernel broadcasts
  // from constant offsets of one pointer, so it is as fast as with k-major panels.
  PackFn pack_a_rows;
  KernelFn kernel_a_rows;
  int64_t a_row_stride;  // >= kc_max
  RowKernelFn row_kernel;         // for k-major A micro-panels (null where one panel's accumulators already
                                  // fill half the registers: the scalar path)
  RowKernelFn row_kernel_a_rows;  // for row-major ones (null without them)
  int row_panels;                 // B panels per row-kernel call
};

// sgemm split into tasks as if the pool had `threads` threads (tasks still run on the global pool).
// Results are bit-identical to sgemm/sgemm_serial for every `threads`; tests use it to check that.
void sgemm_with_threads(int threads, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                        const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                        int64_t ldc, const GemmEpilogue* epilogue);

// The K chunk length for a given K and ISA, a function of K alone (never of the thread count), so the
// summation order of each C element is fixed. Chunks are [i * kc, min(k, (i + 1) * kc)).
int64_t k_chunk(const KernelSet& ks, int64_t k) noexcept;

}  // namespace detail
}  // namespace cpu
}  // namespace hn
