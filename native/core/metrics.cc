// See metrics.h. Every loop here keeps the order of the sums of the JavaScript it replaced; comments name
// the places where the memory layout differs from it (and why that cannot change a value).
#include "metrics.h"

#include <cmath>
#include <limits>
#include <vector>

namespace hn {
namespace metrics {

namespace {

// JavaScript's Math.max for two numbers: NaN if either is NaN, +0 over -0.
inline double js_max(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  if (a == b) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}

// (x, y) <- (c x - s y, s x + c y), element by element over two contiguous rows.
inline void rotate_rows(double* x, double* y, int64_t n, double c, double s) {
  for (int64_t k = 0; k < n; ++k) {
    const double xk = x[k];
    const double yk = y[k];
    x[k] = c * xk - s * yk;
    y[k] = s * xk + c * yk;
  }
}

// The Jacobi iteration on a (n x n, overwritten; its diagonal ends as the eigenvalues). With vt, the
// accumulated rotations transposed: vt[p * n + k] is V[k][p], so the update of two columns of V is an update
// of two contiguous rows (the same products and sums, element by element).
void jacobi(double* A, int64_t n, double tol, int max_sweeps, double* vt) {
  double scale = 0.0;
  for (int64_t i = 0; i < n * n; ++i) scale = js_max(scale, std::fabs(A[i]));
  for (int sweep = 0; sweep < max_sweeps; ++sweep) {
    double off = 0.0;
    for (int64_t p = 0; p < n; ++p) {
      for (int64_t q = p + 1; q < n; ++q) off = js_max(off, std::fabs(A[p * n + q]));
    }
    if (off <= tol * js_max(scale, 1e-300)) break;
    for (int64_t p = 0; p < n - 1; ++p) {
      for (int64_t q = p + 1; q < n; ++q) {
        const double apq = A[p * n + q];
        if (std::fabs(apq) <= 1e-300) continue;
        const double app = A[p * n + p];
        const double aqq = A[q * n + q];
        const double theta = (aqq - app) / (2.0 * apq);
        // Math.sign(theta || 1): 1 for 0, -0 and NaN.
        const double sign = (theta == 0.0 || std::isnan(theta)) ? 1.0 : (theta > 0.0 ? 1.0 : -1.0);
        const double t = sign / (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0);
        const double s = t * c;
        // Columns p and q, then rows p and q (which reads the column update's values at (p, p), (p, q)).
        for (int64_t k = 0; k < n; ++k) {
          const double akp = A[k * n + p];
          const double akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        rotate_rows(A + p * n, A + q * n, n, c, s);
        if (vt != nullptr) rotate_rows(vt + p * n, vt + q * n, n, c, s);
      }
    }
  }
}

// Eigenvalues, and the eigenvectors transposed (vt[k * n + i] = V[i][k]) when vt is given.
void eigen_transposed(const double* a, int64_t n, double tol, int max_sweeps, double* values, double* vt) {
  std::vector<double> A(a, a + n * n);
  if (vt != nullptr) {
    for (int64_t i = 0; i < n * n; ++i) vt[i] = 0.0;
    for (int64_t i = 0; i < n; ++i) vt[i * n + i] = 1.0;
  }
  jacobi(A.data(), n, tol, max_sweeps, vt);
  for (int64_t i = 0; i < n; ++i) values[i] = A[static_cast<size_t>(i * n + i)];
}

constexpr double kTol = 1e-12;
constexpr int kMaxSweeps = 60;

}  // namespace

void gaussian_of(const double* x, int64_t n, int64_t d, double* mean, double* cov) {
  for (int64_t j = 0; j < d; ++j) mean[j] = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) mean[j] += x[i * d + j];
  }
  for (int64_t j = 0; j < d; ++j) mean[j] /= static_cast<double>(n);
  for (int64_t e = 0; e < d * d; ++e) cov[e] = 0.0;
  std::vector<double> row(static_cast<size_t>(d));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) row[static_cast<size_t>(j)] = x[i * d + j] - mean[j];
    for (int64_t a = 0; a < d; ++a) {
      const double ra = row[static_cast<size_t>(a)];
      if (ra == 0.0) continue;
      double* ca = cov + a * d;
      for (int64_t b = a; b < d; ++b) ca[b] += ra * row[static_cast<size_t>(b)];
    }
  }
  const double div = static_cast<double>(n - 1 > 1 ? n - 1 : 1);
  for (int64_t a = 0; a < d; ++a) {
    for (int64_t b = a; b < d; ++b) {
      cov[a * d + b] /= div;
      cov[b * d + a] = cov[a * d + b];
    }
  }
}

void symmetric_eigen(const double* a, int64_t n, double tol, int max_sweeps, double* values, double* vectors) {
  std::vector<double> vt(static_cast<size_t>(n * n));
  eigen_transposed(a, n, tol, max_sweeps, values, vt.data());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < n; ++k) vectors[i * n + k] = vt[static_cast<size_t>(k * n + i)];
  }
}

