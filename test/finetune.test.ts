import { rewards, SequentialModel } from '../src';
import { fineTuneGenerator, fineTuneGradient } from '../src/finetune';
import { finiteDiff, lcg, randn, RefLayer, relErr, seqForward } from './reference';

const layers: RefLayer[] = [
  { type: 'linear', in: 3, out: 5 },
  { type: 'silu' },
  { type: 'linear', in: 5, out: 4 },
  { type: 'sigmoid' },
];

function tinyGenerator(seed: number) {
  const rand = lcg(seed);
  const m = SequentialModel.fromLayers(layers as never, { seed: 1, backend: 'cpu' });
  const params = randn(rand, m.paramCount, 0.7);
  m.setParams(params);
  return { m, params, rand };
}

describe('fine-tuning baseline (src/finetune.ts)', () => {
  test('its gradient is d/dtheta of -mean r(g_theta(eps)) / alpha, against float64 finite differences', async () => {
    const { m, params, rand } = tinyGenerator(2);
    const n = 5;
    const alpha = 0.5;
    const eps = randn(rand, n * 3);
    const g = await fineTuneGradient(m, rewards.brightness(), eps, null, alpha);
    // brightness = mean pixel; the objective in float64 from the reference forward
    const objective = (p: Float64Array) => {
      const x = seqForward(layers, p, eps, n);
      return -x.reduce((s, v) => s + v, 0) / 4 / n / alpha;
    };
    const p64 = Float64Array.from(params);
    const fd = finiteDiff(objective, p64, Array.from({ length: params.length }, (_, i) => i));
    expect(relErr(g.grad, fd)).toBeLessThan(1e-4);
    expect(g.reward).toBeCloseTo(-objective(p64) * alpha, 5);
    m.dispose();
  });

  test('a few steps raise the reward of a copy and leave the base generator unchanged', async () => {
    const { m, params } = tinyGenerator(4);
    const res = await fineTuneGenerator({ generator: m, reward: rewards.brightness(), cond: null, steps: 60, batchSize: 32, optimizer: { lr: 0.05 }, seed: 3 });
    expect(res.steps).toBe(60);
    expect(res.rewardEnd).toBeGreaterThan(res.rewardStart + 0.05);
    expect(Array.from(m.getParams())).toEqual(Array.from(params));
    expect(relErr(res.model.getParams(), params)).toBeGreaterThan(1e-3);
    res.model.dispose();
    m.dispose();
  });

  test('bad options are ERR_ARGUMENT', async () => {
    const { m } = tinyGenerator(5);
    await expect(fineTuneGenerator({ generator: m, reward: rewards.brightness(), cond: null, steps: 0 })).rejects.toMatchObject({ code: 'ERR_ARGUMENT' });
    await expect(fineTuneGenerator({ generator: m, reward: rewards.brightness(), cond: null, alpha: -1 })).rejects.toMatchObject({ code: 'ERR_ARGUMENT' });
    await expect(fineTuneGenerator({ generator: {} as never, reward: rewards.brightness(), cond: null })).rejects.toMatchObject({ code: 'ERR_ARGUMENT' });
    m.dispose();
  });
});
