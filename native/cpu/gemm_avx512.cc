// AVX-512 packing and 14x32 micro-kernel for SGEMM. Every function that touches AVX-512 intrinsics carries
// the target attribute, because the project is built without -march flags; the driver only calls these
// after run-time detection.
#include <immintrin.h>

#include "gemm_kernels.h"

// GCC 12's AVX-512 headers implement _mm512_undefined_ps as a self-initialised variable, which
// -Wall reports at every use (GCC bug 105593, fixed in 12.3/13). The warning is spurious here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define HN_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))

namespace hn {
namespace cpu {
namespace detail {
namespace {

// 14 rows x 2 zmm: 28 accumulators + 2 B vectors + 1 broadcast = 31 of the 32 zmm registers. Each
// broadcast A value feeds two FMAs, and 28 independent chains hide the FMA latency.
constexpr int kMr = 14;
constexpr int kNr = 32;
constexpr int64_t kKcMax = 256;
// Row stride of row-major A micro-panels: >= kKcMax, and not a multiple of 1 KiB so the 14 rows the
// kernel reads at each k fall in different L1 sets.
constexpr int64_t kARowStride = kKcMax + 16;

HN_AVX512 inline __mmask16 lane_mask(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1u);
}

// In-register 16x16 transpose: r[i] holds row i on entry, column i on exit.
HN_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    const __m512d t0 = _mm512_castps_pd(t[4 * i]), t1 = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d t2 = _mm512_castps_pd(t[4 * i + 2]), t3 = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  // r[4g + j] now holds, per 128-bit lane q, rows 4g..4g+3 of column 4q + j.
  for (int j = 0; j < 4; ++j) {
    t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);          // cols j, j+8 of rows 0-7
    t[4 + j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xdd);      // cols j+4, j+12 of rows 0-7
    t[8 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);  // cols j, j+8 of rows 8-15
    t[12 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xdd);
  }
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
  }
}

// Lines [0, valid) x k [0, min(kn, 16)) starting at s (lines `stride` apart) become k-rows of a W-wide
// panel at d (zero for lines past `valid`).
template <int W>
HN_AVX512 inline void transpose_store(const float* s, int64_t stride, int64_t valid, int64_t kn, float* d) {
  const __mmask16 km = lane_mask(kn);
  __m512 r[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) r[i] = i < valid ? _mm512_maskz_loadu_ps(km, s + i * stride) : _mm512_setzero_ps();
  transpose16(r);
  const __mmask16 store_mask = lane_mask(W < 16 ? W : 16);
  if (kn >= 16) {
#pragma GCC unroll 16
    for (int t = 0; t < 16; ++t) _mm512_mask_storeu_ps(d + t * W, store_mask, r[t]);
  } else {
    for (int t = 0; t < kn; ++t) _mm512_mask_storeu_ps(d + t * W, store_mask, r[t]);
  }
}

