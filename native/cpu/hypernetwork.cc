// The fused hypernetwork forward and backward on the CPU (DESIGN.md, "The hypernetwork").
// Forward: z1 = eps A^T + c U^T + b1 with the bias and activation in the GEMM epilogue; hidden r x r
// layers likewise; then the output projection tiled over fixed column chunks, each tile finished in
// cache: + s*bo, residual add, and the float64 partial sums of ||f||^2 and ||eps_hat||^2.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/errors.h"
#include "act_kernels.h"
#include "cpu_backend.h"
#include "epilogues.h"
#include "gemm.h"
#include "kl.h"
#include "threadpool.h"
#include "isa_kernels.h"

namespace hn {
namespace cpu {

namespace {

constexpr int64_t kColChunk = 512;  // output-projection columns per tile (fixed: determinism)
constexpr int64_t kRowBlock = 64;   // output-projection rows per tile

// Column sums of x (rows x cols) scaled by alpha, added into out; fixed summation order.
void add_column_sums(const float* x, int64_t rows, int64_t cols, float alpha, float* out) {
  const int64_t tasks = std::max<int64_t>(1, std::min<int64_t>(64, cols / 256));
  global_pool().parallel_for(tasks, [&](int64_t t) {
    int64_t b, e;
    chunk_range(cols, tasks, t, &b, &e);
    std::vector<double> acc(static_cast<size_t>(e - b), 0.0);
    for (int64_t i = 0; i < rows; ++i) {
      const float* xi = x + i * cols;
      for (int64_t j = b; j < e; ++j) acc[static_cast<size_t>(j - b)] += xi[j];
    }
    for (int64_t j = b; j < e; ++j) out[j] += alpha * static_cast<float>(acc[static_cast<size_t>(j - b)]);
  });
}

// The output projection's epilogue on a block of C = s h_L B^T (inside one tile): f += s bo, eps_hat = eps
// + f, and the per-row float64 sums of f^2 and eps_hat^2 added to the tile's partials.
class OutputEpilogue final : public GemmEpilogue {
 public:
  OutputEpilogue(const float* eps, float* eps_hat, const float* bo, float s, int64_t ld, double* part_f, double* part_e,
                 int64_t part_stride)
      : eps_(eps),
        eps_hat_(eps_hat),
        bo_(bo),
        s_(s),
        ld_(ld),
        part_f_(part_f),
        part_e_(part_e),
        stride_(part_stride),
        finish_row_(active_kernels().elementwise.finish_output_row) {}
  void apply(int64_t row0, int64_t rows, int64_t col0, int64_t cols, float* c, int64_t ldc) const override {
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t row = row0 + i;
      double sf, se;
      finish_row_(c + i * ldc, eps_ + row * ld_ + col0, eps_hat_ + row * ld_ + col0, bo_ + col0, s_, cols, &sf, &se);
      part_f_[row * stride_] += sf;
      part_e_[row * stride_] += se;
    }
  }

