/**
 * Objects a program forgets to dispose(): once the event loop has turned (finalizers run there) their native
 * memory is freed, and it goes back to the system rather than staying in the process (docs/RELIABILITY.md,
 * bug 18: 2,000 unreferenced 1 MiB models left RSS 2 GiB higher after their finalizers had run). Each kind
 * is created many times without dispose(); once the loop has turned, the native memory the CPU backend has
 * handed out is back where it started (within 1 MiB) and RSS within the block cache's 64 MiB plus 48 MiB of
 * slack, a fraction of what the objects held.
 */
import * as v8 from 'v8';
import * as vm from 'vm';
import { BatchingSampler, Hypernetwork, rewards, Sampler, SequentialModel, TestTimeOptimizer, Trainer } from '../src';
import { native } from '../src/native';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const MiB = 2 ** 20;
const turn = () => new Promise((r) => setImmediate(r));

async function settle(): Promise<{ rss: number; live: number }> {
  for (let i = 0; i < 3; i++) {
    gc();
    await turn();
  }
  return { rss: process.memoryUsage().rss, live: native()._hostMemory().liveBytes };
}

/**
 * Creates `count` objects with `make` (none disposed) in one burst, in which finalizers cannot run (their
 * memory all held at once, as in a synchronous loop), then lets the loop turn; returns the growth.
 */
async function churn(count: number, make: (i: number) => unknown): Promise<{ rssMiB: number; liveMiB: number; heldMiB: number }> {
  const before = await settle();
  const live0 = native()._hostMemory().liveBytes;
  for (let i = 0; i < count; i++) await make(i);
  const held = native()._hostMemory().liveBytes - live0;
  const after = await settle();
  return { rssMiB: (after.rss - before.rss) / MiB, liveMiB: (after.live - before.live) / MiB, heldMiB: held / MiB };
}

const gen = SequentialModel.fromLayers([{ type: 'linear', in: 16, out: 64 }, { type: 'tanh' }, { type: 'linear', in: 64, out: 48 }], { seed: 1 });
const hn = new Hypernetwork({ noiseDim: 16, condDim: 0, rank: 8, seed: 2 });
afterAll(() => {
  gen.dispose();
  hn.dispose();
});

describe('unreferenced objects give their memory back', () => {
  test.each<[string, number, number, (i: number) => unknown]>([
    ['SequentialModel (256 -> 512 -> 256)', 200, 150, (i) => SequentialModel.fromLayers([{ type: 'linear', in: 256, out: 512 }, { type: 'silu' }, { type: 'linear', in: 512, out: 256 }], { seed: i })],
    ['Hypernetwork (D = 4096, r = 64)', 100, 300, (i) => new Hypernetwork({ noiseDim: 4096, rank: 64, seed: i })],
    [
      'Trainer (with its hypernetwork)',
      60,
      40,
      async (i) => {
        const t = new Trainer({ hypernetwork: new Hypernetwork({ noiseDim: 16, rank: 64, seed: i }), generator: gen, reward: rewards.redness(), batchSize: 64, kl: 'exact' });
        await t.stepOnce();
      },
    ],
    ['Sampler (one sample call)', 100, 0, async (i) => new Sampler({ hypernetwork: hn, generator: gen }).sample({ n: 512, seed: i })],
    ['BatchingSampler (one sample call)', 100, 0, async (i) => new BatchingSampler({ hypernetwork: hn, generator: gen }).sample({ seed: i })],
    ['TestTimeOptimizer (one run)', 60, 20, async (i) => new TestTimeOptimizer({ generator: gen, reward: rewards.redness(), iterations: 2 }).optimize({ n: 256, seed: i })],
  ])('%s, %i times', async (_name, count, heldAtLeastMiB, make) => {
    const g = await churn(count, make);
    expect(g.liveMiB).toBeLessThan(1);
    expect(g.rssMiB).toBeLessThan(64 + 48);
    // where the objects hold large blocks, they held far more than the bounds while they lived
    expect(g.heldMiB).toBeGreaterThanOrEqual(heldAtLeastMiB);
  }, 120000);
});