void sqrt_psd(const double* a, int64_t n, double* out) {
  std::vector<double> values(static_cast<size_t>(n)), vt(static_cast<size_t>(n * n));
  eigen_transposed(a, n, kTol, kMaxSweeps, values.data(), vt.data());
  for (int64_t e = 0; e < n * n; ++e) out[e] = 0.0;
  for (int64_t k = 0; k < n; ++k) {
    const double s = std::sqrt(js_max(0.0, values[static_cast<size_t>(k)]));
    if (s == 0.0) continue;
    const double* vk = vt.data() + k * n;  // column k of V
    for (int64_t i = 0; i < n; ++i) {
      const double vik = vk[i] * s;
      if (vik == 0.0) continue;
      double* oi = out + i * n;
      for (int64_t j = 0; j < n; ++j) oi[j] += vik * vk[j];
    }
  }
}

double frechet_distance(const double* m1, const double* s1, const double* m2, const double* s2, int64_t d) {
  double dm = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    const double t = m1[j] - m2[j];
    dm += t * t;
  }
  const size_t dd = static_cast<size_t>(d * d);
  std::vector<double> r1(dd), tmp(dd, 0.0), M(dd, 0.0);
  sqrt_psd(s1, d, r1.data());
  // M = S1^1/2 S2 S1^1/2 (symmetric PSD); Tr(M^1/2) is the sum of the square roots of its eigenvalues.
  for (int64_t i = 0; i < d; ++i) {
    double* ti = tmp.data() + i * d;
    for (int64_t k = 0; k < d; ++k) {
      const double v = r1[static_cast<size_t>(i * d + k)];
      if (v == 0.0) continue;
      const double* sk = s2 + k * d;
      for (int64_t j = 0; j < d; ++j) ti[j] += v * sk[j];
    }
  }
  for (int64_t i = 0; i < d; ++i) {
    double* mi = M.data() + i * d;
    for (int64_t k = 0; k < d; ++k) {
      const double v = tmp[static_cast<size_t>(i * d + k)];
      if (v == 0.0) continue;
      const double* rk = r1.data() + k * d;
      for (int64_t j = 0; j < d; ++j) mi[j] += v * rk[j];
    }
  }
  for (int64_t i = 0; i < d; ++i) {
    for (int64_t j = i + 1; j < d; ++j) {
      const double s = 0.5 * (M[static_cast<size_t>(i * d + j)] + M[static_cast<size_t>(j * d + i)]);
      M[static_cast<size_t>(i * d + j)] = s;
      M[static_cast<size_t>(j * d + i)] = s;
    }
  }
  // Only the eigenvalues are needed: the rotations do not depend on the eigenvectors, so they are skipped.
  std::vector<double> values(static_cast<size_t>(d));
  eigen_transposed(M.data(), d, kTol, kMaxSweeps, values.data(), nullptr);
  double tr_sqrt = 0.0;
  for (int64_t k = 0; k < d; ++k) tr_sqrt += std::sqrt(js_max(0.0, values[static_cast<size_t>(k)]));
  double tr = 0.0;
  for (int64_t i = 0; i < d; ++i) tr += s1[i * d + i] + s2[i * d + i];
  return js_max(0.0, dm + tr - 2.0 * tr_sqrt);
}

double mean_pairwise_distance(const double* x, int64_t n, int64_t d) {
  if (n < 2) return 0.0;
  // The rows transposed (xt[k * n + j] = x[j][k]), so that kLanes pairs (i, j..j + kLanes) advance together,
  // each with its own sum over k in order; the pairs' square roots are then added in the order of j.
  constexpr int kLanes = 8;
  std::vector<double> xt(static_cast<size_t>(n * d));
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t k = 0; k < d; ++k) xt[static_cast<size_t>(k * n + j)] = x[j * d + k];
  }
  double sum = 0.0, count = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double* xi = x + i * d;
    int64_t j = i + 1;
    for (; j + kLanes <= n; j += kLanes) {
      double acc[kLanes] = {};
      for (int64_t k = 0; k < d; ++k) {
        const double a = xi[k];
        const double* col = xt.data() + k * n + j;
        for (int l = 0; l < kLanes; ++l) {
          const double t = a - col[l];
          acc[l] += t * t;
        }
      }
      for (int l = 0; l < kLanes; ++l) sum += std::sqrt(acc[l]);
      count += kLanes;
    }
    for (; j < n; ++j) {
      const double* xj = x + j * d;
      double acc = 0.0;
      for (int64_t k = 0; k < d; ++k) {
        const double t = xi[k] - xj[k];
        acc += t * t;
      }
      sum += std::sqrt(acc);
      count += 1.0;
    }
  }
  return sum / count;
}

}  // namespace metrics
}  // namespace hn
