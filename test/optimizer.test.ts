import { ModelOptimizer, SequentialModel } from '../src';
import { lcg, randn } from './reference';

function model(seed = 1) {
  return SequentialModel.fromLayers([{ type: 'linear', in: 3, out: 2 }], { seed, backend: 'cpu' });
}

/** Reference Adam/AdamW/SGD in float64, as PyTorch defines them. */
function reference(type: 'adam' | 'adamw' | 'sgd', p0: Float32Array, grads: Float32Array[], o: { lr: number; wd?: number; momentum?: number; nesterov?: boolean; clip?: number; warmup?: number }) {
  const p = Float64Array.from(p0);
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  grads.forEach((g0, k) => {
    const t = k + 1;
    let norm = Math.sqrt(g0.reduce((s, x) => s + x * x, 0));
    const scale = o.clip && norm > o.clip ? o.clip / (norm + 1e-6) : 1;
    const lr = o.lr * (o.warmup ? Math.min(1, t / o.warmup) : 1);
    norm = 0;
    for (let i = 0; i < p.length; i++) {
      let g = g0[i] * scale;
      if (type === 'sgd') {
        if (o.wd) g += o.wd * p[i];
        if (o.momentum) {
          m[i] = o.momentum * m[i] + g;
          g = o.nesterov ? g + o.momentum * m[i] : m[i];
        }
        p[i] -= lr * g;
        continue;
      }
      if (type === 'adam' && o.wd) g += o.wd * p[i];
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.999 * v[i] + 0.001 * g * g;
      if (type === 'adamw' && o.wd) p[i] -= lr * o.wd * p[i];
      const mh = m[i] / (1 - 0.9 ** t);
      const vh = v[i] / (1 - 0.999 ** t);
      p[i] -= (lr * mh) / (Math.sqrt(vh) + 1e-8);
    }
  });
  return p;
}

describe('optimisers match PyTorch semantics', () => {
  const rand = lcg(3);
  const grads = [0, 1, 2, 3].map(() => randn(rand, 8, 2));
  test.each([
    ['adam', { lr: 0.01 }],
    ['adam', { lr: 0.01, wd: 0.1, clip: 0.5, warmup: 3 }],
    ['adamw', { lr: 0.02, wd: 0.05 }],
    ['sgd', { lr: 0.1, momentum: 0.9, nesterov: true, clip: 1 }],
    ['sgd', { lr: 0.1, momentum: 0.5, wd: 0.01 }],
  ] as const)('%s %j', (type, o) => {
    const m = model();
    const p0 = m.getParams();
    const opt = new ModelOptimizer(m, {
      type,
      lr: o.lr,
      weightDecay: 'wd' in o ? o.wd : 0,
      momentum: 'momentum' in o ? o.momentum : 0,
      nesterov: 'nesterov' in o ? o.nesterov : false,
      gradClip: 'clip' in o ? o.clip : 0,
      warmupSteps: 'warmup' in o ? o.warmup : 0,
    });
    for (const g of grads) expect(opt.step(g).skipped).toBe(false);
    const ref = reference(type, p0, grads, o as never);
    const got = m.getParams();
    for (let i = 0; i < ref.length; i++) expect(got[i]).toBeCloseTo(ref[i], 5);
  });

  test('a non-finite gradient is skipped and leaves parameters and state untouched', () => {
    const m = model();
    const opt = new ModelOptimizer(m, { type: 'adam', lr: 0.1 });
    const before = m.getParams();
    const g = new Float32Array(8).fill(1);
    g[3] = NaN;
    const r = opt.step(g);
    expect(r.skipped).toBe(true);
    expect(Number.isNaN(r.gradNorm)).toBe(true);
    expect(Array.from(m.getParams())).toEqual(Array.from(before));
    // The next finite step is Adam's first step (bias correction t = 1): lr * sign(g) exactly.
    opt.step(new Float32Array(8).fill(1));
    const after = m.getParams();
    for (let i = 0; i < 8; i++) expect(after[i]).toBeCloseTo(before[i] - 0.1, 5);
  });

  test('cosine decay reaches zero at the end of its schedule', () => {
    const m = model();
    const opt = new ModelOptimizer(m, { type: 'sgd', lr: 1, decaySteps: 4 });
    const lrs = [0, 1, 2, 3, 4].map(() => opt.step(new Float32Array(8)).lr);
    expect(lrs[0]).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 4)), 6);
    expect(lrs[3]).toBeCloseTo(0, 6);
    expect(lrs[4]).toBeCloseTo(0, 6);
  });
});
