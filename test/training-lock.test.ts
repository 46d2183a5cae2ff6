/**
 * Trainers sharing a hypernetwork, and calls back into training from a step's own generator or reward
 * (src/training-lock.ts; docs/RELIABILITY.md, bug 21): operations on one hypernetwork run one at a time across
 * trainers, and a re-entrant call is ERR_BUSY instead of a deadlock that left train() unsettled.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { generators, Hypernetwork, HypernoiseError, Reward, rewards, SequentialModel, Trainer } from '../src';

const D = 6;
const P = 5;
const gen = SequentialModel.fromLayers([{ type: 'linear', in: D, out: P }, { type: 'tanh' }], { seed: 1, backend: 'cpu' });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-lock-'));
afterAll(() => {
  gen.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A reward in JavaScript (the composed step, where the interleaving happened): -||x - 0.3||^2 per sample. */
function jsReward(hook?: () => Promise<void>): Reward {
  return rewards.fromFunction(async (x, n) => {
    if (hook) await hook();
    await new Promise((r) => setImmediate(r)); // give other calls the chance to interleave
    const value = new Float32Array(n);
    const grad = new Float32Array(n * P);
    for (let i = 0; i < n * P; i++) {
      value[Math.floor(i / P)] -= (x[i] - 0.3) ** 2;
      grad[i] = -2 * (x[i] - 0.3);
    }
    return { value, grad };
  });
}

const trainer = (hn: Hypernetwork, lr: number, reward: Reward = jsReward(), generator = gen as never) =>
  new Trainer({ hypernetwork: hn, generator, reward, batchSize: 8, seed: 3, kl: 'exact', optimizer: { type: 'adam', lr } });

/** How p settles: its rejection (which the tests expect), or 'resolved', or 'hung' after 10 s (a deadlock). */
async function rejection(p: Promise<unknown>): Promise<HypernoiseError> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise((r) => (timer = setTimeout(() => r('hung'), 10000)));
  const settled = await Promise.race([p.then(() => 'resolved', (e) => e), hung]);
  clearTimeout(timer);
  expect(settled).toBeInstanceOf(HypernoiseError);
  return settled as HypernoiseError;
}

describe('one hypernetwork, several trainers', () => {
  test('a learning-rate-0 trainer running alongside leaves the other trainer\'s result bit for bit', async () => {
    const alone = new Hypernetwork({ noiseDim: D, rank: 4, seed: 7, backend: 'cpu' });
    const a0 = trainer(alone, 0.05);
    await a0.train({ steps: 6 });
    const shared = new Hypernetwork({ noiseDim: D, rank: 4, seed: 7, backend: 'cpu' });
    const a = trainer(shared, 0.05);
    const b = trainer(shared, 0);
    // all started at once: before the fix each trainer had its own queue, and b's steps ran inside a's
    const steps = await Promise.all(Array.from({ length: 6 }, () => [a.stepOnce(), b.stepOnce()]).flat());
    expect(steps.every((r) => !r.skipped)).toBe(true);
    expect(Array.from(shared.getParams())).toEqual(Array.from(alone.getParams()));
    for (const t of [a0, a, b]) t.dispose();
    alone.dispose();
    shared.dispose();
  });

  test('interleaved single steps of two trainers equal the same steps made one after another', async () => {
    const run = async (concurrent: boolean) => {
      const hn = new Hypernetwork({ noiseDim: D, rank: 4, seed: 9, backend: 'cpu' });
      const a = trainer(hn, 0.05);
      const b = trainer(hn, 0.02);
      const order = [a, b, a, a, b, b, a, b];
      if (concurrent) await Promise.all(order.map((t) => t.stepOnce()));
      else for (const t of order) await t.stepOnce();
      const p = hn.getParams();
      a.dispose();
      b.dispose();
      hn.dispose();
      return Array.from(p);
    };
    expect(await run(true)).toEqual(await run(false));
  });
});

describe('calls back into training from inside a step are ERR_BUSY, not a deadlock', () => {
  test('a reward that awaits a step of its own trainer', async () => {
    const hn = new Hypernetwork({ noiseDim: D, rank: 4, backend: 'cpu' });
    let t: Trainer | undefined;
    t = trainer(hn, 0.01, jsReward(async () => {
      await t?.stepOnce();
    }));
    const err = await rejection(t.train({ steps: 2 }));
    expect(err.code).toBe('ERR_BUSY');
    // the trainer is usable afterwards
    t = trainer(hn, 0.01);
    expect((await t.stepOnce()).skipped).toBe(false);
    t.dispose();
    hn.dispose();
  });

  test('a reward that starts a step of another trainer of the same hypernetwork, or saves its checkpoint', async () => {
    const hn = new Hypernetwork({ noiseDim: D, rank: 4, backend: 'cpu' });
    const other = trainer(hn, 0.01);
    const t = trainer(hn, 0.01, jsReward(() => other.saveCheckpoint(path.join(tmp, 'c.safetensors'))));
    expect((await rejection(t.stepOnce())).code).toBe('ERR_BUSY');
    other.dispose();
    t.dispose();
    hn.dispose();
  });

  test('a JavaScript generator that calls forwardTrain or backward of the hypernetwork being trained', async () => {
    const hn = new Hypernetwork({ noiseDim: D, rank: 4, backend: 'cpu' });
    for (const misuse of [() => hn.forwardTrain(new Float32Array(D), null, 'l2'), () => hn.backward(new Float32Array(D), 'l2', 1)]) {
      const js = generators.fromFunctions({
        inputDim: D,
        outputDim: P,
        forward: async (e, n) => {
          await misuse();
          return gen.forwardSync(e.slice(0, n * D));
        },
        vjp: (e, dx) => gen.vjpSync(e, dx),
      });
      const t = trainer(hn, 0.01, jsReward(), js as never);
      expect((await rejection(t.stepOnce())).code).toBe('ERR_BUSY');
      t.dispose();
    }
    // outside a step they work as before, and inference is allowed inside one
    await hn.forwardTrain(new Float32Array(D), null, 'l2');
    hn.dispose();
  });

  test('work a reward defers until after its step is not inside the step any more', async () => {
    const hn = new Hypernetwork({ noiseDim: D, rank: 4, backend: 'cpu' });
    let stepped: () => void = () => undefined;
    const afterStep = new Promise<void>((r) => (stepped = r));
    const later: Array<Promise<void>> = [];
    let t: Trainer | undefined;
    // The continuation is created inside the step (it carries the step's async context) but runs after it.
    t = trainer(hn, 0.01, jsReward(async () => {
      if (later.length === 0) later.push(afterStep.then(() => (t as Trainer).saveCheckpoint(path.join(tmp, 'later.safetensors'))));
    }));
    await t.stepOnce();
    stepped();
    await expect(later[0]).resolves.toBeUndefined();
    t.dispose();
    hn.dispose();
  });

  test('a progress callback may start other operations: they run after the current one', async () => {
    const hn = new Hypernetwork({ noiseDim: D, rank: 4, backend: 'cpu' });
    const t = trainer(hn, 0.01);
    const saves: Array<Promise<void>> = [];
    const h = await t.train({ steps: 3, onProgress: () => saves.push(t.saveCheckpoint(path.join(tmp, `p${saves.length}.safetensors`))) });
    expect(h.records.length).toBe(3);
    await Promise.all(saves);
    expect(saves.length).toBe(3);
    t.dispose();
    hn.dispose();
  });
});
