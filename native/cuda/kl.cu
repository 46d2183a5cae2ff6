// The exact noise KL on the GPU (DESIGN.md, "The exact noise KL"): per sample, G = I + M K (r x r), Tr(MK), log det G and
// P = I - G^{-1}; and the backward that turns them into gradients.
//
// Precision: G is factorised in float64, as on the CPU. Near the identity map (the start of training,
// f ≈ 0) log det G is a sum of log(1 + small) terms whose float32 rounding (~6e-8 absolute per pivot)
// would be as large as the quantity itself, and E = Tr(MK) - log det G is a difference of two such nearly
// equal numbers. float64 costs 2x on H100/H200-class parts; on consumer parts (1/64-rate float64) it is
// slow but still small next to the D-sized projections at r <= 128.
//
// Factorisation: Gauss–Jordan with partial pivoting, one block per sample, the matrix held in registers:
// thread (g, j) keeps column j of rows g, g + G, g + 2G, ... (32 rows each, statically indexed), so the
// only shared-memory traffic per step is the pivot column and the pivot row (broadcasts), not the r^2
// updates. Rows are never moved: the pivot order is a permutation kept in shared memory, searched in
// the same order (and with the same tie-break) as the CPU's physical row interchanges, and undone when
// P is written. Ranks up to 128 use the register kernel (padded to 32/64/128 with identity rows, which
// pivoting never selects); larger ranks use a slower kernel with the matrix in global memory.
#include <cmath>

#include "common.cuh"

