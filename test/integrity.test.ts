/**
 * File integrity (src/integrity.ts): every file the library writes carries CRC-32C checksums that loading
 * verifies. Corruption of any byte of the data section, tensors swapped by their offsets and edited
 * metadata are ERR_FILE naming what changed; files of other writers (no checksum entry) still load.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Hypernetwork, parseSafetensors, readSafetensors, rewards, SequentialModel, serializeSafetensors, Trainer, writeSafetensors } from '../src';
import { CHECKSUM_KEY, crc32c } from '../src/integrity';
import { lcg, randn } from './reference';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-integrity-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Offset of the data section of a .safetensors buffer. */
function dataStart(buf: Uint8Array): number {
  return 8 + Number(new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true));
}

/** The JSON header of a .safetensors buffer, and a buffer rebuilt from an edited header and the same data. */
function header(buf: Uint8Array): Record<string, unknown> {
  return JSON.parse(Buffer.from(buf.subarray(8, dataStart(buf))).toString('utf8'));
}
function withHeader(buf: Uint8Array, h: Record<string, unknown>): Buffer {
  const json = Buffer.from(JSON.stringify(h), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, buf.subarray(dataStart(buf))]);
}

function expectCorrupt(buf: Uint8Array, what: RegExp): void {
  let err: unknown;
  try {
    parseSafetensors(buf, 'f');
  } catch (e) {
    err = e;
  }
  expect(err).toMatchObject({ code: 'ERR_FILE' });
  expect((err as Error).message).toMatch(what);
}

