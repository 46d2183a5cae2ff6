// NEON (AArch64 Advanced SIMD) vector traits: 4 float or 2 double lanes per 128-bit register, 32 registers.
// NEON is part of every AArch64 CPU, so these need no target region; isa_neon.cc is built on AArch64 only.
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "simd_target.h"

namespace hn {
namespace cpu {
namespace simd {

struct NeonFloat {
  using T = float;
  using V = float32x4_t;
  static constexpr int kWidth = 4;
  static constexpr int kRegisters = 32;

  static HN_SIMD_INLINE V zero() { return vdupq_n_f32(0.0f); }
  static HN_SIMD_INLINE V set1(float x) { return vdupq_n_f32(x); }
  static HN_SIMD_INLINE V broadcast(const float* p) { return vld1q_dup_f32(p); }
  static HN_SIMD_INLINE V load(const float* p) { return vld1q_f32(p); }
  static HN_SIMD_INLINE V loadu(const float* p) { return vld1q_f32(p); }
  static HN_SIMD_INLINE void store(float* p, V v) { vst1q_f32(p, v); }
  static HN_SIMD_INLINE void storeu(float* p, V v) { vst1q_f32(p, v); }
  // Lanes [0, n) of p; the others are zero and never read.
  static HN_SIMD_INLINE V load_partial(const float* p, int64_t n) {
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (n > 0) std::memcpy(t, p, static_cast<size_t>(n < 4 ? n : 4) * sizeof(float));
    return vld1q_f32(t);
  }
  static HN_SIMD_INLINE void store_partial(float* p, V v, int64_t n) {
    float t[4];
    vst1q_f32(t, v);
    if (n > 0) std::memcpy(p, t, static_cast<size_t>(n < 4 ? n : 4) * sizeof(float));
  }
  static HN_SIMD_INLINE V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }  // a * b + c, one rounding
  static HN_SIMD_INLINE V mul(V a, V b) { return vmulq_f32(a, b); }
  static HN_SIMD_INLINE V add(V a, V b) { return vaddq_f32(a, b); }
  static HN_SIMD_INLINE void opaque(V& v) { __asm__ volatile("" : "+w"(v)); }
  static HN_SIMD_INLINE void prefetch(const void* p) { __builtin_prefetch(p, 0, 3); }

  // In-register 4x4 transpose: r[i] holds row i on entry, column i on exit.
  static HN_SIMD_INLINE void transpose(V r[4]) {
    const float32x4_t t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);
    const float32x4_t t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);
    r[0] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    r[1] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
    r[2] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    r[3] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
  }
};

struct NeonDouble {
  using T = double;
  using V = float64x2_t;
  using M = uint64x2_t;
  static constexpr int kWidth = 2;
  static constexpr int kRegisters = 32;

  static HN_SIMD_INLINE V zero() { return vdupq_n_f64(0.0); }
  static HN_SIMD_INLINE V set1(double x) { return vdupq_n_f64(x); }
  static HN_SIMD_INLINE V loadu(const double* p) { return vld1q_f64(p); }
  static HN_SIMD_INLINE void storeu(double* p, V v) { vst1q_f64(p, v); }
  // kWidth floats at p, widened to double.
  static HN_SIMD_INLINE V load_float(const float* p) { return vcvt_f64_f32(vld1_f32(p)); }
  static HN_SIMD_INLINE V fma(V a, V b, V c) { return vfmaq_f64(c, a, b); }   // a * b + c
  static HN_SIMD_INLINE V fnma(V a, V b, V c) { return vfmsq_f64(c, a, b); }  // c - a * b
  static HN_SIMD_INLINE V mul(V a, V b) { return vmulq_f64(a, b); }
  static HN_SIMD_INLINE V add(V a, V b) { return vaddq_f64(a, b); }
  static HN_SIMD_INLINE V sub(V a, V b) { return vsubq_f64(a, b); }
  static HN_SIMD_INLINE V div(V a, V b) { return vdivq_f64(a, b); }
  static HN_SIMD_INLINE V abs(V a) { return vabsq_f64(a); }
  static HN_SIMD_INLINE M gt(V a, V b) { return vcgtq_f64(a, b); }  // false where either is NaN
  static HN_SIMD_INLINE V blend(M m, V if_true, V if_false) { return vbslq_f64(m, if_true, if_false); }
  static HN_SIMD_INLINE void opaque(V& v) { __asm__ volatile("" : "+w"(v)); }
  static HN_SIMD_INLINE void store_as_float(float* p, V v) { vst1_f32(p, vcvt_f32_f64(v)); }
  // In-register 2x2 transpose.
  static HN_SIMD_INLINE void transpose(V r[2]) {
    const V a = vtrn1q_f64(r[0], r[1]), b = vtrn2q_f64(r[0], r[1]);
    r[0] = a;
    r[1] = b;
  }
};

}  // namespace simd
}  // namespace cpu
}  // namespace hn
