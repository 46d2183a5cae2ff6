// The fused hypernetwork forward and backward on the GPU (DESIGN.md, "The hypernetwork").
//
// Forward, depth 1, three kernels plus one for the statistics:
//   1. z1 = [eps | c] [A | U]^T + b1, h1 = act(z1): the condition is just more K for the tile engine; K = D
//      is long and the output (n x r) small, so K is split across the device and the ordered reduction of
//      the splits applies bias and activation (the epilogue) before the only store of z1 and h1.
//   2. hidden layers z_k = h_{k-1} W_k^T + b_k with the same bias + activation epilogue.
//   3. the output projection s h_L B^T, tile by tile with the epilogue on the accumulators: + s bo, the
//      residual eps_hat = eps + f, the stores of f (when kept) and eps_hat, and the per-row float64 partial
//      sums of f^2 and eps_hat^2 of the tile, reduced across the block in a fixed order.
//   4. per sample: the partial sums in order -> l2, chi, ||eps_hat||^2 (and exact from kl.cu's results).
// Backward: df = d_eps_hat + w dKL/df is never stored; the GEMMs read it through an accessor. dB and dh
// (split over D, with act'(z) fused into the ordered reduction) read it; dbo is a column sum of it.
#include <cmath>
#include <cstring>

#include "gemm_tile.cuh"

namespace hn {
namespace cuda {

namespace {

using detail::kBM;
using detail::kBN;
using detail::kTM;
using detail::kTN;
using detail::block_sum;
using detail::kBlock;
using detail::aligned16;

// op(A) of the first projection: [eps | cond] (n x (D + C)).
struct SegX {
  const float* eps;
  int64_t D;
  const float* cond;
  int64_t C;
  static constexpr bool kColFast = true;
  static constexpr bool kDirect = false;
  __device__ __forceinline__ float operator()(int64_t, int64_t i, int64_t l) const {
    return l < D ? eps[i * D + l] : cond[i * C + (l - D)];
  }
  // 4 consecutive l never straddle eps and cond when D is a multiple of 4.
  __device__ __forceinline__ bool vec_ok() const {
    return D % 4 == 0 && C % 4 == 0 && aligned16(eps) && (C == 0 || aligned16(cond));
  }
  __device__ __forceinline__ float4 load4(int64_t, int64_t i, int64_t l) const {
    return *reinterpret_cast<const float4*>(l < D ? eps + i * D + l : cond + i * C + (l - D));
  }
};

// op(B) of the first projection: [A | U]^T ((D + C) x r); A is r x D, U is r x C.
struct SegW {
  const float* A;
  const float* U;
  int64_t D, C;
  static constexpr bool kColFast = false;
  static constexpr bool kDirect = false;
  __device__ __forceinline__ float operator()(int64_t, int64_t l, int64_t a) const {
    return l < D ? A[a * D + l] : U[a * C + (l - D)];
  }
  __device__ __forceinline__ bool vec_ok() const {
    return D % 4 == 0 && C % 4 == 0 && aligned16(A) && (C == 0 || aligned16(U));
  }
  __device__ __forceinline__ float4 load4(int64_t, int64_t l, int64_t a) const {
    return *reinterpret_cast<const float4*>(l < D ? A + a * D + l : U + a * C + (l - D));
  }
};

// df = d_eps_hat + coef_i src (src: f for l2 and exact, eps_hat for chi), n x D; T: op = df^T.
template <bool T>
struct DfAcc {
  const float* g;
  const float* src;
  const float* coef;
  int64_t D;
  static constexpr bool kColFast = !T;
  static constexpr bool kDirect = false;
  __device__ __forceinline__ float operator()(int64_t, int64_t r, int64_t c) const {
    const int64_t i = T ? c : r, j = T ? r : c;
    const int64_t e = i * D + j;
    return g[e] + coef[i] * src[e];
  }
  __device__ __forceinline__ bool vec_ok() const { return D % 4 == 0 && aligned16(g) && aligned16(src); }
  // 4 consecutive j of sample i (the fast direction either way).
  __device__ __forceinline__ float4 load4(int64_t, int64_t r, int64_t c) const {
    const int64_t i = T ? c : r, e = i * D + (T ? r : c);
    const float4 gv = *reinterpret_cast<const float4*>(g + e);
    const float4 sv = *reinterpret_cast<const float4*>(src + e);
    const float w = coef[i];
    return make_float4(gv.x + w * sv.x, gv.y + w * sv.y, gv.z + w * sv.z, gv.w + w * sv.w);
  }
};

// dz = (add ? dz : 0) + (alpha acc) act'(z): the backward of an activation, on the accumulators.
struct EpiDz {
  float* dz;
  const float* z;
  int64_t ld;
  Activation act;
  float alpha;
  bool add;
  static constexpr bool kTile = false;
  __device__ __forceinline__ void elem(int64_t, int, int64_t i, int64_t j, float v) const {
    const int64_t e = i * ld + j;
    const float dh = alpha * v;
    dz[e] = (add ? dz[e] : 0.0f) + dh * act::d1(act, z[e]);
  }
};

// The output projection's epilogue: f = s acc + s bo, eps_hat = eps + f, stores, and the tile's per-row
// float64 sums of f^2 and eps_hat^2 into part_[fe][row * ntiles + column tile].
struct EpiOutput {
  const float* eps;
  float* f;  // null: f is not kept
  float* eps_hat;
  const float* bo;
  float s;
  int64_t D;
  double* part_f;
  double* part_e;
  int64_t ntiles;
  bool vec;  // rows and pointers allow float4 access
  static constexpr bool kTile = true;

