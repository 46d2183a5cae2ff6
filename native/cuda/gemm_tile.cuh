// The one SGEMM tile engine of the CUDA backend. A block computes a 64 x 64 tile of op(A) op(B) over a
// range of K: both operand tiles are staged through shared memory (double-buffered: the next tile is
// loaded into registers while the current one is multiplied), each of the 256 threads keeps a 4 x 4 block
// of accumulators in registers, and an epilogue functor finishes the accumulators before the single store.
//
// Operands are read through accessor functors, so a GEMM can read a matrix that is never materialised
// (the hypernetwork's df = d_eps_hat + w f, the concatenation [eps | cond]); epilogues fuse bias,
// activation, activation derivatives, residual adds and per-row reductions. blockIdx.z enumerates
// (batch, K split): a split writes its partial tile, and splitk_reduce_kernel sums the splits in a fixed
// order (no float atomics: results are identical run to run).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "common.cuh"

namespace hn {
namespace cuda {
namespace detail {

constexpr int kBM = 64, kBN = 64, kBK = 16;  // block tile (rows, columns, K step)
constexpr int kTM = 4, kTN = 4;              // per-thread register block
constexpr int kTileThreads = (kBM / kTM) * (kBN / kTN);
constexpr int kPad = 4;  // keeps the float4 reads of a shared row aligned while skewing the stores
static_assert(kTileThreads == 256, "tile configuration");
static_assert(kBM * kBK % kTileThreads == 0 && kBK * kBN % kTileThreads == 0, "tile loads");

// ---- accessors: op(X)(row, col) of batch b --------------------------------------------------------------

// A dense row-major matrix; T: stored transposed (op(X) = X^T). kColFast: consecutive columns of op(X) are
// consecutive in memory (the tile loader then maps consecutive threads to consecutive columns).
template <bool T>
struct Mat {
  const float* p;
  int64_t ld;
  int64_t bs;  // batch stride (floats)
  static constexpr bool kColFast = !T;
  __device__ __forceinline__ float operator()(int64_t b, int64_t r, int64_t c) const {
    return T ? p[b * bs + c * ld + r] : p[b * bs + r * ld + c];
  }
};

// ---- epilogues ----------------------------------------------------------------------------------------

// C = alpha acc + beta C (beta == 0: C's previous contents are ignored; they may be NaN).
struct EpiAB {
  float* c;
  int64_t ldc, bs;
  float alpha, beta;
  static constexpr bool kTile = false;
  __device__ __forceinline__ void elem(int64_t b, int, int64_t i, int64_t j, float v) const {
    float* p = c + b * bs + i * ldc + j;
    *p = beta == 0.0f ? alpha * v : alpha * v + beta * *p;
  }
};

// A split's partial tile: ws[(b * splits + s) * M * N + i * N + j].
struct EpiPartial {
  float* ws;
  int64_t M, N;
  int splits;
  static constexpr bool kTile = false;
  __device__ __forceinline__ void elem(int64_t b, int s, int64_t i, int64_t j, float v) const {
    ws[((b * splits + s) * M + i) * N + j] = v;
  }
};

// v = alpha acc + bias[j]; z = v (when z), y = act(v). ld: leading dimension of z and y.
struct EpiBiasAct {
  float* z;
  float* y;
  int64_t ld;
  const float* bias;
  Activation act;
  float alpha;
  static constexpr bool kTile = false;
  __device__ __forceinline__ void elem(int64_t, int, int64_t i, int64_t j, float v) const {
    const float zv = alpha * v + (bias ? bias[j] : 0.0f);
    if (z) z[i * ld + j] = zv;
    y[i * ld + j] = act::apply(act, zv);
  }
};

// ---- the tile kernel ------------------------------------------------------------------------------------

// grid: x = column tiles, y = row tiles (from row tile mtile0), z = batches x splits (batch b = batch0 +
// z / splits; split z % splits covers K range [split * k_chunk, min(K, (split + 1) * k_chunk)), k_chunk a
// multiple of kBK).
template <class AAcc, class BAcc, class Epi>
__global__ void __launch_bounds__(kTileThreads)
    tile_gemm_kernel(int64_t M, int64_t N, int64_t K, int64_t k_chunk, int splits, int64_t batch0, int64_t mtile0,
                     AAcc a, BAcc b, Epi epi) {
  __shared__ __align__(16) float As[2][kBK][kBM + kPad];
  __shared__ __align__(16) float Bs[2][kBK][kBN + kPad];
  constexpr int LA = kBM * kBK / kTileThreads;
  constexpr int LB = kBK * kBN / kTileThreads;

  const int tid = threadIdx.x;
  const int tx = tid % (kBN / kTN), ty = tid / (kBN / kTN);
  const int64_t m0 = (mtile0 + blockIdx.y) * kBM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * kBN;
  const int64_t batch = batch0 + blockIdx.z / splits;
  const int split = static_cast<int>(blockIdx.z % splits);
  const int64_t kb = static_cast<int64_t>(split) * k_chunk;
  const int64_t ke = K < kb + k_chunk ? K : kb + k_chunk;

  float ra[LA], rb[LB];
  // Global -> registers. The mapping follows the operand's contiguous direction so that a warp's loads
  // are coalesced whichever way the operand is stored.
  auto load = [&](int64_t k0) {
#pragma unroll
    for (int t = 0; t < LA; ++t) {
      const int idx = tid + t * kTileThreads;
      const int mm = AAcc::kColFast ? idx / kBK : idx % kBM;
      const int kk = AAcc::kColFast ? idx % kBK : idx / kBM;
      const int64_t gm = m0 + mm, gk = k0 + kk;
      ra[t] = (gm < M && gk < ke) ? a(batch, gm, gk) : 0.0f;
    }
#pragma unroll
    for (int t = 0; t < LB; ++t) {
      const int idx = tid + t * kTileThreads;
      const int nn = BAcc::kColFast ? idx % kBN : idx / kBK;
      const int kk = BAcc::kColFast ? idx / kBN : idx % kBK;
      const int64_t gn = n0 + nn, gk = k0 + kk;
      rb[t] = (gk < ke && gn < N) ? b(batch, gk, gn) : 0.0f;
    }
  };
  // Registers -> shared memory, K-major so that the multiply reads float4 rows.
  auto store = [&](int buf) {
#pragma unroll
    for (int t = 0; t < LA; ++t) {
      const int idx = tid + t * kTileThreads;
      const int mm = AAcc::kColFast ? idx / kBK : idx % kBM;
      const int kk = AAcc::kColFast ? idx % kBK : idx / kBM;
      As[buf][kk][mm] = ra[t];
    }
#pragma unroll
    for (int t = 0; t < LB; ++t) {
      const int idx = tid + t * kTileThreads;
      const int nn = BAcc::kColFast ? idx % kBN : idx / kBK;
      const int kk = BAcc::kColFast ? idx / kBN : idx % kBK;
      Bs[buf][kk][nn] = rb[t];
    }
  };

  float acc[kTM][kTN];
#pragma unroll
  for (int i = 0; i < kTM; ++i) {
#pragma unroll
    for (int j = 0; j < kTN; ++j) acc[i][j] = 0.0f;
  }

  if (kb < ke) {
    load(kb);
    store(0);
    __syncthreads();
    int buf = 0;
    for (int64_t k0 = kb; k0 < ke; k0 += kBK) {
      const bool more = k0 + kBK < ke;
      if (more) load(k0 + kBK);  // in flight while this tile is multiplied
#pragma unroll
      for (int kk = 0; kk < kBK; ++kk) {
        const float4 av = *reinterpret_cast<const float4*>(&As[buf][kk][ty * kTM]);
        const float4 bv = *reinterpret_cast<const float4*>(&Bs[buf][kk][tx * kTN]);
        const float af[4] = {av.x, av.y, av.z, av.w};
        const float bf[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
        for (int i = 0; i < kTM; ++i) {
#pragma unroll
          for (int j = 0; j < kTN; ++j) acc[i][j] = fmaf(af[i], bf[j], acc[i][j]);
        }
      }
      if (more) {
        // One barrier per step: everyone has finished reading `buf` before it is refilled next step.
        store(buf ^ 1);
        __syncthreads();
        buf ^= 1;
      }
    }
  }

  if constexpr (Epi::kTile) {
    epi.tile(acc, m0, n0, M, N, tx, ty);
  } else {
    const int64_t r0 = m0 + ty * kTM, c0 = n0 + tx * kTN;
#pragma unroll
    for (int i = 0; i < kTM; ++i) {
#pragma unroll
      for (int j = 0; j < kTN; ++j) {
        if (r0 + i < M && c0 + j < N) epi.elem(batch, split, r0 + i, c0 + j, acc[i][j]);
      }
    }
  }
}

// Sums the splits of each (batch, i, j) in float64 and hands the result to the epilogue. A block covers 32
// consecutive outputs with kReduceParts warps: warp w sums splits w, w + kReduceParts, ... of its lane's
// output (each load a coalesced row of the workspace), and the parts are added in a fixed order, so the
// result never depends on timing. (One thread per output, summing every split in turn, left 32 blocks and
// 128 dependent loads per thread at the SD-Turbo shapes.)
constexpr int kReduceParts = 8;
constexpr int kReduceThreads = 32 * kReduceParts;

template <class Epi>
__global__ void __launch_bounds__(kReduceThreads)
    splitk_reduce_kernel(const float* __restrict__ ws, int64_t M, int64_t N, int splits, int64_t batch, Epi epi) {
  __shared__ double part[kReduceParts][32];
  const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
  const int64_t mn = M * N, total = batch * mn;
  // Every thread of the block runs the same iterations (base is uniform), so the barriers are reached by all.
  for (int64_t base = blockIdx.x * int64_t{32}; base < total; base += static_cast<int64_t>(gridDim.x) * 32) {
    const int64_t e = base + lane;
    const int64_t b = e / mn, rem = e % mn;
    double acc = 0.0;
    if (e < total) {
      for (int s = w; s < splits; s += kReduceParts) acc += ws[(b * splits + s) * mn + rem];
    }
    part[w][lane] = acc;
    __syncthreads();
    if (w == 0 && e < total) {
      double sum = 0.0;
#pragma unroll
      for (int q = 0; q < kReduceParts; ++q) sum += part[q][lane];
      epi.elem(b, 0, rem / N, rem % N, static_cast<float>(sum));
    }
    __syncthreads();
  }
}

// ---- host side ----------------------------------------------------------------------------------------

// How to cut K: one split unless the output tiles cannot fill the device; then enough splits for about
// two blocks per SM, each at least 8 K steps long. A function of the shape and the SM count only.
struct SplitPlan {
  int splits = 1;
  int64_t k_chunk = 0;
};

inline SplitPlan plan_splits(const CudaBackend& be, int64_t M, int64_t N, int64_t K, int64_t batch) {
  SplitPlan p;
  const int64_t tiles = ((M + kBM - 1) / kBM) * ((N + kBN - 1) / kBN) * batch;
  const int64_t sms = be.sm_count();
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

// Launches the tile kernel over all of (row tiles, batch, splits), in chunks that keep grid.y and grid.z
// within 65535.
template <class AAcc, class BAcc, class Epi>
void launch_tiles(const CudaBackend& be, int64_t M, int64_t N, int64_t K, const SplitPlan& plan, int64_t batch,
                  const AAcc& a, const BAcc& b, const Epi& epi) {
  if (M <= 0 || N <= 0 || batch <= 0) return;
  const int64_t per_launch = std::max<int64_t>(1, 65535 / plan.splits);
  const int64_t mtiles = (M + kBM - 1) / kBM;
  for (int64_t b0 = 0; b0 < batch; b0 += per_launch) {
    const int64_t nb = std::min(per_launch, batch - b0);
    for (int64_t t0 = 0; t0 < mtiles; t0 += 65535) {
      const unsigned rows = static_cast<unsigned>(std::min<int64_t>(65535, mtiles - t0));
      const dim3 grid(static_cast<unsigned>((N + kBN - 1) / kBN), rows, static_cast<unsigned>(nb * plan.splits));
      launch(be, tile_gemm_kernel<AAcc, BAcc, Epi>, grid, kTileThreads, M, N, K, plan.k_chunk, plan.splits, b0, t0, a,
             b, epi);
    }
  }
}

// A whole GEMM with an element-wise epilogue: direct when one split suffices, else partial tiles into a
// pool workspace and the ordered reduction, which applies the epilogue.
template <class AAcc, class BAcc, class Epi>
void run_gemm(CudaBackend& be, int64_t M, int64_t N, int64_t K, int64_t batch, const AAcc& a, const BAcc& b,
              const Epi& epi) {
  static_assert(!Epi::kTile, "run_gemm takes element-wise epilogues");
  if (M <= 0 || N <= 0 || batch <= 0) return;
  const SplitPlan plan = plan_splits(be, M, N, K, batch);
  if (plan.splits == 1) {
    launch_tiles(be, M, N, K, plan, batch, a, b, epi);
    return;
  }
  DeviceBuffer ws(be, static_cast<size_t>(plan.splits * batch * M * N) * sizeof(float));
  launch_tiles(be, M, N, K, plan, batch, a, b, EpiPartial{ws.f32(), M, N, plan.splits});
  launch(be, splitk_reduce_kernel<Epi>, grid_for(be, batch * M * N, 32), kReduceThreads, ws.f32(), M, N, plan.splits,
         batch, epi);
}

}  // namespace detail
}  // namespace cuda
}  // namespace hn
