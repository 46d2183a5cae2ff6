import { Hypernetwork } from '../src';
import { Act, finiteDiff, hnLoss, hnSample, HnShape, klOf, lcg, randn, relErr } from './reference';

function setup(shape: HnShape, n: number, seed: number, paramScale = 0.4) {
  const rand = lcg(seed);
  const hn = new Hypernetwork({ noiseDim: shape.D, condDim: shape.C, rank: shape.r, depth: shape.L, activation: shape.act, scale: shape.s, backend: 'cpu' });
  const params = randn(rand, hn.paramCount, paramScale);
  hn.setParams(params);
  const eps = randn(rand, n * shape.D);
  const cond = randn(rand, n * shape.C);
  const g = randn(rand, n * shape.D, 0.3);
  return { hn, params, eps, cond, g };
}

describe('hypernetwork forward matches the float64 reference', () => {
  const cases: Array<[Act, number, number]> = [
    ['silu', 1, 3], ['gelu', 2, 0], ['tanh', 3, 2], ['identity', 1, 0], ['relu', 2, 3], ['sigmoid', 1, 1],
  ];
  test.each(cases)('activation %s, depth %i, condDim %i', (a, L, C) => {
    const shape: HnShape = { D: 7, C, r: 5, L, act: a, s: 0.7 };
    const n = 4;
    const { hn, params, eps, cond } = setup(shape, n, 11);
    const out = hn.forwardSync(eps, C > 0 ? cond : null);
    const kl = hn.klSync(eps, C > 0 ? cond : null);
    for (let i = 0; i < n; i++) {
      const ref = hnSample(shape, params, eps.subarray(i * 7, (i + 1) * 7), cond.subarray(i * C, (i + 1) * C));
      expect(relErr(out.subarray(i * 7, (i + 1) * 7), ref.epsHat)).toBeLessThan(1e-5);
      const k = klOf(shape, ref);
      expect(kl.l2[i]).toBeCloseTo(k.l2, 4);
      expect(kl.chi[i]).toBeCloseTo(k.chi, 3);
      expect(kl.trace[i]).toBeCloseTo(k.trace, 4);
      expect(kl.nonInvertible[i]).toBe(k.nonInvertible ? 1 : 0);
      if (!k.nonInvertible) {
        expect(kl.logdet[i]).toBeCloseTo(k.logdet, 4);
        expect(kl.exact[i]).toBeCloseTo(k.exact, 4);
      }
    }
    hn.dispose();
  });
});

describe('exact KL equals the brute-force D x D log-determinant', () => {
  test.each([2, 6, 16])('D = %i with rank 4 (Sylvester: r x r work)', (D) => {
    const shape: HnShape = { D, C: 0, r: 4, L: 1, act: 'silu', s: 1 };
    const { hn, params, eps } = setup(shape, 5, 3 + D, 0.3);
    const kl = hn.klSync(eps);
    for (let i = 0; i < 5; i++) {
      const ref = klOf(shape, hnSample(shape, params, eps.subarray(i * D, (i + 1) * D), []));
      expect(ref.nonInvertible).toBe(false);
      expect(Math.abs(kl.logdet[i] - ref.logdet)).toBeLessThan(2e-5 * Math.max(1, Math.abs(ref.logdet)));
      expect(Math.abs(kl.exact[i] - ref.exact)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref.exact)));
    }
    hn.dispose();
  });

  test('a non-invertible T is counted and its log-det excluded, never NaN', () => {
    // Identity activation, r = D: J_f = s B A. With B A = diag(-3, 0, ..., 0), det(I + J) = -2 < 0.
    const D = 4;
    const hn = new Hypernetwork({ noiseDim: D, rank: D, depth: 1, activation: 'identity', backend: 'cpu' });
    const p = new Float32Array(hn.paramCount);
    const [aOff] = hn.tensorLayout.A;
    const [bOff] = hn.tensorLayout.B;
    p[aOff] = 1; // A[0][0]
    p[bOff] = -3; // B[0][0]
    hn.setParams(p);
    const eps = Float32Array.from([0.5, 1, -1, 2, 0.1, 0.2, 0.3, 0.4]);
    const kl = hn.klSync(eps);
    for (let i = 0; i < 2; i++) {
      expect(kl.nonInvertible[i]).toBe(1);
      expect(Number.isFinite(kl.exact[i])).toBe(true);
      expect(kl.logdet[i]).toBe(0);
      expect(kl.trace[i]).toBeCloseTo(-3, 6);
      expect(kl.exact[i]).toBeCloseTo(kl.l2[i] - 3, 5);
    }
    hn.dispose();
  });
});

describe('hypernetwork gradients match float64 finite differences', () => {
  const cases: Array<['l2' | 'exact' | 'chi', Act, number, number]> = [
    ['l2', 'silu', 1, 3],
    ['chi', 'tanh', 2, 0],
    ['exact', 'silu', 1, 2],
    ['exact', 'gelu', 1, 0],
    ['exact', 'tanh', 2, 3],
    ['exact', 'silu', 3, 1],
    ['exact', 'identity', 1, 0],
    ['l2', 'relu', 2, 2],
  ];
  test.each(cases)('kl %s, activation %s, depth %i, condDim %i', (kl, a, L, C) => {
    const shape: HnShape = { D: 6, C, r: 4, L, act: a, s: 0.8 };
    const n = 3;
    const w = 0.7;
    const { hn, params, eps, cond, g } = setup(shape, n, 100 + L * 10 + C);
    hn.native.forwardTrainSync(eps, C > 0 ? cond : null, n, kl, new Float32Array(n * 6), null);
    hn.native.backwardSync(g, n, kl, w, 1);
    const grad = hn.getGradient();
    const p64 = Float64Array.from(params);
    const all = Array.from({ length: hn.paramCount }, (_, i) => i);
    const fd = finiteDiff((q) => hnLoss(shape, q, eps, cond, n, g, kl, w), p64, all);
    expect(relErr(grad, fd)).toBeLessThan(2e-4);
    hn.dispose();
  });

  test('the untrained hypernetwork is the identity map', () => {
    const hn = new Hypernetwork({ noiseDim: 10, condDim: 2, rank: 3, depth: 2, seed: 5, backend: 'cpu' });
    const eps = randn(lcg(9), 30);
    const out = hn.forwardSync(eps, new Float32Array(6).fill(1));
    expect(Array.from(out)).toEqual(Array.from(eps));
    hn.dispose();
  });
});
