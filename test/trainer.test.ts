import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { generators, Hypernetwork, oneHotRandomClasses, rewards, SequentialModel, Trainer } from '../src';
import { lcg, randn, relErr } from './reference';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-trainer-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function world(seed = 1) {
  const gen = SequentialModel.fromLayers([{ type: 'linear', in: 6, out: 16 }, { type: 'tanh' }, { type: 'linear', in: 16, out: 12 }, { type: 'sigmoid' }], { seed, backend: 'cpu' });
  const clf = SequentialModel.fromLayers([{ type: 'linear', in: 12, out: 8 }, { type: 'relu' }, { type: 'linear', in: 8, out: 3 }], { seed: seed + 1, backend: 'cpu' });
  // Large enough weights that the class probabilities depend strongly on the sample.
  gen.setParams(randn(lcg(seed + 10), gen.paramCount, 1.2));
  clf.setParams(randn(lcg(seed + 20), clf.paramCount, 1.5));
  const reward = rewards.weighted([[rewards.classifierLogProb(clf), 1], [rewards.brightness(), 0.5]]);
  return { gen, clf, reward };
}

function makeTrainer(opts: { kl?: 'l2' | 'exact' | 'chi'; gen?: unknown; reward?: unknown; hn?: Hypernetwork; batchSize?: number; noise?: 'inf' | 'batch' | 'one' } = {}) {
  const w = world();
  const hn = opts.hn ?? new Hypernetwork({ noiseDim: 6, condDim: 3, rank: 5, depth: 2, activation: 'silu', seed: 2, backend: 'cpu' });
  return new Trainer({
    hypernetwork: hn,
    generator: (opts.gen as never) ?? w.gen,
    reward: (opts.reward as never) ?? w.reward,
    kl: opts.kl ?? 'exact',
    lambda: 0.5,
    alpha: 0.8,
    batchSize: opts.batchSize ?? 16,
    noise: opts.noise ?? 'inf',
    seed: 9,
    optimizer: { type: 'adam', lr: 0.01, gradClip: 1, warmupSteps: 2 },
    conditions: (n, rng) => oneHotRandomClasses(n, 3, rng),
  });
}

