// Built-in rewards on the GPU: the pixel rewards (one block per sample, float64 block reduction in a fixed
// tree order) and the log-softmax pick behind classifierLogProb (one warp per sample).
#include <cmath>

#include "common.cuh"

namespace hn {
namespace cuda {

namespace {

__global__ void __launch_bounds__(detail::kBlock)
    pixel_reward_kernel(bool redness, const float* __restrict__ x, int64_t p, float weight, float* value,
                        float* grad) {
  __shared__ double sh[detail::kBlock];
  const int64_t i = blockIdx.x;
  const float* xi = x + i * p;
  float* gi = grad ? grad + i * p : nullptr;
  double acc = 0.0;
  if (!redness) {  // brightness: mean of all values
    const float g = weight / static_cast<float>(p);
    for (int64_t j = threadIdx.x; j < p; j += blockDim.x) {
      acc += xi[j];
      if (gi) gi[j] += g;
    }
  } else {  // redness: channel-first [3, H, W]; mean over pixels of R - (G + B) / 2
    const int64_t hw = p / 3;
    const float gr = weight / static_cast<float>(hw), gb = -0.5f * gr;
    for (int64_t j = threadIdx.x; j < hw; j += blockDim.x) {
      acc += static_cast<double>(xi[j]) - 0.5 * (static_cast<double>(xi[hw + j]) + xi[2 * hw + j]);
      if (gi) {
        gi[j] += gr;
        gi[hw + j] += gb;
        gi[2 * hw + j] += gb;
      }
    }
  }
  const double total = detail::block_sum<detail::kBlock>(acc, sh);
  if (threadIdx.x == 0) {
    const double count = redness ? static_cast<double>(p / 3) : static_cast<double>(p);
    value[i] += weight * static_cast<float>(total / count);
  }
}

// One warp per sample: max, then the float64 sum of exp(l - max) in a fixed shuffle pattern.
__global__ void __launch_bounds__(detail::kBlock, 4) log_softmax_pick_kernel(const float* __restrict__ logits, int64_t n, int64_t k,
                                        const int32_t* __restrict__ classes, float weight, float* value,
                                        float* dlogits) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x / 32) + threadIdx.x / 32; i < n; i += warps) {
    const float* li = logits + i * k;
    float mx = -INFINITY;
    for (int64_t j = lane; j < k; j += 32) mx = li[j] > mx ? li[j] : mx;
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
      const float o = __shfl_xor_sync(0xffffffffu, mx, off);
      mx = o > mx ? o : mx;
    }
    double sum = 0.0;
    for (int64_t j = lane; j < k; j += 32) sum += exp(static_cast<double>(li[j]) - mx);
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    const double lse = mx + log(sum);
    const int32_t c = classes[i];
    if (lane == 0) value[i] += weight * static_cast<float>(static_cast<double>(li[c]) - lse);
    if (dlogits) {
      float* di = dlogits + i * k;
      for (int64_t j = lane; j < k; j += 32) {
        const double softmax = exp(static_cast<double>(li[j]) - lse);
        di[j] = weight * static_cast<float>((j == c ? 1.0 : 0.0) - softmax);
      }
    }
  }
}

__global__ void __launch_bounds__(detail::kBlock) argmax_classes_kernel(const float* __restrict__ cond, int64_t n, int64_t cond_dim, int64_t offset,
                                      int64_t k, int32_t* __restrict__ classes) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float* ci = cond + i * cond_dim + offset;
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j) {
      if (ci[j] > ci[best]) best = j;
    }
    classes[i] = static_cast<int32_t>(best);
  }
}

}  // namespace

void CudaBackend::pixel_reward(PixelReward kind, const float* x, int64_t n, int64_t p, float weight, float* value,
                               float* grad) {
  if (n <= 0) return;
  detail::launch(*this, pixel_reward_kernel, static_cast<unsigned>(n), detail::kBlock, kind == PixelReward::Redness, x,
                 p, weight, value, grad);
}

void CudaBackend::log_softmax_pick(const float* logits, int64_t n, int64_t k, const int32_t* classes, float weight,
                                   float* value, float* dlogits) {
  if (n <= 0) return;
  detail::launch(*this, log_softmax_pick_kernel, detail::grid_for(*this, n * 32), detail::kBlock, logits, n, k,
                 classes, weight, value, dlogits);
}

void CudaBackend::argmax_classes(const float* cond, int64_t n, int64_t cond_dim, int64_t offset, int64_t k,
                                 int32_t* classes) {
  if (n <= 0) return;
  detail::launch(*this, argmax_classes_kernel, detail::grid_for(*this, n), detail::kBlock, cond, n, cond_dim, offset,
                 k, classes);
}

}  // namespace cuda
}  // namespace hn