  // m0, n0: the block's first row and column; the thread's are m0 + ty * kTM, n0 + tx * kTN.
  __device__ __forceinline__ void tile(const float (&acc)[kTM][kTN], int64_t m0, int64_t n0, int64_t M, int64_t N,
                                       int tx, int ty) const {
    __shared__ double red[2][kBM][kBN / kTN + 1];
    const int64_t r0 = m0 + ty * kTM, c0 = n0 + tx * kTN;
#pragma unroll
    for (int i = 0; i < kTM; ++i) {
      const int64_t row = r0 + i;
      double sf = 0.0, se = 0.0;
      if (row < M) {
        const int64_t base = row * D + c0;
        if (vec && c0 + kTN <= N) {
          const float4 b4 = *reinterpret_cast<const float4*>(bo + c0);
          const float4 e4 = *reinterpret_cast<const float4*>(eps + base);
          const float fv[4] = {s * acc[i][0] + s * b4.x, s * acc[i][1] + s * b4.y, s * acc[i][2] + s * b4.z,
                               s * acc[i][3] + s * b4.w};
          const float hv[4] = {e4.x + fv[0], e4.y + fv[1], e4.z + fv[2], e4.w + fv[3]};
          if (f) *reinterpret_cast<float4*>(f + base) = make_float4(fv[0], fv[1], fv[2], fv[3]);
          *reinterpret_cast<float4*>(eps_hat + base) = make_float4(hv[0], hv[1], hv[2], hv[3]);
#pragma unroll
          for (int q = 0; q < 4; ++q) {
            sf += static_cast<double>(fv[q]) * fv[q];
            se += static_cast<double>(hv[q]) * hv[q];
          }
        } else {
#pragma unroll
          for (int j = 0; j < kTN; ++j) {
            if (c0 + j < N) {
              const float fv = s * acc[i][j] + s * bo[c0 + j];
              const float hv = eps[base + j] + fv;
              if (f) f[base + j] = fv;
              eps_hat[base + j] = hv;
              sf += static_cast<double>(fv) * fv;
              se += static_cast<double>(hv) * hv;
            }
          }
        }
      }
      red[0][ty * kTM + i][tx] = sf;
      red[1][ty * kTM + i][tx] = se;
    }
    __syncthreads();
    const int tid = ty * (kBN / kTN) + tx;
    if (tid < kBM) {
      const int64_t row = m0 + tid, tile = n0 / kBN;
      if (row < M) {
        double sf = 0.0, se = 0.0;
        for (int t = 0; t < kBN / kTN; ++t) {
          sf += red[0][tid][t];
          se += red[1][tid][t];
        }
        part_f[row * ntiles + tile] = sf;
        part_e[row * ntiles + tile] = se;
      }
    }
  }
};

// Per sample: tile partials -> the statistics rows (layout of HypernetStats). One block per sample: each thread
// sums a strided subset of the partials, then a fixed-order tree (block_sum) combines them, so the result never
// depends on timing. (One thread per sample walked all D / 64 partials alone: 64 live threads at n = 64.) With
// exact, the trace / logdet / noninvertible rows were written by the exact-KL kernels and are combined here.
__global__ void __launch_bounds__(kBlock) stats_kernel(const double* __restrict__ part_f,
                                                       const double* __restrict__ part_e, int64_t ntiles, int64_t n,
                                                       int64_t D, bool exact, HypernetStats st) {
  __shared__ double sh[kBlock];
  for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    double sf = 0.0, se = 0.0;
    for (int64_t t = threadIdx.x; t < ntiles; t += kBlock) {
      sf += part_f[i * ntiles + t];
      se += part_e[i * ntiles + t];
    }
    sf = block_sum<kBlock>(sf, sh);
    se = block_sum<kBlock>(se, sh);
    if (threadIdx.x == 0) finish_sample_stats(st, i, sf, se, D, exact);  // as the CPU backend (core/hypernetwork_stats.h)
  }
}

// The KL's factor in df = d_eps_hat + coef_i src: w for l2 and exact (src = f), and for chi
// chi_grad_coef (src = eps_hat), as the CPU backend.
__global__ void __launch_bounds__(kBlock) df_coef_kernel(const float* __restrict__ sqnorm, int64_t n, int64_t D, bool chi, float w,
                               float* coef) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    coef[i] = chi ? chi_grad_coef(w, sqnorm[i], D) : w;
  }
}

