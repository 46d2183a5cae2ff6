// The SGEMM packing routines and micro-kernel, written once over a vector traits type S (simd_*.h):
// isa_scalar.cc, isa_avx2.cc and isa_avx512.cc instantiate them for their ISA (inside their target region,
// see simd_target.h), each with its own register blocking. Everything here is in an anonymous
// namespace: one copy per ISA file, never shared between files compiled for different instruction sets.
//
// Numerics: each C element is summed over k in order with one accumulator (S::fma), then combined with C
// by the same element-wise operations in every tile shape, so a result does not depend on the ISA's tile
// sizes, the thread count or where a tile's edge falls; only S::fma differs (fused on AVX2/AVX-512,
// multiply-then-add on the scalar path).
#pragma once

#include <array>
#include <cstdint>
#include <utility>

#include "gemm_kernels.h"

namespace hn {
namespace cpu {
namespace detail {
namespace {

// d[0, W) = s[0, n) followed by zeros (one panel line of W floats).
template <class S, int W>
HN_SIMD_INLINE void copy_line(const float* s, float* d, int64_t n) {
  constexpr int L = S::kWidth;
  int j = 0;
#pragma GCC unroll 4
  for (; j + L <= W; j += L) S::storeu(d + j, j + L <= n ? S::loadu(s + j) : S::load_partial(s + j, n - j));
  if (W % L != 0) S::store_partial(d + j, S::load_partial(s + j, n - j), W % L);
}

// Lines [0, valid) x k [0, min(kn, L)) starting at s (lines `stride` apart), transposed in registers, become
// the k-rows (W floats apart) of `width` panel columns at d; lines past `valid` are zero.
template <class S, int W>
HN_SIMD_INLINE void transpose_store(const float* s, int64_t stride, int64_t valid, int64_t kn, int64_t width,
                                    float* d) {
  constexpr int L = S::kWidth;
  typename S::V r[L];
#pragma GCC unroll 16
  for (int i = 0; i < L; ++i) {
    r[i] = i >= valid ? S::zero() : kn >= L ? S::loadu(s + i * stride) : S::load_partial(s + i * stride, kn);
  }
  S::transpose(r);
  const int64_t rows = kn < L ? kn : L;
  if (width == L && rows == L) {
#pragma GCC unroll 16
    for (int t = 0; t < L; ++t) S::storeu(d + t * W, r[t]);
  } else {
    for (int t = 0; t < rows; ++t) S::store_partial(d + t * W, r[t], width);
  }
}

// Packs `lines` lines x kc values into ceil(lines / W) micro-panels of W lines, k-major (see PackFn).
template <class S, int W>
void pack_panels(const float* src, int64_t ld, bool k_contiguous, int64_t lines, int64_t kc, float* dst) {
  constexpr int L = S::kWidth;
  if (!k_contiguous) {
    // element(l, k) = src[k * ld + l]. Blocks of 8 k: each panel then gets 8 * W contiguous floats while the
    // 8 source rows are read front to back. (Walking all panels for one k would store with a stride of
    // kc * W floats, often a power of two that maps every store to the same cache set.)
    const int64_t full = lines / W, rem = lines - full * W;
    for (int64_t k0 = 0; k0 < kc; k0 += 8) {
      const int64_t kn = kc - k0 < 8 ? kc - k0 : 8;
      const float* s = src + k0 * ld;
      float* d = dst + k0 * W;
      for (int64_t p = 0; p < full; ++p, s += W, d += kc * W) {
        for (int64_t k = 0; k < kn; ++k) copy_line<S, W>(s + k * ld, d + k * W, W);
      }
      if (rem > 0) {  // last, partial panel: zero-filled past `lines`
        for (int64_t k = 0; k < kn; ++k) copy_line<S, W>(s + k * ld, d + k * W, rem);
      }
    }
    return;
  }
  // element(l, k) = src[l * ld + k]: L lines x L k at a time, transposed in registers.
  const int64_t panels = (lines + W - 1) / W;
  if constexpr (L == 1) {  // one lane: nothing to transpose, a strided copy
    for (int64_t p = 0; p < panels; ++p) {
      float* dp = dst + p * kc * W;
      for (int64_t k = 0; k < kc; ++k)
        for (int l = 0; l < W; ++l) dp[k * W + l] = p * W + l < lines ? src[(p * W + l) * ld + k] : 0.0f;
    }
    return;
  }
  for (int64_t p = 0; p < panels; ++p) {
    float* dp = dst + p * kc * W;
    const int64_t valid_p = lines - p * W < W ? lines - p * W : W;
    for (int g = 0; g * L < W; ++g) {
      const int64_t gvalid = valid_p - g * L;
      const int64_t width = W - g * L < L ? W - g * L : L;
      const float* sg = src + (p * W + g * L) * ld;
      if (L < 16 || ld % 512 != 0) {
        for (int64_t k0 = 0; k0 < kc; k0 += L) transpose_store<S, W>(sg + k0, ld, gvalid, kc - k0, width, dp + k0 * W + g * L);
        continue;
      }
      // ld a multiple of 2 KiB: 16 lines share one or two L1 sets, and loading 64 bytes of each in turn runs
      // at about half speed. Copying 256 contiguous bytes per line into a small buffer first is faster.
      constexpr int kChunk = 64;
      alignas(64) float stage[L][kChunk + 16];  // +16: buffer rows in different cache sets
      for (int64_t k0 = 0; k0 < kc; k0 += kChunk) {
        const int64_t kn = kc - k0 < kChunk ? kc - k0 : kChunk;
        for (int i = 0; i < L && i < gvalid; ++i) {
          const float* s = sg + i * ld + k0;
#pragma GCC unroll 4
          for (int q = 0; q < kChunk / L; ++q) S::store(&stage[i][L * q], S::load_partial(s + L * q, kn - L * q));
        }
        for (int64_t kb = 0; kb < kn; kb += L) {
          transpose_store<S, W>(&stage[0][kb], kChunk + 16, gvalid, kn - kb, width, dp + (k0 + kb) * W + g * L);
        }
      }
    }
  }
}

// Row-major A micro-panels for A read along K: each line is a contiguous copy (see KernelSet::pack_a_rows).
template <class S, int MR, int64_t RowStride>
void pack_rows(const float* src, int64_t ld, bool /*k_contiguous*/, int64_t lines, int64_t kc, float* dst) {
  constexpr int L = S::kWidth;
  const int64_t panels = (lines + MR - 1) / MR;
  for (int64_t l = 0; l < panels * MR; ++l) {
    float* d = dst + l * RowStride;
    if (l >= lines) {
      for (int64_t k = 0; k < kc; k += L) S::store_partial(d + k, S::zero(), kc - k);
      continue;
    }
    const float* s = src + l * ld;
    int64_t k = 0;
    for (; k + 4 * L <= kc; k += 4 * L) {
      const typename S::V x0 = S::loadu(s + k), x1 = S::loadu(s + k + L);
      const typename S::V x2 = S::loadu(s + k + 2 * L), x3 = S::loadu(s + k + 3 * L);
      S::storeu(d + k, x0);
      S::storeu(d + k + L, x1);
      S::storeu(d + k + 2 * L, x2);
      S::storeu(d + k + 3 * L, x3);
    }
    for (; k < kc; k += L) S::store_partial(d + k, S::load_partial(s + k, kc - k), kc - k);
  }
}

// One k step: acc[r][v] += A(r, k) * B(k, L v : L v + L).
template <class S, int R, int U, int64_t RS>
HN_SIMD_INLINE void fma_step(const float* a, const float* b, typename S::V (&acc)[R][U]) {
  typename S::V bv[U];
#pragma GCC unroll 16
  for (int v = 0; v < U; ++v) bv[v] = S::load(b + v * S::kWidth);
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    const typename S::V av = S::broadcast(a + r * RS);
#pragma GCC unroll 16
    for (int v = 0; v < U; ++v) acc[r][v] = S::fma(av, bv[v], acc[r][v]);
  }
}

// The R x (U vectors) micro-tile of an NR-wide panel. A element (r, p) of the micro-panel is
// a[r * RS + p * CS]: RS = 1, CS = MR for k-major panels; RS = row stride, CS = 1 for row-major ones. Both
// compile to constant offsets from one pointer.
template <class S, int R, int U, int NR, int64_t RS, int64_t CS>
void micro_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int /*mr == R*/, int nr,
                  float alpha, float beta, Update mode, PrefetchCursor* pf, int64_t npf) {
  using V = typename S::V;
  constexpr int L = S::kWidth;
  V acc[R][U];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    // Touch the C tile now so its lines arrive while the K loop runs.
    S::prefetch(c + r * ldc);
    S::prefetch(c + r * ldc + L * U - 1);
#pragma GCC unroll 16
    for (int v = 0; v < U; ++v) acc[r][v] = S::zero();
  }
  int64_t p = 0;
  if (npf > 0 && pf->rows_left > 0) {
    // First npf steps also prefetch one line each for the driver (see KernelFn).
    const char* row = pf->row;
    int64_t off = pf->offset, left = pf->rows_left;
    const int64_t ld_bytes = pf->ld_bytes, row_bytes = pf->row_bytes;
    for (; p < npf && left > 0; ++p, a += CS, b += NR) {
      S::prefetch(row + off);
      off += 64;
      if (off >= row_bytes) {
        off = 0;
        row += ld_bytes;
        --left;
      }
      fma_step<S, R, U, RS>(a, b, acc);
    }
    pf->row = row;
    pf->offset = off;
    pf->rows_left = left;
  }
  if constexpr (L >= 16) {
#pragma GCC unroll 2
    for (; p < kc; ++p, a += CS, b += NR) fma_step<S, R, U, RS>(a, b, acc);
  } else {
#pragma GCC unroll 4
    for (; p < kc; ++p, a += CS, b += NR) fma_step<S, R, U, RS>(a, b, acc);
  }
  const V va = S::set1(alpha), vb = S::set1(beta);
  const int64_t last = nr - L * (U - 1);  // valid lanes of the last vector
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    float* cr = c + r * ldc;
#pragma GCC unroll 16
    for (int v = 0; v < U; ++v) {
      float* cv = cr + L * v;
      V x = S::mul(va, acc[r][v]);
      if (v < U - 1 || last == L) {
        if (mode == Update::Scale)
          x = S::add(x, S::mul(vb, S::loadu(cv)));
        else if (mode == Update::Accumulate)
          x = S::add(S::loadu(cv), x);
        S::storeu(cv, x);
      } else {
        if (mode == Update::Scale)
          x = S::add(x, S::mul(vb, S::load_partial(cv, last)));
        else if (mode == Update::Accumulate)
          x = S::add(S::load_partial(cv, last), x);
        S::store_partial(cv, x, last);
      }
    }
  }
}

