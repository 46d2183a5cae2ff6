// Philox normal noise on the device: one thread per Philox block (four normals), through the same
// ../core/philox.h as the CPU backend, whose Box–Muller uses only correctly rounded double operations
// (__dmul_rn & co. on the device, so nvcc cannot contract them into FMAs): bit-identical noise.
#include "core/philox.h"
#include "common.cuh"

namespace hn {
namespace cuda {

namespace {

__global__ void __launch_bounds__(detail::kBlock) noise_kernel(float* __restrict__ out, int64_t n, int64_t dim, uint64_t seed, uint64_t first_sample,
                             uint32_t stream, bool vec4) {
  const int64_t blocks_per_row = (dim + 3) / 4;
  const int64_t total = n * blocks_per_row;
  for (int64_t blk = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; blk < total;
       blk += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = blk / blocks_per_row, col_block = blk % blocks_per_row;
    float v[4];
    philox::normal4(seed, first_sample + static_cast<uint64_t>(row), static_cast<uint32_t>(col_block), stream, v);
    const int64_t col = col_block * 4;
    float* dst = out + row * dim + col;
    if (vec4) {
      *reinterpret_cast<float4*>(dst) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
      const int64_t count = dim - col < 4 ? dim - col : 4;
      for (int64_t j = 0; j < count; ++j) dst[j] = v[j];
    }
  }
}

}  // namespace

void CudaBackend::sample_noise(float* out, int64_t n, int64_t dim, uint64_t seed, uint64_t first_sample,
                               uint32_t stream) {
  if (n <= 0 || dim <= 0) return;
  // Whole float4 stores when every row starts 16-byte aligned and holds whole blocks.
  const bool vec4 = dim % 4 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0;
  const int64_t total = n * ((dim + 3) / 4);
  detail::launch(*this, noise_kernel, detail::grid_for(*this, total), detail::kBlock, out, n, dim, seed, first_sample,
                 stream, vec4);
}

}  // namespace cuda
}  // namespace hn
