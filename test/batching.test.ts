import * as v8 from 'v8';
import * as vm from 'vm';
import { BatchingSampler, generators, Hypernetwork, HypernoiseError, oneHotRandomClasses, Rng, Sampler, sampleNoise, SequentialModel } from '../src';

const D = 12;
const C = 3;
const P = 20;

function models(): { hn: Hypernetwork; gen: SequentialModel } {
  const gen = SequentialModel.fromLayers(
    [{ type: 'linear', in: D, out: 40 }, { type: 'silu' }, { type: 'linear', in: 40, out: P }, { type: 'sigmoid' }],
    { seed: 4, backend: 'cpu' },
  );
  const hn = new Hypernetwork({ noiseDim: D, condDim: C, rank: 6, activation: 'silu', seed: 2, backend: 'cpu' });
  // A non-zero output layer, so that T is not the identity.
  const p = hn.getParams();
  for (let i = 0; i < p.length; ++i) p[i] = p[i] === 0 ? 0.05 * Math.sin(i + 1) : p[i];
  hn.setParams(p);
  return { hn, gen };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof HypernoiseError ? err.code : String(err);
  }
}

describe('Sampler: one native call per request', () => {
  const { hn, gen } = models();
  const cond = oneHotRandomClasses(7, C, new Rng(5, 0));

  test('sample and sampleSync equal the composition hypernetwork -> generator of the seed\'s noise, bit for bit', async () => {
    const s = new Sampler({ hypernetwork: hn, generator: gen });
    const eps = sampleNoise({ n: 7, dim: D, seed: 9 });
    const epsHat = hn.forwardSync(eps, cond);
    const x = gen.forwardSync(epsHat);
    for (const r of [await s.sample({ n: 7, seed: 9, cond }), s.sampleSync({ n: 7, seed: 9, cond }), s.sampleSync({ n: 7, seed: 9, cond, batchSize: 2 })]) {
      expect(Buffer.from(r.baseNoise.buffer, r.baseNoise.byteOffset, r.baseNoise.byteLength).equals(Buffer.from(eps.buffer))).toBe(true);
      expect(Array.from(r.noise)).toEqual(Array.from(epsHat));
      expect(Array.from(r.x)).toEqual(Array.from(x));
    }
  });

  test('the base generator path and given noise', async () => {
    const s = new Sampler({ generator: gen });
    const r = s.sampleSync({ n: 4, seed: 1 });
    expect(r.noise).toBe(r.baseNoise);
    expect(Array.from(r.x)).toEqual(Array.from(gen.forwardSync(sampleNoise({ n: 4, dim: D, seed: 1 }))));
    const given = sampleNoise({ n: 4, dim: D, seed: 77 });
    const withHn = new Sampler({ hypernetwork: hn, generator: gen });
    const a = withHn.sampleSync({ n: 4, noise: given, cond: cond.subarray(0, 4 * C) });
    const b = await withHn.sample({ n: 4, noise: given, cond: cond.subarray(0, 4 * C) });
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    expect(Array.from(a.x)).toEqual(Array.from(gen.forwardSync(hn.forwardSync(given, cond.subarray(0, 4 * C)))));
  });

  test('results go into caller-provided arrays, which are checked', async () => {
    const s = new Sampler({ hypernetwork: hn, generator: gen });
    const out = { x: new Float32Array(7 * P), noise: new Float32Array(7 * D), baseNoise: new Float32Array(7 * D) };
    const r = s.sampleSync({ n: 7, seed: 9, cond, out });
    expect(r.x).toBe(out.x);
    expect(r.noise).toBe(out.noise);
    expect(r.baseNoise).toBe(out.baseNoise);
    expect(Array.from(out.x)).toEqual(Array.from((await s.sample({ n: 7, seed: 9, cond })).x));
    expect(() => s.sampleSync({ n: 7, seed: 9, cond, out: { x: new Float32Array(5) } })).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => s.sampleSync({ n: 7, seed: 9, cond, out: { x: new Float64Array(7 * P) as unknown as Float32Array } })).toThrow(
      expect.objectContaining({ code: 'ERR_DTYPE' }),
    );
    const nan = cond.slice();
    nan[2] = NaN;
    expect(() => s.sampleSync({ n: 7, seed: 9, cond: nan })).toThrow(expect.objectContaining({ code: 'ERR_NON_FINITE' }));
  });

  test('output arrays that share memory with each other or with cond are rejected', () => {
    const s = new Sampler({ hypernetwork: hn, generator: gen });
    const buf = new Float32Array(7 * D * 2);
    expect(() => s.sampleSync({ n: 7, seed: 1, cond, out: { noise: buf.subarray(0, 7 * D), baseNoise: buf.subarray(7 * D - 1, 14 * D - 1) } })).toThrow(
      expect.objectContaining({ code: 'ERR_ARGUMENT' }),
    );
    expect(() => s.sampleSync({ n: 7, seed: 1, cond, out: { noise: buf.subarray(0, 7 * D), baseNoise: buf.subarray(7 * D, 14 * D) } })).not.toThrow();
  });

  test('a JavaScript generator draws the same noise and samples as the native path', async () => {
    const js = generators.fromFunctions({ inputDim: D, outputDim: P, forward: (e) => gen.forwardSync(e), vjp: (e, dx) => gen.vjpSync(e, dx) });
    const a = await new Sampler({ hypernetwork: hn, generator: js }).sample({ n: 7, seed: 9, cond });
    const b = new Sampler({ hypernetwork: hn, generator: gen }).sampleSync({ n: 7, seed: 9, cond });
    expect(Array.from(a.baseNoise)).toEqual(Array.from(b.baseNoise));
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
  });

  test('sampleSync needs a native generator', () => {
    const js = generators.fromFunctions({ inputDim: D, outputDim: P, forward: (e, n) => new Float32Array(n * P), vjp: (e, dx, n) => new Float32Array(n * D) });
    expect(() => new Sampler({ generator: js }).sampleSync({ n: 1 })).toThrow(expect.objectContaining({ code: 'ERR_ARGUMENT' }));
  });
});

