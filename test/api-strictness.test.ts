import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bestOfN, generators, Hypernetwork, HypernoiseError, ModelOptimizer, rewards, sampleNoise, SequentialModel, TestTimeOptimizer, Trainer } from '../src';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-strict-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function trainedHypernetwork(): Hypernetwork {
  const hn = new Hypernetwork({ noiseDim: 5, condDim: 0, rank: 3, depth: 1, activation: 'tanh', seed: 1, backend: 'cpu' });
  const p = hn.getParams();
  for (let i = 0; i < p.length; i++) p[i] = 0.3 * Math.sin(1.7 * i + 0.5); // a non-identity map, so the rows differ
  hn.setParams(p);
  return hn;
}

describe('KlStats rows are independent arrays', () => {
  test.each(['kl', 'klSync', 'forwardTrain'] as const)('%s: each row has its own ArrayBuffer, holding that row only', async (method) => {
    const hn = trainedHypernetwork();
    const n = 7;
    const eps = sampleNoise({ n, dim: 5, seed: 3 });
    const stats = method === 'kl' ? await hn.kl(eps) : method === 'klSync' ? hn.klSync(eps) : (await hn.forwardTrain(eps, null, 'exact')).stats;
    const rows = Object.entries(stats);
    expect(rows.map(([k]) => k).sort()).toEqual(['chi', 'exact', 'l2', 'logdet', 'nonInvertible', 'trace']);
    const buffers = new Set<ArrayBufferLike>();
    for (const [, row] of rows) {
      expect(row).toHaveLength(n);
      expect(row.byteOffset).toBe(0);
      expect(row.buffer.byteLength).toBe(n * 4);
      buffers.add(row.buffer);
      // What the issue hit: reading the row through its buffer reads that row.
      const viaBuffer = new Float32Array(Buffer.from(row.buffer).buffer.slice(0));
      expect(Array.from(viaBuffer)).toEqual(Array.from(row));
      expect(Number.isFinite(row[0])).toBe(true);
    }
    expect(buffers.size).toBe(rows.length);
    // Writing into one row leaves the others alone.
    const before = Array.from(stats.l2);
    stats.exact.fill(123);
    expect(Array.from(stats.l2)).toEqual(before);
  });
});

describe('a JavaScript reward is told whether its gradient is needed', () => {
  const gen = SequentialModel.fromLayers([{ type: 'linear', in: 4, out: 6 }, { type: 'sigmoid' }], { seed: 2, backend: 'cpu' });
  function recordingReward(flags: boolean[]) {
    return rewards.fromFunction((x, n, _cond, needGrad) => {
      flags.push(needGrad);
      const value = new Float32Array(n);
      for (let i = 0; i < n; i++) for (let j = 0; j < 6; j++) value[i] += x[i * 6 + j];
      // The gradient is computed only when asked for: a reward may skip that work.
      return needGrad ? { value, grad: new Float32Array(n * 6).fill(1) } : { value };
    });
  }

  test('training asks for it; best-of-N does not; ReNO asks on every pass but the last', async () => {
    const flags: boolean[] = [];
    const hn = new Hypernetwork({ noiseDim: 4, rank: 2, seed: 0, backend: 'cpu' });
    const trainer = new Trainer({ hypernetwork: hn, generator: gen, reward: recordingReward(flags), batchSize: 4 });
    await trainer.train({ steps: 3 });
    expect(flags).toEqual([true, true, true]);

    flags.length = 0;
    await bestOfN({ generator: gen, reward: recordingReward(flags), n: 3, candidates: 4 });
    expect(flags.length).toBeGreaterThan(0);
    expect(flags.every((f) => f === false)).toBe(true);

    flags.length = 0;
    const r = await new TestTimeOptimizer({ generator: gen, reward: recordingReward(flags), iterations: 4 }).optimize({ n: 2 });
    expect(flags).toEqual([true, true, true, false]);
    expect(r.reward).toHaveLength(2);

    // A JavaScript generator goes through the same composed path.
    flags.length = 0;
    const jsGen = generators.fromFunctions({ inputDim: 4, outputDim: 6, forward: (e) => gen.forward(e), vjp: (e, dx) => gen.vjp(e, dx) });
    await new Trainer({ hypernetwork: new Hypernetwork({ noiseDim: 4, rank: 2, seed: 0, backend: 'cpu' }), generator: jsGen, reward: recordingReward(flags), batchSize: 2 }).train({ steps: 1 });
    expect(flags).toEqual([true]);
  });

  test('a reward that leaves out grad when it was needed gets an error that says so', async () => {
    const hn = new Hypernetwork({ noiseDim: 4, rank: 2, seed: 0, backend: 'cpu' });
    const reward = rewards.fromFunction((_x, n) => ({ value: new Float32Array(n) }));
    const trainer = new Trainer({ hypernetwork: hn, generator: gen, reward, batchSize: 2 });
    await expect(trainer.stepOnce()).rejects.toThrow(/returned no grad .* needGrad was true/);
  });
});