describe('Trainer', () => {
  test.each(['exact', 'l2', 'chi'] as const)('the fused native step and the composed JS path agree (kl %s)', async (kl) => {
    const fused = makeTrainer({ kl });
    expect(fused.isFused).toBe(true);
    const w = world();
    const jsGen = generators.fromFunctions({ inputDim: 6, outputDim: 12, forward: (e) => w.gen.forwardSync(e), vjp: (e, dx) => w.gen.vjpSync(e, dx) });
    const jsReward = rewards.fromFunction((x, n, cond) => w.reward.evaluate(x, 12, cond, 3, true));
    const composed = makeTrainer({ kl, gen: jsGen, reward: jsReward });
    expect(composed.isFused).toBe(false);
    for (let i = 0; i < 5; i++) {
      const a = await fused.stepOnce();
      const b = await composed.stepOnce();
      expect(a.loss).toBeCloseTo(b.loss, 4);
      expect(a.reward).toBeCloseTo(b.reward, 4);
    }
    expect(relErr(fused.hypernetwork.getParams(), composed.hypernetwork.getParams())).toBeLessThan(1e-4);
  });

  test('training raises the reward', async () => {
    const t = makeTrainer({ batchSize: 64 });
    const h = await t.train({ steps: 150 });
    const first = h.records.slice(0, 10).reduce((s, r) => s + r.reward, 0) / 10;
    const last = h.records.slice(-10).reduce((s, r) => s + r.reward, 0) / 10;
    expect(last).toBeGreaterThan(first + 0.3);
    expect(h.skippedSteps).toBe(0);
    expect(t.step).toBe(150);
  });

  test('a checkpoint resumes exactly: same step count, noise stream and optimiser state', async () => {
    const straight = makeTrainer();
    await straight.train({ steps: 12 });
    const file = path.join(tmp, 'resume.safetensors');
    const first = makeTrainer();
    await first.train({ steps: 7, checkpointEvery: 7, checkpointPath: file });
    const w = world();
    const resumed = await Trainer.fromCheckpoint(file, { generator: w.gen, reward: w.reward, conditions: (n, rng) => oneHotRandomClasses(n, 3, rng), backend: 'cpu' });
    expect(resumed.step).toBe(7);
    await resumed.train({ steps: 5 });
    expect(Array.from(resumed.hypernetwork.getParams())).toEqual(Array.from(straight.hypernetwork.getParams()));
    // and loadCheckpoint on an existing trainer
    const again = makeTrainer();
    await again.loadCheckpoint(file);
    await again.train({ steps: 5 });
    expect(Array.from(again.hypernetwork.getParams())).toEqual(Array.from(straight.hypernetwork.getParams()));
  });

  test('a checkpoint of another configuration is refused', async () => {
    const file = path.join(tmp, 'cfg.safetensors');
    await makeTrainer().saveCheckpoint(file);
    await expect(makeTrainer({ kl: 'l2' }).loadCheckpoint(file)).rejects.toMatchObject({ code: 'ERR_ARGUMENT' });
    await expect(makeTrainer({ batchSize: 8 }).loadCheckpoint(file)).rejects.toMatchObject({ code: 'ERR_ARGUMENT' });
  });

  test('non-finite rewards are skipped and counted; a run that stays non-finite is reported as diverged', async () => {
    let calls = 0;
    const w = world();
    const flaky = rewards.fromFunction(async (x, n, cond) => {
      const r = await w.reward.evaluate(x, 12, cond, 3, true);
      if (++calls % 3 === 0) r.value[0] = NaN;
      return r;
    });
    const t = makeTrainer({ reward: flaky });
    const h = await t.train({ steps: 9 });
    expect(h.skippedSteps).toBe(3);
    expect(h.records.filter((r) => r.skipped).map((r) => r.step)).toEqual([2, 5, 8]);
    expect(h.diverged).toBe(false);
    const broken = makeTrainer({ reward: rewards.fromFunction((x, n) => ({ value: new Float32Array(n).fill(NaN), grad: new Float32Array(x.length) })) });
    const before = broken.hypernetwork.getParams();
    const hb = await broken.train({ steps: 100 });
    expect(hb.diverged).toBe(true);
    expect(hb.records.length).toBeLessThan(100);
    expect(Array.from(broken.hypernetwork.getParams())).toEqual(Array.from(before));
  });

  test('an AbortSignal stops training between steps and the last state is checkpointed', async () => {
    const ac = new AbortController();
    const file = path.join(tmp, 'abort.safetensors');
    const t = makeTrainer();
    const h = await t.train({ steps: 1000, checkpointPath: file, onProgress: (p) => p.done === 4 && ac.abort(), signal: ac.signal });
    expect(h.aborted).toBe(true);
    expect(t.step).toBe(4);
    const w = world();
    const r = await Trainer.fromCheckpoint(file, { generator: w.gen, reward: w.reward, conditions: (n, rng) => oneHotRandomClasses(n, 3, rng) });
    expect(r.step).toBe(4);
  });

  test("noise modes: 'batch' repeats one batch, 'one' repeats one noise", () => {
    const b = makeTrainer({ noise: 'batch', batchSize: 4 });
    expect(Array.from(b.noise(0))).toEqual(Array.from(b.noise(5)));
    const o = makeTrainer({ noise: 'one', batchSize: 4 });
    const e = o.noise(3);
    expect(Array.from(e.subarray(0, 6))).toEqual(Array.from(e.subarray(18, 24)));
    const inf = makeTrainer({ noise: 'inf', batchSize: 4 });
    expect(Array.from(inf.noise(0))).not.toEqual(Array.from(inf.noise(1)));
  });

  test('a conditional hypernetwork needs conditions; shapes are checked', () => {
    const w = world();
    const hn = new Hypernetwork({ noiseDim: 6, condDim: 3, rank: 4, backend: 'cpu' });
    expect(() => new Trainer({ hypernetwork: hn, generator: w.gen, reward: w.reward })).toThrow(expect.objectContaining({ code: 'ERR_ARGUMENT' }));
    const wrong = new Hypernetwork({ noiseDim: 5, rank: 4, backend: 'cpu' });
    expect(() => new Trainer({ hypernetwork: wrong, generator: w.gen, reward: w.reward })).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    const bad = new Trainer({ hypernetwork: hn, generator: w.gen, reward: w.reward, conditions: () => new Float32Array(2) });
    return expect(bad.stepOnce()).rejects.toMatchObject({ code: 'ERR_SHAPE' });
  });

  test('KL statistics of training are those of hn.kl at the same noise', async () => {
    const t = makeTrainer({ kl: 'exact', batchSize: 8 });
    const hn = t.hypernetwork;
    hn.setParams(randn(lcg(4), hn.paramCount, 0.2));
    const eps = t.noise(0);
    const cond = oneHotRandomClasses(8, 3, new (require('../src').Rng)(9, 0));
    const kl = await hn.kl(eps, cond);
    const rec = await t.stepOnce();
    const mean = kl.exact.reduce((s, v) => s + v, 0) / 8;
    expect(rec.kl).toBeCloseTo(mean, 4);
  });
});

