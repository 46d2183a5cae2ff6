// Counter-based normal noise: Philox4x32-10 (Salmon et al., SC'11) and a Box–Muller transform built only
// from correctly rounded IEEE double operations, so the CPU and the CUDA backends produce bit-identical
// noise for the same (seed, sample, element), whatever the thread count.
//
// Layout: key = seed (64 bits); counter = (element / 4, sample lo, sample hi, stream). One Philox block
// gives four uniforms u0..u3 and Box–Muller turns (u0,u1) and (u2,u3) into four normals, elements 4k..4k+3.
#pragma once

#include "common.h"

namespace hn {
namespace philox {

// The streams (counter word 3) that keep the library's uses of one seed apart. The public API names the
// first four (NoiseStream in src/noise.ts, the same values).
enum Stream : uint32_t {
  kSampleStream = 0,               // sampling noise
  kTrainStream = 0x5452,           // "TR": training noise
  kConditionStream = 0x434f,       // "CO": training conditions
  kBestOfNStream = 0x424f,         // "BO": best-of-N candidates
  kInitStream = 0x48494e49,        // "INIH": parameter initialisation
};

struct U4 {
  uint32_t v[4];
};

HN_HD uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

HN_HD U4 philox4x32_10(U4 ctr, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo(0xD2511F53u, ctr.v[0], &hi0);
    const uint32_t lo1 = mulhilo(0xCD9E8D57u, ctr.v[2], &hi1);
    U4 next;
    next.v[0] = hi1 ^ ctr.v[1] ^ k0;
    next.v[1] = lo1;
    next.v[2] = hi0 ^ ctr.v[3] ^ k1;
    next.v[3] = lo0;
    ctr = next;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return ctr;
}

// Exactly rounded basic operations. nvcc would otherwise contract a*b+c into an FMA on the device; the
// host side is compiled with -ffp-contract=off.
#if defined(__CUDA_ARCH__)
HN_HD double mul(double a, double b) { return __dmul_rn(a, b); }
HN_HD double add(double a, double b) { return __dadd_rn(a, b); }
HN_HD double sub(double a, double b) { return __dsub_rn(a, b); }
HN_HD double div(double a, double b) { return __ddiv_rn(a, b); }
HN_HD double sqrt_rn(double a) { return __dsqrt_rn(a); }
#else
HN_HD double mul(double a, double b) { return a * b; }
HN_HD double add(double a, double b) { return a + b; }
HN_HD double sub(double a, double b) { return a - b; }
HN_HD double div(double a, double b) { return a / b; }
HN_HD double sqrt_rn(double a) { return __builtin_sqrt(a); }
#endif

#if defined(__CUDA_ARCH__)
HN_HD uint64_t bits_of(double x) { return static_cast<uint64_t>(__double_as_longlong(x)); }
HN_HD double double_of(uint64_t b) { return __longlong_as_double(static_cast<long long>(b)); }
#else
HN_HD uint64_t bits_of(double x) {
  uint64_t b;
  __builtin_memcpy(&b, &x, sizeof b);
  return b;
}
HN_HD double double_of(uint64_t b) {
  double x;
  __builtin_memcpy(&x, &b, sizeof x);
  return x;
}
#endif

// Natural log for x in [2^-32, 1], accurate to a few ulp and reproducible bit for bit.
HN_HD double log_det(double x) {
  // x = m * 2^e with m in [sqrt(1/2), sqrt(2)); log x = e ln2 + 2 atanh((m-1)/(m+1)). The exponent is read
  // from the bits (exact, branch-free, and no frexp, whose device and host versions we do not control).
  const uint64_t b = bits_of(x);
  int e = static_cast<int>((b >> 52) & 0x7ff) - 1023;
  double m = double_of((b & 0x000fffffffffffffull) | 0x3ff0000000000000ull);  // in [1, 2)
  const bool high = m >= 1.41421356237309504880;
  m = high ? mul(m, 0.5) : m;  // exact
  e += high ? 1 : 0;
  const double s = div(sub(m, 1.0), add(m, 1.0));
  const double s2 = mul(s, s);
  // 2 * (s + s^3/3 + ... + s^23/23), Horner from the highest term; |s| <= 0.1716 so s^25 < 1e-19.
  double poly = 1.0 / 23.0;
  poly = add(mul(poly, s2), 1.0 / 21.0);
  poly = add(mul(poly, s2), 1.0 / 19.0);
  poly = add(mul(poly, s2), 1.0 / 17.0);
  poly = add(mul(poly, s2), 1.0 / 15.0);
  poly = add(mul(poly, s2), 1.0 / 13.0);
  poly = add(mul(poly, s2), 1.0 / 11.0);
  poly = add(mul(poly, s2), 1.0 / 9.0);
  poly = add(mul(poly, s2), 1.0 / 7.0);
  poly = add(mul(poly, s2), 1.0 / 5.0);
  poly = add(mul(poly, s2), 1.0 / 3.0);
  poly = add(mul(poly, s2), 1.0);
  const double log_m = mul(mul(2.0, s), poly);
  return add(mul(static_cast<double>(e), 0.69314718055994530942), log_m);
}

// sin and cos of 2*pi*u for u in [0, 1), reproducible bit for bit.
HN_HD void sincos_2pi(double u, double* s_out, double* c_out) {
  const double t = mul(u, 4.0);  // exact
  int q = static_cast<int>(t);   // quadrant 0..3
  const double f = sub(t, static_cast<double>(q));  // exact, in [0, 1)
  const double x = mul(f, 1.57079632679489661923);  // angle in [0, pi/2)
  const double x2 = mul(x, x);
  // Taylor series to x^23 (x^25/25! < 1e-20 for x < pi/2).
  double sp = -1.0 / 51090942171709440000.0;               // -1/21!
  sp = add(mul(sp, x2), 1.0 / 121645100408832000.0);       // 1/19!
  sp = add(mul(sp, x2), -1.0 / 355687428096000.0);         // -1/17!
  sp = add(mul(sp, x2), 1.0 / 1307674368000.0);            // 1/15!
  sp = add(mul(sp, x2), -1.0 / 6227020800.0);              // -1/13!
  sp = add(mul(sp, x2), 1.0 / 39916800.0);                 // 1/11!
  sp = add(mul(sp, x2), -1.0 / 362880.0);                  // -1/9!
  sp = add(mul(sp, x2), 1.0 / 5040.0);                     // 1/7!
  sp = add(mul(sp, x2), -1.0 / 120.0);                     // -1/5!
  sp = add(mul(sp, x2), 1.0 / 6.0);                        // 1/3!
  const double sin_x = sub(x, mul(mul(x, x2), sp));
  double cp = 1.0 / 2432902008176640000.0;                 // 1/20!
  cp = add(mul(cp, x2), -1.0 / 6402373705728000.0);        // -1/18!
  cp = add(mul(cp, x2), 1.0 / 20922789888000.0);           // 1/16!
  cp = add(mul(cp, x2), -1.0 / 87178291200.0);             // -1/14!
  cp = add(mul(cp, x2), 1.0 / 479001600.0);                // 1/12!
  cp = add(mul(cp, x2), -1.0 / 3628800.0);                 // -1/10!
  cp = add(mul(cp, x2), 1.0 / 40320.0);                    // 1/8!
  cp = add(mul(cp, x2), -1.0 / 720.0);                     // -1/6!
  cp = add(mul(cp, x2), 1.0 / 24.0);                       // 1/4!
  cp = add(mul(cp, x2), -1.0 / 2.0);                       // -1/2!
  const double cos_x = add(1.0, mul(x2, cp));
  // Rotate by the quadrant with selects (no switch: the CPU loop over blocks stays vectorisable).
  const bool odd = (q & 1) != 0;
  const double s0 = odd ? cos_x : sin_x;
  const double c0 = odd ? sin_x : cos_x;
  *s_out = (q & 2) != 0 ? -s0 : s0;
  *c_out = ((q + 1) & 2) != 0 ? -c0 : c0;
}

// Uniform in (0, 1]: never 0, so the log is finite.
HN_HD double uniform_open0(uint32_t x) { return mul(add(static_cast<double>(x), 1.0), 2.3283064365386962890625e-10); }
// Uniform in [0, 1).
HN_HD double uniform_closed0(uint32_t x) { return mul(static_cast<double>(x), 2.3283064365386962890625e-10); }

// Four standard normals for elements 4*block .. 4*block+3 of `sample` under `seed` and `stream`.
HN_HD void normal4(uint64_t seed, uint64_t sample, uint32_t block, uint32_t stream, float out[4]) {
  U4 ctr;
  ctr.v[0] = block;
  ctr.v[1] = static_cast<uint32_t>(sample);
  ctr.v[2] = static_cast<uint32_t>(sample >> 32);
  ctr.v[3] = stream;
  const U4 r = philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  for (int pair = 0; pair < 2; ++pair) {
    const double u1 = uniform_open0(r.v[2 * pair]);
    const double u2 = uniform_closed0(r.v[2 * pair + 1]);
    const double radius = sqrt_rn(mul(-2.0, log_det(u1)));
    double s, c;
    sincos_2pi(u2, &s, &c);
    out[2 * pair] = static_cast<float>(mul(radius, c));
    out[2 * pair + 1] = static_cast<float>(mul(radius, s));
  }
}

// Four raw uniforms in [0, 1) (as doubles) for general-purpose seeded randomness (conditions, shuffles).
HN_HD void uniform4(uint64_t seed, uint64_t sample, uint32_t block, uint32_t stream, double out[4]) {
  U4 ctr;
  ctr.v[0] = block;
  ctr.v[1] = static_cast<uint32_t>(sample);
  ctr.v[2] = static_cast<uint32_t>(sample >> 32);
  ctr.v[3] = stream;
  const U4 r = philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  for (int i = 0; i < 4; ++i) out[i] = uniform_closed0(r.v[i]);
}

// Uniforms for a host array of n rows x dim (row i is stream sample first_sample + i), as the noise is laid
// out: for the seeded choices of the public API, which need no backend.
inline void uniform_rows(double* out, int64_t n, int64_t dim, uint64_t seed, uint64_t first_sample, uint32_t stream) {
  const int64_t blocks_per_row = (dim + 3) / 4;
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t blk = 0; blk < blocks_per_row; ++blk) {
      double v[4];
      uniform4(seed, first_sample + static_cast<uint64_t>(row), static_cast<uint32_t>(blk), stream, v);
      const int64_t col = blk * 4;
      for (int64_t j = 0; j < 4 && col + j < dim; ++j) out[row * dim + col + j] = v[j];
    }
  }
}

}  // namespace philox
}  // namespace hn
