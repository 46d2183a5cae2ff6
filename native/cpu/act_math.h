// Activations and their first two derivatives from IEEE arithmetic only (a branch-free exp and erf, no libm
// transcendental), so that the CPU paths give the same values on every ISA and every architecture (libm's
// erff and tanhf differ between platforms in the last bit). Softplus itself keeps libm's log1p (rare).
// Everything is in an anonymous namespace: each file that includes this header (the per-ISA kernel files,
// inside their target region, and kl.cc) compiles its own copy for its own instruction set.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/activations.h"

namespace hn {
namespace cpu {
namespace {

inline float bits_to_float(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

// exp(x) without branches: x = k ln2 + r, |r| <= ln2/2, exp(r) by its Taylor polynomial to r^6
// (relative error < 2e-7 on that interval), 2^k from the exponent bits. Clamped to the float range; NaN in,
// NaN out.
inline float exp_poly(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float k = __builtin_rintf(x * 1.44269504088896341f);
  const float r = (x - k * 0.693145751953125f) - k * 1.42860682030941723e-6f;  // ln2 split in two
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // NaN passes through p; k must not reach the integer conversion (undefined for NaN).
  const float kc = k == k ? k : 0.0f;
  return p * bits_to_float(static_cast<uint32_t>(static_cast<int32_t>(kc) + 127) << 23);
}

inline float sigmoid_v(float z) { return 1.0f / (1.0f + exp_poly(-z)); }

// tanh from exp, in the form that keeps relative accuracy for large |z| (absolute ~1e-7 near 0).
inline float tanh_v(float z) {
  const float e = exp_poly(-2.0f * (z < 0.0f ? -z : z));
  const float t = (1.0f - e) / (1.0f + e);
  return z < 0.0f ? -t : t;
}

// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), with the branch-free exp.
inline float erf_v(float x) {
  const float ax = x < 0.0f ? -x : x;
  const float t = 1.0f / (1.0f + 0.3275911f * ax);
  const float y =
      1.0f - ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t *
                 exp_poly(-ax * ax);
  return x < 0.0f ? -y : y;
}

inline float apply_v(Activation a, float z) {
  switch (a) {
    case Activation::Identity: return z;
    case Activation::Relu: return z > 0.0f ? z : 0.0f;
    case Activation::Silu: return z * sigmoid_v(z);
    case Activation::Gelu: return 0.5f * z * (1.0f + erf_v(z * act::kInvSqrt2));
    case Activation::Tanh: return tanh_v(z);
    case Activation::Sigmoid: return sigmoid_v(z);
    case Activation::Softplus: return act::apply(a, z);  // rare: the scalar reference
  }
  return z;
}

inline float d1_v(Activation a, float z) {
  switch (a) {
    case Activation::Identity: return 1.0f;
    case Activation::Relu: return z > 0.0f ? 1.0f : 0.0f;
    case Activation::Silu: {
      const float s = sigmoid_v(z);
      return s * (1.0f + z * (1.0f - s));
    }
    case Activation::Gelu:
      return 0.5f * (1.0f + erf_v(z * act::kInvSqrt2)) + z * act::kInvSqrt2Pi * exp_poly(-0.5f * z * z);
    case Activation::Tanh: {
      const float t = tanh_v(z);
      return 1.0f - t * t;
    }
    case Activation::Sigmoid: {
      const float s = sigmoid_v(z);
      return s * (1.0f - s);
    }
    case Activation::Softplus: return sigmoid_v(z);
  }
  return 1.0f;
}

// d^2 act / dz^2 (zero almost everywhere for identity and relu), from the same branch-free pieces.
inline float d2_v(Activation a, float z) {
  switch (a) {
    case Activation::Identity: return 0.0f;
    case Activation::Relu: return 0.0f;
    case Activation::Silu: {
      const float s = sigmoid_v(z);
      return s * (1.0f - s) * (2.0f + z * (1.0f - 2.0f * s));
    }
    case Activation::Gelu: return act::kInvSqrt2Pi * exp_poly(-0.5f * z * z) * (2.0f - z * z);
    case Activation::Tanh: {
      const float t = tanh_v(z);
      return -2.0f * t * (1.0f - t * t);
    }
    case Activation::Sigmoid: {
      const float s = sigmoid_v(z);
      return s * (1.0f - s) * (1.0f - 2.0f * s);
    }
    case Activation::Softplus: {
      const float s = sigmoid_v(z);
      return s * (1.0f - s);
    }
  }
  return 0.0f;
}

}  // namespace
}  // namespace cpu
}  // namespace hn
