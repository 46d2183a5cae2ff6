// GEMM epilogues shared by the CPU kernels.
#pragma once

#include "core/activations.h"
#include "act_kernels.h"
#include "gemm.h"

namespace hn {
namespace cpu {

// C holds x W^T: adds the bias and applies the activation. With y, C keeps the pre-activation and the
// activation goes to y (same leading dimension as C); without, the activation overwrites C.
class BiasActEpilogue final : public GemmEpilogue {
 public:
  BiasActEpilogue(const float* bias, Activation a, float* y, int64_t ldy) : bias_(bias), act_(a), y_(y), ldy_(ldy) {}
  void apply(int64_t row0, int64_t rows, int64_t col0, int64_t cols, float* c, int64_t ldc) const override {
    for (int64_t i = 0; i < rows; ++i) {
      float* ci = c + i * ldc;
      float* yi = y_ ? y_ + (row0 + i) * ldy_ + col0 : ci;
      bias_act_row(act_, ci, bias_ ? bias_ + col0 : nullptr, yi, cols, y_ != nullptr);
    }
  }

 private:
  const float* bias_;
  Activation act_;
  float* y_;
  int64_t ldy_;
};

}  // namespace cpu
}  // namespace hn
