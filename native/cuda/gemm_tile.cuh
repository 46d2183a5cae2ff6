// The one SGEMM tile engine of the CUDA backend. A block of 128 threads computes a 64 x 64 tile of
// op(A) op(B) over a range of K, 16 at a time: each thread keeps an 8 x 4 block of accumulators in registers
// (three 16-byte shared loads feed 32 FMAs per k), and an epilogue functor finishes the accumulators before
// the single store.
//
// The operand tiles are staged through shared memory in kStages buffers, K-major ([k][row] and [k][col]):
// an operand whose contiguous direction is the tile's row (or column) direction and whose rows are 16-byte
// aligned is copied by cp.async, 16 bytes at a time, kStages - 1 tiles ahead of the multiply; an operand
// stored the other way is loaded with 16-byte loads (4 elements along K) into registers one tile ahead and
// transposed by the stores into shared memory; anything unaligned falls back to element loads. One barrier
// per K step.
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
#include "gemm_plan.h"

namespace hn {
namespace cuda {
namespace detail {

constexpr int kTM = 8, kTN = 4;  // per-thread register block (the block tile and K step: gemm_plan.h)
constexpr int kTileThreads = (kBM / kTM) * (kBN / kTN);
constexpr int kStages = 3;  // shared-memory buffers: cp.async runs kStages - 1 K steps ahead
constexpr int kPad = 4;     // keeps the 16-byte reads of a shared row aligned while skewing the stores

// Columns of shared row k are stored XOR 8 in the second half of each 16-row K step. The transposing stores of
// a warp write 8 columns x rows k, k + 4, k + 8, k + 12 (the pad makes rows 4 apart differ by 16 banks, rows 8
// apart by none): the XOR moves rows 8 and 12 to the other 8 columns, so the 32 stores hit 32 banks (2-way
// conflicts without it). Groups of 4 columns stay whole and aligned, so every 16-byte access keeps its shape.
__device__ __forceinline__ constexpr int swizzle(int k) { return (k >> 3 & 1) << 3; }
static_assert(kTileThreads == 128, "tile configuration");
static_assert(kBM * kBK % (4 * kTileThreads) == 0 && kBK * kBN % (4 * kTileThreads) == 0, "tile loads");
static_assert(kTN == 4 && kTM % 4 == 0, "the multiply reads 16-byte rows of both tiles");

// ---- accessors: op(X)(row, col) of batch b --------------------------------------------------------------
//
// Every accessor offers: operator()(b, r, c), one element; kColFast, whether consecutive columns of op(X)
// are consecutive in memory (else consecutive rows are); vec_ok(), whether load4 may be used (evaluated on
// the device, uniform across a launch); load4(b, r, c), the 4 elements starting at (r, c) along the fast
// direction (all in bounds); kDirect and ptr(b, r, c), where the elements are stored (cp.async reads them).

// A dense row-major matrix; T: stored transposed (op(X) = X^T).
template <bool T>
struct Mat {
  const float* p;
  int64_t ld;
  int64_t bs;  // batch stride (floats)
  static constexpr bool kColFast = !T;
  static constexpr bool kDirect = true;
  __device__ __forceinline__ const float* ptr(int64_t b, int64_t r, int64_t c) const {
    return T ? p + b * bs + c * ld + r : p + b * bs + r * ld + c;
  }
  __device__ __forceinline__ float operator()(int64_t b, int64_t r, int64_t c) const { return *ptr(b, r, c); }
  __device__ __forceinline__ bool vec_ok() const { return aligned16(p) && ld % 4 == 0 && bs % 4 == 0; }
  __device__ __forceinline__ float4 load4(int64_t b, int64_t r, int64_t c) const {
    return *reinterpret_cast<const float4*>(ptr(b, r, c));
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

// One operand's share of a K step: the kBK x kExtent tile (K-major in shared memory) cut into chunks of 4
// elements along the operand's contiguous direction, kChunks per thread. kIsA: op(A) (rows m, columns k);
// else op(B) (rows k, columns n). kFastMN: the chunks run along m (or n), matching the shared layout, so
// they can be copied as they are; otherwise along k, and the stores transpose them.
template <class Acc, bool kIsA>
struct TileOperand {
  static constexpr bool kFastMN = kIsA ? !Acc::kColFast : Acc::kColFast;
  static constexpr int kExtent = kIsA ? kBM : kBN;
  static constexpr int kChunks = kExtent * kBK / (4 * kTileThreads);
  using Stage = float[kBK][kExtent + kPad];

  Acc acc;
  int64_t batch, mn0, MN;  // the tile's first row (or column) and the operand's extent along it
  bool vec;                // load4 is allowed
  bool async;              // copied by cp.async (else through the registers below)
  float4 reg[kChunks];

  __device__ __forceinline__ TileOperand(const Acc& a, int64_t b, int64_t mn0_, int64_t MN_)
      : acc(a), batch(b), mn0(mn0_), MN(MN_) {
    vec = a.vec_ok();
    async = Acc::kDirect && kFastMN && vec;
  }
  // Chunk c of the tile: its first element's position (mn, k) within the tile.
  __device__ __forceinline__ static void place(int c, int& mn, int& k) {
    if (kFastMN) {
      k = c / (kExtent / 4);
      mn = c % (kExtent / 4) * 4;
    } else {
      mn = c / (kBK / 4);
      k = c % (kBK / 4) * 4;
    }
  }
  __device__ __forceinline__ float at(int64_t mn, int64_t k) const { return kIsA ? acc(batch, mn, k) : acc(batch, k, mn); }
  __device__ __forceinline__ const float* addr(int64_t mn, int64_t k) const {
    if constexpr (Acc::kDirect) return kIsA ? acc.ptr(batch, mn, k) : acc.ptr(batch, k, mn);
    return nullptr;
  }
  __device__ __forceinline__ float4 at4(int64_t mn, int64_t k) const {
    return kIsA ? acc.load4(batch, mn, k) : acc.load4(batch, k, mn);
  }
  // How many of chunk (gmn, gk)'s 4 elements lie inside the operand (K range [.., ke)).
  __device__ __forceinline__ int valid(int64_t gmn, int64_t gk, int64_t ke) const {
    const int64_t left = kFastMN ? (gk < ke ? MN - gmn : 0) : (gmn < MN ? ke - gk : 0);
    return left <= 0 ? 0 : left >= 4 ? 4 : static_cast<int>(left);
  }

  // This thread's chunk t of the K step at k0: its place in the tile, in the operand, and how many of its
  // elements lie inside.
  struct Chunk {
    int mn, k;
    int64_t gmn, gk;
    int n;
  };
  __device__ __forceinline__ Chunk chunk(int t, int64_t k0, int64_t ke) const {
    Chunk c;
    place(static_cast<int>(threadIdx.x) + t * kTileThreads, c.mn, c.k);
    c.gmn = mn0 + c.mn;
    c.gk = k0 + c.k;
    c.n = valid(c.gmn, c.gk, ke);
    return c;
  }

  // cp.async path: this thread's chunks of the K step at k0 into `st`.
  __device__ __forceinline__ void copy(Stage& st, int64_t k0, int64_t ke) const {
    if constexpr (Acc::kDirect && kFastMN) {
#pragma unroll
      for (int t = 0; t < kChunks; ++t) {
        const Chunk c = chunk(t, k0, ke);
        cp_async16(&st[c.k][c.mn ^ swizzle(c.k)], c.n > 0 ? addr(c.gmn, c.gk) : addr(mn0, k0), 4 * c.n);
      }
    }
  }
  // Register path, first half: the K step at k0 into reg (zeros outside the operand).
  __device__ __forceinline__ void fetch(int64_t k0, int64_t ke) {
#pragma unroll
    for (int t = 0; t < kChunks; ++t) {
      const Chunk c = chunk(t, k0, ke);
      if (vec && c.n == 4) {
        reg[t] = at4(c.gmn, c.gk);
      } else {
        float v[4];
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          v[q] = q < c.n ? (kFastMN ? at(c.gmn + q, c.gk) : at(c.gmn, c.gk + q)) : 0.0f;
        }
        reg[t] = make_float4(v[0], v[1], v[2], v[3]);
      }
    }
  }
  // Register path, second half: reg into `st` (one 16-byte store per chunk along m or n, four along k).
  __device__ __forceinline__ void put(Stage& st) const {
#pragma unroll
    for (int t = 0; t < kChunks; ++t) {
      int mn, k;
      place(static_cast<int>(threadIdx.x) + t * kTileThreads, mn, k);
      if (kFastMN) {
        *reinterpret_cast<float4*>(&st[k][mn ^ swizzle(k)]) = reg[t];
      } else {
        const int c = mn ^ swizzle(k);  // rows k..k + 3 share their half of the K step
        st[k + 0][c] = reg[t].x;
        st[k + 1][c] = reg[t].y;
        st[k + 2][c] = reg[t].z;
        st[k + 3][c] = reg[t].w;
      }
    }
  }
};

// grid: x = column tiles, y = row tiles (from row tile mtile0), z = batches x splits (batch b = batch0 +
// z / splits; split z % splits covers K range [split * k_chunk, min(K, (split + 1) * k_chunk)), k_chunk a
// multiple of kBK).
template <class AAcc, class BAcc, class Epi>
__global__ void __launch_bounds__(kTileThreads)
    tile_gemm_kernel(int64_t M, int64_t N, int64_t K, int64_t k_chunk, int splits, int64_t batch0, int64_t mtile0,
                     AAcc a, BAcc b, Epi epi) {
  __shared__ __align__(16) float As[kStages][kBK][kBM + kPad];
  __shared__ __align__(16) float Bs[kStages][kBK][kBN + kPad];

  const int tid = threadIdx.x;
  const int tx = tid % (kBN / kTN), ty = tid / (kBN / kTN);
  const int64_t m0 = (mtile0 + blockIdx.y) * kBM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * kBN;
  const int64_t batch = batch0 + blockIdx.z / splits;
  const int split = static_cast<int>(blockIdx.z % splits);
  const int64_t kb = static_cast<int64_t>(split) * k_chunk;
  const int64_t ke = K < kb + k_chunk ? K : kb + k_chunk;
  const int64_t steps = kb < ke ? (ke - kb + kBK - 1) / kBK : 0;

  TileOperand<AAcc, true> oa(a, batch, m0, M);
  TileOperand<BAcc, false> ob(b, batch, n0, N);

  float acc[kTM][kTN];
#pragma unroll
  for (int i = 0; i < kTM; ++i) {
#pragma unroll
    for (int j = 0; j < kTN; ++j) acc[i][j] = 0.0f;
  }

  // K step u lives in buffer u % kStages. cp.async operands: step u is started at step u - (kStages - 1),
  // one commit group per step (empty past the end, so that wait<kStages - 2> always means "step t has
  // landed"). Register operands: step u is loaded during step u - 2 and stored at step u - 1. Both write a
  // buffer last read at step u - kStages, which every thread has left at the barrier before.
  auto start_copies = [&](int64_t u) {
    if (u < steps) {
      if (oa.async) oa.copy(As[u % kStages], kb + u * kBK, ke);
      if (ob.async) ob.copy(Bs[u % kStages], kb + u * kBK, ke);
    }
    cp_async_commit();
  };
  auto fetch = [&](int64_t u) {
    if (u < steps) {
      if (!oa.async) oa.fetch(kb + u * kBK, ke);
      if (!ob.async) ob.fetch(kb + u * kBK, ke);
    }
  };
  auto put = [&](int64_t u) {
    if (u < steps) {
      if (!oa.async) oa.put(As[u % kStages]);
      if (!ob.async) ob.put(Bs[u % kStages]);
    }
  };

  if (steps > 0) {
#pragma unroll
    for (int u = 0; u < kStages - 1; ++u) start_copies(u);
    fetch(0);
    put(0);
    fetch(1);
  }
  for (int64_t t = 0; t < steps; ++t) {
    cp_async_wait<kStages - 2>();  // this thread's copies of step t have landed
    __syncthreads();               // everyone's have, the registers' stores of step t too; step t - 1 is read
    put(t + 1);
    start_copies(t + kStages - 1);
    fetch(t + 2);  // in flight while step t is multiplied
    const int s = static_cast<int>(t % kStages);
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      float af[kTM], bf[kTN];
#pragma unroll
      for (int i = 0; i < kTM; i += 4) {
        const float4 v = *reinterpret_cast<const float4*>(&As[s][kk][(ty * kTM + i) ^ swizzle(kk)]);
        af[i] = v.x;
        af[i + 1] = v.y;
        af[i + 2] = v.z;
        af[i + 3] = v.w;
      }
      const float4 v = *reinterpret_cast<const float4*>(&Bs[s][kk][(tx * kTN) ^ swizzle(kk)]);
      bf[0] = v.x;
      bf[1] = v.y;
      bf[2] = v.z;
      bf[3] = v.w;
#pragma unroll
      for (int i = 0; i < kTM; ++i) {
#pragma unroll
        for (int j = 0; j < kTN; ++j) acc[i][j] = fmaf(af[i], bf[j], acc[i][j]);
      }
    }
  }
  cp_async_wait<0>();  // no copy outlives the block (the empty trailing groups)

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

inline SplitPlan plan_splits(const CudaBackend& be, int64_t M, int64_t N, int64_t K, int64_t batch) {
  return plan_splits(be.sm_count(), M, N, K, batch);
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
