// The evaluation's float64 metrics (DESIGN.md, "Evaluation"): feature Gaussians, the Fréchet distance and
// its symmetric eigen-solver, the mean pairwise distance. Host code, the same on every backend and ISA.
//
// Each routine performs the operations of the JavaScript it replaced (src/metrics.ts before this file), in
// the same order, one IEEE rounding each (the build uses -ffp-contract=off): results are bit-identical to
// that JavaScript, so no published figure moved. Speed comes from memory order and independent work, never
// from a different order of the sums: the eigenvectors are kept transposed (rows, not columns), and
// pairwise distances are summed one pair per lane.
#pragma once

#include <cstdint>

namespace hn {
namespace metrics {

// Mean (d) and covariance (d x d, divisor max(1, n - 1)) of n rows of d values.
void gaussian_of(const double* x, int64_t n, int64_t d, double* mean, double* cov);

// Eigenvalues and eigenvectors (columns of vectors, n x n row-major) of a symmetric n x n matrix by cyclic
// Jacobi rotations, stopping when every off-diagonal |a_pq| <= tol * max|a| or after max_sweeps sweeps.
void symmetric_eigen(const double* a, int64_t n, double tol, int max_sweeps, double* values, double* vectors);

// Symmetric PSD square root (eigenvalues below 0 from round-off clamped to 0).
void sqrt_psd(const double* a, int64_t n, double* out);

// Fréchet distance between N(m1, S1) and N(m2, S2): ||m1 - m2||^2 + Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2).
double frechet_distance(const double* m1, const double* s1, const double* m2, const double* s2, int64_t d);

// Mean Euclidean distance over all pairs i < j of n rows of d values (0 when n < 2).
double mean_pairwise_distance(const double* x, int64_t n, int64_t d);

}  // namespace metrics
}  // namespace hn
