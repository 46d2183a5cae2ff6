/**
 * The integrity check of the .safetensors files this library writes (docs/RELIABILITY.md, "File integrity"):
 * a CRC-32C of every tensor's bytes and one of the header's meaning (metadata, tensor names, dtypes and
 * shapes), stored as one more string in __metadata__, so that the file stays a plain safetensors file for
 * every other reader. Verified on load; files without the entry (written by other tools) load unchecked.
 *
 * CRC-32C (Castagnoli) detects every error burst of up to 32 bits, so any changed byte within a tensor, and
 * any two tensors' data swapped (the name is not in the tensor's CRC, but the bytes differ).
 */
import { HypernoiseError } from './errors';

/** The __metadata__ key holding the checksums (JSON: { algorithm, header, tensors: { name: hex } }). */
export const CHECKSUM_KEY = 'hypernoise.checksums';
const ALGORITHM = 'crc32c';
/** How every checksum entry this library writes begins (JSON.stringify keeps the key order). */
const ENTRY_PREFIX = `{"algorithm":"${ALGORITHM}"`;

/** Slicing-by-8 tables of the reflected Castagnoli polynomial 0x82F63B78. */
const TABLES: Uint32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[0][i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let s = 1; s < 8; s++) t[s][i] = (t[s - 1][i] >>> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
  return t;
})();

/** CRC-32C of bytes (the standard check value: crc32c of "123456789" is 0xe3069283). */
export function crc32c(bytes: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let crc = 0xffffffff;
  let i = 0;
  const n = bytes.length;
  for (; i + 8 <= n; i += 8) {
    const lo = (crc ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24))) >>> 0;
    crc =
      t7[lo & 0xff] ^
      t6[(lo >>> 8) & 0xff] ^
      t5[(lo >>> 16) & 0xff] ^
      t4[lo >>> 24] ^
      t3[bytes[i + 4]] ^
      t2[bytes[i + 5]] ^
      t1[bytes[i + 6]] ^
      t0[bytes[i + 7]];
  }
  for (; i < n; i++) crc = (crc >>> 8) ^ t0[(crc ^ bytes[i]) & 0xff];
  return (crc ^ 0xffffffff) >>> 0;
}

const hex = (v: number) => v.toString(16).padStart(8, '0');

/** What the header checksum covers, independent of key order and of where the tensors lie in the file. */
export interface HeaderMeaning {
  metadata: Record<string, string>;
  tensors: Array<{ name: string; dtype: string; shape: number[] }>;
}

function headerCrc(h: HeaderMeaning): number {
  const metadata = Object.keys(h.metadata)
    .filter((k) => k !== CHECKSUM_KEY)
    .sort()
    .map((k) => [k, h.metadata[k]]);
  const tensors = h.tensors
    .slice()
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((t) => [t.name, t.dtype, t.shape]);
  return crc32c(Buffer.from(JSON.stringify([metadata, tensors]), 'utf8'));
}

/** The checksum entry for a file about to be written: its header meaning and each tensor's bytes. */
export function checksumEntry(h: HeaderMeaning, tensorBytes: Map<string, Uint8Array>): string {
  const tensors: Record<string, string> = Object.create(null); // a tensor may be named '__proto__'
  for (const [name, bytes] of tensorBytes) tensors[name] = hex(crc32c(bytes));
  return JSON.stringify({ algorithm: ALGORITHM, header: hex(headerCrc(h)), tensors });
}

/**
 * Checks a parsed file against its checksum entry, if it has one: ERR_FILE naming the first tensor whose
 * bytes changed, or the header when the metadata, a name, a dtype or a shape did.
 */
export function verifyChecksums(h: HeaderMeaning, tensorBytes: Map<string, Uint8Array>, source: string): void {
  const fail = (what: string) => new HypernoiseError(`${source}: checksum mismatch in ${what} (the file is corrupt)`, 'ERR_FILE');
  const raw = h.metadata[CHECKSUM_KEY];
  if (raw === undefined) {
    // A checksum entry under another key is this library's file with a damaged key, not another writer's.
    const stray = Object.keys(h.metadata).find((k) => h.metadata[k].startsWith(ENTRY_PREFIX));
    if (stray !== undefined) throw fail(`the header (the checksum entry is under the key '${stray}')`);
    return;
  }
  let entry: unknown;
  try {
    entry = JSON.parse(raw);
  } catch {
    throw fail(`__metadata__.${CHECKSUM_KEY} (not JSON)`);
  }
  const e = entry as { algorithm?: unknown; header?: unknown; tensors?: unknown };
  if (typeof e !== 'object' || e === null || e.algorithm !== ALGORITHM || typeof e.header !== 'string' || typeof e.tensors !== 'object' || e.tensors === null) {
    throw fail(`__metadata__.${CHECKSUM_KEY} (not a ${ALGORITHM} entry)`);
  }
  const sums = e.tensors as Record<string, unknown>;
  for (const [name, bytes] of tensorBytes) {
    if (sums[name] !== hex(crc32c(bytes))) throw fail(`tensor '${name}'`);
  }
  const listed = Object.keys(sums);
  if (listed.length !== tensorBytes.size || e.header !== hex(headerCrc(h))) throw fail('the header (metadata, tensor names, dtypes or shapes)');
}
