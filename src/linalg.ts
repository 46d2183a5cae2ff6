/** Small dense float64 linear algebra for closed-form checks and evaluation (not on hot paths). */

export type Matrix = Float64Array; // row-major, square unless stated

export function matmul(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < k; l++) {
      const av = a[i * k + l];
      if (av === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j] += av * b[l * n + j];
    }
  }
  return c;
}

export function transpose(a: Float64Array, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
  return t;
}

export function identity(n: number): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) a[i * n + i] = 1;
  return a;
}

/** LU with partial pivoting: inverse and log|det|, sign of det. Throws on a singular matrix. */
export function invert(a: Float64Array, n: number): { inverse: Float64Array; logAbsDet: number; sign: number } {
  const m = a.slice();
  const inv = identity(n);
  let logAbsDet = 0;
  let sign = 1;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i * n + k]) > Math.abs(m[p * n + k])) p = i;
    const piv = m[p * n + k];
    if (piv === 0 || !Number.isFinite(piv)) throw new Error('singular matrix');
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        [m[k * n + j], m[p * n + j]] = [m[p * n + j], m[k * n + j]];
        [inv[k * n + j], inv[p * n + j]] = [inv[p * n + j], inv[k * n + j]];
      }
      sign = -sign;
    }
    logAbsDet += Math.log(Math.abs(piv));
    if (piv < 0) sign = -sign;
    for (let j = 0; j < n; j++) {
      m[k * n + j] /= piv;
      inv[k * n + j] /= piv;
    }
    for (let i = 0; i < n; i++) {
      if (i === k) continue;
      const f = m[i * n + k];
      if (f === 0) continue;
      for (let j = 0; j < n; j++) {
        m[i * n + j] -= f * m[k * n + j];
        inv[i * n + j] -= f * inv[k * n + j];
      }
    }
  }
  return { inverse: inv, logAbsDet, sign };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
