/**
 * IDX files (the format of the MNIST distribution): a 4-byte magic `0x00 0x00 <type> <ndims>`, `ndims`
 * big-endian uint32 dimensions, then the data, row-major. Only unsigned-byte data (type 0x08, what MNIST
 * uses) is supported; anything else, and truncated or over-long files, is an `ERR_FILE` error.
 */
import { HypernoiseError } from './errors';
import { readRegularFile, readRegularFileSync } from './files';

export interface IdxArray {
  /** the dimensions, e.g. [60000, 28, 28] for the MNIST training images */
  dims: number[];
  /** prod(dims) values, row-major (a view of the input buffer, not a copy) */
  data: Uint8Array;
}

const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

function bad(source: string, what: string): HypernoiseError {
  return new HypernoiseError(`${source}: not a valid IDX file: ${what}`, 'ERR_FILE');
}

/** Parses an IDX file's bytes; `source` names the file in error messages. */
export function parseIdx(buf: Uint8Array, source = 'IDX data'): IdxArray {
  if (!(buf instanceof Uint8Array)) throw new HypernoiseError(`${source}: expected the file's bytes as a Uint8Array`, 'ERR_FILE');
  if (buf.length < 4) throw bad(source, `${buf.length} bytes is shorter than the 4-byte magic number (truncated?)`);
  const hex = (i: number) => '0x' + buf[i].toString(16).padStart(2, '0');
  if (buf[0] !== 0 || buf[1] !== 0) {
    throw bad(source, `the magic number starts with ${hex(0)} ${hex(1)}, expected 0x00 0x00 (wrong file, or compressed: gunzip it first?)`);
  }
  const type = buf[2];
  if (type !== 0x08) {
    const name = TYPE_NAMES[type];
    throw bad(source, name ? `data type ${hex(2)} (${name}) is not supported, only 0x08 (unsigned byte)` : `unknown data type ${hex(2)} in the magic number`);
  }
  const ndims = buf[3];
  if (ndims === 0) throw bad(source, 'the magic number says 0 dimensions');
  const headerLen = 4 + 4 * ndims;
  if (buf.length < headerLen) {
    throw bad(source, `the header needs ${headerLen} bytes for ${ndims} dimensions but the file has ${buf.length} (truncated)`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  if (!Number.isSafeInteger(count)) throw bad(source, `dimensions ${JSON.stringify(dims)} are too large`);
  const have = buf.length - headerLen;
  if (have < count) {
    throw bad(source, `dimensions ${JSON.stringify(dims)} need ${count} data bytes but only ${have} follow the header (truncated)`);
  }
  if (have > count) {
    throw bad(source, `dimensions ${JSON.stringify(dims)} need ${count} data bytes but ${have} follow the header (${have - count} trailing bytes)`);
  }
  return { dims, data: buf.subarray(headerLen, headerLen + count) };
}

/** Reads and parses an IDX file. */
export async function readIdx(file: string): Promise<IdxArray> {
  const buf = await readRegularFile(file);
  return parseIdx(buf, file);
}

export function readIdxSync(file: string): IdxArray {
  const buf = readRegularFileSync(file);
  return parseIdx(buf, file);
}