// B panels per row-kernel call: as many as keep the accumulators within half the vector registers, at most 4.
template <class S, int NR>
constexpr int row_panels() {
  constexpr int per_panel = NR / S::kWidth, fit = S::kRegisters / 2 / per_panel;
  return fit < 1 ? 1 : fit > 4 ? 4 : fit;
}

// See RowKernelFn. A element p is a[p * CS]; every sum runs over p in order from zero, as in micro_kernel.
template <class S, int NR, int64_t CS>
void row_kernel(int64_t kc, const float* a, const float* b, int64_t panel_floats, float* c, float alpha,
                float beta, Update mode) {
  using V = typename S::V;
  constexpr int L = S::kWidth, U = NR / L, G = row_panels<S, NR>();
  V acc[G][U];
#pragma GCC unroll 16
  for (int g = 0; g < G; ++g) {
#pragma GCC unroll 16
    for (int v = 0; v < U; ++v) acc[g][v] = S::zero();
  }
  for (int64_t p = 0; p < kc; ++p, a += CS, b += NR) {
    const V av = S::broadcast(a);
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g) {
#pragma GCC unroll 16
      for (int v = 0; v < U; ++v) acc[g][v] = S::fma(av, S::load(b + g * panel_floats + v * L), acc[g][v]);
    }
  }
  const V va = S::set1(alpha), vb = S::set1(beta);
