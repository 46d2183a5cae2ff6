// Sequential-model stages on the GPU: linear + activation as one GEMM whose epilogue adds the bias and
// applies the activation (split over K, with the epilogue in the ordered reduction, when the input is
// wide and the batch small: the generator's first layer), and the backward (activation derivative,
// input gradient, weight gradient, bias column sums).
#include "common.cuh"

namespace hn {
namespace cuda {

namespace {

__global__ void __launch_bounds__(detail::kBlock) activation_kernel(Activation act, const float* x, float* y, int64_t count) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    y[i] = act::apply(act, x[i]);
  }
}

// dy *= act'(z), in place.
__global__ void __launch_bounds__(detail::kBlock) activation_backward_kernel(Activation act, const float* __restrict__ z, float* dy, int64_t count) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    dy[i] *= act::d1(act, z[i]);
  }
}

}  // namespace

void CudaBackend::seq_stage_forward(const SeqStage& s, const float* params, const float* x, int64_t n, float* z,
                                    float* y) {
  if (n <= 0) return;
  if (!s.has_linear) {
    const int64_t count = n * s.out;
    detail::launch(*this, activation_kernel, detail::grid_for(*this, count), detail::kBlock, s.activation, x, y, count);
    return;
  }
  detail::gemm_bias_act(*this, n, s.out, s.in, x, params + s.w_offset, params + s.b_offset, s.activation, z, y);
}

void CudaBackend::seq_stage_backward(const SeqStage& s, const float* params, const float* x, const float* z,
                                     float* dy, int64_t n, float* dx, float* grad) {
  if (n <= 0) return;
  const int64_t count = n * s.out;
  if (s.activation != Activation::Identity) {
    detail::launch(*this, activation_backward_kernel, detail::grid_for(*this, count), detail::kBlock, s.activation, z,
                   dy, count);
  }
  const float* dz = dy;
  if (!s.has_linear) {
    if (dx && dx != dz) copy(dx, dz, static_cast<size_t>(count) * sizeof(float));
    return;
  }
  const float* w = params + s.w_offset;
  // dx = dz W ; dW += dz^T x ; db += sum_i dz_i.
  if (dx) {
    detail::gemm_batched(*this, false, false, n, s.in, s.out, 1.0f, dz, s.out, 0, w, s.in, 0, 0.0f, dx, s.in, 0, 1);
  }
  if (grad) {
    detail::gemm_batched(*this, true, false, s.out, s.in, n, 1.0f, dz, s.out, 0, x, s.in, 0, 1.0f, grad + s.w_offset,
                         s.in, 0, 1);
    detail::column_sums(*this, dz, n, s.out, s.out, 1.0f, grad + s.b_offset, true);
  }
}

}  // namespace cuda
}  // namespace hn
