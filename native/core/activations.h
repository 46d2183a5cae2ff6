// Activation functions with their first and second derivatives (the exact noise KL differentiates
// act'(z), so act'' is needed). One definition serves the CPU and CUDA backends.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "common.h"

namespace hn {

enum class Activation : int { Identity = 0, Relu, Silu, Gelu, Tanh, Sigmoid, Softplus };

constexpr int kActivationCount = 7;

// Names as they appear in the public API and in model files.
const char* activation_name(Activation a) noexcept;
// Throws hn::Error(Argument) for an unknown name.
Activation parse_activation(const std::string& name);
// Every name, in enum order.
std::vector<const char*> activation_names();

namespace act {

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

HN_HD float sigmoid(float z) { return 1.0f / (1.0f + expf(-z)); }

HN_HD float apply(Activation a, float z) {
  switch (a) {
    case Activation::Identity: return z;
    case Activation::Relu: return z > 0.0f ? z : 0.0f;
    case Activation::Silu: return z * sigmoid(z);
    case Activation::Gelu: return 0.5f * z * (1.0f + erff(z * kInvSqrt2));
    case Activation::Tanh: return tanhf(z);
    case Activation::Sigmoid: return sigmoid(z);
    case Activation::Softplus: return z > 20.0f ? z : log1pf(expf(z));
  }
  return z;
}

// d act / dz
HN_HD float d1(Activation a, float z) {
  switch (a) {
    case Activation::Identity: return 1.0f;
    case Activation::Relu: return z > 0.0f ? 1.0f : 0.0f;
    case Activation::Silu: {
      const float s = sigmoid(z);
      return s * (1.0f + z * (1.0f - s));
    }
    case Activation::Gelu: return 0.5f * (1.0f + erff(z * kInvSqrt2)) + z * kInvSqrt2Pi * expf(-0.5f * z * z);
    case Activation::Tanh: {
      const float t = tanhf(z);
      return 1.0f - t * t;
    }
    case Activation::Sigmoid: {
      const float s = sigmoid(z);
      return s * (1.0f - s);
    }
    case Activation::Softplus: return sigmoid(z);
  }
  return 1.0f;
}

// d^2 act / dz^2 (zero almost everywhere for identity and relu)
HN_HD float d2(Activation a, float z) {
  switch (a) {
    case Activation::Identity: return 0.0f;
    case Activation::Relu: return 0.0f;
    case Activation::Silu: {
      const float s = sigmoid(z);
      return s * (1.0f - s) * (2.0f + z * (1.0f - 2.0f * s));
    }
    case Activation::Gelu: return kInvSqrt2Pi * expf(-0.5f * z * z) * (2.0f - z * z);
    case Activation::Tanh: {
      const float t = tanhf(z);
      return -2.0f * t * (1.0f - t * t);
    }
    case Activation::Sigmoid: {
      const float s = sigmoid(z);
      return s * (1.0f - s) * (1.0f - 2.0f * s);
    }
    case Activation::Softplus: {
      const float s = sigmoid(z);
      return s * (1.0f - s);
    }
  }
  return 0.0f;
}

}  // namespace act
}  // namespace hn