describe('BatchingSampler', () => {
  const { hn, gen } = models();

  test('concurrent requests are coalesced and each is bit-identical to an unbatched call', async () => {
    const b = new BatchingSampler({ hypernetwork: hn, generator: gen, maxBatch: 16 });
    const plain = new Sampler({ hypernetwork: hn, generator: gen });
    const rng = new Rng(3, 0);
    const reqs = Array.from({ length: 60 }, (_, i) => {
      const n = 1 + (i % 3);
      return { n, seed: 1000 + 7 * i, cond: oneHotRandomClasses(n, C, rng) };
    });
    const got = await Promise.all(reqs.map((r) => b.sample(r)));
    expect(b.stats.samples).toBe(reqs.reduce((a, r) => a + r.n, 0));
    expect(b.stats.batches).toBeLessThan(reqs.length / 4);
    for (let i = 0; i < reqs.length; ++i) {
      const want = plain.sampleSync(reqs[i]);
      expect(Buffer.from(got[i].x.buffer).equals(Buffer.from(want.x.buffer))).toBe(true);
      expect(Buffer.from(got[i].noise.buffer).equals(Buffer.from(want.noise.buffer))).toBe(true);
      expect(Buffer.from(got[i].baseNoise.buffer).equals(Buffer.from(want.baseNoise.buffer))).toBe(true);
      expect(got[i].x.byteOffset).toBe(0);
    }
    // The base generator path, and a request larger than maxBatch (runs alone).
    const base = new BatchingSampler({ generator: gen, maxBatch: 4 });
    const [big, small] = await Promise.all([base.sample({ n: 9, seed: 5 }), base.sample({ seed: 6 })]);
    expect(Array.from(big.x)).toEqual(Array.from(new Sampler({ generator: gen }).sampleSync({ n: 9, seed: 5 }).x));
    expect(Array.from(small.x)).toEqual(Array.from(new Sampler({ generator: gen }).sampleSync({ n: 1, seed: 6 }).x));
  });

  test('blocking batches give the same results; the option is checked', async () => {
    const b = new BatchingSampler({ hypernetwork: hn, generator: gen, blocking: true });
    const plain = new Sampler({ hypernetwork: hn, generator: gen });
    const cond = new Float32Array([1, 0, 0]);
    const got = await Promise.all([1, 2, 3].map((seed) => b.sample({ seed, cond })));
    for (const [i, r] of got.entries()) expect(Array.from(r.x)).toEqual(Array.from(plain.sampleSync({ n: 1, seed: i + 1, cond }).x));
    expect(b.stats.batches).toBe(1);
    expect(() => new BatchingSampler({ generator: gen, blocking: 1 as unknown as boolean })).toThrow(expect.objectContaining({ code: 'ERR_ARGUMENT' }));
    expect(() => new BatchingSampler({ generator: gen, maxBatch: 0 })).toThrow(expect.objectContaining({ code: 'ERR_ARGUMENT' }));
  });

  test('a request with non-finite conditions fails alone, not the batch it would join', async () => {
    const b = new BatchingSampler({ hypernetwork: hn, generator: gen });
    const [good, bad] = [b.sample({ seed: 1, cond: new Float32Array([0, 1, 0]) }), b.sample({ seed: 2, cond: new Float32Array([0, NaN, 0]) })];
    expect(await codeOf(bad)).toBe('ERR_NON_FINITE');
    expect((await good).x.length).toBe(P);
  });

  test('the condition array is copied when the request is made', async () => {
    const b = new BatchingSampler({ hypernetwork: hn, generator: gen });
    const c = new Float32Array([0, 1, 0]);
    const p = b.sample({ seed: 3, cond: c });
    c.set([1, 0, 0]);
    const want = new Sampler({ hypernetwork: hn, generator: gen }).sampleSync({ n: 1, seed: 3, cond: new Float32Array([0, 1, 0]) });
    expect(Array.from((await p).x)).toEqual(Array.from(want.x));
  });

  test('a full queue refuses with ERR_BUSY; aborts reject with ERR_ABORTED and leave the others', async () => {
    const b = new BatchingSampler({ generator: gen, maxQueue: 4, maxDelayMicros: 20000 });
    const first = [b.sample({ seed: 1 }), b.sample({ seed: 2 }), b.sample({ n: 2, seed: 3 })];
    expect(b.pending).toBe(4);
    expect(await codeOf(b.sample({ seed: 4 }))).toBe('ERR_BUSY');
    const ac = new AbortController();
    const late = new BatchingSampler({ generator: gen, maxDelayMicros: 20000 });
    const aborted = late.sample({ seed: 7, signal: ac.signal });
    const kept = late.sample({ seed: 8 });
    ac.abort();
    expect(await codeOf(aborted)).toBe('ERR_ABORTED');
    expect((await kept).x.length).toBe(P);
    expect(late.pending).toBe(0);
    const pre = new AbortController();
    pre.abort();
    expect(await codeOf(late.sample({ signal: pre.signal }))).toBe('ERR_ABORTED');
    await Promise.all(first);
    await b.close();
    expect(await codeOf(b.sample({ seed: 1 }))).toBe('ERR_DISPOSED');
    expect(await codeOf(late.sample({ n: 0 }))).toBe('ERR_ARGUMENT');
    expect(await codeOf(late.sample({ cond: new Float32Array(3) }))).toBe('resolved'); // unconditional: cond ignored
    expect(() => new BatchingSampler({ generator: generators.fromFunctions({ inputDim: D, outputDim: P, forward: (e, n) => new Float32Array(n * P), vjp: (e, dx, n) => new Float32Array(n * D) }) as unknown as SequentialModel })).toThrow(
      expect.objectContaining({ code: 'ERR_ARGUMENT' }),
    );
  });

  test('no leak over 100,000 requests (after a warm-up and a full GC: RSS growth below 32 MiB, 335 bytes a request)', async () => {
    const b = new BatchingSampler({ hypernetwork: hn, generator: gen, maxBatch: 256 });
    const cond = new Float32Array([0, 0, 1]);
    const wave = async (from: number) => {
      const ps: Array<Promise<unknown>> = [];
      for (let i = 0; i < 1000; ++i) ps.push(b.sample({ seed: from + i, cond }));
      await Promise.all(ps);
    };
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const settle = () => {
      for (let i = 0; i < 3; ++i) gc();
      return { rss: process.memoryUsage().rss };
    };
    for (let w = 0; w < 10; ++w) await wave(w * 1000);
    const m0 = settle();
    for (let w = 0; w < 100; ++w) await wave(w * 1000);
    const m1 = settle();
    expect((m1.rss - m0.rss) / 2 ** 20).toBeLessThan(32);
    expect(b.stats.samples).toBe(110000);
  }, 60000);
});
