import { frechetDistance, gaussianOf, meanPairwiseDistance, sqrtPsd, symmetricEigen } from '../src/metrics';
import { frechetDistanceJs, gaussianOfJs, meanPairwiseDistanceJs, sqrtPsdJs, symmetricEigenJs } from './metrics-reference';
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

  // The native metrics perform the JavaScript's operations in its order: the evaluation's figures did not move
  // when they left JavaScript. Shapes of the demo's (100 features from 200 samples, 784-pixel rows) and odd ones.
  describe('bit-identical to the JavaScript they replaced', () => {
    const bits = (a: ArrayLike<number>) => Array.from(a, (v) => (Object.is(v, -0) ? '-0' : String(v)));
    /** rows of correlated float32 features: a low-rank mix plus noise, as classifier features are */
    const features = (seed: number, n: number, d: number): Float32Array => {
      const rng = lcg(seed);
      const z = randn(rng, n * 8);
      const w = randn(rng, 8 * d);
      const e = randn(rng, n * d);
      const x = new Float32Array(n * d);
      for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) {
        let acc = 0.3 * e[i * d + j];
        for (let k = 0; k < 8; k++) acc += z[i * 8 + k] * w[k * d + j];
        x[i * d + j] = acc;
      }
      return x;
    };

    test.each([
      [200, 100],
      [37, 13],
      [5, 9],
    ])('gaussianOf, sqrtPsd, symmetricEigen and frechetDistance (n = %i, d = %i)', (n, d) => {
      const a = features(11 + d, n, d);
      const b = features(12 + d, n, d).map((v, i) => v + 0.1 * (i % 3));
      const ga = gaussianOf(a, n, d);
      const gb = gaussianOf(b, n, d);
      const ja = gaussianOfJs(a, n, d);
      expect(bits(ga.mean)).toEqual(bits(ja.mean));
      expect(bits(ga.cov)).toEqual(bits(ja.cov));
      const e = symmetricEigen(ga.cov, d);
      const je = symmetricEigenJs(ja.cov, d);
      expect(bits(e.values)).toEqual(bits(je.values));
      expect(bits(e.vectors)).toEqual(bits(je.vectors));
      expect(bits(sqrtPsd(gb.cov, d))).toEqual(bits(sqrtPsdJs(gaussianOfJs(b, n, d).cov, d)));
      const fd = frechetDistance(ga, gb, d);
      expect(fd).toBeGreaterThan(0);
      expect(bits([fd])).toEqual(bits([frechetDistanceJs(ja, gaussianOfJs(b, n, d), d)]));
    });

    test('symmetricEigen with a loose tolerance and a sweep cap', () => {
      const d = 24;
      const g = gaussianOf(features(5, 60, d), 60, d);
      for (const [tol, sweeps] of [[1e-3, 60], [1e-12, 2], [0, 0]] as const) {
        const e = symmetricEigen(g.cov, d, tol, sweeps);
        const je = symmetricEigenJs(g.cov, d, tol, sweeps);
        expect(bits(e.values)).toEqual(bits(je.values));
        expect(bits(e.vectors)).toEqual(bits(je.vectors));
      }
    });

    test.each([
      [256, 784],
      [13, 5],
      [9, 1],
      [2, 3],
    ])('meanPairwiseDistance (n = %i, d = %i)', (n, d) => {
      const x = features(21 + n, n, d);
      const v = meanPairwiseDistance(x, n, d);
      expect(v).toBeGreaterThan(0);
      expect(bits([v])).toEqual(bits([meanPairwiseDistanceJs(x, n, d)]));
    });

    test('shape errors name the argument', () => {
      expect(() => gaussianOf(new Float32Array(5), 2, 3)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
      expect(() => meanPairwiseDistance([1, 2, 3], 2, 2)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
      expect(meanPairwiseDistance([1, 2], 1, 2)).toBe(0);
    });
  });
});
