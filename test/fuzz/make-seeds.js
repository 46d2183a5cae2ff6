// Writes the seed corpus of the three fuzz targets (valid files and a few classic corruptions) into
// corpus/<target>/seed-*. Run once before fuzzing: node test/fuzz/make-seeds.js (needs dist/).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const hn = require('../../dist');

// A hypernetwork, a plain one, a sequential model and a checkpoint of the oracle's world (oracle.js), written into
// dir as hn, hn1, gen and ckpt.safetensors by the library itself; returns the files and the objects to dispose.
async function writeModelSeeds(dir) {
  const h = new hn.Hypernetwork({ noiseDim: 3, condDim: 2, rank: 2, depth: 2, activation: 'silu', seed: 1, backend: 'cpu' });
  h.setParams(h.getParams().map((_, i) => Math.sin(i) * 0.3));
  await h.save(path.join(dir, 'hn.safetensors'));
  const plain = new hn.Hypernetwork({ noiseDim: 3, rank: 1, backend: 'cpu' });
  await plain.save(path.join(dir, 'hn1.safetensors'));
  const gen = hn.SequentialModel.fromLayers([{ type: 'linear', in: 3, out: 5 }, { type: 'tanh' }, { type: 'linear', in: 5, out: 4 }], { seed: 1, backend: 'cpu' });
  await gen.save(path.join(dir, 'gen.safetensors'));
  const clf = hn.SequentialModel.fromLayers([{ type: 'linear', in: 4, out: 2 }], { seed: 2, backend: 'cpu' });
  const t = new hn.Trainer({
    hypernetwork: h, generator: gen, reward: hn.rewards.classifierLogProb(clf), conditions: (n, rng) => hn.oneHotRandomClasses(n, 2, rng),
    kl: 'exact', lambda: 0.5, alpha: 1, batchSize: 4, seed: 3, optimizer: { type: 'adam', lr: 0.01, gradClip: 1 },
  });
  await t.train({ steps: 2 });
  await t.saveCheckpoint(path.join(dir, 'ckpt.safetensors'));
  return { files: ['hn', 'hn1', 'gen', 'ckpt'].map((f) => path.join(dir, `${f}.safetensors`)), objects: [t, h, plain, gen, clf] };
}

async function main() {
  const root = path.join(__dirname, 'corpus');
  const put = (target, name, bytes) => {
    fs.mkdirSync(path.join(root, target), { recursive: true });
    fs.writeFileSync(path.join(root, target, `seed-${name}`), bytes);
  };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-seeds-'));
  const read = (f) => fs.readFileSync(path.join(tmp, f));

  const { objects } = await writeModelSeeds(tmp);
  for (const f of ['hn', 'hn1', 'gen', 'ckpt']) {
    const b = read(`${f}.safetensors`);
    put('checkpoint', f, b);
    put('safetensors', f, b);
  }
  // Other dtypes and shapes for the bare parser.
  put('safetensors', 'dtypes', hn.serializeSafetensors({
    a: { shape: [2, 2], data: Float64Array.from([1, 2, 3, 4]) },
    b: { shape: [3], data: Int32Array.from([1, -2, 3]) },
    c: { shape: [0, 4], data: new Float32Array(0) },
    d: { shape: [], data: Float32Array.from([7]) },
  }, { note: 'x' }));
  const f16 = Buffer.from('{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},"u":{"dtype":"U8","shape":[2],"data_offsets":[6,8]},"l":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(f16.length));
  put('safetensors', 'half', Buffer.concat([len, f16, Buffer.from([0, 60, 0, 188, 128, 63, 1, 2, 5, 0, 0, 0, 0, 0, 0, 0])]));
  const good = read('gen.safetensors');
  put('safetensors', 'truncated', good.subarray(0, good.length - 3));
  put('safetensors', 'short', good.subarray(0, 5));

  // IDX: unsigned-byte arrays of 1 to 3 dimensions, and near misses.
  const idx = (type, dims, extra = 0) => {
    const head = Buffer.alloc(4 + 4 * dims.length);
    head[2] = type;
    head[3] = dims.length;
    dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
    const n = dims.reduce((a, b) => a * b, 1) + extra;
    return Buffer.concat([head, Buffer.from(Array.from({ length: Math.max(0, n) }, (_, i) => (i * 37) & 255))]);
  };
  put('idx', 'images', idx(8, [2, 3, 3]));
  put('idx', 'labels', idx(8, [5]));
  put('idx', 'matrix', idx(8, [4, 2]));
  put('idx', 'float', idx(0x0d, [2]));
  put('idx', 'trailing', idx(8, [2, 2], 1));
  put('idx', 'truncated', idx(8, [3, 3], -2));

  for (const x of objects) x.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
}

module.exports = { writeModelSeeds };

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