// dbo_j = s sum_i df_ij (rows in order, float64).
__global__ void __launch_bounds__(kBlock) df_column_sums_kernel(DfAcc<false> df, int64_t n, int64_t D, float s, float* out) {
  for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < D;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    double acc = 0.0;
    for (int64_t i = 0; i < n; ++i) acc += df(0, i, j);
    out[j] = s * static_cast<float>(acc);
  }
}

}  // namespace

void CudaBackend::hypernet_k(const HypernetDesc& d, const float* params, float* K) {
  const HypernetLayout lay = hypernet_layout(d);
  // K = s A B: (r x D)(D x r), K long: split across the device.
  detail::gemm_batched(*this, false, false, d.rank, d.rank, d.noise_dim, d.scale, params + lay.A, d.noise_dim, 0,
                       params + lay.B, d.rank, 0, 0.0f, K, d.rank, 0, 1);
}

namespace {

// Every argument as 64 bits, for a graph's key.
uint64_t key_word(const void* p) { return reinterpret_cast<uintptr_t>(p); }
uint64_t key_word(int64_t v) { return static_cast<uint64_t>(v); }
uint64_t key_word(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof(b));
  return b;
}
// An operation's key: its tag, the shape, the cache's pointers, then the call's own arguments.
template <class... A>
GraphCache::Key graph_key(int64_t op, const HypernetDesc& d, const HypernetCacheView& c, A... a) {
  return GraphCache::Key{key_word(op), key_word(d.noise_dim), key_word(d.cond_dim), key_word(d.rank),
                         key_word(int64_t{d.depth}), key_word(static_cast<int64_t>(d.activation)), key_word(d.scale),
                         key_word(c.z), key_word(c.h), key_word(c.f), key_word(c.K), key_word(c.P), key_word(c.M),
                         key_word(c.stats), key_word(a)...};
}

}  // namespace

// The forward and the backward are fixed sequences for given arguments: replayed as CUDA Graphs (graphs.h).
void CudaBackend::hypernet_forward(const HypernetDesc& d, const float* params, const float* eps, const float* cond,
                                   int64_t n, float* eps_hat, KlKind kl, bool keep, const HypernetCacheView& cache) {
  if (n <= 0) return;
  const GraphCache::Key key =
      graph_key(1, d, cache, params, eps, cond, n, eps_hat, static_cast<int64_t>(kl), int64_t{keep});
  graphs_.run(*this, key, [&] { hypernet_forward_launches(d, params, eps, cond, n, eps_hat, kl, keep, cache); });
}

