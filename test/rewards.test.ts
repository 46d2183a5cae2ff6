import { rewards, SequentialModel } from '../src';
import { finiteDiff, lcg, randn, RefLayer, relErr, seqForward } from './reference';

const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;

describe('built-in rewards', () => {
  test('redness is the mean over pixels of R - (G + B) / 2 on [3, H, W] layouts, with its gradient', async () => {
    const hw = 6;
    const n = 2;
    const x = randn(lcg(1), n * 3 * hw);
    const r = await rewards.redness().evaluate(x, 3 * hw, null, 0, true);
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let j = 0; j < hw; j++) acc += x[i * 3 * hw + j] - 0.5 * (x[i * 3 * hw + hw + j] + x[i * 3 * hw + 2 * hw + j]);
      expect(r.value[i]).toBeCloseTo(acc / hw, 6);
      for (let j = 0; j < hw; j++) {
        expect(r.grad?.[i * 3 * hw + j]).toBeCloseTo(1 / hw, 7);
        expect(r.grad?.[i * 3 * hw + hw + j]).toBeCloseTo(-0.5 / hw, 7);
      }
    }
  });

  test('redness rejects outputs that are not RGB', async () => {
    await expect(rewards.redness().evaluate(new Float32Array(8), 4, null, 0, true)).rejects.toMatchObject({ code: 'ERR_SHAPE' });
  });

  test('brightness is the mean intensity', async () => {
    const x = randn(lcg(2), 3 * 10);
    const r = await rewards.brightness().evaluate(x, 10, null, 0, true);
    for (let i = 0; i < 3; i++) expect(r.value[i]).toBeCloseTo(mean(x.subarray(i * 10, (i + 1) * 10)), 6);
    expect(r.grad?.[7]).toBeCloseTo(0.1, 7);
  });

  const layers: RefLayer[] = [{ type: 'linear', in: 6, out: 8 }, { type: 'silu' }, { type: 'linear', in: 8, out: 4 }];
  function classifier() {
    const m = SequentialModel.fromLayers(layers as never, { backend: 'cpu' });
    const p = randn(lcg(5), m.paramCount, 0.7);
    m.setParams(p);
    return { m, p };
  }
  function logProbRef(p: ArrayLike<number>, x: ArrayLike<number>, n: number, classes: number[]): number[] {
    const logits = seqForward(layers, p, x, n);
    return classes.map((c, i) => {
      const l = Array.from(logits.subarray(i * 4, (i + 1) * 4));
      const mx = Math.max(...l);
      return l[c] - mx - Math.log(l.reduce((s, v) => s + Math.exp(v - mx), 0));
    });
  }

  test('classifierLogProb takes the class from the one-hot condition, with a gradient that matches finite differences', async () => {
    const { m, p } = classifier();
    const n = 3;
    const x = randn(lcg(6), n * 6);
    const classes = [2, 0, 3];
    const cond = new Float32Array(n * 4);
    classes.forEach((c, i) => (cond[i * 4 + c] = 1));
    const r = await rewards.classifierLogProb(m).evaluate(x, 6, cond, 4, true);
    const ref = logProbRef(p, x, n, classes);
    ref.forEach((v, i) => expect(r.value[i]).toBeCloseTo(v, 5));
    const fd = finiteDiff((q) => logProbRef(p, q, n, classes).reduce((s, v) => s + v, 0), Float64Array.from(x), Array.from({ length: x.length }, (_, i) => i));
    expect(relErr(r.grad as Float32Array, fd)).toBeLessThan(1e-4);
  });

  test('classifierLogProb with a fixed class, a condition offset, or a class function', async () => {
    const { m, p } = classifier();
    const n = 2;
    const x = randn(lcg(7), n * 6);
    const fixed = await rewards.classifierLogProb(m, 1).evaluate(x, 6, null, 0, false);
    logProbRef(p, x, n, [1, 1]).forEach((v, i) => expect(fixed.value[i]).toBeCloseTo(v, 5));
    const cond = Float32Array.from([9, 0, 0, 1, 0, /**/ 9, 0, 1, 0, 0]); // classes at offset 1: 2, 1
    const off = await rewards.classifierLogProb(m, { offset: 1 }).evaluate(x, 6, cond, 5, false);
    logProbRef(p, x, n, [2, 1]).forEach((v, i) => expect(off.value[i]).toBeCloseTo(v, 5));
    const fn = await rewards.classifierLogProb(m, (_c, k) => Int32Array.from({ length: k }, (_, i) => 3 - i)).evaluate(x, 6, null, 0, false);
    logProbRef(p, x, n, [3, 2]).forEach((v, i) => expect(fn.value[i]).toBeCloseTo(v, 5));
    await expect(rewards.classifierLogProb(m, () => [7, 0]).evaluate(x, 6, null, 0, false)).rejects.toMatchObject({ code: 'ERR_ARGUMENT' });
  });

  test('weighted sums run natively and add values and gradients', async () => {
    const { m } = classifier();
    const x = randn(lcg(8), 2 * 6);
    const b = await rewards.brightness().evaluate(x, 6, null, 0, true);
    const c = await rewards.classifierLogProb(m, 0).evaluate(x, 6, null, 0, true);
    const w = rewards.weighted([[rewards.brightness(), 2], { reward: rewards.classifierLogProb(m, 0), weight: -0.5 }]);
    expect(w.constructor.name).toBe('BuiltinReward');
    const r = await w.evaluate(x, 6, null, 0, true);
    for (let i = 0; i < 2; i++) expect(r.value[i]).toBeCloseTo(2 * b.value[i] - 0.5 * c.value[i], 5);
    for (let i = 0; i < 12; i++) expect(r.grad?.[i]).toBeCloseTo(2 * (b.grad as Float32Array)[i] - 0.5 * (c.grad as Float32Array)[i], 5);
  });

  test('a JavaScript reward mixes with built-ins in a weighted sum', async () => {
    const js = rewards.fromFunction((x, n) => ({ value: new Float32Array(n).fill(1), grad: new Float32Array(x.length).fill(0.5) }));
    const w = rewards.weighted([[js, 3], [rewards.brightness(), 1]]);
    const x = new Float32Array(8).fill(0.25);
    const r = await w.evaluate(x, 4, null, 0, true);
    expect(Array.from(r.value)).toEqual([3.25, 3.25]);
    expect(r.grad?.[0]).toBeCloseTo(1.5 + 0.25, 6);
  });
});