#pragma GCC unroll 16
  for (int g = 0; g < G; ++g) {
#pragma GCC unroll 16
    for (int v = 0; v < U; ++v) {
      float* cv = c + g * NR + v * L;
      V x = S::mul(va, acc[g][v]);
      if (mode == Update::Scale)
        x = S::add(x, S::mul(vb, S::loadu(cv)));
      else if (mode == Update::Accumulate)
        x = S::add(S::loadu(cv), x);
      S::storeu(cv, x);
    }
  }
}

// The micro-kernels of every tile shape up to MR x NR, indexed [rows - 1][vectors - 1].
template <class S, int MR, int NR, int64_t RS, int64_t CS>
struct KernelTable {
  static constexpr int kVectors = NR / S::kWidth;
  using Row = std::array<KernelFn, kVectors>;

  template <int R, int... U>
  static constexpr Row row(std::integer_sequence<int, U...>) {
    return Row{&micro_kernel<S, R, U + 1, NR, RS, CS>...};
  }
  template <int... R>
  static constexpr std::array<Row, MR> table(std::integer_sequence<int, R...>) {
    return {row<R + 1>(std::make_integer_sequence<int, kVectors>{})...};
  }

  static void dispatch(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                       float alpha, float beta, Update mode, PrefetchCursor* pf, int64_t npf) {
    static constexpr std::array<Row, MR> kTable = table(std::make_integer_sequence<int, MR>{});
    kTable[mr - 1][(nr + S::kWidth - 1) / S::kWidth - 1](kc, a, b, c, ldc, mr, nr, alpha, beta, mode, pf, npf);
  }
};