template <int W>
HN_AVX512 void pack_avx512(const float* src, int64_t ld, bool k_contiguous, int64_t lines, int64_t kc,
                           float* dst) {
  static_assert(W == 14 || W == 32, "panel widths used by the AVX-512 kernel");
  const int64_t panels = (lines + W - 1) / W;
  const __mmask16 store_mask = lane_mask(W == 14 ? 14 : 16);
  if (!k_contiguous) {
    // element(l, k) = src[k * ld + l]. Blocks of 8 k: each panel then gets 8 * W contiguous floats while the
    // 8 source rows are read front to back. (Walking all panels for one k would write with a stride of
    // kc * W floats, a power of two that maps every store to the same cache set.)
    const int64_t full = lines / W;
    const int64_t rem = lines - full * W;
    for (int64_t k0 = 0; k0 < kc; k0 += 8) {
      const int64_t kn = kc - k0 < 8 ? kc - k0 : 8;
      const float* s = src + k0 * ld;
      float* d = dst + k0 * W;
      for (int64_t p = 0; p < full; ++p, s += W, d += kc * W) {
        if (kn == 8) {
#pragma GCC unroll 8
          for (int k = 0; k < 8; ++k) {
            if (W == 32) {
              _mm512_store_ps(d + k * W, _mm512_loadu_ps(s + k * ld));
              _mm512_store_ps(d + k * W + 16, _mm512_loadu_ps(s + k * ld + 16));
            } else {
              _mm512_mask_storeu_ps(d + k * W, store_mask, _mm512_maskz_loadu_ps(store_mask, s + k * ld));
            }
          }
        } else {
          for (int k = 0; k < kn; ++k) {
            if (W == 32) {
              _mm512_store_ps(d + k * W, _mm512_loadu_ps(s + k * ld));
              _mm512_store_ps(d + k * W + 16, _mm512_loadu_ps(s + k * ld + 16));
            } else {
              _mm512_mask_storeu_ps(d + k * W, store_mask, _mm512_maskz_loadu_ps(store_mask, s + k * ld));
            }
          }
        }
      }
      if (rem > 0) {  // last, partial panel: zero-filled past `lines`
        const __mmask16 m0 = lane_mask(rem), m1 = lane_mask(rem - 16);
        for (int k = 0; k < kn; ++k) {
          if (W == 32) {
            _mm512_store_ps(d + k * W, _mm512_maskz_loadu_ps(m0, s + k * ld));
            _mm512_store_ps(d + k * W + 16, _mm512_maskz_loadu_ps(m1, s + k * ld + 16));
          } else {
            _mm512_mask_storeu_ps(d + k * W, store_mask, _mm512_maskz_loadu_ps(m0, s + k * ld));
          }
        }
      }
    }
    return;
  }
  // element(l, k) = src[l * ld + k]: 16 lines x 16 k at a time, transposed in registers.
  for (int64_t p = 0; p < panels; ++p) {
    float* dp = dst + p * kc * W;
    const int64_t valid_p = lines - p * W < W ? lines - p * W : W;
    for (int g = 0; g * 16 < W; ++g) {
      const int64_t gvalid = valid_p - g * 16;
      const float* sg = src + (p * W + g * 16) * ld;
      if (ld % 512 != 0) {
        for (int64_t k0 = 0; k0 < kc; k0 += 16)
          transpose_store<W>(sg + k0, ld, gvalid, kc - k0, dp + k0 * W + g * 16);
        continue;
      }
      // ld a multiple of 2 KiB: the 16 lines share one or two L1 sets, and loading 64 bytes of each in turn
      // runs at about half speed. Copying 256 contiguous bytes per line into a small buffer first is faster.
      constexpr int kChunk = 64;
      alignas(64) float stage[16][kChunk + 16];  // +16: buffer rows in different cache sets
      for (int64_t k0 = 0; k0 < kc; k0 += kChunk) {
        const int64_t kn = kc - k0 < kChunk ? kc - k0 : kChunk;
        for (int i = 0; i < 16 && i < gvalid; ++i) {
          const float* s = sg + i * ld + k0;
#pragma GCC unroll 4
          for (int q = 0; q < kChunk / 16; ++q)
            _mm512_store_ps(&stage[i][16 * q], _mm512_maskz_loadu_ps(lane_mask(kn - 16 * q), s + 16 * q));
        }
        for (int64_t kb = 0; kb < kn; kb += 16)
          transpose_store<W>(&stage[0][kb], kChunk + 16, gvalid, kn - kb, dp + (k0 + kb) * W + g * 16);
      }
    }
  }
}

// One k step: acc[r][v] += A(r, k) * B(k, 16v : 16v + 16).
template <int R, int NV, int64_t RS>
HN_AVX512 __attribute__((always_inline)) inline void fma_step(const float* a, const float* b, __m512 (&acc)[R][NV]) {
  const __m512 b0 = _mm512_load_ps(b);
  const __m512 b1 = NV > 1 ? _mm512_load_ps(b + 16) : b0;
#pragma GCC unroll 14
  for (int r = 0; r < R; ++r) {
    const __m512 av = _mm512_set1_ps(a[r * RS]);
    acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
    if (NV > 1) acc[r][NV - 1] = _mm512_fmadd_ps(av, b1, acc[r][NV - 1]);
  }
}

// A element (r, p) of the micro-panel is a[r * RS + p * CS]: RS = 1, CS = kMr for k-major panels;
// RS = kARowStride, CS = 1 for row-major ones. Both compile to constant offsets from one pointer.
template <int R, int NV, int64_t RS, int64_t CS>
HN_AVX512 void kernel_avx512(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int /*mr == R*/,
                             int nr, float alpha, float beta, Update mode, PrefetchCursor* pf, int64_t npf) {
  __m512 acc[R][NV];
#pragma GCC unroll 14
  for (int r = 0; r < R; ++r) {
    // Touch the C tile now so its lines arrive while the K loop runs.
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 16 * NV - 1), _MM_HINT_T0);
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  int64_t p = 0;
  if (npf > 0 && pf->rows_left > 0) {
    // First npf steps also prefetch one line each for the driver (see KernelFn).
    const char* row = pf->row;
    int64_t off = pf->offset, left = pf->rows_left;
    const int64_t ld_bytes = pf->ld_bytes, row_bytes = pf->row_bytes;
    for (; p < npf && left > 0; ++p, a += CS, b += kNr) {
      _mm_prefetch(row + off, _MM_HINT_T0);
      off += 64;
      if (off >= row_bytes) {
        off = 0;
        row += ld_bytes;
        --left;
      }
      fma_step<R, NV, RS>(a, b, acc);
    }
    pf->row = row;
    pf->offset = off;
    pf->rows_left = left;
  }