describe('the learning-rate floor minLr', () => {
  const gen = SequentialModel.fromLayers([{ type: 'linear', in: 4, out: 6 }, { type: 'sigmoid' }], { seed: 1, backend: 'cpu' });
  const make = (optimizer: Record<string, unknown>) =>
    new Trainer({ hypernetwork: new Hypernetwork({ noiseDim: 4, rank: 2, seed: 0, backend: 'cpu' }), generator: gen, reward: rewards.brightness(), batchSize: 4, optimizer });
  const cosine = (lr: number, W: number, D: number, s: number) => (s <= W ? (lr * s) / W : lr * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, (s - W) / D))));

  test('without it the rate falls to 0 after warmupSteps + decaySteps (the behaviour kept by default), reported per step', async () => {
    const t = make({ lr: 0.01, warmupSteps: 2, decaySteps: 4 });
    expect(t.config.optimizer.minLr).toBe(0);
    const h = await t.train({ steps: 9 });
    for (const r of h.records) expect(r.lr).toBeCloseTo(cosine(0.01, 2, 4, r.step + 1), 6);
    expect(h.records.slice(6).map((r) => r.lr)).toEqual([0, 0, 0]);
  });

  test('with it the rate is the cosine from lr down to minLr after warm-up and holds minLr afterwards', async () => {
    const minLr = 0.003;
    const t = make({ lr: 0.01, warmupSteps: 2, decaySteps: 4, minLr });
    expect(t.config.optimizer.minLr).toBe(minLr);
    const h = await t.train({ steps: 12 });
    for (const r of h.records) {
      const s = r.step + 1;
      // As PyTorch's CosineAnnealingLR with eta_min: minLr + (lr - minLr) (1 + cos(pi t)) / 2.
      const expected = s <= 2 ? cosine(0.01, 2, 4, s) : minLr + cosine(0.01 - minLr, 2, 4, s);
      expect(r.lr).toBeCloseTo(expected, 6);
    }
    expect(h.records.slice(6).every((r) => Math.abs(r.lr - minLr) < 1e-9)).toBe(true);
    // The parameters keep moving past the schedule's end.
    const p0 = t.hypernetwork.getParams();
    await t.train({ steps: 1 });
    expect(Buffer.from(t.hypernetwork.getParams().buffer).equals(Buffer.from(p0.buffer))).toBe(false);
  });

  test('a checkpoint keeps minLr, and resuming across the floor continues the run bit for bit', async () => {
    const opts = { lr: 0.01, warmupSteps: 1, decaySteps: 5, minLr: 0.002 };
    const a = make(opts);
    await a.train({ steps: 4 });
    const file = path.join(tmp, 'floor.safetensors');
    await a.saveCheckpoint(file);
    const ha = await a.train({ steps: 6 });
    const b = await Trainer.fromCheckpoint(file, { generator: gen, reward: rewards.brightness() });
    expect(b.config.optimizer.minLr).toBe(0.002);
    const hb = await b.train({ steps: 6 });
    expect(hb.records.map((r) => [r.loss, r.lr])).toEqual(ha.records.map((r) => [r.loss, r.lr]));
    expect(Buffer.from(b.hypernetwork.getParams().buffer).equals(Buffer.from(a.hypernetwork.getParams().buffer))).toBe(true);
  });

  test('minLr is checked: at most lr, a number; a typo of it is an unknown key; ModelOptimizer takes it too', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err instanceof HypernoiseError ? `${err.code}: ${err.message}` : String(err);
      }
      return 'no error';
    };
    expect(code(() => make({ lr: 0.01, minLr: 0.02 }))).toMatch(/^ERR_ARGUMENT: .*optimizer\.minLr/);
    expect(code(() => make({ minLr: -1 }))).toMatch(/^ERR_ARGUMENT/);
    expect(code(() => make({ minLr: '0.1' }))).toMatch(/^ERR_ARGUMENT/);
    expect(code(() => make({ minLR: 0.001 }))).toContain("did you mean 'minLr'");
    expect(code(() => new ModelOptimizer(gen, { lr: 1e-3, minLr: 1e-2 }))).toMatch(/^ERR_ARGUMENT: .*optimizer\.minLr/);
    expect(code(() => new ModelOptimizer(gen, { minLr: 1e-4 }))).toBe('no error');
  });
});

describe('loading with a backend that does not exist', () => {
  test('is the caller\'s ERR_ARGUMENT naming the backends, not an ERR_FILE about the file', async () => {
    const file = path.join(tmp, 'm.safetensors');
    await SequentialModel.fromLayers([{ type: 'linear', in: 2, out: 3 }], { backend: 'cpu' }).save(file);
    const hnFile = path.join(tmp, 'h.safetensors');
    await new Hypernetwork({ noiseDim: 2, rank: 1, backend: 'cpu' }).save(hnFile);
    for (const load of [() => SequentialModel.load(file, { backend: 'gpu' as never }), () => Hypernetwork.load(hnFile, { backend: 'gpu' as never })]) {
      const err = await load().then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(HypernoiseError);
      expect((err as HypernoiseError).code).toBe('ERR_ARGUMENT');
      expect((err as HypernoiseError).message).toBe("Expected one of 'auto', 'cpu', 'cuda' for backend but received 'gpu' of type string");
    }
  });
});
