/**
 * The conditions of CLI samples: `--class N` (one-hot over condDim; or a comma list with one class per sample)
 * and `--cond LIST|FILE` (one row of condDim numbers for every sample, or n rows; from a comma list, a .json
 * array, a float .npy array or the tensor 'cond' of a .safetensors file).
 */
import * as path from 'path';
import { parseNpy } from './npy';
import { HypernoiseError } from '../errors';
import { readRegularFile } from '../files';
import { oneHot, repeatRow } from '../noise';
import { readSafetensors } from '../safetensors';

export const CLASS_HELP = 'class of every sample (one-hot over the condition width), or a comma list of one class per sample';
export const COND_HELP = 'conditions: a comma list of condDim numbers (every sample) or a .json/.npy/.safetensors file of 1 or n rows';

function argError(message: string): HypernoiseError {
  return new HypernoiseError(message, 'ERR_ARGUMENT');
}

/** Rows of `condDim` values from `values` (one row, repeated, or n rows). */
function rows(values: Float32Array, n: number, condDim: number, source: string): Float32Array {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) throw argError(`--cond ${source}: value ${i} is not a finite number`);
  if (values.length === condDim) return repeatRow(values, n);
  if (values.length === n * condDim) return values;
  throw argError(`--cond ${source}: expected ${condDim} values (one row for every sample) or ${n} x ${condDim} = ${n * condDim} but received ${values.length}`);
}

async function readCondFile(file: string): Promise<Float32Array> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.npy') return parseNpy(await readRegularFile(file), file).data;
  if (ext === '.safetensors') {
    const st = await readSafetensors(file);
    const t = st.tensors.get('cond') ?? (st.tensors.size === 1 ? [...st.tensors.values()][0] : undefined);
    if (t === undefined) throw new HypernoiseError(`${file}: no tensor named 'cond' (and more than one tensor)`, 'ERR_FILE');
    if (!(t.data instanceof Float32Array) && !(t.data instanceof Float64Array)) throw new HypernoiseError(`${file}: the conditions have dtype ${t.dtype}, expected a float type`, 'ERR_FILE');
    return Float32Array.from(t.data);
  }
  if (ext === '.json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse((await readRegularFile(file)).toString('utf8'));
    } catch (err) {
      throw new HypernoiseError(`${file}: not JSON: ${(err as Error).message}`, 'ERR_FILE');
    }
    // An array (flat or rows), or an object with one: the `cond` field of what sample/optimize write.
    const held = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>).cond : parsed;
    const flat = Array.isArray(held) ? (held as unknown[]).flat() : held;
    if (!Array.isArray(flat) || flat.some((v) => typeof v !== 'number')) {
      throw new HypernoiseError(`${file}: expected an array of numbers (or of rows of numbers), or an object with one as "cond"`, 'ERR_FILE');
    }
    return Float32Array.from(flat as number[]);
  }
  throw argError(`--cond ${file}: expected a comma list of numbers or a .json, .npy or .safetensors file`);
}

/**
 * The n x condDim conditions for `--class`/`--cond`, or null for an unconditional `what`. ERR_ARGUMENT when
 * they are missing for a conditional one, given for an unconditional one, both given or out of range.
 */
export async function conditionsFrom(args: { cls: string | undefined; cond: string | undefined }, n: number, condDim: number, what: string): Promise<Float32Array | null> {
  const { cls, cond } = args;
  if (cls !== undefined && cond !== undefined) throw argError('give --class or --cond, not both');
  if (condDim === 0) {
    if (cls !== undefined || cond !== undefined) throw argError(`${what} takes no condition, so --class and --cond do not apply`);
    return null;
  }
  if (cls === undefined && cond === undefined) {
    throw argError(`${what} is conditional (${condDim} condition values per sample): pass --class N (0 to ${condDim - 1}) or --cond LIST|FILE`);
  }
  if (cls !== undefined) {
    const classes = cls.split(',').map((s) => s.trim());
    if (classes.length !== 1 && classes.length !== n) throw argError(`--class ${cls}: give one class or ${n} (one per sample), not ${classes.length}`);
    const ints = classes.map((c) => {
      const k = /^\d+$/.test(c) ? Number(c) : NaN;
      if (!(k >= 0 && k < condDim)) throw argError(`--class ${cls}: '${c}' is not a class from 0 to ${condDim - 1} (${what} has ${condDim} classes)`);
      return k;
    });
    return oneHot(ints.length === 1 ? new Array<number>(n).fill(ints[0]) : ints, condDim);
  }
  const text = cond as string;
  if (/^[\s0-9eE+\-.,]+$/.test(text)) {
    const parts = text.split(',').map((s) => s.trim());
    return rows(Float32Array.from(parts.map((p) => (p === '' ? NaN : Number(p)))), n, condDim, `'${text}'`);
  }
  return rows(await readCondFile(text), n, condDim, text);
}