void CudaBackend::hypernet_backward(const HypernetDesc& d, const float* params, const float* eps, const float* cond,
                                    const float* eps_hat, int64_t n, const float* d_eps_hat, KlKind kl,
                                    float kl_weight, const HypernetCacheView& cache, float* grad) {
  const GraphCache::Key key =
      graph_key(2, d, cache, params, eps, cond, eps_hat, n, d_eps_hat, static_cast<int64_t>(kl), kl_weight, grad);
  graphs_.run(*this, key,
              [&] { hypernet_backward_launches(d, params, eps, cond, eps_hat, n, d_eps_hat, kl, kl_weight, cache, grad); });
}

void CudaBackend::hypernet_forward_launches(const HypernetDesc& d, const float* params, const float* eps,
                                            const float* cond, int64_t n, float* eps_hat, KlKind kl, bool keep,
                                            const HypernetCacheView& cache) {
  using namespace detail;
  const bool exact = kl == KlKind::Exact;
  const int64_t D = d.noise_dim, C = d.cond_dim, r = d.rank, L = d.depth;
  const HypernetLayout lay = hypernet_layout(d);
  DeviceBuffer scratch;
  float* z = cache.z;
  float* h = cache.h;
  if (!keep) {
    scratch = DeviceBuffer(*this, static_cast<size_t>(2 * L * n * r) * sizeof(float));
    z = scratch.f32();
    h = z + L * n * r;
  }

  // 1. First layer, bias and activation in the (split-K) epilogue.
  run_gemm(*this, n, r, D + C, 1, SegX{eps, D, cond, C}, SegW{params + lay.A, params + lay.U, D, C},
           EpiBiasAct{z, h, r, params + lay.b1, d.activation, 1.0f});
  // 2. Hidden r x r layers.
  for (int k = 2; k <= L; ++k) {
    gemm_bias_act(*this, n, r, r, h + (k - 2) * n * r, params + lay.W[static_cast<size_t>(k - 2)],
                  params + lay.b[static_cast<size_t>(k - 2)], d.activation, z + (k - 1) * n * r, h + (k - 1) * n * r);
  }
  // 3. Output projection with the fused epilogue.
  const float* hL = h + (L - 1) * n * r;
  float* f = keep ? cache.f : nullptr;
  const int64_t ntiles = (D + kBN - 1) / kBN;
  DeviceBuffer part(*this, static_cast<size_t>(2 * n * ntiles) * sizeof(double));
  double* part_f = static_cast<double*>(part.data());
  double* part_e = part_f + n * ntiles;
  const bool vec = D % 4 == 0 && aligned16(eps) && aligned16(eps_hat) && aligned16(params + lay.bo) &&
                   (f == nullptr || aligned16(f));
  SplitPlan whole;
  whole.splits = 1;
  whole.k_chunk = std::max<int64_t>(r, 1);
  launch_tiles(*this, n, D, r, whole, 1, Mat<false>{hL, r, 0}, Mat<true>{params + lay.B, r, 0},
               EpiOutput{eps, f, eps_hat, params + lay.bo, d.scale, D, part_f, part_e, ntiles, vec});

  // Exact KL from the r x r matrices (kl.cu), then 4. the statistics.
  const HypernetStats st = hypernet_stats_view(cache.stats, n);
  if (exact) {
    exact_kl_forward(*this, d, params, cache.K, z, n, keep, keep ? cache.M : nullptr, keep ? cache.P : nullptr,
                     st.trace, st.logdet, st.noninvertible);
  }
  launch(*this, stats_kernel, grid_for(*this, n, 1), kBlock, part_f, part_e, ntiles, n, D, exact, st);
}