namespace hn {
namespace cuda {
namespace detail {

namespace {

constexpr int kRegRows = 32;  // rows of G per thread in the register kernel

// The pivot of column k among logical positions k..r-1: the first position (in logical order) of the
// largest |value|, exactly as the CPU's sequential scan. Every lane of the calling warp gets the same result,
// so warps that search the same column agree without talking. Non-finite entries fail the sample (they would
// poison log det and P anyway).
struct Pivot {
  int pos;      // logical position of the pivot
  double mag;   // its |value|
  bool bad;     // a non-finite entry in the column
  __device__ __forceinline__ bool ok() const { return !bad && mag > 0.0; }
};

__device__ __forceinline__ Pivot find_pivot(int k, int r, const double* col, const int* perm) {
  const int lane = threadIdx.x % 32;
  // Each lane: the first of its largest |value| (its positions increase along its scan). Non-negative doubles
  // order as their bit patterns do, so the warp's maximum is two 32-bit reductions (high word, then low word
  // among the lanes that hold the high maximum) and the tie-break a third (the smallest position among the
  // lanes that hold the maximum): three single-instruction warp reductions instead of five rounds of shuffles
  // on every step's critical path.
  uint64_t key = 0;
  int bpos = 0x7fffffff;
  bool bad = false, any = false;
  for (int pos = k + lane; pos < r; pos += 32) {
    const double v = fabs(col[perm[pos]]);
    bad = bad || !isfinite(v);
    const uint64_t b = static_cast<uint64_t>(__double_as_longlong(v));
    if (!any || b > key) {
      key = b;
      bpos = pos;
      any = true;
    }
  }
  const unsigned hi = static_cast<unsigned>(key >> 32), lo = static_cast<unsigned>(key);
  const unsigned max_hi = __reduce_max_sync(0xffffffffu, hi);
  const unsigned max_lo = __reduce_max_sync(0xffffffffu, hi == max_hi ? lo : 0u);
  const unsigned cand = hi == max_hi && lo == max_lo ? static_cast<unsigned>(bpos) : 0xffffffffu;
  const int pos = static_cast<int>(__reduce_min_sync(0xffffffffu, cand));
  const double mag = __longlong_as_double(static_cast<long long>((static_cast<uint64_t>(max_hi) << 32) | max_lo));
  return Pivot{pos, mag, __any_sync(0xffffffffu, bad) != 0};
}

// Warp 0 of the global-memory kernel: the pivot, then lane 0 updates the permutation and the shared state.
__device__ __forceinline__ void pick_pivot(int k, int r, const double* col, int* perm, double* pivots, int* s_q,
                                           double* s_inv, int* s_fail, int* s_sign) {
  const Pivot p = find_pivot(k, r, col, perm);
  if (threadIdx.x == 0) {
    if (!p.ok()) {
      *s_fail = 1;
    } else {
      const int q = perm[p.pos];
      perm[p.pos] = perm[k];
      perm[k] = q;
      const double piv = col[q];
      int sg = *s_sign;
      if (p.pos != k) sg = -sg;
      if (piv < 0.0) sg = -sg;
      *s_sign = sg;
      pivots[k] = piv;
      *s_q = q;
      *s_inv = 1.0 / piv;
    }
  }
}

// One block per sample; R = padded rank (32, 64 or 128), R * R / 32 threads. Input: depth 1, G = I +
// diag(act'(z1)) K; else G = I + MK (MK given, n x r x r). Output as cpu::exact_kl_forward.
// One sample's statistics, written by thread 0 of its block after the factorisation: the trace is the sum of
// diag, the log-determinant the sum of pivots (already log|u_kk|), both in a fixed order.
__device__ void write_sample_stats(int r, const double* diag, const double* pivots, bool ok, int64_t i, float* trace,
                                   float* logdet, float* noninvertible) {
  double tr = 0.0, lad = 0.0;
  for (int e = 0; e < r; ++e) {
    tr += diag[e];
    lad += pivots[e];
  }
  trace[i] = static_cast<float>(tr);
  logdet[i] = ok ? static_cast<float>(lad) : 0.0f;
  noninvertible[i] = ok ? 0.0f : 1.0f;
}

template <int R>
__global__ void __launch_bounds__(R * R / kRegRows)
    exact_factor_kernel(int r, Activation act, const float* __restrict__ z, const float* __restrict__ K,
                        const float* __restrict__ MK, bool keep, float* __restrict__ P, float* __restrict__ trace,
                        float* __restrict__ logdet, float* __restrict__ noninvertible) {
  constexpr int T = R * R / kRegRows;
  constexpr int G = T / R;
  static_assert(G * kRegRows == R, "register layout");
  const int64_t i = blockIdx.x;
  const int64_t rr = static_cast<int64_t>(r) * r;
  const int tid = threadIdx.x, j = tid % R, g = tid / R;

  __shared__ double col[2][R];  // pivot column, double-buffered by step parity (laggards still read it)
  __shared__ double prow[R];
  __shared__ double mrow[R];
  __shared__ double diag[R];
  __shared__ double pivots[R];
  __shared__ int perm[2][R];  // logical position -> physical row, double-buffered by step parity
  __shared__ int pinv[R];

  if (tid < R) {
    perm[0][tid] = tid;
    mrow[tid] = (MK == nullptr && tid < r) ? static_cast<double>(act::d1(act, z[i * r + tid])) : 0.0;
  }
  __syncthreads();

  double a[kRegRows];
#pragma unroll
  for (int q = 0; q < kRegRows; ++q) {
    const int row = g + G * q;
    double v = 0.0;
    if (row < r && j < r) {
      v = MK ? static_cast<double>(MK[i * rr + static_cast<int64_t>(row) * r + j])
             : mrow[row] * static_cast<double>(K[static_cast<int64_t>(row) * r + j]);
      if (row == j) diag[row] = v;
    }
    a[q] = row == j ? v + 1.0 : v;
  }

  // Two barriers per step. Every warp searches the pivot column itself (the same scan, the same answer), so
  // the pivot, the sign and a failure are known to every thread without a barrier of their own; the
  // permutation is double-buffered so that the new one can be written while slower warps still search the
  // old. Each buffer (column, permutation, pivot row) is written only after a barrier that follows its
  // last read.
  int sign = 1, final_perm = r & 1;
  bool fail = false;
  for (int k = 0; k < r; ++k) {
    double* c = col[k & 1];
    const int* pc = perm[k & 1];
    if (j == k) {
#pragma unroll
      for (int q = 0; q < kRegRows; ++q) c[g + G * q] = a[q];
    }
    __syncthreads();  // 1: column k is in shared memory
    const Pivot p = find_pivot(k, r, c, pc);
    if (!p.ok()) {  // uniform: every warp found the same
      fail = true;
      final_perm = k & 1;
      break;
    }
    const int q = pc[p.pos];
    const double piv = c[q];
    const double inv = 1.0 / piv;
    if (p.pos != k) sign = -sign;
    if (piv < 0.0) sign = -sign;
    if (tid < R) perm[(k + 1) & 1][tid] = tid == k ? q : tid == p.pos ? pc[k] : pc[tid];
    if (tid == 0) pivots[k] = piv;
    if (g == q % G) {
      // The pivot row's entry of this column, picked by a static loop (registers cannot be indexed).
      const int sq = q / G;
      double v = 0.0;
#pragma unroll
      for (int qq = 0; qq < kRegRows; ++qq) v = qq == sq ? a[qq] : v;
      prow[j] = v;
    }
    __syncthreads();  // 2: the pivot row is in shared memory
    // As the CPU: the pivot row becomes row/piv (column k: 1/piv); every other row i loses t_i times it,
    // its column k becoming -t_i/piv (the in-place inverse). Without `keep` only the log-determinant is
    // wanted: columns up to k are never read again (the pivot search reads column k + 1 on), so their threads
    // skip the update, whole warps at a time (about half the elimination's work over the r steps); the
    // columns right of k get the same operations as with `keep`, so the pivots and log det are the same bits.
    if (keep || j > k) {
      const double u = j == k ? inv : prow[j] * inv;
#pragma unroll
      for (int qq = 0; qq < kRegRows; ++qq) {
        const int row = g + G * qq;
        const double t = c[row];
        a[qq] = row == q ? u : (j == k ? 0.0 : a[qq]) - t * u;
      }
    }
  }
  __syncthreads();

  const bool ok = !fail && sign > 0;
  const int* pf = perm[final_perm];
  if (tid < r) pivots[tid] = ok ? log(fabs(pivots[tid])) : 0.0;
  if (keep && tid < r) pinv[pf[tid]] = tid;
  __syncthreads();
  if (tid == 0) write_sample_stats(r, diag, pivots, ok, i, trace, logdet, noninvertible);
  if (keep) {
    // The stored matrix W satisfies G^{-1}[a][b] = W[perm[a]][perm^{-1}[b]]: element (row, j) of W is
    // G^{-1}[pinv[row]][perm[j]].
#pragma unroll
    for (int qq = 0; qq < kRegRows; ++qq) {
      const int row = g + G * qq;
      if (row < r && j < r) {
        const int pa = pinv[row], pb = pf[j];
        const double id = pa == pb ? 1.0 : 0.0;
        P[i * rr + static_cast<int64_t>(pa) * r + pb] = static_cast<float>(ok ? id - a[qq] : id);
      }
    }
  }
}

// The same algorithm for ranks above 128, with the matrix and vectors in global memory (per-sample slices
// of `work`), one block of 256 threads per sample. Slower; it exists so that any rank works.
constexpr int kGlobalThreads = 256;

__global__ void __launch_bounds__(kGlobalThreads)
    exact_factor_global_kernel(int r, Activation act, const float* __restrict__ z, const float* __restrict__ K,
                               const float* __restrict__ MK, bool keep, double* work, int* iwork,
                               float* __restrict__ P, float* __restrict__ trace, float* __restrict__ logdet,
                               float* __restrict__ noninvertible) {
  const int64_t i = blockIdx.x;
  const int64_t rr = static_cast<int64_t>(r) * r;
  const int tid = threadIdx.x;
  double* a = work + i * (rr + 6 * static_cast<int64_t>(r));
  double* col0 = a + rr;
  double* col1 = col0 + r;
  double* prow = col1 + r;
  double* mrow = prow + r;
  double* pivots = mrow + r;
  double* diag = pivots + r;
  int* perm = iwork + i * 2 * r;
  int* pinv = perm + r;
  __shared__ int s_q, s_fail, s_sign;
  __shared__ double s_inv;

  for (int e = tid; e < r; e += kGlobalThreads) {
    perm[e] = e;
    mrow[e] = MK == nullptr ? static_cast<double>(act::d1(act, z[i * r + e])) : 0.0;
  }
  if (tid == 0) {
    s_fail = 0;
    s_sign = 1;
  }
  __syncthreads();
  for (int64_t e = tid; e < rr; e += kGlobalThreads) {
    const int64_t row = e / r, cc = e % r;
    double v = MK ? static_cast<double>(MK[i * rr + e]) : mrow[row] * static_cast<double>(K[e]);
    if (row == cc) {
      diag[row] = v;
      v += 1.0;
    }
    a[e] = v;
  }
  __syncthreads();

  for (int k = 0; k < r; ++k) {
    double* c = (k & 1) ? col1 : col0;
    for (int e = tid; e < r; e += kGlobalThreads) c[e] = a[static_cast<int64_t>(e) * r + k];
    __syncthreads();
    if (tid < 32) pick_pivot(k, r, c, perm, pivots, &s_q, &s_inv, &s_fail, &s_sign);
    __syncthreads();
    if (s_fail) break;
    const int q = s_q;
    const double inv = s_inv;
    for (int e = tid; e < r; e += kGlobalThreads) prow[e] = a[static_cast<int64_t>(q) * r + e];
    __syncthreads();
    // Without `keep`, only the columns right of k (as in the register kernel): rows of them, in the same order.
    const int64_t c0 = keep ? 0 : k + 1, width = r - c0;
    for (int64_t e = tid; e < r * width; e += kGlobalThreads) {
      const int64_t row = e / width, cc = c0 + e % width;
      const double u = cc == k ? inv : prow[cc] * inv;
      double& x = a[row * r + cc];
      x = row == q ? u : (cc == k ? 0.0 : x) - c[row] * u;
    }
    __syncthreads();  // the next step reads column k + 1 of a
  }
  __syncthreads();

  const bool ok = s_fail == 0 && s_sign > 0;
  for (int e = tid; e < r; e += kGlobalThreads) {
    pivots[e] = ok ? log(fabs(pivots[e])) : 0.0;
    if (keep) pinv[perm[e]] = e;
  }
  __syncthreads();
  if (tid == 0) write_sample_stats(r, diag, pivots, ok, i, trace, logdet, noninvertible);
  if (keep) {
    for (int64_t e = tid; e < rr; e += kGlobalThreads) {
      const int64_t row = e / r, cc = e % r;
      const int pa = pinv[row], pb = perm[cc];
      const double id = pa == pb ? 1.0 : 0.0;
      P[i * rr + static_cast<int64_t>(pa) * r + pb] = static_cast<float>(ok ? id - a[e] : id);
    }
  }
}

// ---- small element-wise pieces of the depth > 1 chain and of the backward ------------------------------

// X[i] = diag(act'(z1_i)).
__global__ void __launch_bounds__(kBlock) chain_diag_kernel(const float* __restrict__ z1, int64_t n, int r, Activation act, float* X) {
  const int64_t rr = static_cast<int64_t>(r) * r, total = n * rr;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = e / rr, rem = e % rr, a = rem / r, b = rem % r;
    X[e] = a == b ? act::d1(act, z1[i * r + a]) : 0.0f;
  }
}

// X[i][a][b] = act'(z_k[i][a]) Y[i][a][b]  (X_k = S_k Y_k).
__global__ void __launch_bounds__(kBlock) chain_rowscale_kernel(const float* __restrict__ zk, const float* __restrict__ Y, int64_t n, int r,
                                      Activation act, float* __restrict__ X) {
  const int64_t rr = static_cast<int64_t>(r) * r, total = n * rr;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = e / rr, a = (e % rr) / r;
    X[e] = act::d1(act, zk[i * r + a]) * Y[e];
  }
}

// out[e] = w sum_i x_i[e'] (float64, samples in order), e' = e or its transpose. One thread per entry;
// thread t reads entry t of every sample (coalesced) and writes the transposed position when asked.
__global__ void __launch_bounds__(kBlock) batch_sum_kernel(const float* __restrict__ x, int64_t n, int r, bool transpose, float w,
                                 float* __restrict__ out) {
  const int64_t rr = static_cast<int64_t>(r) * r;
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < rr;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    double acc = 0.0;
    for (int64_t i = 0; i < n; ++i) acc += x[i * rr + t];
    const int64_t dst = transpose ? (t % r) * r + t / r : t;
    out[dst] = static_cast<float>(w * acc);
  }
}

// Depth 1: dz1[i][a] = w (K P_i)_aa act''(z1_ia).
__global__ void __launch_bounds__(kBlock) exact_dz_d1_kernel(const float* __restrict__ K, const float* __restrict__ P,
                                   const float* __restrict__ z, int64_t n, int r, Activation act, float w,
                                   float* __restrict__ dz) {
  const int64_t rr = static_cast<int64_t>(r) * r, total = n * r;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = e / r, a = e % r;
    const float* Pi = P + i * rr;
    double kp = 0.0;
    for (int64_t l = 0; l < r; ++l) kp += static_cast<double>(K[a * r + l]) * Pi[l * r + a];
    dz[e] = static_cast<float>(w * kp * act::d2(act, z[e]));
  }
}