#pragma GCC unroll 2
  for (; p < kc; ++p, a += CS, b += kNr) fma_step<R, NV, RS>(a, b, acc);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __mmask16 last = lane_mask(nr - 16 * (NV - 1));
#pragma GCC unroll 14
  for (int r = 0; r < R; ++r) {
    float* cr = c + r * ldc;
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const __mmask16 m = v == NV - 1 ? last : static_cast<__mmask16>(0xFFFF);
      __m512 x = _mm512_mul_ps(va, acc[r][v]);
      if (mode == Update::Scale)
        x = _mm512_add_ps(x, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m, cr + 16 * v)));
      else if (mode == Update::Accumulate)
        x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, cr + 16 * v), x);
      _mm512_mask_storeu_ps(cr + 16 * v, m, x);
    }
  }
}

template <int R, int64_t RS, int64_t CS>
constexpr KernelFn pick(int nv) {
  return nv == 1 ? &kernel_avx512<R, 1, RS, CS> : &kernel_avx512<R, 2, RS, CS>;
}

template <int64_t RS, int64_t CS>
void kernel_dispatch(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                     float alpha, float beta, Update mode, PrefetchCursor* pf, int64_t npf) {
  static constexpr KernelFn table[kMr][2] = {
      {pick<1, RS, CS>(1), pick<1, RS, CS>(2)},   {pick<2, RS, CS>(1), pick<2, RS, CS>(2)},
      {pick<3, RS, CS>(1), pick<3, RS, CS>(2)},   {pick<4, RS, CS>(1), pick<4, RS, CS>(2)},
      {pick<5, RS, CS>(1), pick<5, RS, CS>(2)},   {pick<6, RS, CS>(1), pick<6, RS, CS>(2)},
      {pick<7, RS, CS>(1), pick<7, RS, CS>(2)},   {pick<8, RS, CS>(1), pick<8, RS, CS>(2)},
      {pick<9, RS, CS>(1), pick<9, RS, CS>(2)},   {pick<10, RS, CS>(1), pick<10, RS, CS>(2)},
      {pick<11, RS, CS>(1), pick<11, RS, CS>(2)}, {pick<12, RS, CS>(1), pick<12, RS, CS>(2)},
      {pick<13, RS, CS>(1), pick<13, RS, CS>(2)}, {pick<14, RS, CS>(1), pick<14, RS, CS>(2)},
  };
  table[mr - 1][nr > 16 ? 1 : 0](kc, a, b, c, ldc, mr, nr, alpha, beta, mode, pf, npf);
}

// Row-major A micro-panels for A read along K: each line is a contiguous copy.
HN_AVX512 void pack_a_rows_avx512(const float* src, int64_t ld, bool /*k_contiguous*/, int64_t lines, int64_t kc,
                                  float* dst) {
  const int64_t panels = (lines + kMr - 1) / kMr;
  for (int64_t l = 0; l < panels * kMr; ++l) {
    float* d = dst + l * kARowStride;
    if (l >= lines) {
      for (int64_t k = 0; k < kc; k += 16) _mm512_storeu_ps(d + k, _mm512_setzero_ps());
      continue;
    }
    const float* s = src + l * ld;
    int64_t k = 0;
    for (; k + 64 <= kc; k += 64) {
      const __m512 x0 = _mm512_loadu_ps(s + k), x1 = _mm512_loadu_ps(s + k + 16);
      const __m512 x2 = _mm512_loadu_ps(s + k + 32), x3 = _mm512_loadu_ps(s + k + 48);
      _mm512_storeu_ps(d + k, x0);
      _mm512_storeu_ps(d + k + 16, x1);
      _mm512_storeu_ps(d + k + 32, x2);
      _mm512_storeu_ps(d + k + 48, x3);
    }
    for (; k < kc; k += 16) _mm512_storeu_ps(d + k, _mm512_maskz_loadu_ps(lane_mask(kc - k), s + k));
  }
}

}  // namespace

const KernelSet& avx512_kernels() {
  static const KernelSet ks{Isa::Avx512,          kMr,
                            kNr,                   kKcMax,
                            1024,                  512,
                            &pack_avx512<kMr>,     &pack_avx512<kNr>,
                            &kernel_dispatch<1, kMr>, &pack_a_rows_avx512,
                            &kernel_dispatch<kARowStride, 1>, kARowStride};
  return ks;
}

}  // namespace detail
}  // namespace cpu
}  // namespace hn