describe('file integrity', () => {
  test('CRC-32C matches the standard check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    // the slicing-by-8 path against byte-at-a-time on an odd length
    const bytes = Uint8Array.from({ length: 1001 }, (_, i) => (i * 37 + 11) & 0xff);
    let crc = 0xffffffff;
    for (const b of bytes) {
      crc ^= b;
      for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    }
    expect(crc32c(bytes)).toBe((crc ^ 0xffffffff) >>> 0);
  });

  test('every single-byte change in the data section of a hypernetwork file is detected', async () => {
    const hn = new Hypernetwork({ noiseDim: 6, condDim: 2, rank: 3, depth: 2, backend: 'cpu' });
    hn.setParams(randn(lcg(1), hn.paramCount));
    const file = path.join(tmp, 'hn.safetensors');
    await hn.save(file);
    const buf = fs.readFileSync(file);
    const st = parseSafetensors(buf);
    expect(typeof st.metadata[CHECKSUM_KEY]).toBe('string');
    const start = dataStart(buf);
    for (let i = start; i < buf.length; i++) {
      const bad = Buffer.from(buf);
      bad[i] ^= 1 << (i % 8);
      expectCorrupt(bad, /checksum mismatch in tensor '/);
    }
    await expect(Hypernetwork.load(file)).resolves.toBeInstanceOf(Hypernetwork);
    hn.dispose();
  });

  test('tensors swapped by their offsets, edited metadata, a renamed or reshaped tensor and a dropped tensor are detected', async () => {
    const m = SequentialModel.fromLayers([{ type: 'linear', in: 3, out: 3 }, { type: 'tanh' }, { type: 'linear', in: 3, out: 3 }], { seed: 2 });
    const file = path.join(tmp, 'm.safetensors');
    await m.save(file);
    const buf = fs.readFileSync(file);
    const h = header(buf);
    const swapped = structuredClone(h) as Record<string, { data_offsets: number[] }>;
    [swapped['0.weight'].data_offsets, swapped['2.weight'].data_offsets] = [swapped['2.weight'].data_offsets, swapped['0.weight'].data_offsets];
    expectCorrupt(withHeader(buf, swapped), /checksum mismatch in tensor '(0|2)\.weight'/);

    const edited = structuredClone(h) as { __metadata__: Record<string, string> };
    edited.__metadata__.hypernoise = edited.__metadata__.hypernoise.replace('"tanh"', '"relu"');
    expectCorrupt(withHeader(buf, edited), /checksum mismatch in the header/);

    const reshaped = structuredClone(h) as Record<string, { shape: number[] }>;
    reshaped['0.bias'].shape = [3, 1];
    expectCorrupt(withHeader(buf, reshaped), /checksum mismatch in the header/);

    const dropped = structuredClone(h) as Record<string, unknown>;
    delete dropped['2.bias'];
    expectCorrupt(withHeader(buf, dropped), /checksum mismatch in the header/);

    const renamed = structuredClone(h) as Record<string, unknown>;
    renamed['2.bias_'] = renamed['2.bias'];
    delete renamed['2.bias'];
    expectCorrupt(withHeader(buf, renamed), /checksum mismatch in tensor '2\.bias_'/);
    m.dispose();
  });

  test('a checkpoint with its Adam moments swapped or its step edited is detected', async () => {
    const hn = new Hypernetwork({ noiseDim: 4, rank: 2, backend: 'cpu' });
    const generator = SequentialModel.fromLayers([{ type: 'linear', in: 4, out: 3 }], { seed: 1 });
    const trainer = new Trainer({ hypernetwork: hn, reward: rewards.redness(), generator, batchSize: 8 });
    await trainer.train({ steps: 3 });
    const file = path.join(tmp, 'ckpt.safetensors');
    await trainer.saveCheckpoint(file);
    const buf = fs.readFileSync(file);
    const h = header(buf) as Record<string, { data_offsets?: number[]; shape?: number[] }>;
    const [a, b] = ['A', 'opt.m.A']; // the parameters and their first Adam moment: the same shape
    expect(h[b].shape).toEqual(h[a].shape);
    const swapped = structuredClone(h);
    [swapped[a].data_offsets, swapped[b].data_offsets] = [swapped[b].data_offsets, swapped[a].data_offsets];
    expectCorrupt(withHeader(buf, swapped), /checksum mismatch in tensor/);
    const meta = (h.__metadata__ as unknown as Record<string, string>).hypernoise;
    const edited = structuredClone(h) as unknown as { __metadata__: Record<string, string> };
    edited.__metadata__.hypernoise = meta.replace(/"step":3/, '"step":4');
    expect(edited.__metadata__.hypernoise).not.toBe(meta);
    expectCorrupt(withHeader(buf, edited), /checksum mismatch in the header/);
    const back = await Trainer.fromCheckpoint(file, { generator, reward: rewards.redness() });
    expect((await back.stepOnce()).step).toBe(3); // resumed after steps 0, 1 and 2
    back.dispose();
    trainer.dispose();
    hn.dispose();
  });

  test('files of other writers (no checksum entry) load, whatever their key order and layout', async () => {
    const data = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const buf = serializeSafetensors({ z: { shape: [2, 3], data }, a: { shape: [1], data: Float32Array.from([7]) } }, { note: 'x' });
    const h = header(buf) as Record<string, Record<string, unknown>>;
    delete h.__metadata__[CHECKSUM_KEY];
    const plain = parseSafetensors(withHeader(buf, h));
    expect(Array.from(plain.tensors.get('z')?.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    // the same tensors laid out in another order with the header's keys sorted (as another writer might):
    // the checksums do not depend on either
    const z = buf.subarray(dataStart(buf), dataStart(buf) + 24);
    const a = buf.subarray(dataStart(buf) + 24);
    const h2 = header(buf) as Record<string, Record<string, unknown>>;
    const sorted: Record<string, unknown> = { __metadata__: h2.__metadata__, a: { ...h2.a, data_offsets: [0, 4] }, z: { ...h2.z, data_offsets: [4, 28] } };
    const json = Buffer.from(JSON.stringify(sorted));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    const relaid = parseSafetensors(Buffer.concat([len, json, a, z]));
    expect(Array.from(relaid.tensors.get('z')?.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('a checksum entry given in the metadata is recomputed, and round trips verify', async () => {
    const file = path.join(tmp, 'rt.safetensors');
    await writeSafetensors(file, { w: { shape: [2], data: Float32Array.from([1, 2]) } }, { [CHECKSUM_KEY]: 'stale', k: 'v' });
    const st = await readSafetensors(file);
    expect(st.metadata.k).toBe('v');
    await writeSafetensors(file, { w: { shape: [2], data: Float32Array.from([3, 2]) } }, st.metadata);
    expect(Array.from((await readSafetensors(file)).tensors.get('w')?.data as Float32Array)).toEqual([3, 2]);
  });

  test("a tensor named '__proto__' is an ordinary tensor, written and verified", () => {
    const buf = serializeSafetensors(new Map([['__proto__', { shape: [2], data: Float32Array.from([1, 2]) }]]));
    const st = parseSafetensors(buf);
    expect([...st.tensors.keys()]).toEqual(['__proto__']);
    expect(Array.from(st.tensors.get('__proto__')?.data as Float32Array)).toEqual([1, 2]);
  });

  test('writeSafetensors rejects what its reader would refuse', () => {
    const t = { shape: [1], data: Float32Array.from([1]) };
    const arg = expect.objectContaining({ code: 'ERR_ARGUMENT' });
    expect(() => serializeSafetensors({ t }, { n: 1 as unknown as string })).toThrow(arg);
    expect(() => serializeSafetensors({ __metadata__: t })).toThrow(arg);
    for (const shape of [[-1], [0.5], ['1']]) expect(() => serializeSafetensors({ t: { shape: shape as number[], data: t.data } })).toThrow(arg);
    expect(() => serializeSafetensors({ t: { ...t, dtype: 'F16' } })).toThrow(arg);
    expect(() => serializeSafetensors({ t: null as unknown as typeof t })).toThrow(arg);
    expect(() => serializeSafetensors(null as unknown as Record<string, typeof t>)).toThrow(arg);
    expect(() => serializeSafetensors({ t: { shape: [1], data: [1] as unknown as Float32Array } })).toThrow(arg);
  });
});