// Depth 1: S[a][b] = w sum_i act'(z1_ia) P_i[b][a]  (= w sum_i (P_i M_i)^T with M_i diagonal).
__global__ void __launch_bounds__(kBlock, 5) exact_S_d1_kernel(const float* __restrict__ P, const float* __restrict__ z, int64_t n, int r,
                                  Activation act, float w, float* __restrict__ S) {
  const int64_t rr = static_cast<int64_t>(r) * r;
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < rr;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t b = t / r, a = t % r;  // a fastest: P_i[b][a] reads are coalesced
    double acc = 0.0;
    for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(act::d1(act, z[i * r + a])) * P[i * rr + t];
    S[a * r + b] = static_cast<float>(w * acc);
  }
}

// Depth > 1, layer k: one warp per row (i, a): g = sum_b Lam[a][b] Y_k[a][b] gives dz_k = w g act''(z_k);
// then the row of Lam is scaled by act'(z_k) in place (S_k Lam).
__global__ void __launch_bounds__(kBlock) exact_rowdot_kernel(float* __restrict__ lam, const float* __restrict__ Y, const float* __restrict__ zk,
                                    int64_t n, int r, Activation act, float w, float* __restrict__ dzk) {
  const int lane = threadIdx.x % 32;
  const int64_t rows = n * r;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x / 32) + threadIdx.x / 32; e < rows; e += warps) {
    float* lrow = lam + e * r;
    const float* yrow = Y + e * r;
    double g = 0.0;
    for (int b = lane; b < r; b += 32) g += static_cast<double>(lrow[b]) * yrow[b];
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) g += __shfl_xor_sync(0xffffffffu, g, off);
    const float zv = zk[e];
    if (lane == 0) dzk[e] = static_cast<float>(w * g * act::d2(act, zv));
    const float s1 = act::d1(act, zv);
    for (int b = lane; b < r; b += 32) lrow[b] = s1 * lrow[b];
  }
}

