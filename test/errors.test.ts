import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { backendInfo, generators, Hypernetwork, HypernoiseError, loadMnist, oneHotRandomClasses, parseSafetensors, rewards, Sampler, sampleNoise, SequentialModel, serializeSafetensors, TestTimeOptimizer, Trainer } from '../src';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-errors-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HypernoiseError);
    expect((err as HypernoiseError).message.length).toBeGreaterThan(10);
    return (err as HypernoiseError).code;
  }
  return undefined;
}

async function codeAsync(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(HypernoiseError);
    return (err as HypernoiseError).code;
  }
  return undefined;
}

describe('bad input ends in a coded HypernoiseError, never a crash', () => {
  const hn = new Hypernetwork({ noiseDim: 4, condDim: 2, rank: 3, backend: 'cpu' });
  const gen = SequentialModel.fromLayers([{ type: 'linear', in: 4, out: 6 }], { backend: 'cpu' });

  test('ERR_SHAPE: wrong lengths', () => {
    expect(code(() => hn.forwardSync(new Float32Array(5), new Float32Array(2)))).toBe('ERR_SHAPE');
    expect(code(() => hn.forwardSync(new Float32Array(8), new Float32Array(3)))).toBe('ERR_SHAPE');
    expect(code(() => hn.forwardSync(new Float32Array(8)))).toBe('ERR_SHAPE');
    expect(code(() => gen.vjpSync(new Float32Array(4), new Float32Array(5)))).toBe('ERR_SHAPE');
    expect(code(() => hn.setParams(new Float32Array(3)))).toBe('ERR_SHAPE');
    // and at the native boundary itself
    expect(code(() => hn.native.forwardSync(new Float32Array(8), new Float32Array(4), 2, new Float32Array(7)))).toBe('ERR_SHAPE');
  });

  test('ERR_DTYPE: wrong array types', () => {
    expect(code(() => hn.forwardSync(new Float64Array(8) as never, new Float32Array(4)))).toBe('ERR_DTYPE');
    expect(code(() => gen.forwardSync([1, 2, 3, 4] as never))).toBe('ERR_DTYPE');
    expect(code(() => hn.native.forwardSync(new Int32Array(8) as never, new Float32Array(4), 2, new Float32Array(8)))).toBe('ERR_DTYPE');
  });

  test('ERR_NON_FINITE: NaN or Inf where finite values are required', () => {
    const eps = new Float32Array(8);
    eps[5] = NaN;
    expect(code(() => hn.forwardSync(eps, new Float32Array(4)))).toBe('ERR_NON_FINITE');
    const p = hn.getParams();
    p[0] = Infinity;
    expect(code(() => hn.setParams(p))).toBe('ERR_NON_FINITE');
    const x = new Float32Array(4);
    x[0] = -Infinity;
    expect(code(() => gen.forwardSync(x))).toBe('ERR_NON_FINITE');
  });

  test('ERR_ARGUMENT: options out of range', () => {
    expect(code(() => new Hypernetwork({ noiseDim: 0 }))).toBe('ERR_ARGUMENT');
    expect(code(() => new Hypernetwork({ noiseDim: 4, rank: 2.5 }))).toBe('ERR_ARGUMENT');
    expect(code(() => new Hypernetwork({ noiseDim: 4, activation: 'swish' as never }))).toBe('ERR_ARGUMENT');
    expect(code(() => new Hypernetwork({ noiseDim: 4, backend: 'tpu' as never }))).toBe('ERR_ARGUMENT');
    expect(code(() => new Trainer({ hypernetwork: new Hypernetwork({ noiseDim: 4 }), generator: gen, reward: rewards.brightness(), alpha: 0 }))).toBe('ERR_ARGUMENT');
    expect(code(() => new Trainer({ hypernetwork: new Hypernetwork({ noiseDim: 4 }), generator: gen, reward: rewards.brightness(), optimizer: { lr: -1 } }))).toBe('ERR_ARGUMENT');
    expect(code(() => new TestTimeOptimizer({ generator: gen, reward: rewards.brightness(), iterations: 0 }))).toBe('ERR_ARGUMENT');
    expect(code(() => new Sampler({ generator: {} as never }))).toBe('ERR_ARGUMENT');
  });

  test('ERR_ARGUMENT: an out array sharing memory with an input (the result would be read while written)', async () => {
    const square = SequentialModel.fromLayers([{ type: 'linear', in: 4, out: 4 }], { backend: 'cpu', seed: 3 });
    const buf = new Float32Array(24).fill(0.5);
    const eps = buf.subarray(0, 8);
    const cond = buf.subarray(8, 12);
    expect(code(() => hn.forwardSync(eps, cond, eps))).toBe('ERR_ARGUMENT');
    expect(code(() => hn.forwardSync(eps, cond, buf.subarray(4, 12)))).toBe('ERR_ARGUMENT'); // overlaps both
    expect(code(() => hn.forwardSync(eps, cond, buf.subarray(10, 18)))).toBe('ERR_ARGUMENT'); // overlaps cond
    expect(await codeAsync(hn.forward(eps, cond, eps))).toBe('ERR_ARGUMENT');
    expect(code(() => square.forwardSync(eps, eps))).toBe('ERR_ARGUMENT');
    expect(await codeAsync(square.forward(eps, buf.subarray(7, 15)))).toBe('ERR_ARGUMENT');
    // adjacent views of one buffer are fine, and give the same numbers as separate arrays
    const out = buf.subarray(12, 20);
    expect(Array.from(hn.forwardSync(eps, cond, out))).toEqual(Array.from(hn.forwardSync(eps.slice(), cond.slice())));
    expect(Array.from(square.forwardSync(eps, buf.subarray(16, 24)))).toEqual(Array.from(square.forwardSync(eps.slice())));
    square.dispose();
  });

  test('coded errors where plain ones escaped (issue 15, item 4)', async () => {
    // saving under a path whose parent is a regular file
    const file = path.join(tmp, 'plain-file');
    fs.writeFileSync(file, 'x');
    expect(await codeAsync(hn.save(path.join(file, 'hn.safetensors')))).toBe('ERR_FILE');
    // train() checks its options before the first step
    const t = new Trainer({ hypernetwork: new Hypernetwork({ noiseDim: 4, backend: 'cpu' }), generator: gen, reward: rewards.brightness(), batchSize: 4 });
    expect(await codeAsync(t.train({ steps: 2, onProgress: 5 as never }))).toBe('ERR_ARGUMENT');
    expect(await codeAsync(t.train({ steps: 2, signal: {} as never }))).toBe('ERR_ARGUMENT');
    expect((await t.stepOnce()).step).toBe(0); // no step was taken
    t.dispose();
    // a Proxy of a Float32Array is not one
    expect(code(() => gen.forwardSync(new Proxy(new Float32Array(4), {})))).toBe('ERR_DTYPE');
    // null where an options object belongs
    expect(code(() => sampleNoise(null as never))).toBe('ERR_ARGUMENT');
    expect(code(() => SequentialModel.fromLayers([{ type: 'linear', in: 2, out: 2 }], null as never))).toBe('ERR_ARGUMENT');
    expect(code(() => generators.fromFunctions(null as never))).toBe('ERR_ARGUMENT');
    expect(code(() => rewards.weighted([null as never]))).toBe('ERR_ARGUMENT');
    expect(await codeAsync(loadMnist(null as never))).toBe('ERR_ARGUMENT');
    // parseSafetensors takes bytes (an ArrayBuffer too), nothing else
    expect(code(() => parseSafetensors('not bytes' as never))).toBe('ERR_ARGUMENT');
    const bytes = serializeSafetensors({ w: { shape: [1], data: Float32Array.from([2]) } });
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    expect(Array.from(parseSafetensors(ab).tensors.get('w')?.data as Float32Array)).toEqual([2]);
    // a classOf that returns no class index is refused, not turned into class 0
    const clf = SequentialModel.fromLayers([{ type: 'linear', in: 6, out: 3 }], { backend: 'cpu' });
    for (const bad of [NaN, 1.5, -1, '1']) {
      const r = rewards.classifierLogProb(clf, () => [0, bad as number]);
      expect(await codeAsync(r.evaluate(new Float32Array(12), 6, null, 0, false))).toBe('ERR_ARGUMENT');
    }
    expect((await rewards.classifierLogProb(clf, () => [0, 2]).evaluate(new Float32Array(12), 6, null, 0, false)).value.length).toBe(2);
    clf.dispose();
    // non-finite upstream gradients
    const dy = new Float32Array(6);
    dy[3] = NaN;
    expect(code(() => gen.vjpSync(new Float32Array(4), dy))).toBe('ERR_NON_FINITE');
    expect(await codeAsync(gen.gradients(new Float32Array(4), dy))).toBe('ERR_NON_FINITE');
    await hn.forwardTrain(new Float32Array(8), new Float32Array(4), 'l2');
    const g = new Float32Array(8);
    g[0] = Infinity;
    expect(await codeAsync(hn.backward(g, 'l2', 1))).toBe('ERR_NON_FINITE');
    // arrays on resizable or growable buffers (which could shrink under a Promise call) are refused
    const Resizable = ArrayBuffer as unknown as new (bytes: number, opts: { maxByteLength: number }) => ArrayBuffer;
    const Growable = SharedArrayBuffer as unknown as new (bytes: number, opts: { maxByteLength: number }) => SharedArrayBuffer;
    const rab = new Float32Array(new Resizable(32, { maxByteLength: 1024 }), 0, 8);
    expect(await codeAsync(hn.forward(rab, new Float32Array(4)))).toBe('ERR_ARGUMENT');
    expect(code(() => gen.forwardSync(new Float32Array(new Resizable(16, { maxByteLength: 64 }))))).toBe('ERR_ARGUMENT');
    expect(code(() => gen.forwardSync(new Float32Array(new Growable(16, { maxByteLength: 64 }))))).toBe('ERR_ARGUMENT');
    expect(gen.forwardSync(new Float32Array(new SharedArrayBuffer(16))).length).toBe(6); // a fixed shared buffer is fine
    // oneHotRandomClasses takes a seed as well as an Rng
    expect(oneHotRandomClasses(3, 10, 1).reduce((a, b) => a + b, 0)).toBe(3);
    expect(code(() => oneHotRandomClasses(3, 10, 'x' as never))).toBe('ERR_ARGUMENT');
  });

  test('ERR_ARGUMENT: an unknown option key is a typo, not a silent default, and the message lists the options', async () => {
    const unknown = (fn: () => unknown, key: string, near?: string) => {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'ERR_ARGUMENT' });
      expect((err as Error).message).toMatch(new RegExp(`Unknown option '${key}'.*the options are: `));
      if (near) expect((err as Error).message).toContain(`did you mean '${near}'`);
    };
    unknown(() => new Hypernetwork({ noiseDim: 4, hiddenDim: 8 } as never), 'hiddenDim');
    unknown(() => new Trainer({ hypernetwork: hn, generator: gen, reward: rewards.brightness(), batch: 8 } as never), 'batch', 'batchSize');
    const plainHn = new Hypernetwork({ noiseDim: 4, backend: 'cpu' });
    unknown(() => new Trainer({ hypernetwork: plainHn, generator: gen, reward: rewards.brightness(), optimizer: { learningRate: 1e-3 } } as never), 'learningRate');
    unknown(() => new Sampler({ generator: gen, hypernet: hn } as never), 'hypernet', 'hypernetwork');
    unknown(() => new Sampler({ generator: gen }).sampleSync({ n: 2, seeds: 1 } as never), 'seeds', 'seed');
    unknown(() => new TestTimeOptimizer({ generator: gen, reward: rewards.brightness(), steps: 3 } as never), 'steps');
    unknown(() => sampleNoise({ n: 1, dim: 2, seed: 0, count: 3 } as never), 'count');
    unknown(() => SequentialModel.fromLayers([{ type: 'linear', in: 2, out: 2 }], { device: 'cpu' } as never), 'device');
    const t = new Trainer({ hypernetwork: plainHn, generator: gen, reward: rewards.brightness() });
    expect(await codeAsync(t.train({ steps: 1, epochs: 2 } as never))).toBe('ERR_ARGUMENT');
    t.dispose();
    plainHn.dispose();
  });

  test('ERR_DISPOSED: objects used after dispose()', async () => {
    const h = new Hypernetwork({ noiseDim: 4, rank: 2, backend: 'cpu' });
    h.dispose();
    expect(h.disposed).toBe(true);
    expect(code(() => h.forwardSync(new Float32Array(4)))).toBe('ERR_DISPOSED');
    expect(await codeAsync(h.forward(new Float32Array(4)))).toBe('ERR_DISPOSED');
    expect(code(() => h.getParams())).toBe('ERR_DISPOSED');
    const m = SequentialModel.fromLayers([{ type: 'linear', in: 2, out: 2 }]);
    m.dispose();
    expect(code(() => m.forwardSync(new Float32Array(2)))).toBe('ERR_DISPOSED');
    expect(code(() => rewards.classifierLogProb(m).native())).toBe('ERR_DISPOSED');
  });

  test('a model disposed while a call on it is in flight finishes that call', async () => {
    const m = SequentialModel.fromLayers([{ type: 'linear', in: 256, out: 2048 }, { type: 'gelu' }, { type: 'linear', in: 2048, out: 256 }]);
    const p = m.forward(new Float32Array(256 * 512).fill(0.1));
    m.dispose();
    const y = await p;
    expect(y.length).toBe(256 * 512);
    expect(Number.isFinite(y[0])).toBe(true);
  });

  test('ERR_CUDA_UNAVAILABLE: an explicit cuda backend where none answers', () => {
    if (backendInfo().cuda.available) return; // covered by the CUDA suite on GPU machines
    const c = code(() => new Hypernetwork({ noiseDim: 4, backend: 'cuda' }));
    expect(c).toBe('ERR_CUDA_UNAVAILABLE');
    expect(code(() => SequentialModel.fromLayers([{ type: 'linear', in: 2, out: 2 }], { backend: 'cuda' }))).toBe('ERR_CUDA_UNAVAILABLE');
  });
});

