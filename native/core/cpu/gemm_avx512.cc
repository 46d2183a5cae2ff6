// AVX-512 packing and 14x32 micro-kernel for SGEMM. Every function that touches AVX-512 intrinsics carries
// the target attribute, because the project is built without -march flags; the driver only calls these
// after run-time detection.
#include <immintrin.h>
#include <cstdlib>

#include "gemm_kernels.h"

#define HN_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))

namespace hn {
namespace cpu {
namespace detail {
namespace {

// 14 rows x 2 zmm: 28 accumulators + 2 B vectors + 1 broadcast = 31 of the 32 zmm registers. Each
// broadcast A value feeds two FMAs, and 28 independent chains hide the FMA latency.
constexpr int kMr = 14;
constexpr int kNr = 32;

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
  // element(l, k) = src[l * ld + k]: stage 16 lines x 64 k in a small buffer, reading each line's 256
  // bytes front to back, then transpose 16 x 16 blocks from it in registers. Loading 16 lines x 64 bytes
  // straight from the source is about 2x slower when ld is a large power of two (all 16 lines fall in one
  // cache set, and the hardware prefetcher's lines are evicted before use).
  constexpr int kChunk = 64;
  alignas(64) float stage[16][kChunk + 16];  // +16: rows land in different cache sets
  for (int64_t p = 0; p < panels; ++p) {
    float* dp = dst + p * kc * W;
    const int64_t valid_p = lines - p * W < W ? lines - p * W : W;
    for (int g = 0; g * 16 < W; ++g) {
      const int64_t gvalid = valid_p - g * 16;
      const float* sg = src + (p * W + g * 16) * ld;
      for (int64_t k0 = 0; k0 < kc; k0 += kChunk) {
        const int64_t kn = kc - k0 < kChunk ? kc - k0 : kChunk;
        for (int i = 0; i < 16; ++i) {
          const float* s = sg + i * ld + k0;
#pragma GCC unroll 4
          for (int q = 0; q < kChunk / 16; ++q)
            _mm512_store_ps(&stage[i][16 * q],
                            i < gvalid ? _mm512_maskz_loadu_ps(lane_mask(kn - 16 * q), s + 16 * q) : _mm512_setzero_ps());
        }
        for (int64_t kb = 0; kb < kn; kb += 16) {
          __m512 r[16];
#pragma GCC unroll 16
          for (int i = 0; i < 16; ++i) r[i] = _mm512_load_ps(&stage[i][kb]);
          transpose16(r);
          float* d = dp + (k0 + kb) * W + g * 16;
          if (kn - kb >= 16) {
#pragma GCC unroll 16
            for (int t = 0; t < 16; ++t) _mm512_mask_storeu_ps(d + t * W, store_mask, r[t]);
          } else {
            for (int t = 0; t < kn - kb; ++t) _mm512_mask_storeu_ps(d + t * W, store_mask, r[t]);
          }
        }
      }
    }
  }
}

template <int R, int NV>
HN_AVX512 void kernel_avx512(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int /*mr == R*/,
                             int nr, float alpha, float beta, Update mode) {
  __m512 acc[R][NV];
#pragma GCC unroll 14
  for (int r = 0; r < R; ++r) {
    // Touch the C tile now so its lines arrive while the K loop runs.
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 16 * NV - 1), _MM_HINT_T0);
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_load_ps(b);
    const __m512 b1 = NV > 1 ? _mm512_load_ps(b + 16) : b0;
#pragma GCC unroll 14
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(a[r]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      if (NV > 1) acc[r][NV - 1] = _mm512_fmadd_ps(av, b1, acc[r][NV - 1]);
    }
    a += kMr;
    b += kNr;
  }
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

template <int R>
constexpr KernelFn pick(int nv) {
  return nv == 1 ? &kernel_avx512<R, 1> : &kernel_avx512<R, 2>;
}

void kernel_dispatch(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                     float alpha, float beta, Update mode) {
  static constexpr KernelFn table[kMr][2] = {
      {pick<1>(1), pick<1>(2)},   {pick<2>(1), pick<2>(2)},   {pick<3>(1), pick<3>(2)},
      {pick<4>(1), pick<4>(2)},   {pick<5>(1), pick<5>(2)},   {pick<6>(1), pick<6>(2)},
      {pick<7>(1), pick<7>(2)},   {pick<8>(1), pick<8>(2)},   {pick<9>(1), pick<9>(2)},
      {pick<10>(1), pick<10>(2)}, {pick<11>(1), pick<11>(2)}, {pick<12>(1), pick<12>(2)},
      {pick<13>(1), pick<13>(2)}, {pick<14>(1), pick<14>(2)},
  };
  table[mr - 1][nr > 16 ? 1 : 0](kc, a, b, c, ldc, mr, nr, alpha, beta, mode);
}

}  // namespace

const KernelSet& avx512_kernels() {
  static const KernelSet ks{Isa::Avx512, kMr, kNr, getenv("KC")?atol(getenv("KC")):256, getenv("MB")?atol(getenv("MB")):1024, getenv("NB")?atol(getenv("NB")):512, &pack_avx512<kMr>, &pack_avx512<kNr>,
                            &kernel_dispatch};
  return ks;
}

}  // namespace detail
}  // namespace cpu
}  // namespace hn