// Depth > 1, first layer: dz1[i][a] = w Lam_i[a][a] act''(z1_ia).
__global__ void __launch_bounds__(kBlock) exact_dz_first_kernel(const float* __restrict__ lam, const float* __restrict__ z1, int64_t n, int r,
                                      Activation act, float w, float* __restrict__ dz1) {
  const int64_t rr = static_cast<int64_t>(r) * r, total = n * r;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = e / r, a = e % r;
    dz1[e] = static_cast<float>(w * static_cast<double>(lam[i * rr + a * r + a]) * act::d2(act, z1[e]));
  }
}

// X_1 .. X_L (and Y_2 .. Y_L when Y is non-null) of every sample: X_1 = diag(act'(z1)), Y_k = W_k X_{k-1},
// X_k = S_k Y_k. X and Y hold L slabs of n x r x r; with last != null, X_L goes there instead.
void build_chain(CudaBackend& be, const HypernetDesc& d, const HypernetLayout& lay, const float* params,
                 const float* z, int64_t n, float* X, float* Y, float* last) {
  const int r = static_cast<int>(d.rank);
  const int64_t rr = d.rank * d.rank, L = d.depth, nr = n * d.rank;
  auto slab = [&](float* base, int64_t k) { return base + (k - 1) * n * rr; };  // layer k's slab
  launch(be, chain_diag_kernel, grid_for(be, n * rr), kBlock, z, n, r, d.activation, slab(X, 1));
  for (int64_t k = 2; k <= L; ++k) {
    float* Yk = slab(Y, k);
    const float* W = params + lay.W[static_cast<size_t>(k - 2)];
    gemm_batched(be, false, false, r, r, r, 1.0f, W, r, 0, slab(X, k - 1), r, rr, 0.0f, Yk, r, rr, n);
    float* Xk = (k == L && last) ? last : slab(X, k);
    launch(be, chain_rowscale_kernel, grid_for(be, n * rr), kBlock, z + (k - 1) * nr, Yk, n, r, d.activation, Xk);
  }
}

}  // namespace

