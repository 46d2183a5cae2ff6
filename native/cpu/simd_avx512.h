// AVX-512 vector traits: 16 float lanes per zmm register. Include only between
// HN_TARGET_BEGIN(HN_AVX512_TARGET) and HN_TARGET_END (simd_target.h).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "simd_target.h"


namespace hn {
namespace cpu {
namespace simd {

struct Avx512Float {
  using V = __m512;
  static constexpr int kWidth = 16;
  static constexpr int kRegisters = 32;

  static HN_SIMD_INLINE __mmask16 mask(int64_t n) {
    return n >= 16 ? static_cast<__mmask16>(0xFFFF) : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1u);
  }
  static HN_SIMD_INLINE V zero() { return _mm512_setzero_ps(); }
  static HN_SIMD_INLINE V set1(float x) { return _mm512_set1_ps(x); }
  static HN_SIMD_INLINE V broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static HN_SIMD_INLINE V load(const float* p) { return _mm512_load_ps(p); }
  static HN_SIMD_INLINE V loadu(const float* p) { return _mm512_loadu_ps(p); }
  static HN_SIMD_INLINE void store(float* p, V v) { _mm512_store_ps(p, v); }
  static HN_SIMD_INLINE void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
  // Lanes [0, n) of p; the others are zero and never read (no fault past the end).
  static HN_SIMD_INLINE V load_partial(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static HN_SIMD_INLINE void store_partial(float* p, V v, int64_t n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static HN_SIMD_INLINE V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }  // a * b + c, one rounding
  static HN_SIMD_INLINE V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static HN_SIMD_INLINE V add(V a, V b) { return _mm512_add_ps(a, b); }
  // Makes the compiler forget what it knows about v (keeps timed loops from being collapsed).
  static HN_SIMD_INLINE void opaque(V& v) { __asm__ volatile("" : "+v"(v)); }
  static HN_SIMD_INLINE void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }

  // In-register 16x16 transpose: r[i] holds row i on entry, column i on exit.
  static HN_SIMD_INLINE void transpose(V r[16]) {
    V t[16];
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
      t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);           // cols j, j+8 of rows 0-7
      t[4 + j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xdd);       // cols j+4, j+12 of rows 0-7
      t[8 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);  // cols j, j+8 of rows 8-15
      t[12 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xdd);
    }
    for (int j = 0; j < 8; ++j) {
      r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
      r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
    }
  }
};

}  // namespace simd
}  // namespace cpu
}  // namespace hn
