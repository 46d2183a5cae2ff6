// The exact KL's per-sample float64 work, written once over double vector traits D (simd_*.h) and
// instantiated per ISA by the isa_*.cc files. A group of D::kWidth samples is processed at once, one sample
// per vector lane: every matrix element is a vector, every operation is the scalar algorithm applied lane by
// lane (pivot choices included), so a sample's result does not depend on the lane width, the group it
// falls in or the thread that runs it: the AVX2 and AVX-512 paths give identical results (FMA on both).
//
// Per group: G = I + M K (M = diag(act'(z1)) at depth 1, the Jacobian chain S_L W_L ... S_1 deeper), its LU
// factorisation with partial pivoting (blocked: panels of kPanel columns, the trailing update as a
// register-tiled rank-kPanel product), log det G; with `keep`, P = I - G^{-1} by blocked forward and back
// substitution (the same register-tiled product, then small triangular solves).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "act_math.h"
#include "core/activations.h"
#include "isa_kernels.h"

namespace hn {
namespace cpu {
namespace {

template <class D>
class KlGroup {
 public:
  using V = typename D::V;
  static constexpr int kW = D::kWidth;
  static constexpr int64_t kPanel = 8;                           // LU panel width
  static constexpr int kTileRows = 4;                            // trailing-update register tile:
  static constexpr int kTileCols = D::kRegisters >= 32 ? 6 : 3;  //   4 x 6 or 4 x 3 accumulators
  static constexpr int kSolveTile = D::kRegisters >= 32 ? 3 : 1;  // U12 register tile (kPanel x this)
  static constexpr int kMatCols = 4;                              // depth > 1 products: column block

  // A group's r x r matrix: element (i, j) is the vector of kW lanes at (i * rs + j) * kW doubles. The row
  // stride rs is r rounded up to an odd number, so that a walk down a column (rows r * kW doubles apart,
  // often a multiple of 4 KiB) does not land every row in the same L1 cache sets.
  struct Mat {
    double* p;
    int64_t rs;
    HN_SIMD_INLINE double* at(int64_t i, int64_t j) const { return p + (i * rs + j) * kW; }
    HN_SIMD_INLINE V get(int64_t i, int64_t j) const { return D::loadu(at(i, j)); }
    HN_SIMD_INLINE void put(int64_t i, int64_t j, V v) const { D::storeu(at(i, j), v); }
  };
  static int64_t row_stride(int64_t r) { return r | 1; }

  static void run(const KlGroupJob& job) {
    const HypernetDesc& d = *job.desc;
    const int64_t r = d.rank, rs = row_stride(r);
    thread_local std::vector<double> g_buf, x_buf, y_buf, s_buf;
    thread_local std::vector<int64_t> perm_buf;
    g_buf.resize(static_cast<size_t>(r * rs * kW));
    const Mat g{g_buf.data(), rs};
    alignas(64) double trace[kW];
    build_g(job, g, trace, s_buf, x_buf, y_buf);

    perm_buf.resize(static_cast<size_t>(kW * r));
    int64_t* perm = perm_buf.data();  // perm[s * r + i]: the original row now at position i
    double logdet[kW];
    bool ok[kW];
    lu(g, r, perm, logdet, ok);

    for (int s = 0; s < job.count; ++s) {
      const int64_t i = job.first + s;
      job.trace[i] = static_cast<float>(trace[s]);
      job.logdet[i] = ok[s] ? static_cast<float>(logdet[s]) : 0.0f;
      job.noninvertible[i] = ok[s] ? 0.0f : 1.0f;
    }
    if (!job.keep) return;
    x_buf.resize(static_cast<size_t>(r * rs * kW));
    const Mat x{x_buf.data(), rs};
    inverse(g, r, x);
    write_p(job, x, r, perm, ok);
  }

