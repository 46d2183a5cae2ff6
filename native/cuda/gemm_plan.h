// The tile engine's shape decisions, in plain C++ so that the performance model of the test driver
// (native/tests/cuda_parity.cc) plans a GEMM exactly as the kernels launch it.
#pragma once

#include <algorithm>
#include <cstdint>

namespace hn {
namespace cuda {
namespace detail {

constexpr int kBM = 64, kBN = 64, kBK = 16;  // block tile (rows, columns, K step)

struct SplitPlan {
  int splits = 1;
  int64_t k_chunk = 0;
};

// How to cut K: one split unless the output tiles cannot fill the device; then enough splits for about
// two blocks per SM, each at least 8 K steps long. A function of the shape and the SM count only.
inline SplitPlan plan_splits(int64_t sms, int64_t M, int64_t N, int64_t K, int64_t batch) {
  SplitPlan p;
  const int64_t tiles = ((M + kBM - 1) / kBM) * ((N + kBN - 1) / kBN) * batch;
  int64_t splits = 1;
  if (tiles < sms && K >= 16 * kBK) {
    splits = std::min<int64_t>((2 * sms + tiles - 1) / tiles, K / (8 * kBK));
    splits = std::max<int64_t>(1, std::min<int64_t>(splits, 65535 / std::max<int64_t>(1, batch)));
  }
  int64_t chunk = (K + splits - 1) / splits;
  chunk = std::max<int64_t>(kBK, (chunk + kBK - 1) / kBK * kBK);
  p.k_chunk = chunk;
  p.splits = static_cast<int>(std::max<int64_t>(1, (K + chunk - 1) / chunk));
  return p;
}

}  // namespace detail
}  // namespace cuda
}  // namespace hn
