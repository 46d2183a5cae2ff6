import { backendInfo, HypernoiseError, ModelOptimizer, SequentialModel } from '../src';
import { native } from '../src/native';
import { Act, finiteDiff, lcg, randn, RefLayer, relErr, seqForward } from './reference';

const acts: Act[] = ['identity', 'relu', 'silu', 'gelu', 'tanh', 'sigmoid', 'softplus'];

describe('SequentialModel', () => {
  test.each(acts)('forward, VJP and weight gradients with %s match float64 references', (a) => {
    const layers: RefLayer[] = [
      { type: 'linear', in: 5, out: 7 },
      { type: a },
      { type: 'linear', in: 7, out: 4 },
      { type: 'tanh' },
      { type: 'linear', in: 4, out: 3 },
    ];
    const n = 3;
    const rand = lcg(acts.indexOf(a) + 1);
    const m = SequentialModel.fromLayers(layers as never, { seed: 1, backend: 'cpu' });
    const params = randn(rand, m.paramCount, 0.6);
    m.setParams(params);
    const x = randn(rand, n * 5);
    const dy = randn(rand, n * 3);

    const y = m.forwardSync(x);
    expect(relErr(y, seqForward(layers, params, x, n))).toBeLessThan(1e-5);

    // VJP: d/dx <dy, model(x)>
    const x64 = Float64Array.from(x);
    const lossX = (q: Float64Array) => seqForward(layers, params, q, n).reduce((s, v, i) => s + v * dy[i], 0);
    const fdx = finiteDiff(lossX, x64, Array.from({ length: x.length }, (_, i) => i));
    // relu/identity kinks: keep inputs away from 0 by construction of the random draw (probability ~0)
    expect(relErr(m.vjpSync(x, dy), fdx)).toBeLessThan(1e-4);

    // weight gradients
    const p64 = Float64Array.from(params);
    const lossP = (q: Float64Array) => seqForward(layers, q, x, n).reduce((s, v, i) => s + v * dy[i], 0);
    const fdp = finiteDiff(lossP, p64, Array.from({ length: params.length }, (_, i) => i));
    const { grad, dx } = m.gradientsSync(x, dy);
    expect(relErr(grad, fdp)).toBeLessThan(1e-4);
    expect(relErr(dx, fdx)).toBeLessThan(1e-4);
    m.dispose();
  });

  test('a layer list that does not chain is rejected with ERR_ARGUMENT', () => {
    expect(() =>
      SequentialModel.fromLayers([
        { type: 'linear', in: 4, out: 8 },
        { type: 'relu' },
        { type: 'linear', in: 7, out: 2 },
      ]),
    ).toThrow(expect.objectContaining({ code: 'ERR_ARGUMENT', message: expect.stringMatching(/expects 7 inputs.*produce 8/) }));
  });

  test('a model must start with a linear layer, and types are checked', () => {
    expect(() => SequentialModel.fromLayers([{ type: 'relu' }])).toThrow(HypernoiseError);
    expect(() => SequentialModel.fromLayers([{ type: 'conv' } as never])).toThrow(expect.objectContaining({ code: 'ERR_ARGUMENT' }));
    expect(() => SequentialModel.fromLayers([{ type: 'linear', in: 0, out: 2 }])).toThrow(expect.objectContaining({ code: 'ERR_ARGUMENT' }));
  });

  test('initialisation is Kaiming-uniform as torch.nn.Linear and seeded', () => {
    const a = SequentialModel.fromLayers([{ type: 'linear', in: 100, out: 50 }], { seed: 3 });
    const b = SequentialModel.fromLayers([{ type: 'linear', in: 100, out: 50 }], { seed: 3 });
    const c = SequentialModel.fromLayers([{ type: 'linear', in: 100, out: 50 }], { seed: 4 });
    const pa = a.getParams();
    expect(Array.from(pa)).toEqual(Array.from(b.getParams()));
    expect(Array.from(pa)).not.toEqual(Array.from(c.getParams()));
    const bound = 1 / Math.sqrt(100);
    expect(Math.max(...Array.from(pa).map(Math.abs))).toBeLessThanOrEqual(bound);
    const mean = pa.reduce((s, v) => s + v, 0) / pa.length;
    const variance = pa.reduce((s, v) => s + (v - mean) ** 2, 0) / pa.length;
    expect(variance).toBeCloseTo((bound * bound) / 3, 3);
  });
});

// The CPU backend packs a model's weights once per parameter version (native/cpu/sequential.cc): every
// parameter write and ISA change must be seen by the next call, with the same results as a fresh model.
describe('SequentialModel prepared weights', () => {
  const layers = [{ type: 'linear' as const, in: 40, out: 70 }, { type: 'silu' as const }, { type: 'linear' as const, in: 70, out: 33 }];
  const x = new Float32Array(9 * 40).map((_, i) => Math.sin(i));
  const dy = new Float32Array(9 * 33).map((_, i) => Math.cos(i));
  const fresh = (params: Float32Array) => {
    const m = SequentialModel.fromLayers(layers, { seed: 99, backend: 'cpu' });
    m.setParams(params);
    return m;
  };

  test('setParams, an optimiser step and an ISA cap are all seen by the next forward and VJP', () => {
    const m = SequentialModel.fromLayers(layers, { seed: 1, backend: 'cpu' });
    m.forwardSync(x);
    m.vjpSync(x, dy);
    const p = m.getParams().map((v) => 0.5 * v + 0.01);
    m.setParams(p);
    expect(Array.from(m.forwardSync(x))).toEqual(Array.from(fresh(p).forwardSync(x)));
    expect(Array.from(m.vjpSync(x, dy))).toEqual(Array.from(fresh(p).vjpSync(x, dy)));
    const opt = new ModelOptimizer(m, { type: 'sgd', lr: 0.1 });
    opt.step(new Float32Array(m.paramCount).fill(0.25));
    const q = m.getParams();
    expect(Array.from(q)).not.toEqual(Array.from(p));
    expect(Array.from(m.forwardSync(x))).toEqual(Array.from(fresh(q).forwardSync(x)));
    expect(Array.from(m.vjpSync(x, dy))).toEqual(Array.from(fresh(q).vjpSync(x, dy)));
    const before = native()._capIsa('');
    try {
      native()._capIsa('scalar');
      const capped = fresh(q);
      expect(Array.from(m.forwardSync(x))).toEqual(Array.from(capped.forwardSync(x)));
      expect(Array.from(m.vjpSync(x, dy))).toEqual(Array.from(capped.vjpSync(x, dy)));
    } finally {
      native()._capIsa(before === backendInfo().cpu.detected ? '' : before);
    }
  });
});