describe('Trainer: numerical faults', () => {
  const jsWorld = () => {
    const w = world();
    const gen = generators.fromFunctions({ inputDim: 6, outputDim: 12, forward: (e) => w.gen.forwardSync(e), vjp: (e, dx) => w.gen.vjpSync(e, dx) });
    return { ...w, jsGen: gen };
  };

  test('non-finite reward gradients from a JS reward are skipped and counted; the parameters do not move on those steps', async () => {
    const w = world();
    let calls = 0;
    const reward = rewards.fromFunction(async (x, n, cond) => {
      const r = await w.reward.evaluate(x, 12, cond, 3, true);
      calls++;
      if (calls % 4 === 1) (r.grad as Float32Array)[5] = NaN;
      if (calls % 4 === 2) (r.grad as Float32Array)[0] = Infinity;
      return r;
    });
    const t = makeTrainer({ reward });
    const params: Float32Array[] = [t.hypernetwork.getParams()];
    const h = await t.train({ steps: 8, onProgress: () => params.push(t.hypernetwork.getParams()) });
    expect(h.records.map((r) => r.skipped)).toEqual([true, true, false, false, true, true, false, false]);
    expect(h.skippedSteps).toBe(4);
    h.records.forEach((r, i) => {
      if (r.skipped) {
        expect(Number.isFinite(r.gradNorm)).toBe(false);
        expect(Array.from(params[i + 1])).toEqual(Array.from(params[i]));
      } else {
        expect(Array.from(params[i + 1])).not.toEqual(Array.from(params[i]));
      }
    });
    expect(h.diverged).toBe(false);
  });

  test('a JS generator whose VJP or output is not finite: the step is skipped and counted, not an error', async () => {
    const w = jsWorld();
    let vjps = 0;
    const badVjp = generators.fromFunctions({
      inputDim: 6, outputDim: 12, forward: (e) => w.gen.forwardSync(e),
      vjp: (e, dx) => { const d = w.gen.vjpSync(e, dx); if (++vjps % 2 === 0) d[1] = -Infinity; return d; },
    });
    const h1 = await makeTrainer({ gen: badVjp }).train({ steps: 6 });
    expect(h1.records.map((r) => r.skipped)).toEqual([false, true, false, true, false, true]);
    let fwd = 0;
    const badOut = generators.fromFunctions({
      inputDim: 6, outputDim: 12, vjp: (e, dx) => w.gen.vjpSync(e, dx),
      forward: (e) => { const x = w.gen.forwardSync(e); if (++fwd === 2) x[3] = NaN; return x; },
    });
    const t2 = makeTrainer({ gen: badOut }); // built-in (native) reward: it refuses a NaN output
    const h2 = await t2.train({ steps: 4 });
    expect(h2.records.map((r) => r.skipped)).toEqual([false, true, false, false]);
    expect(h2.skippedSteps).toBe(1);
    expect(t2.step).toBe(4);
  });

  test('a run diverging through its updates is reported, and train() keeps the last finite checkpoint', async () => {
    const file = path.join(tmp, 'diverge.safetensors');
    const w = world();
    const hn = new Hypernetwork({ noiseDim: 6, condDim: 3, rank: 5, depth: 2, seed: 2, backend: 'cpu' });
    const t = new Trainer({
      hypernetwork: hn, generator: w.gen, reward: w.reward, batchSize: 16, seed: 9, kl: 'l2',
      optimizer: { type: 'sgd', lr: 3e38 }, conditions: (n, rng) => oneHotRandomClasses(n, 3, rng),
    });
    await t.saveCheckpoint(file); // step 0, finite
    const h = await t.train({ steps: 200, checkpointEvery: 1, checkpointPath: file });
    expect(h.diverged).toBe(true);
    expect(h.records.length).toBeLessThan(200);
    expect(h.records.slice(-25).every((r) => r.skipped)).toBe(true);
    expect(h.skippedSteps).toBeGreaterThanOrEqual(25);
    // The checkpoint on disk is the last one with finite parameters: it loads and resumes.
    expect(hn.getParams().some((v) => !Number.isFinite(v))).toBe(true); // the updates overflowed
    const back = await Trainer.fromCheckpoint(file, { generator: w.gen, reward: w.reward, conditions: (n, rng) => oneHotRandomClasses(n, 3, rng) });
    expect(back.step).toBeLessThan(t.step);
    expect(back.hypernetwork.getParams().every((v) => Number.isFinite(v))).toBe(true);
  });

  test('the exact KL of a non-invertible map is counted, not NaN', async () => {
    const hn = new Hypernetwork({ noiseDim: 6, condDim: 3, rank: 6, activation: 'identity', seed: 2, backend: 'cpu' });
    // T(eps) = eps + B A eps with B A = -I: det(I + J) = 0 at every sample.
    const p = new Float32Array(hn.paramCount);
    for (let a = 0; a < 6; a++) {
      p[hn.tensorLayout.A[0] + a * 6 + a] = 1;
      p[hn.tensorLayout.B[0] + a * 6 + a] = -1;
    }
    hn.setParams(p);
    const t = makeTrainer({ hn, kl: 'exact', batchSize: 8 });
    const rec = await t.stepOnce();
    expect(rec.nonInvertible).toBe(8);
    expect(Number.isFinite(rec.kl)).toBe(true);
    expect(Number.isFinite(rec.loss)).toBe(true);
    const h = await t.train({ steps: 3 });
    expect(h.nonInvertibleSamples).toBeGreaterThanOrEqual(0);
    for (const r of h.records) expect(Number.isNaN(r.kl)).toBe(false);
  });
});

