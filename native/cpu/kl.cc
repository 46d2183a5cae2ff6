// The exact noise KL on the CPU (DESIGN.md, "The exact noise KL"). Forward: per sample, the r x r core M of
// the Jacobian J_f = s B M A, G = I + M K, Tr(MK), log det G and P = I - G^{-1}, in groups of samples on the
// vector lanes of the ISA in use (kl_impl.h). Backward: the gradients from P and M, per sample. All float64;
// batch sums use fixed sample chunks so results do not depend on the thread count or the ISA.
#include <algorithm>
#include <cmath>
#include <new>
#include <vector>

#include "kl.h"

#include "act_math.h"
#include "block_cache.h"
#include "threadpool.h"
#include "isa_kernels.h"

namespace hn {
namespace cpu {

namespace {

constexpr int64_t kSampleChunk = 4;  // samples per partial sum in the batch reductions

// Float64 scratch from the host block cache, given back on scope exit: a reused block, where a std::vector of
// the partial sums (2 MB at r = 64, n = 256) was fresh pages to fault in and zero on one thread every step.
// Not initialised: its users write every element before reading it.
class CachedDoubles {
 public:
  explicit CachedDoubles(int64_t count)
      : p_(static_cast<double*>(
            host_block_cache().allocate((static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(double) + 63) / 64 * 64))) {
    if (!p_) throw std::bad_alloc();
  }
  ~CachedDoubles() { host_block_cache().release(p_); }
  CachedDoubles(const CachedDoubles&) = delete;
  CachedDoubles& operator=(const CachedDoubles&) = delete;
  double* data() const noexcept { return p_; }

