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
const { writeModelSeeds } = require('./make-seeds');

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

async function main() {
  const values = Number(process.argv[2] ?? 3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-flips-'));
  const rows = [];
  try {
    const { files, objects } = await writeModelSeeds(dir);
    for (const x of objects) x.dispose();
    for (const file of files) {
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
