// Scalar "vector" traits (one lane): the portable path, and the reference the vector paths are tested
// against. fma is a multiply then an add (two roundings), as the portable kernels have always computed.
#pragma once

#include <cstdint>

#include "simd_target.h"


namespace hn {
namespace cpu {
namespace simd {

struct ScalarFloat {
  using T = float;
  using V = float;
  static constexpr int kWidth = 1;
  static constexpr int kRegisters = 16;

  static HN_SIMD_INLINE V zero() { return 0.0f; }
  static HN_SIMD_INLINE V set1(float x) { return x; }
  static HN_SIMD_INLINE V broadcast(const float* p) { return *p; }
  static HN_SIMD_INLINE V load(const float* p) { return *p; }
  static HN_SIMD_INLINE V loadu(const float* p) { return *p; }
  static HN_SIMD_INLINE void store(float* p, V v) { *p = v; }
  static HN_SIMD_INLINE void storeu(float* p, V v) { *p = v; }
  static HN_SIMD_INLINE V load_partial(const float* p, int64_t n) { return n > 0 ? *p : 0.0f; }
  static HN_SIMD_INLINE void store_partial(float* p, V v, int64_t n) {
    if (n > 0) *p = v;
  }
  static HN_SIMD_INLINE V fma(V a, V b, V c) { return a * b + c; }
  static HN_SIMD_INLINE V mul(V a, V b) { return a * b; }
  static HN_SIMD_INLINE V add(V a, V b) { return a + b; }
  // Makes the compiler forget what it knows about v (keeps timed loops from being collapsed).
  static HN_SIMD_INLINE void opaque(V& v) { __asm__ volatile("" : "+m"(v)); }
  static HN_SIMD_INLINE void prefetch(const void*) {}
  static HN_SIMD_INLINE void transpose(V*) {}
};

// One double lane. fma and fnma are a multiply then an add (two roundings), as on the scalar float path.
struct ScalarDouble {
  using T = double;
  using V = double;
  using M = bool;
  static constexpr int kWidth = 1;
  static constexpr int kRegisters = 16;

  static HN_SIMD_INLINE V zero() { return 0.0; }
  static HN_SIMD_INLINE V set1(double x) { return x; }
  static HN_SIMD_INLINE V loadu(const double* p) { return *p; }
  static HN_SIMD_INLINE void storeu(double* p, V v) { *p = v; }
  static HN_SIMD_INLINE V load_float(const float* p) { return static_cast<double>(*p); }
  static HN_SIMD_INLINE V fma(V a, V b, V c) { return a * b + c; }
  static HN_SIMD_INLINE V fnma(V a, V b, V c) { return c - a * b; }
  static HN_SIMD_INLINE V mul(V a, V b) { return a * b; }
  static HN_SIMD_INLINE V add(V a, V b) { return a + b; }
  static HN_SIMD_INLINE V sub(V a, V b) { return a - b; }
  static HN_SIMD_INLINE V div(V a, V b) { return a / b; }
  static HN_SIMD_INLINE V abs(V a) { return __builtin_fabs(a); }
  static HN_SIMD_INLINE M gt(V a, V b) { return a > b; }
  static HN_SIMD_INLINE V blend(M m, V if_true, V if_false) { return m ? if_true : if_false; }
  static HN_SIMD_INLINE void opaque(V& v) { __asm__ volatile("" : "+m"(v)); }
  static HN_SIMD_INLINE void store_as_float(float* p, V v) { *p = static_cast<float>(v); }
  static HN_SIMD_INLINE void transpose(V*) {}
};

// The scalar path is portable C++ that the compiler vectorises for the architecture's baseline (SSE2 on
// x86-64, NEON on AArch64) where it can, so its peak is probed with 16-byte generic vectors of that baseline
// (multiply then add, as its kernels compute).
template <class Elem>
struct Baseline16 {
  using T = Elem;
  typedef Elem V __attribute__((vector_size(16)));
  static constexpr int kWidth = 16 / sizeof(Elem);
  static HN_SIMD_INLINE V set1(Elem x) { return V{} + x; }
  static HN_SIMD_INLINE V fma(V a, V b, V c) { return a * b + c; }
  static HN_SIMD_INLINE V add(V a, V b) { return a + b; }
  static HN_SIMD_INLINE void storeu(Elem* p, V v) { __builtin_memcpy(p, &v, sizeof v); }
  static HN_SIMD_INLINE void opaque(V& v) { __asm__ volatile("" : "+m"(v)); }
};

}  // namespace simd
}  // namespace cpu
}  // namespace hn
