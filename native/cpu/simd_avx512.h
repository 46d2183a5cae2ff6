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
  using T = float;
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

// 8 double lanes per zmm register (the exact KL's float64 work).
struct Avx512Double {
  using T = double;
  using V = __m512d;
  using M = __mmask8;
  static constexpr int kWidth = 8;
  static constexpr int kRegisters = 32;

  static HN_SIMD_INLINE V zero() { return _mm512_setzero_pd(); }
  static HN_SIMD_INLINE V set1(double x) { return _mm512_set1_pd(x); }
  static HN_SIMD_INLINE V loadu(const double* p) { return _mm512_loadu_pd(p); }
  static HN_SIMD_INLINE void storeu(double* p, V v) { _mm512_storeu_pd(p, v); }
  // kWidth floats at p, widened to double.
  static HN_SIMD_INLINE V load_float(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
  static HN_SIMD_INLINE V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }    // a * b + c
  static HN_SIMD_INLINE V fnma(V a, V b, V c) { return _mm512_fnmadd_pd(a, b, c); }  // c - a * b
  static HN_SIMD_INLINE V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static HN_SIMD_INLINE V add(V a, V b) { return _mm512_add_pd(a, b); }
  static HN_SIMD_INLINE V sub(V a, V b) { return _mm512_sub_pd(a, b); }
  static HN_SIMD_INLINE V div(V a, V b) { return _mm512_div_pd(a, b); }
  static HN_SIMD_INLINE V abs(V a) { return _mm512_abs_pd(a); }
  static HN_SIMD_INLINE M gt(V a, V b) { return _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ); }  // false where NaN
  static HN_SIMD_INLINE V blend(M m, V if_true, V if_false) { return _mm512_mask_blend_pd(m, if_false, if_true); }
  static HN_SIMD_INLINE void opaque(V& v) { __asm__ volatile("" : "+v"(v)); }
  // The 8 lanes rounded to float, stored at p (8 floats).
  static HN_SIMD_INLINE void store_as_float(float* p, V v) { _mm256_storeu_ps(p, _mm512_cvtpd_ps(v)); }
  // In-register 8x8 transpose: r[i] holds row i on entry, column i on exit.
  static HN_SIMD_INLINE void transpose(V r[8]) {
    __m512d t[8];
    for (int i = 0; i < 4; ++i) {
      t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);      // rows 2i, 2i+1: columns 0,2,4,6 pairs
      t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);  // columns 1,3,5,7 pairs
    }
    // 128-bit lanes: gather pairs of rows into groups of four.
    __m512d u[8];
    for (int h = 0; h < 2; ++h) {
      u[4 * h + 0] = _mm512_shuffle_f64x2(t[h], t[2 + h], 0x88);
      u[4 * h + 1] = _mm512_shuffle_f64x2(t[h], t[2 + h], 0xdd);
      u[4 * h + 2] = _mm512_shuffle_f64x2(t[4 + h], t[6 + h], 0x88);
      u[4 * h + 3] = _mm512_shuffle_f64x2(t[4 + h], t[6 + h], 0xdd);
    }
    for (int h = 0; h < 2; ++h) {
      r[h + 0] = _mm512_shuffle_f64x2(u[4 * h + 0], u[4 * h + 2], 0x88);
      r[h + 4] = _mm512_shuffle_f64x2(u[4 * h + 0], u[4 * h + 2], 0xdd);
      r[h + 2] = _mm512_shuffle_f64x2(u[4 * h + 1], u[4 * h + 3], 0x88);
      r[h + 6] = _mm512_shuffle_f64x2(u[4 * h + 1], u[4 * h + 3], 0xdd);
    }
  }
};

}  // namespace simd
}  // namespace cpu
}  // namespace hn
