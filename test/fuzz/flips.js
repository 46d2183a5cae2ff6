// Single-byte corruption of the files the library writes, every byte of each (docs/RELIABILITY.md, "File
// integrity"): the seed files of the fuzz corpus (a conditional and a plain hypernetwork, a sequential model,
// a checkpoint), written afresh, each byte replaced by every one of `values` other values in turn. Each
// corrupted file is parsed and classified: refused (ERR_FILE, by the checksum or by the structure), or read
// back; a file read back is "harmless" when its tensors and metadata equal the original's (e.g. a changed
// space of the header's padding) and "silent" otherwise, which must never happen.
//   usage: node test/fuzz/flips.js [values per byte, default 3]   (needs dist/)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const hn = require('../../dist');

function same(a, b) {
  if (JSON.stringify(a.metadata) !== JSON.stringify(b.metadata) || a.tensors.size !== b.tensors.size) return false;
  for (const [name, t] of a.tensors) {
    const u = b.tensors.get(name);
    if (!u || u.dtype !== t.dtype || JSON.stringify(u.shape) !== JSON.stringify(t.shape)) return false;
    const x = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const y = Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength);
    if (!x.equals(y)) return false;
  }
  return true;
}

async function files(dir) {
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
  return ['hn', 'hn1', 'gen', 'ckpt'].map((f) => path.join(dir, `${f}.safetensors`));
}

async function main() {
  const values = Number(process.argv[2] ?? 3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-flips-'));
  const rows = [];
  try {
    for (const file of await files(dir)) {
      const buf = fs.readFileSync(file);
      const orig = hn.parseSafetensors(buf);
      const start = 8 + Number(buf.readBigUInt64LE(0));
      const count = { header: { checksum: 0, structure: 0, harmless: 0, silent: 0 }, data: { checksum: 0, structure: 0, harmless: 0, silent: 0 } };
      for (let i = 0; i < buf.length; i++) {
        for (let v = 1; v <= values; v++) {
          const bad = Buffer.from(buf);
          bad[i] = (buf[i] + v * 85) & 0xff; // 85, 170, 255 apart: distinct, never the original
          const part = i < start ? count.header : count.data;
          try {
            const back = hn.parseSafetensors(bad, 'f');
            part[same(back, orig) ? 'harmless' : 'silent']++;
          } catch (err) {
            if (err.code !== 'ERR_FILE') throw err;
            part[/checksum mismatch/.test(err.message) ? 'checksum' : 'structure']++;
          }
        }
      }
      rows.push({ file: path.basename(file), bytes: buf.length, headerBytes: start, ...count });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const t = { header: { checksum: 0, structure: 0, harmless: 0, silent: 0 }, data: { checksum: 0, structure: 0, harmless: 0, silent: 0 } };
  for (const r of rows) {
    for (const part of ['header', 'data']) for (const k of Object.keys(t[part])) t[part][k] += r[part][k];
    console.log(`${r.file}: ${r.bytes} bytes (header ${r.headerBytes}); data: ${JSON.stringify(r.data)}; header: ${JSON.stringify(r.header)}`);
  }
  console.log(`total (${values} values per byte): data ${JSON.stringify(t.data)}; header ${JSON.stringify(t.header)}`);
  if (t.data.silent + t.header.silent > 0) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
