// The exact noise KL on the CPU (DESIGN.md, "The exact noise KL"): per sample, the r x r core M of the Jacobian J_f = s B M A,
// G = I + M K, Tr(MK), log det G and P = I - G^{-1}; and the backward that turns them into gradients.
// Per-sample matrices are float64 (r^3 work, cache-resident); batch sums use fixed sample chunks so
// results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu_backend.h"
#include "threadpool.h"
#include "vectorize.h"

// Fused multiply-adds are allowed here (the project builds with -ffp-contract=off): this file's results need
// not match another backend bit for bit, only be the same for every thread count, and FMA doubles the
// throughput of the r^3 work.
#pragma GCC optimize("fp-contract=fast")

namespace hn {
namespace cpu {

namespace {

constexpr int64_t kSampleChunk = 4;  // samples per partial sum in the batch reductions

// LU factorisation with partial pivoting, in place: rows permuted so that P A = L U, L unit lower (below the
// diagonal), U upper. perm[i] is the original row now at position i. Returns false when a pivot is zero or
// not finite; logabsdet and sign describe det(A).
HN_VECTORIZE
bool lu_factor(double* a, int64_t r, int64_t* perm, double* logabsdet, int* sign) {
  double logdet = 0.0;
  int sgn = 1;
  for (int64_t i = 0; i < r; ++i) perm[i] = i;
  for (int64_t k = 0; k < r; ++k) {
    int64_t p = k;
    double best = std::fabs(a[k * r + k]);
    for (int64_t i = k + 1; i < r; ++i) {
      const double v = std::fabs(a[i * r + k]);
      if (v > best) {
        best = v;
        p = i;
      }
    }
    if (!(best > 0.0) || !std::isfinite(best)) return false;
    if (p != k) {
      for (int64_t j = 0; j < r; ++j) std::swap(a[k * r + j], a[p * r + j]);
      std::swap(perm[k], perm[p]);
      sgn = -sgn;
    }
    const double* rowk = a + k * r;
    const double piv = rowk[k];
    logdet += std::log(std::fabs(piv));
    if (piv < 0) sgn = -sgn;
    const double inv = 1.0 / piv;
    for (int64_t i = k + 1; i < r; ++i) {
      double* rowi = a + i * r;
      const double l = rowi[k] * inv;
      rowi[k] = l;
      if (l == 0.0) continue;
      for (int64_t j = k + 1; j < r; ++j) rowi[j] -= l * rowk[j];
    }
  }
  *logabsdet = logdet;
  *sign = sgn;
  return true;
}

constexpr int64_t kChunk = 32;  // columns per register-resident accumulator block (4 x 8 doubles)

// Eight doubles as one value: a zmm register in the AVX-512 clone, pairs of xmm in the baseline one.
// aligned(8): the rows are read at any double offset.
typedef double v8d __attribute__((vector_size(64), aligned(8)));

// out[0, w) = scale * (base[0, w) - sum_{k in [k0, k1)} coef[k] * rows[k * r + 0, w)): the substitution
// step, with the accumulator block held in registers while the rows stream past.
HN_VECTORIZE
void accumulate_rows(double* out, const double* base, const double* coef, const double* rows, int64_t r, int64_t k0,
                     int64_t k1, int64_t w, double scale) {
  if (w == kChunk) {
    v8d a0 = base ? *reinterpret_cast<const v8d*>(base) : v8d{};
    v8d a1 = base ? *reinterpret_cast<const v8d*>(base + 8) : v8d{};
    v8d a2 = base ? *reinterpret_cast<const v8d*>(base + 16) : v8d{};
    v8d a3 = base ? *reinterpret_cast<const v8d*>(base + 24) : v8d{};
    for (int64_t k = k0; k < k1; ++k) {
      const double c = coef[k];
      const double* row = rows + k * r;
      a0 -= c * *reinterpret_cast<const v8d*>(row);
      a1 -= c * *reinterpret_cast<const v8d*>(row + 8);
      a2 -= c * *reinterpret_cast<const v8d*>(row + 16);
      a3 -= c * *reinterpret_cast<const v8d*>(row + 24);
    }
    *reinterpret_cast<v8d*>(out) = a0 * scale;
    *reinterpret_cast<v8d*>(out + 8) = a1 * scale;
    *reinterpret_cast<v8d*>(out + 16) = a2 * scale;
    *reinterpret_cast<v8d*>(out + 24) = a3 * scale;
    return;
  }
  for (int64_t q = 0; q < w; ++q) {
    double acc = base ? base[q] : 0.0;
    for (int64_t k = k0; k < k1; ++k) acc -= coef[k] * rows[k * r + q];
    out[q] = acc * scale;
  }
}

// The inverse of A from its LU factors (lu_factor): W = L^{-1} by forward substitution, X = U^{-1} W by back
// substitution (both row-oriented through accumulate_rows), then A^{-1} = X P. `work` holds 2 r^2 doubles.
void lu_inverse(const double* lu, const int64_t* perm, int64_t r, double* work, double* inv) {
  double* W = work;
  double* X = work + r * r;
  // W: unit lower triangular; row i = e_i - sum_{k<i} L[i][k] W[k] (W[k] is zero beyond column k).
  for (int64_t i = 0; i < r; ++i) {
    double* wi = W + i * r;
    for (int64_t j0 = 0; j0 < i; j0 += kChunk) {
      const int64_t w = std::min(kChunk, i - j0);
      accumulate_rows(wi + j0, nullptr, lu + i * r, W + j0, r, j0, i, w, 1.0);
    }
    wi[i] = 1.0;
    for (int64_t j = i + 1; j < r; ++j) wi[j] = 0.0;
  }
  // X: row i = (W[i] - sum_{k>i} U[i][k] X[k]) / U[i][i], from the last row up.
  for (int64_t i = r - 1; i >= 0; --i) {
    const double* ui = lu + i * r;
    const double scale = 1.0 / ui[i];
    for (int64_t j0 = 0; j0 < r; j0 += kChunk) {
      const int64_t w = std::min(kChunk, r - j0);
      accumulate_rows(X + i * r + j0, W + i * r + j0, ui, X + j0, r, i + 1, r, w, scale);
    }
  }
  // A^{-1} = X P: column perm[k] of the inverse is column k of X.
  for (int64_t i = 0; i < r; ++i) {
    for (int64_t k = 0; k < r; ++k) inv[i * r + perm[k]] = X[i * r + k];
  }
}

// c (m x n) = a (m x k) * b (k x n), row-major, double.
HN_VECTORIZE
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
  for (int64_t j = 0; j < r; ++j) X[static_cast<size_t>(j * r + j)] = act::d1(d.activation, z1[j]);
  Wd.resize(static_cast<size_t>(rr));
  for (int k = 2; k <= L; ++k) {
    const float* W = params + lay.W[static_cast<size_t>(k - 2)];
    for (int64_t e = 0; e < rr; ++e) Wd[static_cast<size_t>(e)] = W[e];
    double* Yk = Y.data() + (k - 1) * rr;
    double* Xk = X.data() + (k - 1) * rr;
    matmul(Wd.data(), X.data() + (k - 2) * rr, Yk, r, r, r);
    const float* zk = z + (k - 1) * n * r + i * r;
    for (int64_t a = 0; a < r; ++a) {
      const double sa = act::d1(d.activation, zk[a]);
      for (int64_t b = 0; b < r; ++b) Xk[a * r + b] = sa * Yk[a * r + b];
    }
  }
}

}  // namespace

void exact_kl_forward(const HypernetDesc& d, const float* params, const float* K, const float* z, int64_t n,
                      bool keep, float* M_out, float* P_out, float* trace, float* logdet, float* noninvertible) {
  const int64_t r = d.rank, rr = r * r;
  const HypernetLayout lay = hypernet_layout(d);
  std::vector<double> Kd(static_cast<size_t>(rr));
  for (int64_t e = 0; e < rr; ++e) Kd[static_cast<size_t>(e)] = K[e];
  global_pool().parallel_for(n, [&](int64_t i) {
    thread_local std::vector<double> X, Y, Wd, G, Ginv, work;
    thread_local std::vector<int64_t> perm;
    G.resize(static_cast<size_t>(rr));
    perm.resize(static_cast<size_t>(r));
    double tr = 0.0;
    if (d.depth == 1) {
      const float* zi = z + i * r;
      for (int64_t a = 0; a < r; ++a) {
        const double m = act::d1(d.activation, zi[a]);
        for (int64_t b = 0; b < r; ++b) G[static_cast<size_t>(a * r + b)] = m * Kd[static_cast<size_t>(a * r + b)];
        tr += G[static_cast<size_t>(a * r + a)];
      }
    } else {
      jacobian_chain(d, lay, params, z, n, i, X, Y, Wd);
      const double* M = X.data() + (d.depth - 1) * rr;
      matmul(M, Kd.data(), G.data(), r, r, r);
      for (int64_t a = 0; a < r; ++a) tr += G[static_cast<size_t>(a * r + a)];
      if (keep) {
        for (int64_t e = 0; e < rr; ++e) M_out[i * rr + e] = static_cast<float>(M[e]);
      }
    }
    for (int64_t a = 0; a < r; ++a) G[static_cast<size_t>(a * r + a)] += 1.0;
    double lad = 0.0;
    int sign = 0;
    const bool ok = lu_factor(G.data(), r, perm.data(), &lad, &sign) && sign > 0;
    trace[i] = static_cast<float>(tr);
    logdet[i] = ok ? static_cast<float>(lad) : 0.0f;
    noninvertible[i] = ok ? 0.0f : 1.0f;
    if (keep) {
      // P = I - G^{-1} (I where G is not invertible: its log-det is excluded).
      if (ok) {
        Ginv.resize(static_cast<size_t>(rr));
        work.resize(static_cast<size_t>(2 * rr));
        lu_inverse(G.data(), perm.data(), r, work.data(), Ginv.data());
      }
      float* P = P_out + i * rr;
      for (int64_t a = 0; a < r; ++a) {
        for (int64_t b = 0; b < r; ++b) {
          const double id = a == b ? 1.0 : 0.0;
          P[a * r + b] = ok ? static_cast<float>(id - Ginv[static_cast<size_t>(a * r + b)]) : static_cast<float>(id);
        }
      }
    }
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
  std::vector<double> partial(static_cast<size_t>(chunks * per_chunk), 0.0);
  std::vector<double> Kd(static_cast<size_t>(rr));
  for (int64_t e = 0; e < rr; ++e) Kd[static_cast<size_t>(e)] = K[e];

  global_pool().parallel_for(chunks, [&](int64_t c) {
    thread_local std::vector<double> X, Y, Wd, Pd, Gam, Lam, SL, tmp;
    double* part = partial.data() + c * per_chunk;
    const int64_t i0 = c * kSampleChunk, i1 = std::min(n, i0 + kSampleChunk);
    Pd.resize(static_cast<size_t>(rr));
    Gam.resize(static_cast<size_t>(rr));
    for (int64_t i = i0; i < i1; ++i) {
      const float* Pi = P + i * rr;
      for (int64_t e = 0; e < rr; ++e) Pd[static_cast<size_t>(e)] = Pi[e];
      if (L == 1) {
        const float* zi = z + i * r;
        float* dzi = dz + i * r;
        for (int64_t a = 0; a < r; ++a) {
          // (KP)_aa and the S contribution (P M)^T_ab = P_ba m_a.
          double kp = 0.0;
          for (int64_t l = 0; l < r; ++l) kp += Kd[static_cast<size_t>(a * r + l)] * Pd[static_cast<size_t>(l * r + a)];
          dzi[a] += static_cast<float>(w * kp * act::d2(d.activation, zi[a]));
          const double m = act::d1(d.activation, zi[a]);
          for (int64_t b = 0; b < r; ++b) part[a * r + b] += m * Pd[static_cast<size_t>(b * r + a)];
        }
        continue;
      }
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
            dzk[a] += static_cast<float>(w * Lam[static_cast<size_t>(a * r + a)] * act::d2(d.activation, zk[a]));
          }
          break;
        }
        const double* Yk = Y.data() + (k - 1) * rr;
        for (int64_t a = 0; a < r; ++a) {
          double g = 0.0;
          for (int64_t b = 0; b < r; ++b) g += Lam[static_cast<size_t>(a * r + b)] * Yk[a * r + b];
          dzk[a] += static_cast<float>(w * g * act::d2(d.activation, zk[a]));
          const double sa = act::d1(d.activation, zk[a]);
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

  // Fixed-order reduction over chunks.
  for (int64_t e = 0; e < rr; ++e) {
    double acc = 0.0;
    for (int64_t c = 0; c < chunks; ++c) acc += partial[static_cast<size_t>(c * per_chunk + e)];
    S[e] = static_cast<float>(w * acc);
  }
  for (int k = 2; k <= L; ++k) {
    float* dW = grad + lay.W[static_cast<size_t>(k - 2)];
    for (int64_t e = 0; e < rr; ++e) {
      double acc = 0.0;
      for (int64_t c = 0; c < chunks; ++c) acc += partial[static_cast<size_t>(c * per_chunk + rr + (k - 2) * rr + e)];
      dW[e] += static_cast<float>(w * acc);
    }
  }
}

}  // namespace cpu
}  // namespace hn
