/**
 * Reading whole files with a bound: a loader given a device, a FIFO or a directory (`/dev/zero`, a pipe)
 * would otherwise read forever or fail obscurely. The file is opened first and checked through its handle
 * (a regular file, at most `maxBytes`), so a path swapped between the check and the read cannot slip past.
 */
import * as fs from 'fs';
import * as path from 'path';
import { HypernoiseError } from './errors';

/** The largest file the loaders read: far above any model this library writes, far below "endless". */
export const MAX_FILE_BYTES = 64 * 2 ** 30;

// Non-blocking open: opening a FIFO for reading would otherwise wait for a writer (for ever); regular files
// read the same either way.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

function checkStat(file: string, st: fs.Stats, maxBytes: number): void {
  if (!st.isFile()) throw new HypernoiseError(`Could not read ${file}: it is not a regular file (a directory, device, FIFO or socket)`, 'ERR_FILE');
  if (st.size > maxBytes) throw new HypernoiseError(`Could not read ${file}: it holds ${st.size} bytes, more than the ${maxBytes} a loader reads`, 'ERR_FILE');
}

function readError(file: string, err: unknown): HypernoiseError {
  return err instanceof HypernoiseError ? err : new HypernoiseError(`Could not read ${file}: ${(err as Error).message}`, 'ERR_FILE');
}

export async function readRegularFile(file: string, maxBytes = MAX_FILE_BYTES): Promise<Buffer> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(file, OPEN_FLAGS);
    checkStat(file, await handle.stat(), maxBytes);
    return await handle.readFile();
  } catch (err) {
    throw readError(file, err);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

export function readRegularFileSync(file: string, maxBytes = MAX_FILE_BYTES): Buffer {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, OPEN_FLAGS);
    checkStat(file, fs.fstatSync(fd), maxBytes);
    return fs.readFileSync(fd);
  } catch (err) {
    throw readError(file, err);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * mkdir -p that always ends: Node's recursive mkdir loops for ever where a path cannot be created but its
 * parent does not say so (under /proc, for one). Walks up to the nearest existing ancestor, then creates each
 * missing directory in turn; any failure is a plain error naming the directory (callers wrap it).
 */
export async function makeDirectories(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = path.resolve(dir); ; ) {
    try {
      const st = await fs.promises.stat(d);
      if (!st.isDirectory()) throw new Error(`${d} is not a directory`);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      missing.push(d);
      const up = path.dirname(d);
      if (up === d) break;
      d = up;
    }
  }
  for (const d of missing.reverse()) {
    try {
      await fs.promises.mkdir(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create the directory ${d} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
}
