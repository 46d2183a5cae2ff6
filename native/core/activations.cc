#include "activations.h"

#include "errors.h"

namespace hn {

const char* activation_name(Activation a) noexcept {
  switch (a) {
    case Activation::Identity: return "identity";
    case Activation::Relu: return "relu";
    case Activation::Silu: return "silu";
    case Activation::Gelu: return "gelu";
    case Activation::Tanh: return "tanh";
    case Activation::Sigmoid: return "sigmoid";
    case Activation::Softplus: return "softplus";
  }
  return "identity";
}

std::vector<const char*> activation_names() {
  std::vector<const char*> names;
  for (int i = 0; i < kActivationCount; ++i) names.push_back(activation_name(static_cast<Activation>(i)));
  return names;
}

Activation parse_activation(const std::string& name) {
  for (int i = 0; i < kActivationCount; ++i) {
    const auto a = static_cast<Activation>(i);
    if (name == activation_name(a)) return a;
  }
  fail(ErrorCode::Argument,
       "Expected one of 'identity', 'relu', 'silu', 'gelu', 'tanh', 'sigmoid', 'softplus' for activation but received '" + name + "'");
}

}  // namespace hn
