import { SequentialModel } from '../src';
import { distillationLoss, fewStepSample, oneStepGenerator, stepTimes, teacherSolve, TIME_FEATURES, TIME_SCALE, timeFeatures, withTime } from '../src/flow';
import { finiteDiff, lcg, randn, RefLayer, relErr, seqForward } from './reference';

const D = 6;
const studentLayers: RefLayer[] = [
  { type: 'linear', in: D + TIME_FEATURES, out: 9 },
  { type: 'silu' },
  { type: 'linear', in: 9, out: D },
];

function tinyStudent(seed: number, withSigmoid: boolean) {
  const rand = lcg(seed);
  const layers = withSigmoid ? [...studentLayers, { type: 'sigmoid' } as RefLayer] : studentLayers;
  const m = SequentialModel.fromLayers(layers as never, { seed: 1, backend: 'cpu' });
  const params = randn(rand, m.paramCount, 0.5);
  m.setParams(params);
  return { m, params, rand, layers };
}

describe('distilled generator (src/flow.ts)', () => {
  test('time features are sin/cos pairs (norm TIME_SCALE per frequency) and phi(0) is (0..., TIME_SCALE...)', () => {
    const phi0 = timeFeatures(0);
    expect(Array.from(phi0.subarray(0, TIME_FEATURES / 2))).toEqual(new Array(TIME_FEATURES / 2).fill(0));
    expect(Array.from(phi0.subarray(TIME_FEATURES / 2))).toEqual(new Array(TIME_FEATURES / 2).fill(TIME_SCALE));
    const phi = timeFeatures(0.37);
    for (let k = 0; k < TIME_FEATURES / 2; k++) expect(phi[k] ** 2 + phi[k + TIME_FEATURES / 2] ** 2).toBeCloseTo(TIME_SCALE ** 2, 4);
    const rows = withTime(Float32Array.from([1, 2, 3, 4]), 2, [0, 0.37]);
    expect(rows.length).toBe(2 * (2 + TIME_FEATURES));
    expect(Array.from(rows.subarray(2 + TIME_FEATURES, 4 + TIME_FEATURES))).toEqual([3, 4]);
    expect(rows[4 + TIME_FEATURES]).toBeCloseTo(phi[0], 6);
    expect(stepTimes(4)).toEqual([0, 0.25, 0.5, 0.75]);
  });

  test("the distillation objective's parameter gradients match float64 finite differences", () => {
    const { m, params, rand } = tinyStudent(3, false);
    const n = 4;
    const y = randn(rand, n * D);
    const t = [0, 0.25, 0.5, 0.75];
    const input = withTime(y, D, t);
    const target = Float32Array.from(randn(rand, n * D), (v) => 1 / (1 + Math.exp(-v)));
    const { dlogits, loss } = distillationLoss(m.forwardSync(input), target, n);
    // the loss in float64 from the reference forward, as a function of the parameters
    const loss64 = (p: Float64Array) => {
      const l = seqForward(studentLayers, p, input, n);
      let s = 0;
      for (let i = 0; i < l.length; i++) s += Math.log1p(Math.exp(l[i])) - target[i] * l[i];
      return s / n;
    };
    const p64 = Float64Array.from(params);
    expect(Math.abs(loss - loss64(p64)) / Math.abs(loss64(p64))).toBeLessThan(1e-5);
    const fd = finiteDiff(loss64, p64, Array.from({ length: params.length }, (_, i) => i));
    expect(relErr(m.gradientsSync(input, dlogits).grad, fd)).toBeLessThan(1e-4);
    m.dispose();
  });

  test('the distillation loss is minimal (gradient 0) where sigmoid(logits) = target', () => {
    const target = Float32Array.from([0.1, 0.5, 0.9, 0.99]);
    const logits = Float32Array.from(target, (p) => Math.log(p / (1 - p)));
    const { dlogits } = distillationLoss(logits, target, 1);
    for (const g of dlogits) expect(Math.abs(g)).toBeLessThan(1e-6);
    expect(() => distillationLoss(logits, target.subarray(1), 1)).toThrow(/targets/);
  });

  test('the one-step generator is the student at t = 0, with phi(0) folded into the first bias', () => {
    const { m, rand } = tinyStudent(5, true);
    const g = oneStepGenerator(m);
    expect(g.inputDim).toBe(D);
    expect(g.outputDim).toBe(D);
    expect(g.paramCount).toBe(m.paramCount - TIME_FEATURES * 9);
    const eps = randn(rand, 5 * D);
    expect(relErr(g.forwardSync(eps), m.forwardSync(withTime(eps, D, 0)))).toBeLessThan(1e-6);
    g.dispose();
    m.dispose();
  });

  test('few-step sampling: one step is the one-step generator; more steps are seeded and stay in [0, 1]', async () => {
    const { m, rand } = tinyStudent(7, true);
    const g = oneStepGenerator(m);
    const eps = randn(rand, 3 * D);
    expect(relErr(await fewStepSample({ student: m, noise: eps, steps: 1, seed: 0 }), await g.forward(eps))).toBeLessThan(1e-6);
    const a = await fewStepSample({ student: m, noise: eps, steps: 4, seed: 9 });
    const b = await fewStepSample({ student: m, noise: eps, steps: 4, seed: 9 });
    const c = await fewStepSample({ student: m, noise: eps, steps: 4, seed: 10 });
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(relErr(a, c)).toBeGreaterThan(1e-4);
    for (const v of a) expect(v >= 0 && v <= 1).toBe(true);
    await expect(fewStepSample({ student: m, noise: eps.subarray(1), steps: 2, seed: 0 })).rejects.toMatchObject({ code: 'ERR_SHAPE' });
    g.dispose();
    m.dispose();
  });

  test('the ODE solve with a teacher that always predicts the same image lands on that image, from any t0', () => {
    // a denoiser with only a bias: x_hat = sigmoid(b) everywhere; the flow then moves straight to 2 x_hat - 1
    const teacher = SequentialModel.fromLayers([{ type: 'linear', in: D + TIME_FEATURES, out: D }, { type: 'sigmoid' }], { seed: 1, backend: 'cpu' });
    const b = Float32Array.from({ length: D }, (_, i) => 0.8 * i - 2);
    const params = new Float32Array(teacher.paramCount);
    params.set(b, (D + TIME_FEATURES) * D);
    teacher.setParams(params);
    for (const [t0, steps] of [[0, 4], [0.25, 3], [0.5, 1]]) {
      const y0 = Float32Array.from({ length: 2 * D }, (_, i) => Math.sin(i + t0));
      const y = teacherSolve(teacher, y0.slice(), t0, steps);
      for (let i = 0; i < y.length; i++) expect(y[i]).toBeCloseTo(2 / (1 + Math.exp(-b[i % D])) - 1, 5);
    }
    teacher.dispose();
  });
});
