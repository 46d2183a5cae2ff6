// AVX2+FMA packing and 6x16 micro-kernel for SGEMM. Every function that touches AVX2 intrinsics carries
// the target attribute, because the project is built without -march flags; the driver only calls these
// after run-time detection.
#include <immintrin.h>

#include "gemm_kernels.h"

#define HN_AVX2 __attribute__((target("avx2,fma")))

namespace hn {
namespace cpu {
namespace detail {
namespace {

// 6 rows x 2 ymm: 12 accumulators + 2 B vectors + 1 broadcast = 15 of the 16 ymm registers, enough
// independent chains for two FMA pipes with 4-cycle latency.
constexpr int kMr = 6;
constexpr int kNr = 16;
constexpr int64_t kKcMax = 256;
// Row stride of row-major A micro-panels: >= kKcMax, and not a multiple of 1 KiB so the rows the kernel
// reads at each k fall in different L1 sets.
constexpr int64_t kARowStride = kKcMax + 16;

// In-register 8x8 transpose: r[i] holds row i on entry, column i on exit.
HN_AVX2 inline void transpose8(__m256 r[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    s[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    s[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    s[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    s[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x20);
    r[4 + j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x31);
  }
}

template <int W>
HN_AVX2 void pack_avx2(const float* src, int64_t ld, bool k_contiguous, int64_t lines, int64_t kc, float* dst) {
  static_assert(W == 6 || W == 16, "panel widths used by the AVX2 kernel");
  const int64_t panels = (lines + W - 1) / W;
  if (!k_contiguous) {
    // element(l, k) = src[k * ld + l]. Blocks of 8 k: each panel then gets 8 * W contiguous floats while the
    // 8 source rows are read front to back. (Walking all panels for one k would store with a stride of
    // kc * W floats, often a power of two that maps every store to the same cache set.)
    const int64_t full = lines / W;
    const int64_t rem = lines - full * W;
    for (int64_t k0 = 0; k0 < kc; k0 += 8) {
      const int64_t kn = kc - k0 < 8 ? kc - k0 : 8;
      const float* s = src + k0 * ld;
      float* d = dst + k0 * W;
      for (int64_t p = 0; p < full; ++p, s += W, d += kc * W) {
        for (int64_t k = 0; k < kn; ++k) {
          if (W == 16) {
            _mm256_store_ps(d + k * W, _mm256_loadu_ps(s + k * ld));
            _mm256_store_ps(d + k * W + 8, _mm256_loadu_ps(s + k * ld + 8));
          } else {
            _mm_storeu_ps(d + k * W, _mm_loadu_ps(s + k * ld));
            // Two floats, unaligned: the 64-bit integer moves are defined for any alignment.
            _mm_storel_epi64(reinterpret_cast<__m128i*>(d + k * W + 4),
                             _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s + k * ld + 4)));
          }
        }
      }
      if (rem > 0)  // last, partial panel: zero-filled past `lines`
        for (int64_t k = 0; k < kn; ++k)
          for (int l = 0; l < W; ++l) d[k * W + l] = l < rem ? s[k * ld + l] : 0.0f;
    }
    return;
  }
  // element(l, k) = src[l * ld + k]: 8 lines x 8 k per in-register transpose; edges element by element.
  for (int64_t p = 0; p < panels; ++p) {
    float* dp = dst + p * kc * W;
    const int64_t l0 = p * W;
    const int64_t valid = lines - l0 < W ? lines - l0 : W;
    int64_t k0 = 0;
    for (; k0 + 8 <= kc; k0 += 8) {
      for (int g = 0; g * 8 < W; ++g) {
        __m256 r[8];
        for (int i = 0; i < 8; ++i)
          r[i] = g * 8 + i < valid ? _mm256_loadu_ps(src + (l0 + g * 8 + i) * ld + k0) : _mm256_setzero_ps();
        transpose8(r);
        float* d = dp + k0 * W + g * 8;
        for (int t = 0; t < 8; ++t) {
          if (W == 16) {
            _mm256_store_ps(d + t * W, r[t]);
          } else {
            _mm_storeu_ps(d + t * W, _mm256_castps256_ps128(r[t]));
            _mm_storel_epi64(reinterpret_cast<__m128i*>(d + t * W + 4),
                             _mm_castps_si128(_mm256_extractf128_ps(r[t], 1)));
          }
        }
      }
    }
    for (; k0 < kc; ++k0)
      for (int l = 0; l < W; ++l) dp[k0 * W + l] = l < valid ? src[(l0 + l) * ld + k0] : 0.0f;
  }
}

// One k step: acc[r][v] += A(r, k) * B(k, 8v : 8v + 8).
template <int R, int NV, int64_t RS>
HN_AVX2 __attribute__((always_inline)) inline void fma_step(const float* a, const float* b, __m256 (&acc)[R][NV]) {
  const __m256 b0 = _mm256_load_ps(b);
  const __m256 b1 = NV > 1 ? _mm256_load_ps(b + 8) : b0;
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    const __m256 av = _mm256_broadcast_ss(a + r * RS);
    acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
    if (NV > 1) acc[r][NV - 1] = _mm256_fmadd_ps(av, b1, acc[r][NV - 1]);
  }
}

// A element (r, p) of the micro-panel is a[r * RS + p * CS]: RS = 1, CS = kMr for k-major panels;
// RS = kARowStride, CS = 1 for row-major ones. Both compile to constant offsets from one pointer.
template <int R, int NV, int64_t RS, int64_t CS>
HN_AVX2 void kernel_avx2(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int /*mr == R*/,
                         int nr, float alpha, float beta, Update mode, PrefetchCursor* pf, int64_t npf) {
  __m256 acc[R][NV];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 8 * NV - 1), _MM_HINT_T0);
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
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
#pragma GCC unroll 4
  for (; p < kc; ++p, a += CS, b += kNr) fma_step<R, NV, RS>(a, b, acc);
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (nr == 8 * NV) {
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      float* cr = c + r * ldc;
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) {
        __m256 x = _mm256_mul_ps(va, acc[r][v]);
        if (mode == Update::Scale)
          x = _mm256_add_ps(x, _mm256_mul_ps(vb, _mm256_loadu_ps(cr + 8 * v)));
        else if (mode == Update::Accumulate)
          x = _mm256_add_ps(_mm256_loadu_ps(cr + 8 * v), x);
        _mm256_storeu_ps(cr + 8 * v, x);
      }
    }
    return;
  }
  // Partial tile: the same operations element by element (identical rounding), only on valid columns.
  // The vector loops are unrolled so acc stays in registers in the K loop (a runtime-indexed acc would
  // be kept in memory throughout).
  alignas(32) float tmp[R][8 * NV];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) _mm256_store_ps(&tmp[r][8 * v], _mm256_mul_ps(va, acc[r][v]));
  for (int r = 0; r < R; ++r) {
    float* cr = c + r * ldc;
    for (int j = 0; j < nr; ++j) {
      if (mode == Update::Overwrite)
        cr[j] = tmp[r][j];
      else if (mode == Update::Scale)
        cr[j] = tmp[r][j] + beta * cr[j];
      else
        cr[j] = cr[j] + tmp[r][j];
    }
  }
}

