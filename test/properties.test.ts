/**
 * Property tests at the API boundary (fast-check): random shapes, lengths and array kinds (Float32Array,
 * subarray views, SharedArrayBuffer-backed, detached, Float64Array, Int32Array, plain arrays, non-arrays),
 * NaN/Inf, zero-sized and very large batches, options out of range, objects used after dispose() and
 * disposed while a call is in flight, mixed backends. Every case must end in a result or a HypernoiseError
 * with a known code and a message; nothing else may be thrown and the process must not abort. The exact KL
 * is property-tested with random (huge, tiny, degenerate) parameters: never NaN.
 *
 * FC_RUNS scales the number of cases (default 1: the figures in docs/RELIABILITY.md; the CI run).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fc from 'fast-check';
import {
  backendInfo,
  bestOfN,
  generators,
  Hypernetwork,
  HypernoiseError,
  rewards,
  Sampler,
  sampleNoise,
  SequentialModel,
  TestTimeOptimizer,
  Trainer,
} from '../src';
import { hnSample, klOf, HnShape } from './reference';

const SCALE = Number(process.env.FC_RUNS ?? 1);
const SEED = process.env.FC_SEED === undefined ? 0 : Number(process.env.FC_SEED);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
const CODES = new Set([
  'ERR_SHAPE', 'ERR_DTYPE', 'ERR_ARGUMENT', 'ERR_NON_FINITE', 'ERR_DISPOSED', 'ERR_FILE', 'ERR_MEMORY',
  'ERR_CUDA_UNAVAILABLE', 'ERR_CUDA', 'ERR_NATIVE_LOAD', 'ERR_ABORTED',
]);
const cases: Record<string, number> = {};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-prop-'));
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  // The number of generated cases per property (docs/RELIABILITY.md quotes these).
  console.log(`property cases: ${JSON.stringify(cases)} total ${Object.values(cases).reduce((a, b) => a + b, 0)}`);
});

type Outcome<T> = { ok: true; value: T } | { ok: false; code: string };

/** Runs fn; a thrown value must be a HypernoiseError with a known code and a message. */
async function settle<T>(fn: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (!(err instanceof HypernoiseError)) {
      throw new Error(`not a HypernoiseError: ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
    }
    if (!CODES.has(err.code)) throw new Error(`unexpected code ${err.code}: ${err.message}`);
    if (err.message.length < 10) throw new Error(`message too short: '${err.message}'`);
    return { ok: false, code: err.code };
  }
}

function count(name: string): void {
  cases[name] = (cases[name] ?? 0) + 1;
}

// ---- arbitrary arrays ------------------------------------------------------------------------------

const KINDS = ['f32', 'f32', 'f32', 'f32', 'sub', 'sab', 'detached', 'f64', 'i32', 'plain', 'null', 'undefined', 'number', 'string', 'object'] as const;
type Kind = (typeof KINDS)[number];

const value = fc.oneof(
  { weight: 12, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true, min: -4, max: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 3e38, -3e38, 1e-40, -0) },
);

/** A value of the given kind holding `values` (when it holds any). */
function makeArray(kind: Kind, values: number[]): unknown {
  switch (kind) {
    case 'f32': return Float32Array.from(values);
    case 'sub': {
      // A view at an offset into a larger buffer.
      const big = new Float32Array(values.length + 5).fill(7);
      big.set(values, 3);
      return big.subarray(3, 3 + values.length);
    }
    case 'sab': {
      const a = new Float32Array(new SharedArrayBuffer(4 * values.length));
      a.set(values);
      return a;
    }
    case 'detached': {
      const a = Float32Array.from(values);
      structuredClone(a.buffer, { transfer: [a.buffer] });
      return a; // length 0 now
    }
    case 'f64': return Float64Array.from(values);
    case 'i32': return Int32Array.from(values.map((v) => (Number.isFinite(v) ? Math.trunc(v) : 0)));
    case 'plain': return values;
    case 'null': return null;
    case 'undefined': return undefined;
    case 'number': return values.length;
    case 'string': return 'eps';
    case 'object': return { length: values.length };
  }
}

/** An array meant to hold `rows` rows of `width` values, sometimes one too many or too few. */
function rowsArb(width: number, rows: fc.Arbitrary<number>) {
  return fc
    .record({ kind: fc.constantFrom(...KINDS), rows, delta: fc.constantFrom(0, 0, 0, 0, 0, 0, -1, 1, 3), seed: fc.array(value, { minLength: 1, maxLength: 8 }) })
    .map(({ kind, rows: n, delta, seed }) => {
      const len = Math.max(0, n * width + delta);
      const values = Array.from({ length: len }, (_, i) => seed[i % seed.length]);
      // What the array holds once made (a detached one holds nothing).
      return { kind, values: kind === 'detached' ? [] : values, array: makeArray(kind, values) };
    });
}

const isF32 = (a: unknown): a is Float32Array => a instanceof Float32Array;
const finite = (xs: number[]) => xs.every((v) => Number.isFinite(v) && Math.abs(v) <= 4);

// ---- properties ------------------------------------------------------------------------------------

describe('API boundary properties (fast-check)', () => {
  const hnConfig = fc.record({
    noiseDim: fc.integer({ min: 1, max: 9 }),
    condDim: fc.constantFrom(0, 0, 2),
    rank: fc.integer({ min: 1, max: 5 }),
    depth: fc.integer({ min: 1, max: 3 }),
    activation: fc.constantFrom('identity', 'relu', 'silu', 'gelu', 'tanh', 'sigmoid', 'softplus' as const),
    scale: fc.oneof(fc.constant(1), fc.double({ min: -3, max: 3, noNaN: true })),
  });

  test('Hypernetwork calls: any array kind, length, value and batch size', async () => {
    await fc.assert(
      fc.asyncProperty(
        hnConfig,
        fc.integer({ min: 0, max: 5 }),
        fc.constantFrom('forward', 'forwardSync', 'forwardOut', 'kl', 'klSync', 'forwardTrain', 'backward', 'setParams'),
        fc.integer({ min: 0, max: 1000 }),
        async (cfg, n, op, salt) => {
          count('hypernetwork call');
          const hn = new Hypernetwork({ ...cfg, seed: salt, backend: 'cpu' });
          try {
            hn.setParams(hn.getParams().map((_, i) => Math.sin(i + salt) * 0.3));
            const eps = fc.sample(rowsArb(cfg.noiseDim, fc.constant(n)), { seed: salt, numRuns: 1 })[0];
            const cond = fc.sample(rowsArb(cfg.condDim, fc.constant(n)), { seed: salt + 1, numRuns: 1 })[0];
            const e = eps.array as Float32Array;
            const c = cfg.condDim > 0 || salt % 4 === 0 ? (cond.array as Float32Array) : undefined;
            const r = await settle(async () => {
              switch (op) {
                case 'forward': return hn.forward(e, c);
                case 'forwardSync': return hn.forwardSync(e, c);
                case 'forwardOut': return hn.forward(e, c, makeArray(cond.kind, eps.values) as Float32Array);
                case 'kl': return (await hn.kl(e, c)).exact;
                case 'klSync': return hn.klSync(e, c).exact;
                case 'forwardTrain': return (await hn.forwardTrain(e, c, salt % 2 === 0 ? 'exact' : 'l2')).epsHat;
                case 'backward':
                  await hn.forwardTrain(Float32Array.from({ length: n * cfg.noiseDim }, (_, i) => Math.cos(i)), cfg.condDim > 0 ? new Float32Array(n * cfg.condDim) : null, 'exact');
                  await hn.backward(e, (['l2', 'exact', 'chi', 'nope'] as const)[salt % 4] as never, 0.5);
                  return hn.getGradient();
                case 'setParams': hn.setParams(e); return hn.getParams();
              }
            });
            const validEps = isF32(eps.array) && eps.values.length % cfg.noiseDim === 0;
            if (r.ok && (op === 'forward' || op === 'forwardSync')) {
              expect(validEps).toBe(true);
              const rows = eps.values.length / cfg.noiseDim;
              expect(r.value.length).toBe(rows * cfg.noiseDim);
              // Any Float32Array (view, shared) gives the result of a plain copy.
              const ref = hn.forwardSync(Float32Array.from(eps.values), cfg.condDim > 0 ? Float32Array.from(cond.values) : undefined);
              expect(Array.from(r.value)).toEqual(Array.from(ref));
            }
            const strict = ['forward', 'forwardSync', 'kl', 'klSync'].includes(op) || (op === 'forwardTrain' && eps.values.length > 0);
            if (!r.ok && strict && validEps && finite(eps.values) && cfg.condDim === 0 && c === undefined) {
              throw new Error(`a valid call failed with ${r.code}`);
            }
            if (r.ok && op === 'kl') for (const v of r.value) expect(Number.isNaN(v)).toBe(false);
          } finally {
            hn.dispose();
          }
        },
      ),
      { numRuns: runs(400), seed: SEED + 42 },
    );
  });

  test('SequentialModel calls: any array kind, length, value and batch size', async () => {
    const layerArb = fc.record({ inDim: fc.integer({ min: 1, max: 6 }), hidden: fc.integer({ min: 1, max: 7 }), out: fc.integer({ min: 1, max: 6 }), act: fc.constantFrom('relu', 'silu', 'gelu', 'tanh', 'sigmoid', 'softplus', 'identity' as const) });
    await fc.assert(
      fc.asyncProperty(layerArb, fc.integer({ min: 0, max: 5 }), fc.constantFrom('forward', 'forwardSync', 'vjp', 'vjpSync', 'gradients', 'gradientsSync'), fc.integer({ min: 0, max: 1000 }), async (l, n, op, salt) => {
        count('model call');
        const m = SequentialModel.fromLayers([{ type: 'linear', in: l.inDim, out: l.hidden }, { type: l.act }, { type: 'linear', in: l.hidden, out: l.out }], { seed: salt, backend: 'cpu' });
        try {
          const x = fc.sample(rowsArb(l.inDim, fc.constant(n)), { seed: salt, numRuns: 1 })[0];
          const dy = fc.sample(rowsArb(l.out, fc.constant(n)), { seed: salt + 7, numRuns: 1 })[0];
          const r = await settle(async () => {
            const xa = x.array as Float32Array, da = dy.array as Float32Array;
            switch (op) {
              case 'forward': return m.forward(xa);
              case 'forwardSync': return m.forwardSync(xa);
              case 'vjp': return m.vjp(xa, da);
              case 'vjpSync': return m.vjpSync(xa, da);
              case 'gradients': return (await m.gradients(xa, da)).grad;
              case 'gradientsSync': return m.gradientsSync(xa, da).grad;
            }
          });
          if (r.ok && op.startsWith('forward')) {
            const ref = m.forwardSync(Float32Array.from(x.values));
            expect(Array.from(r.value)).toEqual(Array.from(ref));
          }
        } finally {
          m.dispose();
        }
      }),
      { numRuns: runs(300), seed: SEED + 43 },
    );
  });

  // Option values: valid small ones, out of range, wrong types, non-finite, and huge (beyond what a typed
  // array or the native limits allow, never "valid but many gigabytes").
  const optValue = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 4 }) },
    { weight: 2, arbitrary: fc.double({ min: -2, max: 2, noNaN: true }) },
    { weight: 2, arbitrary: fc.constantFrom(-1, 0.5, NaN, Infinity, -Infinity, 2 ** 33, 2 ** 53, 1e308, 2 ** 64) },
    { weight: 1, arbitrary: fc.constantFrom('3', null, true, {}, [], 10n, -1n, () => 1) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );

  test('options out of range: constructors and calls end in a result or a coded error', async () => {
    const gen = SequentialModel.fromLayers([{ type: 'linear', in: 3, out: 6 }, { type: 'sigmoid' }], { seed: 1, backend: 'cpu' });
    const clf = SequentialModel.fromLayers([{ type: 'linear', in: 6, out: 2 }], { seed: 2, backend: 'cpu' });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('hypernetwork', 'trainer', 'train', 'sampler', 'sampleNoise', 'tto', 'bestOfN', 'classifier', 'weighted', 'layers', 'jsGenerator'),
        fc.dictionary(fc.constantFrom('noiseDim', 'condDim', 'rank', 'depth', 'scale', 'seed', 'n', 'dim', 'offset', 'stream', 'steps', 'batchSize', 'lambda', 'alpha', 'lr', 'beta1', 'beta2', 'eps', 'momentum', 'gradClip', 'warmupSteps', 'decaySteps', 'iterations', 'regWeight', 'candidates', 'checkpointEvery', 'weight', 'classOf', 'in', 'out'), optValue, { maxKeys: 6 }),
        fc.constantFrom('adam', 'adamw', 'sgd', 'rmsprop', undefined),
        fc.constantFrom('exact', 'l2', 'chi', 'kl', undefined),
        async (what, o, optType, kl) => {
          count('options');
          const objs: Array<{ dispose(): void }> = [];
          try {
            await settle(async () => {
              const hnOpts = { noiseDim: 3, condDim: 0, rank: 2, backend: 'cpu' as const, ...(what === 'hypernetwork' ? o : {}) };
              switch (what) {
                case 'hypernetwork': {
                  const h = new Hypernetwork(hnOpts as never);
                  objs.push(h);
                  return h.forwardSync(new Float32Array(h.noiseDim * 2));
                }
                case 'trainer':
                case 'train': {
                  const h = new Hypernetwork(hnOpts);
                  objs.push(h);
                  const t = new Trainer({
                    hypernetwork: h, generator: gen, reward: rewards.brightness(), kl: kl as never,
                    ...((what === 'trainer' ? { lambda: o.lambda, alpha: o.alpha, batchSize: typeof o.batchSize === 'number' && o.batchSize > 64 ? 2 ** 25 : o.batchSize, seed: o.seed } : { batchSize: 4 }) as object),
                    optimizer: { type: optType, lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, momentum: o.momentum, gradClip: o.gradClip, warmupSteps: o.warmupSteps, decaySteps: o.decaySteps } as never,
                  });
                  objs.push(t);
                  // steps: any value, but a valid huge count is capped (it would only take long).
                  const steps = typeof o.steps === 'number' && Number.isInteger(o.steps) && o.steps > 8 ? 8 : o.steps;
                  return t.train({ steps: what === 'train' ? (steps as number) : 1, checkpointEvery: o.checkpointEvery as number });
                }
                case 'sampler': {
                  const h = new Hypernetwork(hnOpts);
                  objs.push(h);
                  return new Sampler({ hypernetwork: h, generator: gen }).sample({ n: o.n as number, seed: o.seed as number, batchSize: o.batchSize as number });
                }
                case 'sampleNoise':
                  return sampleNoise({ n: o.n as number, dim: o.dim as number, seed: o.seed as number, offset: o.offset as number, stream: o.stream as number });
                case 'tto':
                  return new TestTimeOptimizer({ generator: gen, reward: rewards.brightness(), iterations: o.iterations as number, lr: o.lr as number, momentum: o.momentum as number, gradClip: o.gradClip as number, regWeight: o.regWeight as number }).optimize({ n: o.n as number, seed: o.seed as number });
                case 'bestOfN':
                  return bestOfN({ generator: gen, reward: rewards.brightness(), n: o.n as number, candidates: o.candidates as number, seed: o.seed as number, batchSize: o.batchSize as number });
                case 'classifier':
                  return rewards.classifierLogProb(clf, o.classOf as never).evaluate(new Float32Array(12), 6, null, 0, true);
                case 'weighted':
                  return rewards.weighted([[rewards.brightness(), o.weight as number], [rewards.redness(), 1]]).evaluate(new Float32Array(12), 6, null, 0, true);
                case 'layers': {
                  const m = SequentialModel.fromLayers([{ type: 'linear', in: o.in as number, out: o.out as number }, { type: 'relu' }], { backend: 'cpu' });
                  objs.push(m);
                  return m.forwardSync(new Float32Array(m.inputDim));
                }
                case 'jsGenerator':
                  return generators.fromFunctions({ inputDim: o.in as number, outputDim: o.out as number, forward: (e) => e, vjp: (_e, d) => d }).forward(new Float32Array(2));
              }
            });
          } finally {
            for (const x of objs) x.dispose();
          }
        },
      ),
      { numRuns: runs(500), seed: SEED + 44 },
    );
    gen.dispose();
    clf.dispose();
  });

  test('zero-sized and very large batches', async () => {
    const gen = SequentialModel.fromLayers([{ type: 'linear', in: 4, out: 6 }], { backend: 'cpu' });
    const hn = new Hypernetwork({ noiseDim: 4, rank: 3, backend: 'cpu' });
    const zero = new Float32Array(0);
    expect((await hn.forward(zero)).length).toBe(0);
    expect((await hn.kl(zero)).exact.length).toBe(0);
    expect((await gen.forward(zero)).length).toBe(0);
    expect((await gen.vjp(zero, zero)).length).toBe(0);
    expect((await new Sampler({ hypernetwork: hn, generator: gen }).sample({ n: 0 })).x.length).toBe(0);
    expect((await bestOfN({ generator: gen, reward: rewards.brightness(), n: 0, candidates: 3 })).x.length).toBe(0);
    expect(sampleNoise({ n: 0, dim: 5, seed: 1 }).length).toBe(0);
    expect(sampleNoise({ n: 5, dim: 0, seed: 1 }).length).toBe(0);
    expect(await settle(() => hn.forwardTrain(zero, null, 'exact'))).toMatchObject({ ok: false, code: expect.stringMatching(/ERR_SHAPE|ERR_ARGUMENT/) });
    expect(await settle(() => gen.gradients(zero, zero))).toMatchObject({ ok: false, code: expect.stringMatching(/ERR_SHAPE|ERR_ARGUMENT/) });
    // Beyond what a typed array can hold: ERR_MEMORY, not V8's RangeError.
    for (const r of [
      await settle(() => sampleNoise({ n: 2 ** 31, dim: 4, seed: 1 })),
      await settle(() => new Sampler({ hypernetwork: hn, generator: gen }).sample({ n: 2 ** 33 })),
      await settle(() => bestOfN({ generator: gen, reward: rewards.brightness(), n: 2 ** 33, candidates: 2 })),
      await settle(() => new TestTimeOptimizer({ generator: gen, reward: rewards.brightness() }).optimize({ n: 2 ** 33 })),
    ]) {
      expect(r).toEqual({ ok: false, code: 'ERR_MEMORY' });
    }
    expect(await settle(() => new Trainer({ hypernetwork: hn, generator: gen, reward: rewards.brightness(), batchSize: 2 ** 25 }))).toEqual({ ok: false, code: 'ERR_ARGUMENT' });
    hn.dispose();
    gen.dispose();
  });

  test('enormous requests: ERR_ARGUMENT or ERR_MEMORY, never a crash or a hang', async () => {
    for (const opts of [
      { noiseDim: 2 ** 30, rank: 4096 },
      { noiseDim: 2 ** 31, rank: 2 },
      { noiseDim: 2 ** 31 + 1 },
      { noiseDim: 2 ** 40, rank: 1 },
      { noiseDim: 1, rank: 65536, depth: 64 },
      { noiseDim: 4, condDim: 2 ** 33, rank: 64 },
    ]) {
      const r = await settle(() => new Hypernetwork({ ...opts, backend: 'cpu' }));
      expect(r.ok ? 'ok' : r.code).toMatch(/ERR_ARGUMENT|ERR_MEMORY/);
    }
    const layers = [...Array(15).fill({ type: 'linear', in: 2 ** 30, out: 2 ** 30 }), { type: 'linear', in: 2 ** 30, out: 1073741809 }];
    expect(await settle(() => SequentialModel.fromLayers(layers))).toEqual({ ok: false, code: 'ERR_ARGUMENT' });
    expect(await settle(() => SequentialModel.fromLayers([{ type: 'linear', in: 2 ** 30, out: 2 ** 30 }]))).toMatchObject({ ok: false });
    // Allocations that fail for real (an address-space limit in a child process): ERR_MEMORY.
    const script = `
      const h = require(${JSON.stringify(path.resolve(__dirname, '..', 'dist'))});
      const out = [];
      const tryit = async (f) => { try { await f(); out.push('ok'); } catch (e) { out.push(e.code || String(e)); } };
      (async () => {
        await tryit(() => new h.Hypernetwork({ noiseDim: 2 ** 26, rank: 8, backend: 'cpu' }));
        await tryit(() => h.SequentialModel.fromLayers([{ type: 'linear', in: 2 ** 15, out: 2 ** 15 }], { backend: 'cpu' }));
        const hn = new h.Hypernetwork({ noiseDim: 64, rank: 4, backend: 'cpu' });
        const gen = h.SequentialModel.fromLayers([{ type: 'linear', in: 64, out: 64 }], { backend: 'cpu' });
        const t = new h.Trainer({ hypernetwork: hn, generator: gen, reward: h.rewards.brightness(), batchSize: 2 ** 24 });
        await tryit(() => t.stepOnce());
        await tryit(() => hn.forward(new Float32Array(64 * 4)));
        console.log(JSON.stringify(out));
      })();`;
    const stdout = execFileSync('bash', ['-c', `ulimit -v 3000000; exec "${process.execPath}" -e "$0"`, script], { encoding: 'utf8', timeout: 60000 });
    expect(JSON.parse(stdout.trim().split('\n').pop() as string)).toEqual(['ERR_MEMORY', 'ERR_MEMORY', 'ERR_MEMORY', 'ok']);
  });

  test('objects used after dispose(), at any point of a sequence of calls', async () => {
    const ops = ['forward', 'forwardSync', 'kl', 'forwardTrain', 'getParams', 'setParams', 'save', 'train', 'sample', 'modelForward', 'modelVjp', 'reward', 'tto'] as const;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...ops), { minLength: 1, maxLength: 6 }), fc.nat(6), fc.constantFrom('hn', 'gen', 'clf', 'trainer'), async (seq, at, victim) => {
        count('dispose sequence');
        const hn = new Hypernetwork({ noiseDim: 3, condDim: 2, rank: 2, backend: 'cpu' });
        const gen = SequentialModel.fromLayers([{ type: 'linear', in: 3, out: 4 }], { backend: 'cpu' });
        const clf = SequentialModel.fromLayers([{ type: 'linear', in: 4, out: 2 }], { backend: 'cpu' });
        const reward = rewards.classifierLogProb(clf);
        const trainer = new Trainer({ hypernetwork: hn, generator: gen, reward, batchSize: 2, conditions: (n) => new Float32Array(n * 2).fill(0.5) });
        const eps = new Float32Array(6).fill(0.5);
        const cond = new Float32Array(4).fill(0.5);
        let disposed = false;
        for (let i = 0; i < seq.length; i++) {
          if (i === at) {
            ({ hn, gen, clf, trainer })[victim].dispose();
            disposed = true;
          }
          const r = await settle(async () => {
            switch (seq[i]) {
              case 'forward': return hn.forward(eps, cond);
              case 'forwardSync': return hn.forwardSync(eps, cond);
              case 'kl': return hn.kl(eps, cond);
              case 'forwardTrain': return hn.forwardTrain(eps, cond, 'exact');
              case 'getParams': return hn.getParams();
              case 'setParams': return hn.setParams(new Float32Array(hn.paramCount));
              case 'save': return hn.save(path.join(tmp, 'hn.safetensors'));
              case 'train': return trainer.train({ steps: 1 });
              case 'sample': return new Sampler({ hypernetwork: hn, generator: gen }).sample({ n: 2, cond });
              case 'modelForward': return gen.forward(eps);
              case 'modelVjp': return gen.vjp(eps, new Float32Array(8));
              case 'reward': return reward.evaluate(new Float32Array(8), 4, cond, 2, true);
              case 'tto': return new TestTimeOptimizer({ generator: gen, reward, iterations: 2 }).optimize({ n: 2, cond });
            }
          });
          if (!r.ok) expect(disposed && r.code === 'ERR_DISPOSED').toBe(true);
        }
        trainer.dispose();
        hn.dispose();
        gen.dispose();
        clf.dispose();
      }),
      { numRuns: runs(200), seed: SEED + 45 },
    );
  });

  test('an object disposed while a call on it is in flight: that call finishes, later ones are ERR_DISPOSED', async () => {
    for (let trial = 0; trial < 10; trial++) {
      const hn = new Hypernetwork({ noiseDim: 256, rank: 32, depth: 2, backend: 'cpu' });
      hn.setParams(hn.getParams().map((_, i) => Math.sin(i) * 0.05));
      const gen = SequentialModel.fromLayers([{ type: 'linear', in: 256, out: 512 }, { type: 'gelu' }, { type: 'linear', in: 512, out: 64 }], { backend: 'cpu' });
      const clf = SequentialModel.fromLayers([{ type: 'linear', in: 64, out: 3 }], { backend: 'cpu' });
      const t = new Trainer({ hypernetwork: hn, generator: gen, reward: rewards.classifierLogProb(clf, 1), batchSize: 128 });
      const eps = sampleNoise({ n: 256, dim: 256, seed: trial });
      const inFlight: Array<Promise<unknown>> = [
        hn.forward(eps), hn.kl(eps), hn.forwardTrain(eps, null, 'exact'), gen.forward(eps), gen.vjp(eps, new Float32Array(256 * 64)),
        t.stepOnce(), new TestTimeOptimizer({ generator: gen, reward: rewards.classifierLogProb(clf, 2), iterations: 3 }).optimize({ n: 16 }),
      ];
      // Dispose in a different order each trial, partly synchronously, partly after a tick.
      const victims = [hn, gen, clf, t];
      for (let k = 0; k < victims.length; k++) {
        if ((trial + k) % 3 === 0) await new Promise((r) => setImmediate(r));
        victims[(trial + k) % victims.length].dispose();
      }
      const results = await Promise.all(inFlight.map((p) => settle(() => p)));
      for (const r of results) if (!r.ok) expect(r.code).toBe('ERR_DISPOSED');
      expect(results[0].ok).toBe(true); // started before any dispose: completes
      expect(await settle(() => hn.forward(eps))).toEqual({ ok: false, code: 'ERR_DISPOSED' });
      expect(await settle(() => t.stepOnce())).toEqual({ ok: false, code: 'ERR_DISPOSED' });
    }
  });

  test('mixed backends: objects on auto, cpu and cuda together', async () => {
    const cuda = backendInfo().cuda.available;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('auto', 'cpu', 'cuda' as const), fc.constantFrom('auto', 'cpu', 'cuda' as const), fc.constantFrom('auto', 'cpu', 'cuda' as const), fc.constantFrom('train', 'sample', 'tto', 'reward'), async (bh, bg, bc, op) => {
        count('mixed backends');
        const made: Array<{ dispose(): void }> = [];
        const r = await settle(async () => {
          const hn = new Hypernetwork({ noiseDim: 4, rank: 3, seed: 1, backend: bh });
          made.push(hn);
          const gen = SequentialModel.fromLayers([{ type: 'linear', in: 4, out: 6 }, { type: 'tanh' }], { seed: 2, backend: bg });
          made.push(gen);
          const clf = SequentialModel.fromLayers([{ type: 'linear', in: 6, out: 3 }], { seed: 3, backend: bc });
          made.push(clf);
          const reward = rewards.weighted([[rewards.classifierLogProb(clf, 1), 1], [rewards.brightness(), 0.5]]);
          switch (op) {
            case 'train': {
              const t = new Trainer({ hypernetwork: hn, generator: gen, reward, batchSize: 8, seed: 1 });
              made.push(t);
              return (await t.train({ steps: 3 })).records.map((x) => x.loss);
            }
            case 'sample': return Array.from((await new Sampler({ hypernetwork: hn, generator: gen }).sample({ n: 5, seed: 2 })).x);
            case 'tto': return Array.from((await new TestTimeOptimizer({ generator: gen, reward, iterations: 3 }).optimize({ n: 3, seed: 1 })).reward);
            case 'reward': return Array.from((await reward.evaluate(new Float32Array(12).fill(0.2), 6, null, 0, true)).value);
          }
        });
        for (const m of made) m.dispose();
        if (!cuda && [bh, bg, bc].includes('cuda')) expect(r).toEqual({ ok: false, code: 'ERR_CUDA_UNAVAILABLE' });
        else {
          expect(r.ok).toBe(true);
          if (r.ok) for (const v of r.value) expect(Number.isFinite(v)).toBe(true);
        }
      }),
      { numRuns: runs(60), seed: SEED + 46 },
    );
  });

  test('the exact KL never returns NaN: random, huge, tiny and degenerate parameters (non-invertible samples counted)', async () => {
    const magnitude = fc.constantFrom(0, 1e-30, 1e-3, 0.1, 1, 3, 30, 1e4, 1e10, 1e20, 1e30, 3e38);
    await fc.assert(
      fc.asyncProperty(hnConfig, magnitude, magnitude, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 1e6 }), async (cfg, pm, em, n, salt) => {
        count('exact KL');
        const hn = new Hypernetwork({ ...cfg, condDim: 0, backend: 'cpu' });
        try {
          const rand = (i: number) => Math.sin(i * 12.9898 + salt * 78.233) * 43758.5453 % 1;
          const clampF = (v: number) => Math.max(-3.4e38, Math.min(3.4e38, v));
          const p = Float32Array.from({ length: hn.paramCount }, (_, i) => clampF(rand(i) * pm));
          // Sometimes a structured degenerate map: B A = -I / s (T collapses space) at depth 1, identity.
          const structured = salt % 7 === 0 && cfg.depth === 1 && cfg.activation === 'identity' && cfg.rank >= cfg.noiseDim && Math.abs(cfg.scale) > 1e-3;
          if (structured) {
            p.fill(0);
            for (let a = 0; a < cfg.noiseDim; a++) {
              p[hn.tensorLayout.A[0] + a * cfg.noiseDim + a] = 1;
              p[hn.tensorLayout.B[0] + a * cfg.rank + a] = -1 / cfg.scale;
            }
          }
          hn.setParams(p);
          const eps = Float32Array.from({ length: n * cfg.noiseDim }, (_, i) => clampF(rand(i + 1e5) * Math.max(em, 1e-3)));
          const kl = await hn.kl(eps);
          const sync = hn.klSync(eps);
          const train = (await hn.forwardTrain(eps, null, 'exact')).stats;
          for (const s of [kl, sync, train]) {
            for (let i = 0; i < n; i++) {
              expect(Number.isNaN(s.exact[i])).toBe(false);
              expect([0, 1]).toContain(s.nonInvertible[i]);
              if (s.nonInvertible[i] === 1) expect(s.logdet[i]).toBe(0);
            }
          }
          // Moderate parameters: the value is the brute-force D x D one (float64 reference).
          if (!structured && pm <= 1 && em <= 3) {
            const shape: HnShape = { D: cfg.noiseDim, C: 0, r: cfg.rank, L: cfg.depth, act: cfg.activation, s: cfg.scale };
            for (let i = 0; i < n; i++) {
              const ref = klOf(shape, hnSample(shape, p, eps.subarray(i * cfg.noiseDim, (i + 1) * cfg.noiseDim), []));
              // Small parameters keep T near the identity: invertible for both.
              if (pm <= 0.1) expect(kl.nonInvertible[i] === 1).toBe(ref.nonInvertible);
              if (!ref.nonInvertible && kl.nonInvertible[i] === 0 && Math.abs(ref.logdet) < 20) {
                const tol = 1e-3 * (1 + Math.abs(ref.l2) + Math.abs(ref.trace) + Math.abs(ref.logdet));
                expect(Math.abs(kl.exact[i] - ref.exact)).toBeLessThan(tol);
              }
            }
          }
        } finally {
          hn.dispose();
        }
      }),
      { numRuns: runs(500), seed: SEED + 47 },
    );
  });
});
