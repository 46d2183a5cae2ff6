/**
 * Concurrency: many concurrent Promise calls on one object give the sequential results (serialised or
 * safe, never corrupted); training and sampling interleaved on one hypernetwork see whole parameter
 * versions, never a torn one; the library in several worker_threads at once, including workers terminated
 * while native work is in flight; process.exit() with work in flight.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { Hypernetwork, oneHotRandomClasses, rewards, Rng, Sampler, sampleNoise, SequentialModel, TestTimeOptimizer, Trainer } from '../src';
import { lcg, randn } from './reference';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-conc-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const same = (a: ArrayLike<number>, b: ArrayLike<number>) => expect(Array.from(a)).toEqual(Array.from(b));

function world() {
  const gen = SequentialModel.fromLayers([{ type: 'linear', in: 12, out: 40 }, { type: 'silu' }, { type: 'linear', in: 40, out: 24 }, { type: 'sigmoid' }], { seed: 1, backend: 'cpu' });
  const clf = SequentialModel.fromLayers([{ type: 'linear', in: 24, out: 4 }], { seed: 2, backend: 'cpu' });
  clf.setParams(randn(lcg(3), clf.paramCount, 2));
  const hn = new Hypernetwork({ noiseDim: 12, condDim: 4, rank: 6, depth: 2, seed: 4, backend: 'cpu' });
  hn.setParams(randn(lcg(5), hn.paramCount, 0.2));
  const reward = rewards.weighted([[rewards.classifierLogProb(clf), 1], [rewards.brightness(), 0.3]]);
  const conditions = (n: number, rng: Rng) => oneHotRandomClasses(n, 4, rng);
  return { gen, clf, hn, reward, conditions };
}

describe('concurrent calls on one object', () => {
  test('forward, kl, forwardTrain, backward, model and reward calls in flight together equal the sequential results', async () => {
    const { gen, hn, reward } = world();
    const inputs = Array.from({ length: 24 }, (_, i) => ({ eps: sampleNoise({ n: 16 + i, dim: 12, seed: i }), cond: oneHotRandomClasses(16 + i, 4, new Rng(1, i)) }));
    const calls = (i: number): Promise<ArrayLike<number>> => {
      const { eps, cond } = inputs[i];
      switch (i % 6) {
        case 0: return hn.forward(eps, cond);
        case 1: return hn.kl(eps, cond).then((k) => k.exact);
        case 2: return hn.forwardTrain(eps, cond, 'exact').then((r) => r.epsHat);
        case 3: return gen.forward(eps);
        case 4: return gen.vjp(eps, new Float32Array(eps.length * 2).fill(0.25));
        default: return gen.forward(eps).then((x) => reward.evaluate(x, 24, cond, 4, true)).then((r) => r.grad as Float32Array);
      }
    };
    const sequential: Array<ArrayLike<number>> = [];
    for (let i = 0; i < inputs.length; i++) sequential.push(Array.from(await calls(i)));
    for (let round = 0; round < 3; round++) {
      const concurrent = await Promise.all(inputs.map((_, i) => calls(i)));
      concurrent.forEach((c, i) => same(c, sequential[i]));
    }
  });

  test('forwardTrain/backward pairs from concurrent callers are each consistent (backward is checked against its own forward)', async () => {
    const { hn } = world();
    const eps = sampleNoise({ n: 8, dim: 12, seed: 1 });
    const cond = oneHotRandomClasses(8, 4, new Rng(2, 0));
    await hn.forwardTrain(eps, cond, 'exact');
    await hn.backward(eps, 'exact', 0.5);
    const reference = hn.getGradient();
    // The same pair again while forwards of other batch sizes run: the result does not change.
    const noise = Array.from({ length: 10 }, (_, i) => hn.forward(sampleNoise({ n: 3 + i, dim: 12, seed: 9 + i }), oneHotRandomClasses(3 + i, 4, new Rng(3, i))));
    await hn.forwardTrain(eps, cond, 'exact');
    await hn.backward(eps, 'exact', 0.5);
    await Promise.all(noise);
    same(hn.getGradient(), reference);
  });

  test('concurrent stepOnce / train / saveCheckpoint on one Trainer run one after another, in call order', async () => {
    const runSequential = async () => {
      const w = world();
      const t = new Trainer({ hypernetwork: w.hn, generator: w.gen, reward: w.reward, conditions: w.conditions, batchSize: 16, seed: 7, kl: 'exact' });
      for (let i = 0; i < 5; i++) await t.stepOnce();
      await t.train({ steps: 4 });
      await t.saveCheckpoint(path.join(tmp, 'seq.safetensors'));
      for (let i = 0; i < 3; i++) await t.stepOnce();
      return { step: t.step, params: w.hn.getParams() };
    };
    const runConcurrent = async () => {
      const w = world();
      const t = new Trainer({ hypernetwork: w.hn, generator: w.gen, reward: w.reward, conditions: w.conditions, batchSize: 16, seed: 7, kl: 'exact' });
      const all: Array<Promise<unknown>> = [];
      for (let i = 0; i < 5; i++) all.push(t.stepOnce());
      all.push(t.train({ steps: 4 }));
      all.push(t.saveCheckpoint(path.join(tmp, 'conc.safetensors')));
      for (let i = 0; i < 3; i++) all.push(t.stepOnce());
      const recs = (await Promise.all(all)) as Array<{ step?: number }>;
      expect(recs.slice(0, 5).map((r) => r.step)).toEqual([0, 1, 2, 3, 4]);
      expect(recs.slice(7).map((r) => r.step)).toEqual([9, 10, 11]);
      return { step: t.step, params: w.hn.getParams() };
    };
    const a = await runSequential();
    const b = await runConcurrent();
    expect(b.step).toBe(12);
    same(b.params, a.params);
    expect(fs.readFileSync(path.join(tmp, 'conc.safetensors')).equals(fs.readFileSync(path.join(tmp, 'seq.safetensors')))).toBe(true);
  });

  test('concurrent ReNO runs on one generator equal the sequential ones', async () => {
    const { gen, reward } = world();
    const tto = new TestTimeOptimizer({ generator: gen, reward: rewards.brightness(), iterations: 6 });
    const tto2 = new TestTimeOptimizer({ generator: gen, reward, iterations: 4 });
    const cond = oneHotRandomClasses(5, 4, new Rng(4, 0));
    const seq: Float32Array[] = [];
    for (let s = 0; s < 6; s++) seq.push((await (s % 2 ? tto2.optimize({ n: 5, seed: s, cond }) : tto.optimize({ n: 5, seed: s }))).noise);
    const conc = await Promise.all(Array.from({ length: 6 }, (_, s) => (s % 2 ? tto2.optimize({ n: 5, seed: s, cond }) : tto.optimize({ n: 5, seed: s }))));
    conc.forEach((r, s) => same(r.noise, seq[s]));
  });
});

describe('training and sampling interleaved on one hypernetwork', () => {
  test('every sample drawn during training comes from one whole parameter version (never a torn one)', async () => {
    const { gen, hn, reward, conditions } = world();
    const t = new Trainer({ hypernetwork: hn, generator: gen, reward, conditions, batchSize: 64, seed: 3, kl: 'exact', optimizer: { lr: 0.05 } });
    const versions: Float32Array[] = [hn.getParams()];
    const sampler = new Sampler({ hypernetwork: hn, generator: gen });
    const cond = oneHotRandomClasses(32, 4, new Rng(5, 0));
    const samples: Array<Promise<Float32Array>> = [];
    let training = true;
    const trainP = t.train({ steps: 25, onProgress: () => versions.push(hn.getParams()) }).then((h) => {
      training = false;
      return h;
    });
    // Keep sampling (and computing KLs, which read the parameters too) while the training runs.
    while (training) {
      samples.push(sampler.sample({ n: 32, seed: 1, cond }).then((s) => s.noise));
      samples.push(hn.kl(sampleNoise({ n: 32, dim: 12, seed: 1 }), cond).then((k) => k.exact));
      await new Promise((r) => setImmediate(r));
    }
    await trainP;
    expect(samples.length).toBeGreaterThan(10);
    // What each version gives for the same noise.
    const probe = new Hypernetwork({ noiseDim: 12, condDim: 4, rank: 6, depth: 2, backend: 'cpu' });
    const eps = sampleNoise({ n: 32, dim: 12, seed: 1 });
    const byVersion = versions.map((p) => {
      probe.setParams(p);
      return [Array.from(probe.forwardSync(eps, cond)).join(','), Array.from(probe.klSync(eps, cond).exact).join(',')];
    });
    const known = new Set(byVersion.flat());
    const results = await Promise.all(samples);
    for (const r of results) expect(known.has(Array.from(r).join(','))).toBe(true);
  });
});

function runWorker(data: object): { worker: Worker; done: Promise<{ digest?: string; error?: string }> } {
  const worker = new Worker(path.join(__dirname, 'fixtures', 'stress-worker.js'), { workerData: { dir: tmp, ...data } });
  const done = new Promise<{ digest?: string; error?: string }>((resolve, reject) => {
    worker.on('message', (m) => {
      if (!m.started) resolve(m);
    });
    worker.once('error', reject);
  });
  return { worker, done };
}

describe('worker_threads', () => {
  test('several workers at once (and the main thread) compute what one thread computes', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { work } = require('./fixtures/stress-worker.js');
    const ws = [1, 2, 1, 3].map((seed) => runWorker({ seed }));
    const mainDigest = await work(1, tmp); // the main thread works at the same time
    const results = await Promise.all(ws.map((w) => w.done));
    await Promise.all(ws.map((w) => w.worker.terminate()));
    for (const r of results) expect(r.error).toBeUndefined();
    expect(results[0].digest).toBe(mainDigest);
    expect(results[2].digest).toBe(mainDigest);
    expect(results[1].digest).not.toBe(mainDigest);
  });

  test('workers terminated while native work is in flight: no crash, and the library keeps working', async () => {
    for (let round = 0; round < 3; round++) {
      const ws = [1, 2, 3].map((seed) => runWorker({ seed, forever: true }));
      await new Promise((r) => setTimeout(r, 60 + 90 * round));
      await Promise.all(ws.map((w) => w.worker.terminate()));
    }
    const fresh = runWorker({ seed: 1 });
    const r = await fresh.done;
    await fresh.worker.terminate();
    expect(r.error).toBeUndefined();
    expect(r.digest).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('process exit with work in flight', () => {
  test.each([
    [0, 5, ''],
    [3, 40, ''],
    [7, 150, ''],
    [0, 400, ''],
    [5, 60, 'dispose'],
    [9, 250, 'dispose'],
  ])('process.exit(%i) after %i ms (%s): exits with that code, no signal', (code, delay, mode) => {
    const r = spawnSync(process.execPath, [path.join(__dirname, 'fixtures', 'exit-in-flight.js'), String(code), String(delay), mode], {
      encoding: 'utf8',
      timeout: 60000,
      env: { ...process.env, TMPDIR: tmp },
    });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(code);
    expect(r.stderr).not.toMatch(/Segmentation|Abort|FATAL|terminate called/);
  });
});
