/**
 * Output paths checked before anything is computed: an output must not be one of the command's inputs (a
 * generator, classifier, hypernetwork, checkpoint or condition file), two outputs must differ, and a file that
 * is already there is overwritten only when it holds what the command writes (a hypernetwork over a
 * hypernetwork, a checkpoint over a checkpoint), so a mistyped --out cannot silently destroy a model.
 */
import * as fs from 'fs';
import * as path from 'path';
import { usageError } from './args';

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** What a file holds, from its safetensors header: the hypernoise format, 'safetensors' (another tool's), or a description. */
export function fileKind(file: string): { exists: false } | { exists: true; kind: string } {
  let fd: number;
  try {
    // stat first and open without blocking: opening a FIFO for reading would wait for a writer for ever.
    const st = fs.statSync(file);
    if (!st.isFile()) return { exists: true, kind: st.isDirectory() ? 'a directory' : 'not a regular file' };
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { exists: false };
    return { exists: true, kind: `an unreadable path (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return { exists: true, kind: 'not a regular file' };
    if (file.toLowerCase().endsWith('.json')) {
      // What sample/optimize/best-of-n write starts with {"format":"samples" (outputs.ts writes it first).
      const head = Buffer.alloc(24);
      const got = fs.readSync(fd, head, 0, head.length, 0);
      return { exists: true, kind: head.subarray(0, got).toString('utf8').startsWith('{"format":"samples"') ? 'samples' : 'a JSON file of something else' };
    }
    const head = Buffer.alloc(8);
    if (fs.readSync(fd, head, 0, 8, 0) < 8) return { exists: true, kind: 'a file that is not safetensors' };
    const len = Number(head.readBigUInt64LE(0));
    if (len <= 0 || len > MAX_HEADER_BYTES || 8 + len > st.size) return { exists: true, kind: 'a file that is not safetensors' };
    const header = Buffer.alloc(len);
    fs.readSync(fd, header, 0, len, 8);
    const parsed = JSON.parse(header.toString('utf8')) as { __metadata__?: Record<string, unknown> };
    const meta = parsed.__metadata__?.hypernoise;
    if (typeof meta !== 'string') return { exists: true, kind: 'safetensors' };
    const format = (JSON.parse(meta) as { format?: unknown }).format;
    return { exists: true, kind: typeof format === 'string' ? format : 'safetensors' };
  } catch {
    return { exists: true, kind: 'a file that is not safetensors' };
  } finally {
    fs.closeSync(fd);
  }
}

/** The same file: the same path, or (both existing) the same inode (a link, or another spelling on a case-insensitive disk). */
function same(a: string, b: string): boolean {
  if (path.resolve(a) === path.resolve(b)) return true;
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/**
 * ERR_ARGUMENT when an output is an input or another output, or when an existing output holds something other
 * than `overwrites` (the formats it may replace; undefined: any file of that name may be replaced).
 */
export function checkOutputs(
  outputs: ReadonlyArray<{ flag: string; file: string; overwrites?: readonly string[] }>,
  inputs: ReadonlyArray<{ flag: string; file: string | undefined }>,
): void {
  outputs.forEach((o, i) => {
    for (const input of inputs) {
      if (input.file !== undefined && same(o.file, input.file)) {
        throw usageError(`${o.flag} ${o.file} is the ${input.flag} file: writing there would destroy it; choose another ${o.flag}`);
      }
    }
    for (const other of outputs.slice(0, i)) {
      if (same(o.file, other.file)) throw usageError(`${o.flag} and ${other.flag} are the same file (${o.file}); give them different names`);
    }
    if (o.overwrites !== undefined) {
      const k = fileKind(o.file);
      if (k.exists && !o.overwrites.includes(k.kind)) {
        const what = /^(a|an|not) /.test(k.kind) ? k.kind : `a ${k.kind} file`;
        const only = o.overwrites.map((kind) => (kind === 'samples' ? 'samples written by this command' : `a ${kind} file`)).join(' or ');
        throw usageError(`${o.flag} ${o.file} already exists (${what}) and is replaced only by ${only}: remove it first or choose another ${o.flag}`);
      }
    }
  });
}
