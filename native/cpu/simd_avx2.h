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

}  // namespace simd
}  // namespace cpu
}  // namespace hn
