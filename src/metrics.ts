/**
 * Evaluation metrics (DESIGN.md, "Evaluation"): Fréchet distance between feature distributions, diversity, and the
 * small symmetric eigen-solver they need. Float64, in native code (native/core/metrics.cc), which performs the
 * operations of this file's earlier JavaScript in the same order: the values are bit-identical to it
 * (test/metrics.test.ts keeps that JavaScript as the reference), only faster.
 */
import { HypernoiseError } from './errors';
import { native } from './native';

/** The first `length` values as a Float64Array (exact for float32 and number inputs); checks the length. */
function float64(x: ArrayLike<number>, length: number, name: string): Float64Array {
  if (x.length < length) throw new HypernoiseError(`Expected at least ${length} values in ${name} but received ${x.length}`, 'ERR_SHAPE');
  if (x instanceof Float64Array) return x.length === length ? x : x.subarray(0, length);
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = x[i];
  return out;
}

/** Mean (d) and covariance (d x d, divisor n - 1) of n feature rows. */
export function gaussianOf(x: ArrayLike<number>, n: number, d: number): { mean: Float64Array; cov: Float64Array } {
  const mean = new Float64Array(d);
  const cov = new Float64Array(d * d);
  native().metrics.gaussianOf(float64(x, n * d, 'x'), n, d, mean, cov);
  return { mean, cov };
}

/** Eigenvalues and eigenvectors (columns of V) of a symmetric matrix, by cyclic Jacobi rotations. */
export function symmetricEigen(a: Float64Array, n: number, tol = 1e-12, maxSweeps = 60): { values: Float64Array; vectors: Float64Array } {
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  native().metrics.symmetricEigen(float64(a, n * n, 'a'), n, tol, maxSweeps, values, vectors);
  return { values, vectors };
}

/** Symmetric PSD square root (negative eigenvalues from round-off clamped to 0). */
export function sqrtPsd(a: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  native().metrics.sqrtPsd(float64(a, n * n, 'a'), n, out);
  return out;
}

/**
 * Fréchet distance between N(m1, S1) and N(m2, S2): ||m1 - m2||^2 + Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2).
 */
export function frechetDistance(g1: { mean: Float64Array; cov: Float64Array }, g2: { mean: Float64Array; cov: Float64Array }, d: number): number {
  return native().metrics.frechetDistance(float64(g1.mean, d, 'mean'), float64(g1.cov, d * d, 'cov'), float64(g2.mean, d, 'mean'), float64(g2.cov, d * d, 'cov'), d);
}

/** Mean pairwise Euclidean distance between n rows of d values, over all pairs. */
export function meanPairwiseDistance(x: ArrayLike<number>, n: number, d: number): number {
  if (n < 2) return 0;
  return native().metrics.meanPairwiseDistance(float64(x, n * d, 'x'), n, d);
}

export function meanStd(x: ArrayLike<number>): { mean: number; std: number } {
  const n = x.length;
  if (n === 0) return { mean: NaN, std: NaN };
  let m = 0;
  for (let i = 0; i < n; i++) m += x[i];
  m /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[i] - m) ** 2;
  return { mean: m, std: n > 1 ? Math.sqrt(v / (n - 1)) : 0 };
}
