// Single-precision GEMM for the CPU backend: C = alpha * op(A) * op(B) + beta * C, row-major.
// Cache-blocked with packed panels and a register-blocked micro-kernel for AVX-512 or AVX2+FMA, chosen
// at run time (isa.h), with a portable fallback. Every element of C is summed over K in the same order whatever
// the thread count, so results are bit-identical for 1 or N threads.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "isa.h"

namespace hn {
namespace cpu {

// Applied once to each finished block of C (after its last K update, by the thread that computed it,
// while the block is still in cache): this is how bias, activation, residual and reductions are fused
// into the GEMM. rows [row0, row0+rows) x cols [col0, col0+cols) of C; `c` points at C(row0, col0).
//
// Granularity: a block is one micro-tile row strip of one column block: at most 14 rows (AVX-512; 6 with
// AVX2, 4 scalar) by at most ~512 columns (256 scalar). The blocks tile C exactly, so every element is
// passed to exactly one call, after its final value is stored. Calls come in no fixed order and run
// concurrently on several threads for disjoint blocks, so apply() must be safe for that. Where C is cut
// depends on the thread count and ISA; an epilogue that must stay bit-reproducible should work element by
// element (or otherwise independently of the block boundaries), not sum floating-point values across
// blocks in call order.
class GemmEpilogue {
 public:
  virtual ~GemmEpilogue() = default;
  virtual void apply(int64_t row0, int64_t rows, int64_t col0, int64_t cols, float* c, int64_t ldc) const = 0;
};

// trans_a: A is stored K x M (op(A) = A^T); else M x K. trans_b: B is stored N x K; else K x N.
// beta == 0 ignores the previous contents of C (it may hold NaN). Uses the global thread pool.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
           const GemmEpilogue* epilogue = nullptr);

// Same, on one thread (for callers that already parallelise over something else).
void sgemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                  int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
                  const GemmEpilogue* epilogue = nullptr);

namespace detail {
struct KernelSet;
}

// op(B) packed once into the panels the GEMM would otherwise pack on every call, for a B used with many
// different A (a layer's weights): the product reads the same values in the same order, so its results are
// bit-identical to sgemm's. Packed for the kernel set active when it is built; after an ISA change it is
// stale (usable() false) and the caller repacks or falls back to sgemm.
class PackedB {
 public:
  PackedB(bool trans_b, int64_t k, int64_t n, const float* b, int64_t ldb);
  bool usable() const noexcept;
  int64_t k() const noexcept { return k_; }
  int64_t n() const noexcept { return n_; }
  size_t bytes() const noexcept { return static_cast<size_t>(k_ * padded_n_) * sizeof(float); }
  // Chunk p0 (a K chunk start) of the panels: chunk after chunk, each kc x padded_n, panel after panel.
  const float* chunk(int64_t p0) const noexcept { return data_.get() + p0 * padded_n_; }
  int64_t padded_n() const noexcept { return padded_n_; }
  const detail::KernelSet* kernels() const noexcept { return ks_; }

 private:
  struct Free {  // gives the panels back to the host block cache (block_cache.h), which allocated them
    void operator()(float* p) const noexcept;
  };
  const detail::KernelSet* ks_;
  int64_t k_, n_, padded_n_;
  std::unique_ptr<float, Free> data_;
};

// C = alpha * op(A) * B + beta * C with B packed (B.k() == k, B.n() == n, B.usable()); as sgemm otherwise.
void sgemm_packed(bool trans_a, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const PackedB& b, float beta, float* c, int64_t ldc, const GemmEpilogue* epilogue = nullptr);

// Peak FMA rate of one core under the ISA in use (single precision, or double with float64), measured with
// independent accumulator chains (GFLOP/s), for reporting fractions of peak.
double measure_peak_gflops_per_core(double seconds = 0.2, bool float64 = false);

}  // namespace cpu
}  // namespace hn
