// AVX2 + FMA vector traits: 8 float lanes per ymm register. Include only between
// HN_TARGET_BEGIN(HN_AVX2_TARGET) and HN_TARGET_END (simd_target.h).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "simd_target.h"


namespace hn {
namespace cpu {
namespace simd {

struct Avx2Float {
  using T = float;
  using V = __m256;
  static constexpr int kWidth = 8;
  static constexpr int kRegisters = 16;

  // Lane i enabled (sign bit set) for i < n.
  static HN_SIMD_INLINE __m256i mask(int64_t n) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n < 0 ? 0 : n > 8 ? 8 : n)), lanes);
  }
  static HN_SIMD_INLINE V zero() { return _mm256_setzero_ps(); }
  static HN_SIMD_INLINE V set1(float x) { return _mm256_set1_ps(x); }
  static HN_SIMD_INLINE V broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static HN_SIMD_INLINE V load(const float* p) { return _mm256_load_ps(p); }
  static HN_SIMD_INLINE V loadu(const float* p) { return _mm256_loadu_ps(p); }
  static HN_SIMD_INLINE void store(float* p, V v) { _mm256_store_ps(p, v); }
  static HN_SIMD_INLINE void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
  // Lanes [0, n) of p; the others are zero and never read (masked loads do not fault).
  static HN_SIMD_INLINE V load_partial(const float* p, int64_t n) { return _mm256_maskload_ps(p, mask(n)); }
  static HN_SIMD_INLINE void store_partial(float* p, V v, int64_t n) { _mm256_maskstore_ps(p, mask(n), v); }
  static HN_SIMD_INLINE V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }  // a * b + c, one rounding
  static HN_SIMD_INLINE V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static HN_SIMD_INLINE V add(V a, V b) { return _mm256_add_ps(a, b); }
  // Makes the compiler forget what it knows about v (keeps timed loops from being collapsed).
  static HN_SIMD_INLINE void opaque(V& v) { __asm__ volatile("" : "+x"(v)); }
  static HN_SIMD_INLINE void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }

  // In-register 8x8 transpose: r[i] holds row i on entry, column i on exit.
  static HN_SIMD_INLINE void transpose(V r[8]) {
    V t[8], s[8];
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
};

// 4 double lanes per ymm register (the exact KL's float64 work).
struct Avx2Double {
  using T = double;
  using V = __m256d;
  using M = __m256d;  // a lane is true when its sign bit is set
  static constexpr int kWidth = 4;
  static constexpr int kRegisters = 16;

  static HN_SIMD_INLINE V zero() { return _mm256_setzero_pd(); }
  static HN_SIMD_INLINE V set1(double x) { return _mm256_set1_pd(x); }
  static HN_SIMD_INLINE V loadu(const double* p) { return _mm256_loadu_pd(p); }
  static HN_SIMD_INLINE void storeu(double* p, V v) { _mm256_storeu_pd(p, v); }
  // kWidth floats at p, widened to double.
  static HN_SIMD_INLINE V load_float(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
  static HN_SIMD_INLINE V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }    // a * b + c
  static HN_SIMD_INLINE V fnma(V a, V b, V c) { return _mm256_fnmadd_pd(a, b, c); }  // c - a * b
  static HN_SIMD_INLINE V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static HN_SIMD_INLINE V add(V a, V b) { return _mm256_add_pd(a, b); }
  static HN_SIMD_INLINE V sub(V a, V b) { return _mm256_sub_pd(a, b); }
  static HN_SIMD_INLINE V div(V a, V b) { return _mm256_div_pd(a, b); }
  static HN_SIMD_INLINE V abs(V a) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), a); }
  static HN_SIMD_INLINE M gt(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_GT_OQ); }  // false where either is NaN
  static HN_SIMD_INLINE V blend(M m, V if_true, V if_false) { return _mm256_blendv_pd(if_false, if_true, m); }
  static HN_SIMD_INLINE void opaque(V& v) { __asm__ volatile("" : "+x"(v)); }
  // The 4 lanes rounded to float, stored at p (4 floats).
  static HN_SIMD_INLINE void store_as_float(float* p, V v) { _mm_storeu_ps(p, _mm256_cvtpd_ps(v)); }
  // In-register 4x4 transpose: r[i] holds row i on entry, column i on exit.
  static HN_SIMD_INLINE void transpose(V r[4]) {
    const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
  }
};

}  // namespace simd
}  // namespace cpu
}  // namespace hn
