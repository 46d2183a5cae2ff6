/**
 * NumPy's .npy format (version 1.0), float32 only: what `np.load` reads and `np.save` writes for a float32
 * array. Used by the CLI for `--format npy` outputs and for `--cond FILE.npy` inputs (float32 or float64).
 */
import { HypernoiseError } from '../errors';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

/** A little-endian float32 array of `shape` as .npy bytes. */
export function serializeNpy(data: Float32Array, shape: readonly number[]): Buffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new HypernoiseError(`serializeNpy: shape [${shape.join(', ')}] holds ${count} values but the array has ${data.length}`, 'ERR_SHAPE');
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // magic (6) + version (2) + header length (2) + header, padded with spaces and ended by '\n' to a multiple of 64.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = Buffer.alloc(total + data.length * 4);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], total + i * 4);
  return out;
}

/** A float32 or float64 (little-endian, C order) .npy file as float32 values and its shape; ERR_FILE otherwise. */
export function parseNpy(bytes: Buffer, source: string): { data: Float32Array; shape: number[] } {
  const bad = (why: string) => new HypernoiseError(`${source}: not a float32/float64 .npy array (${why})`, 'ERR_FILE');
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(MAGIC)) throw bad('no \\x93NUMPY magic');
  const major = bytes[6];
  const headerLen = major === 1 ? bytes.readUInt16LE(8) : bytes.length >= 12 ? bytes.readUInt32LE(8) : -1;
  const start = major === 1 ? 10 : 12;
  if (headerLen < 0 || start + headerLen > bytes.length) throw bad('truncated header');
  const header = bytes.subarray(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw bad('unreadable header');
  if (fortran === 'True') throw bad('Fortran order');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad(`shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const width = descr === '<f4' ? 4 : descr === '<f8' ? 8 : 0;
  if (width === 0) throw bad(`dtype ${descr}`);
  const offset = start + headerLen;
  if (bytes.length - offset !== count * width) throw bad(`${bytes.length - offset} data bytes for ${count} values of ${width} bytes`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = width === 4 ? bytes.readFloatLE(offset + 4 * i) : bytes.readDoubleLE(offset + 8 * i);
  return { data, shape };
}