describe('files: truncated or corrupt safetensors are ERR_FILE', () => {
  const good = serializeSafetensors({ w: { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) } }, { hypernoise: '{}' });

  test('a valid file parses', () => {
    const f = parseSafetensors(good);
    expect(Array.from(f.tensors.get('w')?.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(f.metadata.hypernoise).toBe('{}');
  });

  const corruptions: Array<[string, (b: Buffer) => Buffer]> = [
    ['empty', () => Buffer.alloc(0)],
    ['shorter than the length field', (b) => b.subarray(0, 5)],
    ['header length past the end', (b) => { const c = Buffer.from(b); c.writeBigUInt64LE(BigInt(b.length), 0); return c; }],
    ['huge header length', (b) => { const c = Buffer.from(b); c.writeBigUInt64LE(1n << 60n, 0); return c; }],
    ['truncated data', (b) => b.subarray(0, b.length - 4)],
    ['not JSON', (b) => { const c = Buffer.from(b); c.write('@', 8); return c; }],
    ['JSON array header', () => { const h = Buffer.from('[1,2]   '); const l = Buffer.alloc(8); l.writeBigUInt64LE(BigInt(h.length)); return Buffer.concat([l, h]); }],
    ['bad dtype', (b) => Buffer.from(b.toString('latin1').replace('"F32"', '"X32"'), 'latin1')],
    ['shape/bytes mismatch', (b) => Buffer.from(b.toString('latin1').replace('[2,3]', '[2,4]'), 'latin1')],
    ['negative offset', (b) => Buffer.from(b.toString('latin1').replace('[0,24]', '[-1,24]'), 'latin1')],
  ];
  test.each(corruptions)('%s', (_name, corrupt) => {
    expect(code(() => parseSafetensors(corrupt(good)))).toBe('ERR_FILE');
  });

  test('loading a model file that is not a model, or whose layers do not chain', async () => {
    const f1 = path.join(tmp, 'nonmodel.safetensors');
    fs.writeFileSync(f1, good);
    expect(await codeAsync(SequentialModel.load(f1))).toBe('ERR_FILE');
    const bad = serializeSafetensors({}, { hypernoise: JSON.stringify({ format: 'sequential', layers: [{ type: 'linear', in: 2, out: 3 }, { type: 'linear', in: 4, out: 1 }] }) });
    const f2 = path.join(tmp, 'chain.safetensors');
    fs.writeFileSync(f2, bad);
    expect(await codeAsync(SequentialModel.load(f2))).toBe('ERR_FILE');
    const missing = serializeSafetensors({}, { hypernoise: JSON.stringify({ format: 'sequential', layers: [{ type: 'linear', in: 2, out: 3 }] }) });
    const f3 = path.join(tmp, 'missing.safetensors');
    fs.writeFileSync(f3, missing);
    expect(await codeAsync(SequentialModel.load(f3))).toBe('ERR_FILE');
    expect(await codeAsync(SequentialModel.load(path.join(tmp, 'nope.safetensors')))).toBe('ERR_FILE');
    expect(await codeAsync(Hypernetwork.load(f1))).toBe('ERR_FILE');
  });

  test('a truncated hypernetwork file', async () => {
    const hn = new Hypernetwork({ noiseDim: 8, rank: 4, seed: 1 });
    const file = path.join(tmp, 'hn.safetensors');
    await hn.save(file);
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 10));
    expect(await codeAsync(Hypernetwork.load(file))).toBe('ERR_FILE');
  });
});
