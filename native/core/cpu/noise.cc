// Philox normal noise on the CPU; bit-identical to the CUDA kernel (see ../philox.h).
#include <algorithm>

#include "../philox.h"
#include "cpu_backend.h"
#include "threadpool.h"

namespace hn {
namespace cpu {

void CpuBackend::sample_noise(float* out, int64_t n, int64_t dim, uint64_t seed, uint64_t first_sample,
                              uint32_t stream) {
  const int64_t blocks_per_row = (dim + 3) / 4;
  const int64_t total_blocks = n * blocks_per_row;
  const int64_t grain = 4096;  // Philox blocks per task
  const int64_t tasks = std::max<int64_t>(1, (total_blocks + grain - 1) / grain);
  global_pool().parallel_for(tasks, [&](int64_t t) {
    int64_t begin, end;
    chunk_range(total_blocks, tasks, t, &begin, &end);
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t row = blk / blocks_per_row, col_block = blk % blocks_per_row;
      float v[4];
      philox::normal4(seed, first_sample + static_cast<uint64_t>(row), static_cast<uint32_t>(col_block), stream, v);
      const int64_t col = col_block * 4;
      const int64_t count = std::min<int64_t>(4, dim - col);
      float* dst = out + row * dim + col;
      for (int64_t j = 0; j < count; ++j) dst[j] = v[j];
    }
  });
}

void sample_uniform(double* out, int64_t n, int64_t dim, uint64_t seed, uint64_t first_sample, uint32_t stream) {
  const int64_t blocks_per_row = (dim + 3) / 4;
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t blk = 0; blk < blocks_per_row; ++blk) {
      double v[4];
      philox::uniform4(seed, first_sample + static_cast<uint64_t>(row), static_cast<uint32_t>(blk), stream, v);
      const int64_t col = blk * 4;
      for (int64_t j = 0; j < 4 && col + j < dim; ++j) out[row * dim + col + j] = v[j];
    }
  }
}

}  // namespace cpu
}  // namespace hn