// The KernelSet of an ISA: MR x NR register blocking, K chunks of KcMax, blocks of MbMax rows and NbMax
// columns; with RowPanels, row-major A micro-panels (RowStride floats per line) for A read along K.
template <class S, int MR, int NR, int64_t KcMax, int64_t MbMax, int64_t NbMax, bool RowPanels>
const KernelSet& kernel_set(Isa isa) {
  static_assert(NR % S::kWidth == 0, "panel width: whole vectors");
  // Not a multiple of 1 KiB, so the MR rows the kernel reads at each k fall in different L1 sets.
  constexpr int64_t kRowStride = KcMax + 16;
  constexpr bool kRowKernel = row_panels<S, NR>() > 1;  // one panel: the 1 x NR micro-tile is the same
  static const KernelSet ks{isa,
                            MR,
                            NR,
                            KcMax,
                            MbMax,
                            NbMax,
                            &pack_panels<S, MR>,
                            &pack_panels<S, NR>,
                            &KernelTable<S, MR, NR, 1, MR>::dispatch,
                            RowPanels ? &pack_rows<S, MR, kRowStride> : nullptr,
                            RowPanels ? &KernelTable<S, MR, NR, kRowStride, 1>::dispatch : nullptr,
                            RowPanels ? kRowStride : 0,
                            kRowKernel ? &row_kernel<S, NR, MR> : nullptr,
                            kRowKernel && RowPanels ? &row_kernel<S, NR, 1> : nullptr,
                            row_panels<S, NR>()};
  return ks;
}

}  // namespace
}  // namespace detail
}  // namespace cpu
}  // namespace hn