 private:
  // P = I - G^{-1} for each sample, G^{-1} = X Pi (column perm[k] of the inverse is column k of X); P = I
  // where G is singular. Samples whose rows were not permuted take their rows kW columns at a time through an
  // in-register transpose (lanes to samples); the others, and the last columns, one element at a time.
  static void write_p(const KlGroupJob& job, Mat x, int64_t r, const int64_t* perm, const bool* ok) {
    const int64_t rr = r * r;
    float* Ps[kW];
    bool fast[kW];
    for (int s = 0; s < job.count; ++s) {
      Ps[s] = job.P_out + (job.first + s) * rr;
      fast[s] = ok[s];
      for (int64_t k = 0; k < r && fast[s]; ++k) fast[s] = perm[s * r + k] == k;
    }
    for (int64_t a = 0; a < r; ++a) {
      int64_t k0 = 0;
      if (kW > 1) {
        for (; k0 + kW <= r; k0 += kW) {
          V v[kW];
          for (int c = 0; c < kW; ++c) v[c] = x.get(a, k0 + c);
          D::transpose(v);
          for (int s = 0; s < job.count; ++s) {
            if (!fast[s]) continue;
            D::store_as_float(Ps[s] + a * r + k0, D::sub(D::zero(), v[s]));
            if (a >= k0 && a < k0 + kW) Ps[s][a * r + a] = static_cast<float>(1.0 - x.at(a, a)[s]);
          }
        }
      }
      for (int s = 0; s < job.count; ++s) {
        for (int64_t k = fast[s] ? k0 : 0; k < r; ++k) {
          const int64_t b = perm[s * r + k];
          const double id = a == b ? 1.0 : 0.0;
          Ps[s][a * r + b] = ok[s] ? static_cast<float>(id - x.at(a, k)[s]) : static_cast<float>(id);
        }
      }
    }
  }

  // G = I + M K for the group's samples (lanes past `count` get G = I), and Tr(MK) per lane.
  static void build_g(const KlGroupJob& job, Mat g, double* trace, std::vector<double>& s_buf,
                      std::vector<double>& x_buf, std::vector<double>& y_buf) {
    const HypernetDesc& d = *job.desc;
    const int64_t r = d.rank, L = d.depth;
    // act'(z_k) per lane: sd[(k * r + a) * kW + lane] (0 for padded lanes, so their M is 0).
    s_buf.resize(static_cast<size_t>(L * r * kW));
    double* sd = s_buf.data();
    for (int64_t k = 0; k < L; ++k) {
      for (int64_t a = 0; a < r; ++a) {
        for (int s = 0; s < kW; ++s) {
          sd[(k * r + a) * kW + s] =
              s < job.count ? d1_v(d.activation, job.z[k * job.n * r + (job.first + s) * r + a]) : 0.0;
        }
      }
    }
    V tr = D::zero();
    if (L == 1) {
      for (int64_t a = 0; a < r; ++a) {
        const V ma = D::loadu(sd + a * kW);
        for (int64_t b = 0; b < r; ++b) {
          const V v = D::mul(ma, D::set1(job.K[a * r + b]));
          g.put(a, b, v);
          if (a == b) tr = D::add(tr, v);
        }
      }
    } else {
      // X_1 = S_1; X_k = S_k W_k X_{k-1}; M = X_L; then G = M K.
      x_buf.resize(static_cast<size_t>(r * g.rs * kW));
      y_buf.resize(static_cast<size_t>(r * g.rs * kW));
      const Mat X{x_buf.data(), g.rs}, Y{y_buf.data(), g.rs};
      for (int64_t a = 0; a < r; ++a) {
        for (int64_t b = 0; b < r; ++b) X.put(a, b, a == b ? D::loadu(sd + a * kW) : D::zero());
      }
      for (int64_t k = 2; k <= L; ++k) {
        shared_times_lanes(job.W[k - 2], X, r, Y);
        for (int64_t a = 0; a < r; ++a) {
          const V sa = D::loadu(sd + ((k - 1) * r + a) * kW);
          for (int64_t b = 0; b < r; ++b) X.put(a, b, D::mul(sa, Y.get(a, b)));
        }
      }
      if (job.keep) {
        for (int s = 0; s < job.count; ++s) {
          float* Mo = job.M_out + (job.first + s) * r * r;
          for (int64_t a = 0; a < r; ++a) {
            for (int64_t b = 0; b < r; ++b) Mo[a * r + b] = static_cast<float>(X.at(a, b)[s]);
          }
        }
      }
      lanes_times_shared(X, job.K, r, g);
      for (int64_t a = 0; a < r; ++a) tr = D::add(tr, g.get(a, a));
    }
    for (int64_t a = 0; a < r; ++a) g.put(a, a, D::add(g.get(a, a), D::set1(1.0)));
    D::storeu(trace, tr);
  }

