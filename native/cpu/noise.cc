// Philox normal noise on the CPU; bit-identical to the CUDA kernel (see core/philox.h).
#include <algorithm>

#include "core/philox.h"
#include "cpu_backend.h"
#include "threadpool.h"
#include "isa_kernels.h"

namespace hn {
namespace cpu {

void CpuBackend::sample_noise(float* out, int64_t n, int64_t dim, uint64_t seed, uint64_t first_sample,
                              uint32_t stream) {
  const int64_t blocks_per_row = (dim + 3) / 4;
  const int64_t total_blocks = n * blocks_per_row;
  const int64_t grain = 4096;  // Philox blocks per task
  const int64_t tasks = std::max<int64_t>(1, (total_blocks + grain - 1) / grain);
  const auto normal_blocks = active_kernels().elementwise.normal_blocks;
  global_pool().parallel_for(tasks, [&](int64_t t) {
    int64_t begin, end;
    chunk_range(total_blocks, tasks, t, &begin, &end);
    // Runs of whole blocks within one row go through normal_blocks; a row's ragged tail through a copy.
    float tail[4];
    int64_t blk = begin;
    while (blk < end) {
      const int64_t row = blk / blocks_per_row, col_block = blk % blocks_per_row;
      const int64_t full_blocks = dim / 4;  // blocks of this row with 4 valid elements
      const int64_t run_end = std::min(end, row * blocks_per_row + full_blocks);
      if (col_block < full_blocks && run_end > blk) {
        const int64_t count = run_end - blk;
        normal_blocks(seed, first_sample + static_cast<uint64_t>(row), static_cast<uint32_t>(col_block), count, stream,
                      out + row * dim + col_block * 4);
        blk += count;
        continue;
      }
      philox::normal4(seed, first_sample + static_cast<uint64_t>(row), static_cast<uint32_t>(col_block), stream, tail);
      const int64_t col = col_block * 4;
      for (int64_t j = 0; col + j < dim && j < 4; ++j) out[row * dim + col + j] = tail[j];
      ++blk;
    }
  });
}

}  // namespace cpu
}  // namespace hn