 private:
  double* p_;
};

// c (m x n) = a (m x k) * b (k x n), row-major, double.
void matmul(const double* a, const double* b, double* c, int64_t m, int64_t k, int64_t n) {
  for (int64_t i = 0; i < m; ++i) {
    double* ci = c + i * n;
    for (int64_t j = 0; j < n; ++j) ci[j] = 0.0;
    for (int64_t l = 0; l < k; ++l) {
      const double av = a[i * k + l];
      const double* bl = b + l * n;
      for (int64_t j = 0; j < n; ++j) ci[j] += av * bl[j];
    }
  }
}

// X_k for k = 1..L (each r x r): X_1 = S_1, X_k = S_k W_k X_{k-1}; X_L = M. Also fills Y_k = W_k X_{k-1}.
void jacobian_chain(const HypernetDesc& d, const HypernetLayout& lay, const float* params, const float* z,
                    int64_t n, int64_t i, std::vector<double>& X, std::vector<double>& Y, std::vector<double>& Wd) {
  const int64_t r = d.rank, L = d.depth, rr = r * r;
  X.assign(static_cast<size_t>(L * rr), 0.0);
  Y.assign(static_cast<size_t>(L * rr), 0.0);
  const float* z1 = z + i * r;
  for (int64_t j = 0; j < r; ++j) X[static_cast<size_t>(j * r + j)] = d1_v(d.activation, z1[j]);
  Wd.resize(static_cast<size_t>(rr));
  for (int k = 2; k <= L; ++k) {
    const float* W = params + lay.W[static_cast<size_t>(k - 2)];
    for (int64_t e = 0; e < rr; ++e) Wd[static_cast<size_t>(e)] = W[e];
    double* Yk = Y.data() + (k - 1) * rr;
    double* Xk = X.data() + (k - 1) * rr;
    matmul(Wd.data(), X.data() + (k - 2) * rr, Yk, r, r, r);
    const float* zk = z + (k - 1) * n * r + i * r;
    for (int64_t a = 0; a < r; ++a) {
      const double sa = d1_v(d.activation, zk[a]);
      for (int64_t b = 0; b < r; ++b) Xk[a * r + b] = sa * Yk[a * r + b];
    }
  }
}

}  // namespace

void exact_kl_forward(const HypernetDesc& d, const float* params, const float* K, const float* z, int64_t n,
                      bool keep, float* M_out, float* P_out, float* trace, float* logdet, float* noninvertible) {
  const int64_t r = d.rank, rr = r * r;
  const HypernetLayout lay = hypernet_layout(d);
  // K and the hidden weights in float64, shared by every group.
  std::vector<double> Kd(static_cast<size_t>(rr));
  for (int64_t e = 0; e < rr; ++e) Kd[static_cast<size_t>(e)] = K[e];
  std::vector<std::vector<double>> Wd(static_cast<size_t>(d.depth - 1));
  std::vector<const double*> Wp;
  for (int k = 2; k <= d.depth; ++k) {
    const float* W = params + lay.W[static_cast<size_t>(k - 2)];
    Wd[static_cast<size_t>(k - 2)].assign(W, W + rr);
    Wp.push_back(Wd[static_cast<size_t>(k - 2)].data());
  }
  const IsaKernels& isa = active_kernels();
  const int64_t lanes = isa.double_lanes;
  const int64_t groups = (n + lanes - 1) / lanes;
  global_pool().parallel_for(groups, [&](int64_t g) {
    KlGroupJob job;
    job.desc = &d;
    job.K = Kd.data();
    job.W = Wp.data();
    job.z = z;
    job.n = n;
    job.first = g * lanes;
    job.count = std::min(lanes, n - job.first);
    job.keep = keep;
    job.M_out = M_out;
    job.P_out = P_out;
    job.trace = trace;
    job.logdet = logdet;
    job.noninvertible = noninvertible;
    isa.kl_forward_group(job);
  });
}

void exact_kl_backward(const HypernetDesc& d, const float* params, const float* K, const float* z, const float* P,
                       const float* M, int64_t n, float w, float* dz, float* grad, float* S) {
  (void)M;  // the chain is recomputed from z in float64 rather than read back in float32
  const int64_t r = d.rank, rr = r * r, L = d.depth;
  const HypernetLayout lay = hypernet_layout(d);
  const int64_t chunks = (n + kSampleChunk - 1) / kSampleChunk;
  // Per chunk: S partial (r x r) and, at depth > 1, dW_k partials ((L-1) x r x r).
  const int64_t per_chunk = rr + (L - 1) * rr;
  CachedDoubles partial(chunks * per_chunk);  // each chunk zeroes its own part, in its task
  std::vector<double> Kd(static_cast<size_t>(rr)), Kt(static_cast<size_t>(rr));
  for (int64_t e = 0; e < rr; ++e) Kd[static_cast<size_t>(e)] = K[e];
  for (int64_t a = 0; a < r; ++a) {
    for (int64_t b = 0; b < r; ++b) Kt[static_cast<size_t>(b * r + a)] = K[a * r + b];
  }
  // At depth 1 the S partials are kept transposed (see below).
  const bool s_transposed = L == 1;
  const IsaKernels& isa = active_kernels();

  global_pool().parallel_for(chunks, [&](int64_t c) {
    thread_local std::vector<double> X, Y, Wd, Pd, Gam, Lam, SL, tmp, kp, mv;
    double* part = partial.data() + c * per_chunk;
    std::fill(part, part + per_chunk, 0.0);
    const int64_t i0 = c * kSampleChunk, i1 = std::min(n, i0 + kSampleChunk);
    Pd.resize(static_cast<size_t>(rr));
    Gam.resize(static_cast<size_t>(rr));
    for (int64_t i = i0; i < i1; ++i) {
      if (L == 1) {
        // (KP)_aa = sum_l K^T_la P_la and the S contribution (P M)^T_ab = P_ba m_a, accumulated transposed
        // (St_ba += P_ba m_a): both along contiguous rows, on the ISA in use.
        const float* zi = z + i * r;
        float* dzi = dz + i * r;
        kp.resize(static_cast<size_t>(r));
        mv.resize(static_cast<size_t>(r));
        for (int64_t a = 0; a < r; ++a) mv[static_cast<size_t>(a)] = d1_v(d.activation, zi[a]);
        isa.kl_backward_sample_d1(P + i * rr, Kt.data(), mv.data(), r, kp.data(), part);
        for (int64_t a = 0; a < r; ++a) {
          dzi[a] += static_cast<float>(w * kp[static_cast<size_t>(a)] * d2_v(d.activation, zi[a]));
        }
        continue;
      }
      const float* Pi = P + i * rr;
      for (int64_t e = 0; e < rr; ++e) Pd[static_cast<size_t>(e)] = Pi[e];
      jacobian_chain(d, lay, params, z, n, i, X, Y, Wd);
      // Gamma = dE/dM = (K P)^T.
      tmp.resize(static_cast<size_t>(rr));
      matmul(Kd.data(), Pd.data(), tmp.data(), r, r, r);
      for (int64_t a = 0; a < r; ++a) {
        for (int64_t b = 0; b < r; ++b) Gam[static_cast<size_t>(a * r + b)] = tmp[static_cast<size_t>(b * r + a)];
      }
      // S += (P M)^T with M = X_L.
      matmul(Pd.data(), X.data() + (L - 1) * rr, tmp.data(), r, r, r);
      for (int64_t a = 0; a < r; ++a) {
        for (int64_t b = 0; b < r; ++b) part[a * r + b] += tmp[static_cast<size_t>(b * r + a)];
      }
      // Back through X_k = S_k Y_k, Y_k = W_k X_{k-1}: Lam = dE/dX_k.
      Lam = Gam;
      SL.resize(static_cast<size_t>(rr));
      for (int64_t k = L; k >= 1; --k) {
        const float* zk = z + (k - 1) * n * r + i * r;
        float* dzk = dz + (k - 1) * n * r + i * r;
        if (k == 1) {
          // Y_1 = I: dE/dS_1 diag = Lam_aa.
          for (int64_t a = 0; a < r; ++a) {
            dzk[a] += static_cast<float>(w * Lam[static_cast<size_t>(a * r + a)] * d2_v(d.activation, zk[a]));
          }
          break;
        }
        const double* Yk = Y.data() + (k - 1) * rr;
        for (int64_t a = 0; a < r; ++a) {
          double g = 0.0;
          for (int64_t b = 0; b < r; ++b) g += Lam[static_cast<size_t>(a * r + b)] * Yk[a * r + b];
          dzk[a] += static_cast<float>(w * g * d2_v(d.activation, zk[a]));
          const double sa = d1_v(d.activation, zk[a]);
          for (int64_t b = 0; b < r; ++b) SL[static_cast<size_t>(a * r + b)] = sa * Lam[static_cast<size_t>(a * r + b)];
        }
        // dE/dW_k += (S_k Lam) X_{k-1}^T ; dE/dX_{k-1} = W_k^T (S_k Lam).
        const double* Xprev = X.data() + (k - 2) * rr;
        double* dW = part + rr + (k - 2) * rr;
        for (int64_t a = 0; a < r; ++a) {
          for (int64_t b = 0; b < r; ++b) {
            double acc = 0.0;
            for (int64_t l = 0; l < r; ++l) acc += SL[static_cast<size_t>(a * r + l)] * Xprev[b * r + l];
            dW[a * r + b] += acc;
          }
        }
        const float* W = params + lay.W[static_cast<size_t>(k - 2)];
        for (int64_t e = 0; e < rr; ++e) Wd[static_cast<size_t>(e)] = W[e];
        tmp.assign(static_cast<size_t>(rr), 0.0);
        for (int64_t l = 0; l < r; ++l) {
          for (int64_t a = 0; a < r; ++a) {
            const double wla = Wd[static_cast<size_t>(l * r + a)];
            if (wla == 0.0) continue;
            const double* sl = SL.data() + l * r;
            double* ta = tmp.data() + a * r;
            for (int64_t b = 0; b < r; ++b) ta[b] += wla * sl[b];
          }
        }
        Lam = tmp;
      }
    }
  });

  // Fixed-order reduction over chunks (each element summed over c in order, from 0), one contiguous sweep per
  // chunk, the elements split between the threads.
  CachedDoubles total_buf(per_chunk);
  double* total = total_buf.data();
  const int64_t sum_tasks = std::min<int64_t>(global_pool().size(), (per_chunk + 4095) / 4096);
  global_pool().parallel_for(sum_tasks, [&](int64_t t) {
    int64_t e0, e1;
    chunk_range(per_chunk, sum_tasks, t, &e0, &e1);
    std::fill(total + e0, total + e1, 0.0);
    for (int64_t c = 0; c < chunks; ++c) {
      const double* pc = partial.data() + c * per_chunk;
      for (int64_t e = e0; e < e1; ++e) total[e] += pc[e];
    }
  });
  for (int64_t e = 0; e < rr; ++e) {
    const int64_t dst = s_transposed ? (e % r) * r + e / r : e;
    S[dst] = static_cast<float>(w * total[e]);
  }
  for (int k = 2; k <= L; ++k) {
    float* dW = grad + lay.W[static_cast<size_t>(k - 2)];
    const double* tk = total + rr + (k - 2) * rr;
    for (int64_t e = 0; e < rr; ++e) dW[e] += static_cast<float>(w * tk[e]);
  }
}

}  // namespace cpu
}  // namespace hn
