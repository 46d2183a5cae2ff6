/**
 * .safetensors reading and writing (8-byte little-endian header length, JSON header, raw little-endian
 * data), the format of every weight, checkpoint and model file. Writes are atomic: a temporary file in
 * the same directory, fsync, rename. Every file written carries CRC-32C checksums in __metadata__, checked
 * when it is read (integrity.ts).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expected, HypernoiseError } from './errors';
import { makeDirectories, readRegularFile } from './files';
import { CHECKSUM_KEY, checksumEntry, HeaderMeaning, verifyChecksums } from './integrity';

export type DType = 'F32' | 'F64' | 'I32' | 'I64' | 'U8' | 'F16' | 'BF16';

const DTYPE_SIZE: Record<DType, number> = { F32: 4, F64: 8, I32: 4, I64: 8, U8: 1, F16: 2, BF16: 2 };

export interface Tensor {
  dtype: DType;
  shape: number[];
  /** F32, F16 and BF16 are read as Float32Array; F64 as Float64Array; integers as Int32Array/BigInt64Array/Uint8Array. */
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** Largest JSON header accepted (the format's reference implementation uses 100 MB). */
const MAX_HEADER = 100 * 1024 * 1024;

function bad(source: string, what: string): HypernoiseError {
  return new HypernoiseError(`${source}: not a valid .safetensors file (${what})`, 'ERR_FILE');
}

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function decode(dtype: DType, bytes: Uint8Array, count: number): Tensor['data'] {
  // Copy into a fresh, aligned buffer (the data section need not be aligned for typed-array views).
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  const view = new DataView(copy.buffer);
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case 'F64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    }
    case 'I32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, true);
      return out;
    }
    case 'I64': {
      const out = new BigInt64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getBigInt64(8 * i, true);
      return out;
    }
    case 'U8':
      return copy;
    case 'F16': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = f16ToF32(view.getUint16(2 * i, true));
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(count);
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < count; i++) {
        tmp.setUint32(0, view.getUint16(2 * i, true) << 16, true);
        out[i] = tmp.getFloat32(0, true);
      }
      return out;
    }
  }
}

/** Parses a whole .safetensors file held in memory. `source` names it in error messages. */
export function parseSafetensors(bytes: Uint8Array | ArrayBuffer, source = 'safetensors'): SafetensorsFile {
  if (!(bytes instanceof Uint8Array) && !(bytes instanceof ArrayBuffer)) throw expected("the file's bytes as a Uint8Array (or Buffer) or an ArrayBuffer", 'parseSafetensors', bytes);
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (buf.byteLength < 8) throw bad(source, `${buf.byteLength} bytes is shorter than the 8-byte header length`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = dv.getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER)) throw bad(source, `header length ${headerLen} exceeds ${MAX_HEADER}`);
  if (headerLen > BigInt(buf.byteLength - 8)) {
    throw bad(source, `header length ${headerLen} runs past the end of the ${buf.byteLength}-byte file (truncated?)`);
  }
  const hlen = Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + hlen)));
  } catch (err) {
    throw bad(source, `header is not UTF-8 JSON: ${(err as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad(source, 'header is not a JSON object');
  const dataStart = 8 + hlen;
  const dataLen = buf.byteLength - dataStart;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  const ranges: Array<[number, number, string]> = [];
  const tensorBytes = new Map<string, Uint8Array>();
  const meaning: HeaderMeaning = { metadata: {}, tensors: [] };
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw bad(source, '__metadata__ is not an object');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw bad(source, `__metadata__.${k} is not a string`);
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    if (typeof entry !== 'object' || entry === null) throw bad(source, `tensor '${name}' is not an object`);
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== 'string' || !(e.dtype in DTYPE_SIZE)) throw bad(source, `tensor '${name}' has unsupported dtype ${JSON.stringify(e.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(source, `tensor '${name}' has an invalid shape ${JSON.stringify(e.shape)}`);
    }
    if (
      !Array.isArray(e.data_offsets) ||
      e.data_offsets.length !== 2 ||
      !e.data_offsets.every((d) => Number.isSafeInteger(d) && d >= 0) ||
      e.data_offsets[0] > e.data_offsets[1]
    ) {
      throw bad(source, `tensor '${name}' has invalid data_offsets ${JSON.stringify(e.data_offsets)}`);
    }
    const dtype = e.dtype as DType;
    const shape = e.shape as number[];
    const [begin, end] = e.data_offsets as [number, number];
    const count = numel(shape);
    if (!Number.isSafeInteger(count) || end - begin !== count * DTYPE_SIZE[dtype]) {
      throw bad(source, `tensor '${name}': ${end - begin} bytes do not match shape ${JSON.stringify(shape)} of ${dtype}`);
    }
    if (end > dataLen) throw bad(source, `tensor '${name}' ends at byte ${end} but the data section has ${dataLen} bytes (truncated?)`);
    ranges.push([begin, end, name]);
    const bytes = buf.subarray(dataStart + begin, dataStart + end);
    tensorBytes.set(name, bytes);
    meaning.tensors.push({ name, dtype, shape });
    tensors.set(name, { dtype, shape, data: decode(dtype, bytes, count) });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) throw bad(source, `tensors '${ranges[i - 1][2]}' and '${ranges[i][2]}' overlap`);
  }
  meaning.metadata = metadata;
  verifyChecksums(meaning, tensorBytes, source);
  return { tensors, metadata };
}

