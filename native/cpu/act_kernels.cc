// The activation kernels of the ISA in use (elementwise_impl.h holds their loops).
#include "act_kernels.h"

#include "isa_kernels.h"

namespace hn {
namespace cpu {

void bias_act_row(Activation a, float* z, const float* bias, float* y, int64_t count, bool keep_z) {
  active_kernels().elementwise.act.bias_act[static_cast<int>(a)](z, bias, y, count, keep_z);
}

void act_array(Activation a, const float* x, float* y, int64_t count) {
  // bias_act_row with z = x and no bias: x is only read.
  active_kernels().elementwise.act.bias_act[static_cast<int>(a)](const_cast<float*>(x), nullptr, y, count, false);
}

void act_d1_mul(Activation a, const float* z, float* dy, int64_t count) {
  if (a == Activation::Identity) return;
  active_kernels().elementwise.act.d1_mul[static_cast<int>(a)](z, dy, count);
}

void act_d1_fma(Activation a, const float* z, const float* g, float* acc, int64_t count) {
  active_kernels().elementwise.act.d1_fma[static_cast<int>(a)](z, g, acc, count);
}

}  // namespace cpu
}  // namespace hn