template <int R, int64_t RS, int64_t CS>
constexpr KernelFn pick(int nv) {
  return nv == 1 ? &kernel_avx2<R, 1, RS, CS> : &kernel_avx2<R, 2, RS, CS>;
}

template <int64_t RS, int64_t CS>
void kernel_dispatch(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                     float alpha, float beta, Update mode, PrefetchCursor* pf, int64_t npf) {
  static constexpr KernelFn table[kMr][2] = {
      {pick<1, RS, CS>(1), pick<1, RS, CS>(2)}, {pick<2, RS, CS>(1), pick<2, RS, CS>(2)},
      {pick<3, RS, CS>(1), pick<3, RS, CS>(2)}, {pick<4, RS, CS>(1), pick<4, RS, CS>(2)},
      {pick<5, RS, CS>(1), pick<5, RS, CS>(2)}, {pick<6, RS, CS>(1), pick<6, RS, CS>(2)},
  };
  table[mr - 1][nr > 8 ? 1 : 0](kc, a, b, c, ldc, mr, nr, alpha, beta, mode, pf, npf);
}

// Row-major A micro-panels for A read along K: each line is a contiguous copy.
HN_AVX2 void pack_a_rows_avx2(const float* src, int64_t ld, bool /*k_contiguous*/, int64_t lines, int64_t kc,
                              float* dst) {
  const int64_t panels = (lines + kMr - 1) / kMr;
  for (int64_t l = 0; l < panels * kMr; ++l) {
    float* d = dst + l * kARowStride;
    if (l >= lines) {
      for (int64_t k = 0; k < kc; ++k) d[k] = 0.0f;
      continue;
    }
    const float* s = src + l * ld;
    int64_t k = 0;
    for (; k + 32 <= kc; k += 32) {
      const __m256 x0 = _mm256_loadu_ps(s + k), x1 = _mm256_loadu_ps(s + k + 8);
      const __m256 x2 = _mm256_loadu_ps(s + k + 16), x3 = _mm256_loadu_ps(s + k + 24);
      _mm256_storeu_ps(d + k, x0);
      _mm256_storeu_ps(d + k + 8, x1);
      _mm256_storeu_ps(d + k + 16, x2);
      _mm256_storeu_ps(d + k + 24, x3);
    }
    for (; k < kc; ++k) d[k] = s[k];
  }
}

}  // namespace

const KernelSet& avx2_kernels() {
  static const KernelSet ks{Isa::Avx2,          kMr,
                            kNr,                 kKcMax,
                            1024,                512,
                            &pack_avx2<kMr>,     &pack_avx2<kNr>,
                            &kernel_dispatch<1, kMr>, &pack_a_rows_avx2,
                            &kernel_dispatch<kARowStride, 1>, kARowStride};
  return ks;
}

}  // namespace detail
}  // namespace cpu
}  // namespace hn