export async function readSafetensors(file: string): Promise<SafetensorsFile> {
  const buf = await readRegularFile(file);
  return parseSafetensors(buf, file);
}

export interface TensorInput {
  dtype?: DType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array;
}

const WRITABLE: DType[] = ['F32', 'F64', 'I32'];

function invalid(what: string): HypernoiseError {
  return new HypernoiseError(`writeSafetensors: ${what}`, 'ERR_ARGUMENT');
}

/**
 * Serialises tensors (in insertion order) and string metadata, with the checksums of integrity.ts under
 * __metadata__["hypernoise.checksums"] (recomputed: a value given for that key is replaced).
 */
export function serializeSafetensors(tensors: Map<string, TensorInput> | Record<string, TensorInput>, metadata: Record<string, string> = {}): Buffer {
  if (typeof tensors !== 'object' || tensors === null) throw invalid(`expected a Map or an object of tensors but received ${tensors === null ? 'null' : typeof tensors}`);
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw invalid('expected an object of string metadata');
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw invalid(`metadata '${k}' is ${typeof v}, not a string (safetensors metadata is strings only)`);
  }
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  // No prototype: a tensor named '__proto__' must become a key, not the object's prototype.
  const header: Record<string, unknown> = Object.create(null);
  const meta: Record<string, string> = { ...metadata };
  delete meta[CHECKSUM_KEY];
  header.__metadata__ = meta;
  let offset = 0;
  const parts: Buffer[] = [];
  const meaning: HeaderMeaning = { metadata: meta, tensors: [] };
  const tensorBytes = new Map<string, Uint8Array>();
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw invalid("a tensor cannot be named '__metadata__'");
    if (typeof t !== 'object' || t === null) throw invalid(`tensor '${name}' is ${t === null ? 'null' : typeof t}, not { shape, data }`);
    if (!(t.data instanceof Float32Array || t.data instanceof Float64Array || t.data instanceof Int32Array)) {
      throw invalid(`tensor '${name}': data must be a Float32Array, Float64Array or Int32Array`);
    }
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw invalid(`tensor '${name}': shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`);
    }
    const dtype: DType = t.dtype ?? (t.data instanceof Float64Array ? 'F64' : t.data instanceof Int32Array ? 'I32' : 'F32');
    if (!WRITABLE.includes(dtype)) throw invalid(`tensor '${name}': writing dtype ${JSON.stringify(dtype)} is not supported (${WRITABLE.join(', ')})`);
    if (numel(t.shape) !== t.data.length) {
      throw new HypernoiseError(`Tensor '${name}': shape ${JSON.stringify(t.shape)} does not match ${t.data.length} values`, 'ERR_SHAPE');
    }
    const bytes = Buffer.alloc(t.data.length * DTYPE_SIZE[dtype]);
    const native = (dtype === 'F32' && t.data instanceof Float32Array) || (dtype === 'F64' && t.data instanceof Float64Array) || (dtype === 'I32' && t.data instanceof Int32Array);
    if (native && os.endianness() === 'LE') {
      bytes.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    } else {
      for (let i = 0; i < t.data.length; i++) {
        const v = t.data[i];
        if (dtype === 'F32') bytes.writeFloatLE(v, 4 * i);
        else if (dtype === 'F64') bytes.writeDoubleLE(v, 8 * i);
        else bytes.writeInt32LE(v, 4 * i);
      }
    }
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    parts.push(bytes);
    meaning.tensors.push({ name, dtype, shape: t.shape });
    tensorBytes.set(name, bytes);
  }
  meta[CHECKSUM_KEY] = checksumEntry(meaning, tensorBytes);
  let json = JSON.stringify(header);
  // Pad the header with spaces so that the data section starts 8-byte aligned, as the reference writer does.
  const pad = (8 - ((8 + Buffer.byteLength(json)) % 8)) % 8;
  json += ' '.repeat(pad);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  return Buffer.concat([head, Buffer.from(json, 'utf8'), ...parts]);
}