  // C = A B with A (row-major r x r doubles) the same for every lane: sums over l in order.
  static void shared_times_lanes(const double* A, Mat B, int64_t r, Mat C) {
    for (int64_t a = 0; a < r; ++a) {
      for (int64_t b0 = 0; b0 < r; b0 += kMatCols) {
        const int64_t nb = r - b0 < kMatCols ? r - b0 : kMatCols;
        V acc[kMatCols];
        for (int c = 0; c < kMatCols; ++c) acc[c] = D::zero();
        for (int64_t l = 0; l < r; ++l) {
          const V w = D::set1(A[a * r + l]);
          for (int c = 0; c < nb; ++c) acc[c] = D::fma(w, B.get(l, b0 + c), acc[c]);
        }
        for (int c = 0; c < nb; ++c) C.put(a, b0 + c, acc[c]);
      }
    }
  }

  // C = A B with B (row-major r x r doubles) the same for every lane: sums over l in order.
  static void lanes_times_shared(Mat A, const double* B, int64_t r, Mat C) {
    for (int64_t a = 0; a < r; ++a) {
      for (int64_t b0 = 0; b0 < r; b0 += kMatCols) {
        const int64_t nb = r - b0 < kMatCols ? r - b0 : kMatCols;
        V acc[kMatCols];
        for (int c = 0; c < kMatCols; ++c) acc[c] = D::zero();
        for (int64_t l = 0; l < r; ++l) {
          const V al = A.get(a, l);
          for (int c = 0; c < nb; ++c) acc[c] = D::fma(al, D::set1(B[l * r + b0 + c]), acc[c]);
        }
        for (int c = 0; c < nb; ++c) C.put(a, b0 + c, acc[c]);
      }
    }
  }

