import { frechetDistance, gaussianOf, meanPairwiseDistance, sqrtPsd, symmetricEigen } from '../src/metrics';
import { lcg, randn } from './reference';

describe('evaluation metrics', () => {
  test('Jacobi eigen-decomposition reconstructs a symmetric matrix', () => {
    const n = 7;
    const r = randn(lcg(1), n * n);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = r[i * n + j] + r[j * n + i];
    const { values, vectors } = symmetricEigen(a, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += vectors[i * n + k] * values[k] * vectors[j * n + k];
      expect(acc).toBeCloseTo(a[i * n + j], 10);
    }
  });

  test('the PSD square root squares back', () => {
    const n = 5;
    const r = randn(lcg(2), n * n);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j] += r[i * n + k] * r[j * n + k];
    const s = sqrtPsd(a, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += s[i * n + k] * s[k * n + j];
      expect(acc).toBeCloseTo(a[i * n + j], 9);
    }
  });

  test('Fréchet distance: closed form for diagonal Gaussians, zero for identical ones', () => {
    const d = 3;
    const g1 = { mean: Float64Array.from([0, 1, 2]), cov: Float64Array.from([4, 0, 0, 0, 1, 0, 0, 0, 9]) };
    const g2 = { mean: Float64Array.from([1, 1, 0]), cov: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]) };
    // ||dm||^2 = 5; sum (sqrt(a) - sqrt(b))^2 = 1 + 0 + 4 = 5
    expect(frechetDistance(g1, g2, d)).toBeCloseTo(10, 8);
    expect(frechetDistance(g1, g1, d)).toBeCloseTo(0, 8);
  });

  test('Fréchet distance of samples of one distribution shrinks with more samples; of shifted ones it does not', () => {
    const d = 4;
    const a = gaussianOf(randn(lcg(3), 4000 * d), 4000, d);
    const b = gaussianOf(randn(lcg(4), 4000 * d), 4000, d);
    const c = gaussianOf(randn(lcg(5), 4000 * d).map((v) => v + 1), 4000, d);
    expect(frechetDistance(a, b, d)).toBeLessThan(0.02);
    expect(frechetDistance(a, c, d)).toBeGreaterThan(3.5);
  });

  test('mean pairwise distance', () => {
    expect(meanPairwiseDistance([0, 0, 3, 4, 0, 0], 3, 2)).toBeCloseTo((5 + 0 + 5) / 3, 10);
  });
});