 private:
  const float* eps_;
  float* eps_hat_;
  const float* bo_;
  float s_;
  int64_t ld_;
  double* part_f_;
  double* part_e_;
  int64_t stride_;
  decltype(ElementwiseKernels::finish_output_row) finish_row_;
};

}  // namespace

void CpuBackend::hypernet_k(const HypernetDesc& d, const float* params, float* K) {
  const HypernetLayout lay = hypernet_layout(d);
  // K = s A B: (r x D)(D x r).
  sgemm(false, false, d.rank, d.rank, d.noise_dim, d.scale, params + lay.A, d.noise_dim, params + lay.B, d.rank,
        0.0f, K, d.rank);
}

void CpuBackend::hypernet_forward(const HypernetDesc& d, const float* params, const float* eps, const float* cond,
                                  int64_t n, float* eps_hat, KlKind kl, bool keep, const HypernetCacheView& cache) {
  const int64_t D = d.noise_dim, C = d.cond_dim, r = d.rank, L = d.depth;
  const bool exact = kl == KlKind::Exact;
  const HypernetLayout lay = hypernet_layout(d);
  thread_local std::vector<float> scratch;
  float* z = cache.z;
  float* h = cache.h;
  if (!keep) {
    scratch.resize(static_cast<size_t>(2 * L * n * r));
    z = scratch.data();
    h = z + L * n * r;
  }

  // First layer: z1 = c U^T + eps A^T + b1, h1 = act(z1).
  BiasActEpilogue first(params + lay.b1, d.activation, h, r);
  if (C > 0) {
    sgemm(false, true, n, r, C, 1.0f, cond, C, params + lay.U, C, 0.0f, z, r);
    sgemm(false, true, n, r, D, 1.0f, eps, D, params + lay.A, D, 1.0f, z, r, &first);
  } else {
    sgemm(false, true, n, r, D, 1.0f, eps, D, params + lay.A, D, 0.0f, z, r, &first);
  }
  for (int k = 2; k <= L; ++k) {
    float* zk = z + (k - 1) * n * r;
    float* hk = h + (k - 1) * n * r;
    BiasActEpilogue hidden(params + lay.b[static_cast<size_t>(k - 2)], d.activation, hk, r);
    sgemm(false, true, n, r, r, 1.0f, h + (k - 2) * n * r, r, params + lay.W[static_cast<size_t>(k - 2)], r, 0.0f, zk,
          r, &hidden);
  }

  // Output projection, tile by tile: f = s (h_L B^T + bo), eps_hat = eps + f, norms.
  const float* hL = h + (L - 1) * n * r;
  const float* B = params + lay.B;
  const float* bo = params + lay.bo;
  const float s = d.scale;
  float* f_out = keep ? cache.f : eps_hat;
  const int64_t col_chunks = (D + kColChunk - 1) / kColChunk;
  const int64_t row_blocks = (n + kRowBlock - 1) / kRowBlock;
  std::vector<double> part_f(static_cast<size_t>(n * col_chunks)), part_e(static_cast<size_t>(n * col_chunks));
  global_pool().parallel_for(row_blocks * col_chunks, [&](int64_t t) {
    const int64_t rb = t / col_chunks, cc = t % col_chunks;
    const int64_t i0 = rb * kRowBlock, rows = std::min(kRowBlock, n - i0);
    const int64_t j0 = cc * kColChunk, cols = std::min(kColChunk, D - j0);
    for (int64_t i = i0; i < i0 + rows; ++i) {
      part_f[static_cast<size_t>(i * col_chunks + cc)] = 0.0;
      part_e[static_cast<size_t>(i * col_chunks + cc)] = 0.0;
    }
    // The tile is finished strip by strip inside the GEMM, while each strip is still in L1. One task owns
    // the tile and sgemm_serial visits its strips in a fixed order, so the sums do not depend on threads.
    OutputEpilogue epi(eps + i0 * D + j0, eps_hat + i0 * D + j0, bo + j0, s, D, part_f.data() + i0 * col_chunks + cc,
                       part_e.data() + i0 * col_chunks + cc, col_chunks);
    sgemm_serial(false, true, rows, cols, r, s, hL + i0 * r, r, B + j0 * r, r, 0.0f, f_out + i0 * D + j0, D, &epi);
  });

  const HypernetStats st = hypernet_stats_view(cache.stats, n);
  if (exact) exact_kl_forward(d, params, cache.K, z, n, keep, cache.M, cache.P, st.trace, st.logdet, st.noninvertible);
  for (int64_t i = 0; i < n; ++i) {
    double sf = 0.0, se = 0.0;
    for (int64_t c = 0; c < col_chunks; ++c) {
      sf += part_f[static_cast<size_t>(i * col_chunks + c)];
      se += part_e[static_cast<size_t>(i * col_chunks + c)];
    }
    finish_sample_stats(st, i, sf, se, D, exact);
  }
}

void CpuBackend::hypernet_backward(const HypernetDesc& d, const float* params, const float* eps, const float* cond,
                                   const float* eps_hat, int64_t n, const float* d_eps_hat, KlKind kl, float kl_weight,
                                   const HypernetCacheView& cache, float* grad) {
  const int64_t D = d.noise_dim, C = d.cond_dim, r = d.rank, L = d.depth;
  const HypernetLayout lay = hypernet_layout(d);
  const float s = d.scale;
  const HypernetStats st = hypernet_stats_view(cache.stats, n);
  // The large segments (A, B, bo) are written by their first GEMM or sum (no 4 r D-float memset); the small
  // ones in between (U, b1, the hidden layers) are zeroed because several terms add into them.
  std::fill(grad + lay.U, grad + lay.B, 0.0f);

  // df = d_eps_hat + w dKL/df  (l2 and exact: f; chi: eps_hat (1 - (D-1)/||eps_hat||^2)).
  thread_local std::vector<float> df_buf, dz_buf, dh_buf, S_buf;
  df_buf.resize(static_cast<size_t>(n * D));
  float* df = df_buf.data();
  global_pool().parallel_for(n, [&](int64_t i) {
    const float* gi = d_eps_hat + i * D;
    float* di = df + i * D;
    if (kl == KlKind::Chi) {
      const float coef = chi_grad_coef(kl_weight, st.sqnorm[i], D);
      const float* ei = eps_hat + i * D;
      for (int64_t j = 0; j < D; ++j) di[j] = gi[j] + coef * ei[j];
    } else {
      const float* fi = cache.f + i * D;
      for (int64_t j = 0; j < D; ++j) di[j] = gi[j] + kl_weight * fi[j];
    }
  });

  const float* hL = cache.h + (L - 1) * n * r;
  // dB = s df^T h_L ; dbo = s sum_i df_i ; dh_L = s df B.
  sgemm(true, false, D, r, n, s, df, D, hL, r, 0.0f, grad + lay.B, r);
  std::fill(grad + lay.bo, grad + lay.bo + D, 0.0f);
  add_column_sums(df, n, D, s, grad + lay.bo);
  dh_buf.resize(static_cast<size_t>(n * r));
  float* dh = dh_buf.data();
  sgemm(false, false, n, r, D, s, df, D, params + lay.B, r, 0.0f, dh, r);

  // dz starts as the exact-KL direct terms (zero otherwise).
  dz_buf.assign(static_cast<size_t>(L * n * r), 0.0f);
  float* dz = dz_buf.data();
  const bool exact = kl == KlKind::Exact;
  if (exact) {
    S_buf.resize(static_cast<size_t>(r * r));
    exact_kl_backward(d, params, cache.K, cache.z, cache.P, cache.M, n, kl_weight, dz, grad, S_buf.data());
    // K = s A B: dA += s S B^T, dB += s A^T S.
    sgemm(false, true, r, D, r, s, S_buf.data(), r, params + lay.B, r, 0.0f, grad + lay.A, D);
    sgemm(true, false, D, r, r, s, params + lay.A, D, S_buf.data(), r, 1.0f, grad + lay.B, r);
  }

  for (int64_t k = L; k >= 1; --k) {
    const float* zk = cache.z + (k - 1) * n * r;
    float* dzk = dz + (k - 1) * n * r;
    act_d1_fma(d.activation, zk, dh, dzk, n * r);
    if (k == 1) break;
    const float* hprev = cache.h + (k - 2) * n * r;
    const float* W = params + lay.W[static_cast<size_t>(k - 2)];
    sgemm(true, false, r, r, n, 1.0f, dzk, r, hprev, r, 1.0f, grad + lay.W[static_cast<size_t>(k - 2)], r);
    add_column_sums(dzk, n, r, 1.0f, grad + lay.b[static_cast<size_t>(k - 2)]);
    sgemm(false, false, n, r, r, 1.0f, dzk, r, W, r, 0.0f, dh, r);
  }
  // First layer: dA = dz1^T eps, dU = dz1^T c, db1 = sum dz1.
  sgemm(true, false, r, D, n, 1.0f, dz, r, eps, D, exact ? 1.0f : 0.0f, grad + lay.A, D);
  if (C > 0) sgemm(true, false, r, C, n, 1.0f, dz, r, cond, C, 1.0f, grad + lay.U, C);
  add_column_sums(dz, n, r, 1.0f, grad + lay.b1);
}

}  // namespace cpu
}  // namespace hn