void exact_kl_forward(CudaBackend& be, const HypernetDesc& d, const float* params, const float* K, const float* z,
                      int64_t n, bool keep, float* M_out, float* P_out, float* trace, float* logdet,
                      float* noninvertible) {
  if (n <= 0) return;
  const int r = static_cast<int>(d.rank);
  const int64_t rr = d.rank * d.rank, L = d.depth;
  const HypernetLayout lay = hypernet_layout(d);
  DeviceBuffer mk_buf;
  const float* MK = nullptr;
  if (L > 1) {
    // M = X_L through the chain (float32 batched GEMMs), then MK = M K; the factorisation is float64.
    DeviceBuffer chain(be, static_cast<size_t>(2 * L * n * rr) * sizeof(float));
    float* X = chain.f32();
    float* Y = X + L * n * rr;
    float* M = (keep && M_out) ? M_out : X + (L - 1) * n * rr;
    build_chain(be, d, lay, params, z, n, X, Y, M);
    mk_buf = DeviceBuffer(be, static_cast<size_t>(n * rr) * sizeof(float));
    gemm_batched(be, false, false, r, r, r, 1.0f, M, r, rr, K, r, 0, 0.0f, mk_buf.f32(), r, rr, n);
    MK = mk_buf.f32();
  }
  float* P = keep ? P_out : nullptr;
  const Activation act = d.activation;
  if (r <= 32) {
    launch(be, exact_factor_kernel<32>, static_cast<unsigned>(n), 32 * 32 / kRegRows, r, act, z, K, MK, keep, P,
           trace, logdet, noninvertible);
  } else if (r <= 64) {
    launch(be, exact_factor_kernel<64>, static_cast<unsigned>(n), 64 * 64 / kRegRows, r, act, z, K, MK, keep, P,
           trace, logdet, noninvertible);
  } else if (r <= 128) {
    launch(be, exact_factor_kernel<128>, static_cast<unsigned>(n), 128 * 128 / kRegRows, r, act, z, K, MK, keep, P,
           trace, logdet, noninvertible);
  } else {
    DeviceBuffer work(be, static_cast<size_t>(n * (rr + 6 * d.rank)) * sizeof(double));
    DeviceBuffer iwork(be, static_cast<size_t>(n * 2 * d.rank) * sizeof(int));
    launch(be, exact_factor_global_kernel, static_cast<unsigned>(n), kGlobalThreads, r, act, z, K, MK, keep,
           static_cast<double*>(work.data()), static_cast<int*>(iwork.data()), P, trace, logdet, noninvertible);
  }
}