/**
 * Removes the temporary files that writers of `base` killed mid-write left in `dir` (`.base.<pid>.*.tmp`
 * of processes that no longer exist): a training job killed over and over would otherwise collect them.
 * Best effort; a live writer's temporary file is never touched.
 */
async function removeStaleTemporaries(dir: string, base: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return;
  }
  const prefix = `.${base}.`;
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // that writer is alive (or not ours to signal)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    await fs.promises.rm(path.join(dir, name), { force: true }).catch(() => undefined);
  }
}

/** Writes `data` to `file` atomically: a crash leaves either the old file or the new one, never a mix. */
export async function writeFileAtomic(file: string, data: Uint8Array): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`);
  let handle: fs.promises.FileHandle | undefined;
  try {
    await makeDirectories(dir);
    handle = await fs.promises.open(tmp, 'w');
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.promises.rename(tmp, file);
    await removeStaleTemporaries(dir, path.basename(file));
    // Make the rename itself durable.
    const dh = await fs.promises.open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch (err) {
    if (handle) await handle.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw new HypernoiseError(`Could not write ${file}: ${(err as Error).message}`, 'ERR_FILE');
  }
}

export async function writeSafetensors(file: string, tensors: Map<string, TensorInput> | Record<string, TensorInput>, metadata: Record<string, string> = {}): Promise<void> {
  await writeFileAtomic(file, serializeSafetensors(tensors, metadata));
}

/** The JSON object stored under __metadata__.hypernoise, or a coded error naming what is missing. */
export function hypernoiseMetadata(file: SafetensorsFile, source: string, format: string): Record<string, unknown> {
  const raw = file.metadata.hypernoise;
  if (raw === undefined) throw new HypernoiseError(`${source}: no "hypernoise" entry in __metadata__ (not a hypernoise ${format} file)`, 'ERR_FILE');
  let meta: unknown;
  try {
    meta = JSON.parse(raw);
  } catch (err) {
    throw new HypernoiseError(`${source}: __metadata__.hypernoise is not JSON: ${(err as Error).message}`, 'ERR_FILE');
  }
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw new HypernoiseError(`${source}: __metadata__.hypernoise is not a JSON object`, 'ERR_FILE');
  const m = meta as Record<string, unknown>;
  if (m.format !== format) throw new HypernoiseError(`${source}: expected a hypernoise ${format} file but its format is ${JSON.stringify(m.format)}`, 'ERR_FILE');
  return m;
}

/** A Float32 tensor of the expected shape, or a coded error. */
export function requireF32(file: SafetensorsFile, name: string, shape: number[], source: string): Float32Array {
  const t = file.tensors.get(name);
  if (t === undefined) throw new HypernoiseError(`${source}: tensor '${name}' is missing`, 'ERR_FILE');
  if (!(t.data instanceof Float32Array) && !(t.data instanceof Float64Array)) {
    throw new HypernoiseError(`${source}: tensor '${name}' has dtype ${t.dtype}, expected a float type`, 'ERR_FILE');
  }
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new HypernoiseError(`${source}: tensor '${name}' has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(shape)}`, 'ERR_FILE');
  }
  return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
}