describe('divergence', () => {
  test('a learning rate that blows the parameters up (loss or KL non-finite on every step) stops as diverged, leaving the last good checkpoint', async () => {
    // On the shipped VAE decoder, lr 1e9 makes the exact KL infinite from the third step on while the
    // gradients stay finite: nothing is skipped, the parameters keep moving (before: never reported).
    const gen = await SequentialModel.load(path.join(__dirname, '..', 'models', 'mnist-vae-decoder.safetensors'), { backend: 'cpu' });
    const hn = new Hypernetwork({ noiseDim: 32, rank: 64, seed: 0, backend: 'cpu' });
    const t = new Trainer({ hypernetwork: hn, generator: gen, reward: rewards.brightness(), batchSize: 32, optimizer: { lr: 1e9 } });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-diverge-'));
    const ck = path.join(dir, 'ck.safetensors');
    const h = await t.train({ steps: 200, checkpointPath: ck, checkpointEvery: 1 });
    expect(h.diverged).toBe(true);
    expect(h.records.length).toBeLessThan(200);
    const bad = h.records.filter((r) => !r.skipped && !(Number.isFinite(r.loss) && Number.isFinite(r.kl)));
    expect(bad.length).toBeGreaterThan(0);
    // The checkpoint holds a step whose record was still finite.
    const resumed = await Trainer.fromCheckpoint(ck, { generator: gen, reward: rewards.brightness() });
    const at = h.records.find((r) => r.step === resumed.step - 1);
    expect(at === undefined || (Number.isFinite(at.loss) && Number.isFinite(at.kl))).toBe(true);
    expect(Array.from(resumed.hypernetwork.getParams()).every(Number.isFinite)).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
    // Trained in chunks shorter than the streak (as the CLI does between checkpoints): still diverged.
    const chunked = new Trainer({ hypernetwork: new Hypernetwork({ noiseDim: 32, rank: 64, seed: 0, backend: 'cpu' }), generator: gen, reward: rewards.brightness(), batchSize: 32, optimizer: { lr: 1e9 } });
    let diverged = false;
    for (let i = 0; i < 20 && !diverged; i++) diverged = (await chunked.train({ steps: 5 })).diverged;
    expect(diverged).toBe(true);
    expect(chunked.step).toBeLessThanOrEqual(40);
  });
});