void CudaBackend::hypernet_backward_launches(const HypernetDesc& d, const float* params, const float* eps,
                                             const float* cond, const float* eps_hat, int64_t n,
                                             const float* d_eps_hat, KlKind kl, float kl_weight,
                                             const HypernetCacheView& cache, float* grad) {
  using namespace detail;
  const int64_t D = d.noise_dim, C = d.cond_dim, r = d.rank, L = d.depth;
  const HypernetLayout lay = hypernet_layout(d);
  if (n <= 0) {
    fill(grad, 0.0f, lay.total);
    return;
  }
  const float s = d.scale;
  const bool exact = kl == KlKind::Exact;
  const bool chi = kl == KlKind::Chi;

  // df = d_eps_hat + coef_i src, read on the fly.
  DeviceBuffer coef(*this, static_cast<size_t>(n) * sizeof(float));
  launch(*this, df_coef_kernel, grid_for(*this, n), kBlock, hypernet_stats_view(cache.stats, n).sqnorm, n, D, chi,
         kl_weight, coef.f32());
  const float* src = chi ? eps_hat : cache.f;

  // Every gradient segment below is written (not accumulated) once, then the exact-KL terms are added.
  const float* hL = cache.h + (L - 1) * n * r;
  // dB = s df^T h_L ; dbo = s sum_i df_i.
  run_gemm(*this, D, r, n, 1, DfAcc<true>{d_eps_hat, src, coef.f32(), D}, Mat<false>{hL, r, 0},
           EpiAB{grad + lay.B, r, 0, s, 0.0f});
  launch(*this, df_column_sums_kernel, grid_for(*this, D), kBlock, DfAcc<false>{d_eps_hat, src, coef.f32(), D}, n, D,
         s, grad + lay.bo);

  // dz (L x n x r) starts as the exact-KL direct terms; the exact KL also writes dW_k and S.
  DeviceBuffer dz_buf(*this, static_cast<size_t>(L * n * r) * sizeof(float));
  float* dz = dz_buf.f32();
  DeviceBuffer S_buf;
  if (exact) {
    S_buf = DeviceBuffer(*this, static_cast<size_t>(r * r) * sizeof(float));
    exact_kl_backward(*this, d, params, cache.K, cache.z, cache.P, n, kl_weight, dz, grad, S_buf.f32());
  }

  // dh_L = s df B (split over D), dz_L += dh_L act'(z_L) in the reduction.
  run_gemm(*this, n, r, D, 1, DfAcc<false>{d_eps_hat, src, coef.f32(), D}, Mat<false>{params + lay.B, r, 0},
           EpiDz{dz + (L - 1) * n * r, cache.z + (L - 1) * n * r, r, d.activation, s, exact});
  for (int64_t k = L; k >= 2; --k) {
    const float* dzk = dz + (k - 1) * n * r;
    const float* hprev = cache.h + (k - 2) * n * r;
    const int64_t wk = lay.W[static_cast<size_t>(k - 2)];
    // dW_k (+)= dz_k^T h_{k-1}, db_k = sum dz_k, dz_{k-1} (+)= (dz_k W_k) act'(z_{k-1}).
    gemm_batched(*this, true, false, r, r, n, 1.0f, dzk, r, 0, hprev, r, 0, exact ? 1.0f : 0.0f, grad + wk, r, 0, 1);
    column_sums(*this, dzk, n, r, r, 1.0f, grad + lay.b[static_cast<size_t>(k - 2)], false);
    run_gemm(*this, n, r, r, 1, Mat<false>{dzk, r, 0}, Mat<false>{params + wk, r, 0},
             EpiDz{dz + (k - 2) * n * r, cache.z + (k - 2) * n * r, r, d.activation, 1.0f, exact});
  }
  // First layer: dA = dz1^T eps, dU = dz1^T c, db1 = sum dz1.
  gemm_batched(*this, true, false, r, D, n, 1.0f, dz, r, 0, eps, D, 0, 0.0f, grad + lay.A, D, 0, 1);
  if (C > 0) gemm_batched(*this, true, false, r, C, n, 1.0f, dz, r, 0, cond, C, 0, 0.0f, grad + lay.U, C, 0, 1);
  column_sums(*this, dz, n, r, r, 1.0f, grad + lay.b1, false);
  if (exact) {
    // K = s A B: dA += s S B^T, dB += s A^T S.
    gemm_batched(*this, false, true, r, D, r, s, S_buf.f32(), r, 0, params + lay.B, r, 0, 1.0f, grad + lay.A, D, 0, 1);
    gemm_batched(*this, true, false, D, r, r, s, params + lay.A, D, 0, S_buf.f32(), r, 0, 1.0f, grad + lay.B, r, 0, 1);
  }
}

}  // namespace cuda
}  // namespace hn