  // C[i][j] -= sum_{t in [t0, t1)} A[i][t] B[t][j] on the RI x CJ tile at (i0, j0), each sum over t in order.
  template <int RI, int CJ>
  static HN_SIMD_INLINE void update_tile(Mat A, Mat B, Mat C, int64_t i0, int64_t j0, int64_t t0, int64_t t1) {
    V acc[RI][CJ];
#pragma GCC unroll 8
    for (int i = 0; i < RI; ++i)
#pragma GCC unroll 8
      for (int c = 0; c < CJ; ++c) acc[i][c] = C.get(i0 + i, j0 + c);
    for (int64_t t = t0; t < t1; ++t) {
      V u[CJ];
#pragma GCC unroll 8
      for (int c = 0; c < CJ; ++c) u[c] = B.get(t, j0 + c);
#pragma GCC unroll 8
      for (int i = 0; i < RI; ++i) {
        const V l = A.get(i0 + i, t);
#pragma GCC unroll 8
        for (int c = 0; c < CJ; ++c) acc[i][c] = D::fnma(l, u[c], acc[i][c]);
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < RI; ++i)
#pragma GCC unroll 8
      for (int c = 0; c < CJ; ++c) C.put(i0 + i, j0 + c, acc[i][c]);
  }

  // b_lower: B is lower triangular (B[t][j] == 0 for t < j), and a column tile starting at j skips the terms
  // t < j, zero for each of its columns.
  template <int RI>
  static void update_rows(Mat A, Mat B, Mat C, int64_t i0, int64_t j0, int64_t j1, int64_t t0, int64_t t1,
                          bool b_lower) {
    int64_t j = j0;
    for (; j + kTileCols <= j1; j += kTileCols) {
      update_tile<RI, kTileCols>(A, B, C, i0, j, b_lower ? std::max(t0, j) : t0, t1);
    }
    for (; j < j1; ++j) update_tile<RI, 1>(A, B, C, i0, j, b_lower ? std::max(t0, j) : t0, t1);
  }

  // C[i0:i1, j0:j1] -= A[i0:i1, t0:t1] B[t0:t1, j0:j1], register-tiled (the product behind the LU's trailing
  // update and the blocked substitutions). With b_lower (B lower triangular) the products of B's zeros are
  // skipped (a sixth of the inverse's work at r = 64): dropping a term acc - l * 0 can only change the sign of
  // a zero sum; X's zeros reach P as 0 - x or 1 - x, which have the same bits for +0 and -0, so P is unchanged
  // bit for bit (where a factor is not finite, P is I or not finite either way).
  static void update(Mat A, Mat B, Mat C, int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t t0, int64_t t1,
                     bool b_lower = false) {
    if (t1 <= t0 || j1 <= j0) return;
    int64_t i = i0;
    for (; i + kTileRows <= i1; i += kTileRows) update_rows<kTileRows>(A, B, C, i, j0, j1, t0, t1, b_lower);
    for (; i < i1; ++i) update_rows<1>(A, B, C, i, j0, j1, t0, t1, b_lower);
  }

  // Columns [j0, j0 + CJ) of the full panel rows [p0, p0 + kPanel) of X: row i minus sum_{t < i} L[i][t] row t
  // (L the unit lower triangle of A's panel), in registers; each element's sum over t in order.
  template <int CJ>
  static HN_SIMD_INLINE void solve_lower(Mat A, Mat X, int64_t p0, int64_t j0) {
    V u[kPanel][CJ];
#pragma GCC unroll 8
    for (int i = 0; i < kPanel; ++i)
#pragma GCC unroll 8
      for (int c = 0; c < CJ; ++c) u[i][c] = X.get(p0 + i, j0 + c);
#pragma GCC unroll 8
    for (int t = 0; t < kPanel; ++t) {
#pragma GCC unroll 8
      for (int i = t + 1; i < kPanel; ++i) {
        const V l = A.get(p0 + i, p0 + t);
#pragma GCC unroll 8
        for (int c = 0; c < CJ; ++c) u[i][c] = D::fnma(l, u[t][c], u[i][c]);
      }
    }
#pragma GCC unroll 8
    for (int i = 1; i < kPanel; ++i)
#pragma GCC unroll 8
      for (int c = 0; c < CJ; ++c) X.put(p0 + i, j0 + c, u[i][c]);
  }

  // Columns [j0, j0 + CJ) of the full panel rows [p0, p0 + kPanel) of X, from the last row up: (row i minus
  // sum_{t > i} U[i][t] row t) / U[i][i] (U the upper triangle of A's panel), in registers.
  template <int CJ>
  static HN_SIMD_INLINE void solve_upper(Mat A, Mat X, const double* inv_diag, int64_t p0, int64_t j0) {
    V u[kPanel][CJ];
#pragma GCC unroll 8
    for (int i = 0; i < kPanel; ++i)
#pragma GCC unroll 8
      for (int c = 0; c < CJ; ++c) u[i][c] = X.get(p0 + i, j0 + c);
#pragma GCC unroll 8
    for (int i = kPanel - 1; i >= 0; --i) {
#pragma GCC unroll 8
      for (int t = i + 1; t < kPanel; ++t) {
        const V w = A.get(p0 + i, p0 + t);
#pragma GCC unroll 8
        for (int c = 0; c < CJ; ++c) u[i][c] = D::fnma(w, u[t][c], u[i][c]);
      }
      const V scale = D::loadu(inv_diag + (p0 + i) * kW);
#pragma GCC unroll 8
      for (int c = 0; c < CJ; ++c) u[i][c] = D::mul(u[i][c], scale);
    }
#pragma GCC unroll 8
    for (int i = 0; i < kPanel; ++i)
#pragma GCC unroll 8
      for (int c = 0; c < CJ; ++c) X.put(p0 + i, j0 + c, u[i][c]);
  }

  // The panel solves over columns [j0, j1), a register tile at a time.
  static void solve_lower_cols(Mat A, Mat X, int64_t p0, int64_t j0, int64_t j1) {
    int64_t j = j0;
    for (; j + kSolveTile <= j1; j += kSolveTile) solve_lower<kSolveTile>(A, X, p0, j);
    for (; j < j1; ++j) solve_lower<1>(A, X, p0, j);
  }
  static void solve_upper_cols(Mat A, Mat X, const double* inv_diag, int64_t p0, int64_t j0, int64_t j1) {
    int64_t j = j0;
    for (; j + kSolveTile <= j1; j += kSolveTile) solve_upper<kSolveTile>(A, X, inv_diag, p0, j);
    for (; j < j1; ++j) solve_upper<1>(A, X, inv_diag, p0, j);
  }

  static void swap_rows_lane(Mat a, int64_t r, int64_t i, int64_t p, int s) {
    for (int64_t j = 0; j < r; ++j) {
      double* x = a.at(i, j) + s;
      double* y = a.at(p, j) + s;
      const double t = *x;
      *x = *y;
      *y = t;
    }
  }

  // logdet += sum log |piv| over a panel's pivots (pivots[t * kW + s]), and their signs into sign. One log
  // of the product per lane where the product stays a normal number, else one log per pivot.
  static void add_log_pivots(const double* pivots, int64_t count, double* logdet, int* sign, const bool* ok) {
    for (int s = 0; s < kW; ++s) {
      if (!ok[s]) continue;
      double prod = 1.0;
      for (int64_t t = 0; t < count; ++t) {
        const double p = pivots[t * kW + s];
        prod *= std::fabs(p);
        if (p < 0) sign[s] = -sign[s];
      }
      if (prod >= 1e-300 && prod <= 1e300) {
        logdet[s] += std::log(prod);
      } else {
        for (int64_t t = 0; t < count; ++t) logdet[s] += std::log(std::fabs(pivots[t * kW + s]));
      }
    }
  }

  // P G = L U in place for every lane (L unit lower below the diagonal, U upper); ok[s] is false where a
  // pivot is zero or not finite, or det G <= 0 (then logdet[s] is not used).
  static void lu(Mat a, int64_t r, int64_t* perm, double* logdet, bool* ok) {
    int sign[kW];
    for (int s = 0; s < kW; ++s) {
      for (int64_t i = 0; i < r; ++i) perm[s * r + i] = i;
      logdet[s] = 0.0;
      sign[s] = 1;
      ok[s] = true;
    }
    alignas(64) double best_arr[kW], p_arr[kW], panel_piv[kPanel * kW];
    for (int64_t k0 = 0; k0 < r; k0 += kPanel) {
      const int64_t k1 = k0 + kPanel < r ? k0 + kPanel : r;
      for (int64_t k = k0; k < k1; ++k) {
        // The pivot: the first row of largest |a[i][k]|, i >= k, in each lane.
        V best = D::abs(a.get(k, k));
        V p = D::set1(static_cast<double>(k));
        for (int64_t i = k + 1; i < r; ++i) {
          const V v = D::abs(a.get(i, k));
          const typename D::M bigger = D::gt(v, best);
          best = D::blend(bigger, v, best);
          p = D::blend(bigger, D::set1(static_cast<double>(i)), p);
        }
        D::storeu(best_arr, best);
        D::storeu(p_arr, p);
        for (int s = 0; s < kW; ++s) {
          if (!(best_arr[s] > 0.0) || !std::isfinite(best_arr[s])) ok[s] = false;
          const int64_t ps = static_cast<int64_t>(p_arr[s]);
          if (ps != k) {
            swap_rows_lane(a, r, k, ps, s);
            const int64_t t = perm[s * r + k];
            perm[s * r + k] = perm[s * r + ps];
            perm[s * r + ps] = t;
            sign[s] = -sign[s];
          }
        }
        const V piv = a.get(k, k);
        D::storeu(panel_piv + (k - k0) * kW, piv);
        const V inv = D::div(D::set1(1.0), piv);
        // Column k of L, and the rest of the panel's columns.
        for (int64_t i = k + 1; i < r; ++i) {
          const V l = D::mul(a.get(i, k), inv);
          a.put(i, k, l);
          for (int64_t j = k + 1; j < k1; ++j) a.put(i, j, D::fnma(l, a.get(k, j), a.get(i, j)));
        }
      }
      add_log_pivots(panel_piv, k1 - k0, logdet, sign, ok);
      if (k1 >= r) break;
      // U12: the panel's rows right of the panel, by forward substitution with the panel's unit L11 (only
      // full panels have columns right of them).
      solve_lower_cols(a, a, k0, k1, r);
      update(a, a, a, k1, r, k1, r, k0, k1);  // the trailing A22 -= L21 U12
    }
    for (int s = 0; s < kW; ++s) {
      if (sign[s] <= 0) ok[s] = false;  // det G <= 0: T is not invertible there
    }
  }

  // x = U^{-1} L^{-1} from the LU factors in a (the inverse of P G, before the column permutation), by
  // blocked substitutions: panels of kPanel rows, each first updated with a register-tiled product against
  // the rows already solved, then solved among themselves.
  static void inverse(Mat a, int64_t r, Mat x) {
    thread_local std::vector<double> inv_diag_buf;
    inv_diag_buf.resize(static_cast<size_t>(r * kW));
    double* inv_diag = inv_diag_buf.data();  // 1 / U[i][i]
    for (int64_t i = 0; i < r; ++i) D::storeu(inv_diag + i * kW, D::div(D::set1(1.0), a.get(i, i)));
    // Y = L^{-1} (unit lower triangular): panel rows start as e_i, minus L[I, 0:p0] Y[0:p0] (Y[0:p0] is zero
    // right of column p0), then the panel's own unit-lower solve.
    for (int64_t p0 = 0; p0 < r; p0 += kPanel) {
      const int64_t p1 = p0 + kPanel < r ? p0 + kPanel : r;
      for (int64_t i = p0; i < p1; ++i) {
        for (int64_t j = 0; j < r; ++j) x.put(i, j, j == i ? D::set1(1.0) : D::zero());
      }
      update(a, x, x, p0, p1, 0, p0, 0, p0, /*b_lower=*/true);  // Y[0:p0] is lower triangular
      if (p1 - p0 == kPanel) {
        solve_lower_cols(a, x, p0, 0, p1);
        continue;
      }
      for (int64_t i = p0 + 1; i < p1; ++i) {  // a last, partial panel
        for (int64_t k = p0; k < i; ++k) {
          const V l = a.get(i, k);
          for (int64_t j = 0; j <= k; ++j) x.put(i, j, D::fnma(l, x.get(k, j), x.get(i, j)));
        }
      }
    }
    // X = U^{-1} Y in place, panels from the last up: Y_I - U[I, p1:r] X[p1:r], then the panel's own upper
    // solve, each row scaled by 1 / U[i][i].
    const int64_t last = (r - 1) / kPanel * kPanel;
    for (int64_t p0 = last; p0 >= 0; p0 -= kPanel) {
      const int64_t p1 = p0 + kPanel < r ? p0 + kPanel : r;
      update(a, x, x, p0, p1, 0, r, p1, r);
      if (p1 - p0 == kPanel) {
        solve_upper_cols(a, x, inv_diag, p0, 0, r);
        continue;
      }
      for (int64_t i = p1 - 1; i >= p0; --i) {  // a last, partial panel
        for (int64_t k = i + 1; k < p1; ++k) {
          const V u = a.get(i, k);
          for (int64_t j = 0; j < r; ++j) x.put(i, j, D::fnma(u, x.get(k, j), x.get(i, j)));
        }
        const V scale = D::loadu(inv_diag + i * kW);
        for (int64_t j = 0; j < r; ++j) x.put(i, j, D::mul(x.get(i, j), scale));
      }
    }
  }
};

template <class D>
void kl_forward_group(const KlGroupJob& job) {
  KlGroup<D>::run(job);
}

// One sample's depth-1 exact-KL backward terms, along contiguous rows: kp[a] = sum_l K^T[l][a] P[l][a] (in
// order of l; kp written) and st[l][a] += P[l][a] m[a] (the transposed contribution to S).
template <class D>
void kl_backward_sample_d1(const float* P, const double* Kt, const double* m, int64_t r, double* kp, double* st) {
  using V = typename D::V;
  constexpr int W = D::kWidth;
  int64_t a = 0;
  for (; a + 2 * W <= r; a += 2 * W) {
    V k0 = D::zero(), k1 = D::zero();
    const V m0 = D::loadu(m + a), m1 = D::loadu(m + a + W);
    for (int64_t l = 0; l < r; ++l) {
      const V p0 = D::load_float(P + l * r + a), p1 = D::load_float(P + l * r + a + W);
      k0 = D::fma(D::loadu(Kt + l * r + a), p0, k0);
      k1 = D::fma(D::loadu(Kt + l * r + a + W), p1, k1);
      D::storeu(st + l * r + a, D::fma(p0, m0, D::loadu(st + l * r + a)));
      D::storeu(st + l * r + a + W, D::fma(p1, m1, D::loadu(st + l * r + a + W)));
    }
    D::storeu(kp + a, k0);
    D::storeu(kp + a + W, k1);
  }
  // The last columns one at a time, with the lanes' arithmetic: fused where D's fma is (every vector ISA),
  // a multiply and an add on the scalar path.
  auto fma1 = [](double x, double y, double z) { return W > 1 ? std::fma(x, y, z) : x * y + z; };
  for (; a < r; ++a) {
    double k = 0.0;
    for (int64_t l = 0; l < r; ++l) {
      const double p = P[l * r + a];
      k = fma1(Kt[l * r + a], p, k);
      st[l * r + a] = fma1(p, m[a], st[l * r + a]);
    }
    kp[a] = k;
  }
}

}  // namespace
}  // namespace cpu
}  // namespace hn
