/**
 * CPU-vs-CUDA parity through the Node API. Runs only where a CUDA device answers; elsewhere it is skipped
 * and says why (the kernels themselves are still checked without a GPU by scripts/cuda-emulate.sh in CI).
 */
import { backendInfo, Hypernetwork, oneHotRandomClasses, rewards, Rng, sampleNoise, SequentialModel, Trainer } from '../src';
import { lcg, randn, relErr } from './reference';

const info = backendInfo();
const gpu = info.cuda.available;
if (!gpu) {
  // eslint-disable-next-line no-console
  console.log(`CUDA parity suite skipped: ${info.cuda.reason}`);
}
const maybe = gpu ? describe : describe.skip;

maybe('CUDA backend against the CPU backend', () => {
  test('noise is bit-identical', () => {
    const cpu = sampleNoise({ n: 64, dim: 1001, seed: 9, backend: 'cpu' });
    const cuda = sampleNoise({ n: 64, dim: 1001, seed: 9, backend: 'cuda' });
    expect(Array.from(cuda)).toEqual(Array.from(cpu));
  });

  test.each([
    [16384, 128, 0, 1, 'silu'],
    [32, 64, 10, 2, 'gelu'],
  ] as const)('hypernetwork forward and exact KL: D %i, r %i, C %i, depth %i, %s', (D, r, C, depth, activation) => {
    const make = (backend: 'cpu' | 'cuda') => new Hypernetwork({ noiseDim: D, condDim: C, rank: r, depth, activation, backend });
    const a = make('cpu');
    const b = make('cuda');
    const p = randn(lcg(1), a.paramCount, 0.05);
    a.setParams(p);
    b.setParams(p);
    const n = 8;
    const eps = sampleNoise({ n, dim: D, seed: 2 });
    const cond = C > 0 ? oneHotRandomClasses(n, C, new Rng(1, 0)) : null;
    expect(relErr(b.forwardSync(eps, cond), a.forwardSync(eps, cond))).toBeLessThan(1e-5);
    const ka = a.klSync(eps, cond);
    const kb = b.klSync(eps, cond);
    expect(relErr(kb.exact, ka.exact)).toBeLessThan(1e-4);
    expect(Array.from(kb.nonInvertible)).toEqual(Array.from(ka.nonInvertible));
  });

  test('training steps agree', async () => {
    const run = async (backend: 'cpu' | 'cuda') => {
      const gen = SequentialModel.fromLayers([{ type: 'linear', in: 32, out: 256 }, { type: 'silu' }, { type: 'linear', in: 256, out: 3 * 64 }, { type: 'sigmoid' }], { seed: 1, backend });
      const hn = new Hypernetwork({ noiseDim: 32, rank: 16, seed: 3, backend });
      const t = new Trainer({ hypernetwork: hn, generator: gen, reward: rewards.redness(), kl: 'exact', batchSize: 64, seed: 4 });
      await t.train({ steps: 3 });
      return hn.getParams();
    };
    expect(relErr(await run('cuda'), await run('cpu'))).toBeLessThan(1e-4);
  });
});

describe('CUDA selection', () => {
  test("backendInfo() says whether CUDA is used and why; 'auto' falls back to the CPU without a device", () => {
    expect(typeof info.cuda.reason).toBe('string');
    expect(info.cuda.reason.length).toBeGreaterThan(10);
    expect(info.auto).toBe(gpu ? 'cuda' : 'cpu');
    const hn = new Hypernetwork({ noiseDim: 4, rank: 2, backend: 'auto' });
    expect(hn.backend).toBe(info.auto);
  });
});