void exact_kl_backward(CudaBackend& be, const HypernetDesc& d, const float* params, const float* K, const float* z,
                       const float* P, int64_t n, float w, float* dz, float* grad, float* S) {
  const int r = static_cast<int>(d.rank);
  const int64_t rr = d.rank * d.rank, L = d.depth, nr = n * d.rank;
  const Activation act = d.activation;
  if (L == 1) {
    launch(be, exact_dz_d1_kernel, grid_for(be, nr), kBlock, K, P, z, n, r, act, w, dz);
    launch(be, exact_S_d1_kernel, grid_for(be, rr), kBlock, P, z, n, r, act, w, S);
    return;
  }
  const HypernetLayout lay = hypernet_layout(d);
  // The chain is recomputed (the cache keeps only M): X_k, Y_k for every layer.
  DeviceBuffer chain(be, static_cast<size_t>(2 * L * n * rr) * sizeof(float));
  float* X = chain.f32();
  float* Y = X + L * n * rr;
  build_chain(be, d, lay, params, z, n, X, Y, nullptr);
  auto slab = [&](float* base, int64_t k) { return base + (k - 1) * n * rr; };

  DeviceBuffer tmp(be, static_cast<size_t>(3 * n * rr) * sizeof(float));
  float* lam = tmp.f32();
  float* lam_next = lam + n * rr;
  float* prod = lam_next + n * rr;
  // Gamma = dE/dM = (K P)^T = P^T K^T.
  gemm_batched(be, true, true, r, r, r, 1.0f, P, r, rr, K, r, 0, 0.0f, lam, r, rr, n);
  // S = w sum_i (P_i M_i)^T.
  gemm_batched(be, false, false, r, r, r, 1.0f, P, r, rr, slab(X, L), r, rr, 0.0f, prod, r, rr, n);
  launch(be, batch_sum_kernel, grid_for(be, rr), kBlock, prod, n, r, true, w, S);
  const unsigned row_blocks = grid_for(be, nr * 32);
  for (int64_t k = L; k >= 2; --k) {
    // dz_k and Lam <- S_k Lam.
    launch(be, exact_rowdot_kernel, row_blocks, kBlock, lam, slab(Y, k), z + (k - 1) * nr, n, r, act, w,
           dz + (k - 1) * nr);
    // dW_k = w sum_i (S_k Lam)_i X_{k-1,i}^T.
    gemm_batched(be, false, true, r, r, r, 1.0f, lam, r, rr, slab(X, k - 1), r, rr, 0.0f, prod, r, rr, n);
    launch(be, batch_sum_kernel, grid_for(be, rr), kBlock, prod, n, r, false, w,
           grad + lay.W[static_cast<size_t>(k - 2)]);
    // dE/dX_{k-1} = W_k^T (S_k Lam).
    gemm_batched(be, true, false, r, r, r, 1.0f, params + lay.W[static_cast<size_t>(k - 2)], r, 0, lam, r, rr, 0.0f,
                 lam_next, r, rr, n);
    std::swap(lam, lam_next);
  }
  launch(be, exact_dz_first_kernel, grid_for(be, nr), kBlock, lam, z, n, r, act, w, dz);
}

}  // namespace detail
}  // namespace cuda
}  // namespace hn
