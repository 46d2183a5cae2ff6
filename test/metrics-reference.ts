/**
 * The evaluation metrics as JavaScript, as src/metrics.ts computed them before they moved to native code
 * (native/core/metrics.cc). The tests require the native versions to give these exact bits.
 */

/** Mean (d) and covariance (d x d, divisor n - 1) of n feature rows. */
export function gaussianOfJs(x: ArrayLike<number>, n: number, d: number): { mean: Float64Array; cov: Float64Array } {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = x[i * d + j] - mean[j];
    for (let a = 0; a < d; a++) {
      const ra = row[a];
      if (ra === 0) continue;
      const base = a * d;
      for (let b = a; b < d; b++) cov[base + b] += ra * row[b];
    }
  }
  const div = Math.max(1, n - 1);
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      cov[a * d + b] /= div;
      cov[b * d + a] = cov[a * d + b];
    }
  }
  return { mean, cov };
}

/** Eigenvalues and eigenvectors (columns of V) of a symmetric matrix, by cyclic Jacobi rotations. */
export function symmetricEigenJs(a: Float64Array, n: number, tol = 1e-12, maxSweeps = 60): { values: Float64Array; vectors: Float64Array } {
  const A = a.slice();
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale = Math.max(scale, Math.abs(A[i]));
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off = Math.max(off, Math.abs(A[p * n + q]));
    if (off <= tol * Math.max(scale, 1e-300)) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (Math.abs(apq) <= 1e-300) continue;
        const app = A[p * n + p];
        const aqq = A[q * n + q];
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p];
          const akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k];
          const aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p];
          const vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = A[i * n + i];
  return { values, vectors: V };
}

/** Symmetric PSD square root (negative eigenvalues from round-off clamped to 0). */
export function sqrtPsdJs(a: Float64Array, n: number): Float64Array {
  const { values, vectors } = symmetricEigenJs(a, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = Math.sqrt(Math.max(0, values[k]));
    if (s === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors[i * n + k] * s;
      if (vik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += vik * vectors[j * n + k];
    }
  }
  return out;
}

/**
 * Fréchet distance between N(m1, S1) and N(m2, S2): ||m1 - m2||^2 + Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2).
 */
export function frechetDistanceJs(g1: { mean: Float64Array; cov: Float64Array }, g2: { mean: Float64Array; cov: Float64Array }, d: number): number {
  let dm = 0;
  for (let j = 0; j < d; j++) dm += (g1.mean[j] - g2.mean[j]) ** 2;
  const r1 = sqrtPsdJs(g1.cov, d);
  // M = S1^1/2 S2 S1^1/2 (symmetric PSD); Tr(M^1/2) = sum of sqrt of its eigenvalues.
  const tmp = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let k = 0; k < d; k++) {
    const v = r1[i * d + k];
    if (v === 0) continue;
    for (let j = 0; j < d; j++) tmp[i * d + j] += v * g2.cov[k * d + j];
  }
  const M = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let k = 0; k < d; k++) {
    const v = tmp[i * d + k];
    if (v === 0) continue;
    for (let j = 0; j < d; j++) M[i * d + j] += v * r1[k * d + j];
  }
  for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) {
    const s = 0.5 * (M[i * d + j] + M[j * d + i]);
    M[i * d + j] = s;
    M[j * d + i] = s;
  }
  const { values } = symmetricEigenJs(M, d);
  let trSqrt = 0;
  for (const v of values) trSqrt += Math.sqrt(Math.max(0, v));
  let tr = 0;
  for (let i = 0; i < d; i++) tr += g1.cov[i * d + i] + g2.cov[i * d + i];
  return Math.max(0, dm + tr - 2 * trSqrt);
}

/** Mean pairwise Euclidean distance between n rows of d values (all pairs up to maxPairs, else a fixed subsample). */
export function meanPairwiseDistanceJs(x: ArrayLike<number>, n: number, d: number): number {
  if (n < 2) return 0;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let acc = 0;
      for (let k = 0; k < d; k++) {
        const t = x[i * d + k] - x[j * d + k];
        acc += t * t;
      }
      sum += Math.sqrt(acc);
      count++;
    }
  }
  return sum / count;
}
