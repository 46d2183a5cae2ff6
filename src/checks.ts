/** Argument checks shared by the public classes; each failure is a coded HypernoiseError. */
import { types } from 'util';
import { expected, HypernoiseError } from './errors';

export function checkInteger(value: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw expected(`an integer ${range}`, name, value);
  }
  return value;
}

export function checkNumber(value: unknown, name: string, opts: { min?: number; max?: number; exclusiveMin?: boolean; exclusiveMax?: boolean } = {}): number {
  const { min = -Infinity, max = Infinity, exclusiveMin = false, exclusiveMax = false } = opts;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (exclusiveMin && value === min) || (exclusiveMax && value === max)) {
    const lo = Number.isFinite(min) ? `${exclusiveMin ? '>' : '>='} ${min}` : '';
    const hi = Number.isFinite(max) ? `${exclusiveMax ? '<' : '<='} ${max}` : '';
    throw expected(`a finite number${lo || hi ? ' ' + [lo, hi].filter(Boolean).join(' and ') : ''}`, name, value);
  }
  return value;
}

export function optional<T>(value: T | undefined, dflt: T): T {
  return value === undefined ? dflt : value;
}

export function checkOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw expected(`one of ${allowed.map((a) => `'${a}'`).join(', ')}`, name, value);
  }
  return value as T;
}

export function checkFloat32(value: unknown, name: string, length?: number): Float32Array {
  // Not instanceof: a Proxy of a Float32Array passes that test but is not one (its methods throw TypeError).
  if (!types.isFloat32Array(value)) throw expected('a Float32Array', name, value, 'ERR_DTYPE');
  // A resizable buffer can shrink under a native call that reads or writes it off the main thread (a crash,
  // not an error): only fixed-length buffers are taken.
  const buffer = value.buffer as ArrayBuffer & { resizable?: boolean; growable?: boolean };
  if (buffer.resizable === true || buffer.growable === true) {
    throw new HypernoiseError(`Expected ${name} on a fixed-length buffer but its buffer is resizable (copy it into a new Float32Array)`, 'ERR_ARGUMENT');
  }
  if (length !== undefined && value.length !== length) {
    throw new HypernoiseError(`Expected ${name} to have length ${length} but received length ${value.length}`, 'ERR_SHAPE');
  }
  return value;
}

/**
 * The keys of an options interface T, listed once: `optionKeys<T>()([...])` does not compile when the list
 * misses a key of T or names one T lacks, so the list cannot drift from the type.
 */
export function optionKeys<T>() {
  return <const L extends readonly (keyof T & string)[]>(keys: [Exclude<keyof T, L[number]>] extends [never] ? L : { missing: Exclude<keyof T, L[number]> }): readonly string[] =>
    keys as unknown as readonly string[];
}

/** ERR_ARGUMENT for a key of `opts` that is not an option (a typo must not become a silent default). */
export function checkKeys(opts: object, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(opts)) {
    if (allowed.includes(key)) continue;
    const lower = key.toLowerCase();
    // A case-only difference first ('minLR' is 'minLr', not 'lr'), then containment either way.
    const near = allowed.find((a) => a.toLowerCase() === lower) ?? allowed.find((a) => a.toLowerCase().includes(lower) || lower.includes(a.toLowerCase()));
    throw new HypernoiseError(
      `Unknown option '${key}' for ${what}${near ? ` (did you mean '${near}'?)` : ''}; the options are: ${allowed.join(', ')}`,
      'ERR_ARGUMENT',
    );
  }
}

/** Whether two views share bytes of one buffer. */
export function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer || a.byteLength === 0 || b.byteLength === 0) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/**
 * The caller's output array, checked (a Float32Array of `length` that shares no memory with any of `inputs`:
 * a result written over an input would be read while it is overwritten, giving wrong numbers), or a new one.
 */
export function outputArray(
  out: Float32Array | undefined,
  length: number,
  name: string,
  what: string,
  inputs: Array<[string, Float32Array | null | undefined]> = [],
): Float32Array {
  if (out === undefined) return newFloat32(length, what);
  checkFloat32(out, name, length);
  for (const [inputName, input] of inputs) {
    if (input && overlaps(out, input)) throw new HypernoiseError(`Expected ${name} and ${inputName} not to share memory (in place is not supported)`, 'ERR_ARGUMENT');
  }
  return out;
}

/** The batch size implied by a flat array of rows of `width` values. */
export function rowsOf(value: Float32Array, width: number, name: string): number {
  if (width <= 0 || value.length % width !== 0) {
    throw new HypernoiseError(
      `Expected ${name} to hold whole rows of ${width} values but its length ${value.length} is not a multiple of ${width}`,
      'ERR_SHAPE',
    );
  }
  return value.length / width;
}

export function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new HypernoiseError('The operation was aborted', 'ERR_ABORTED');
}

/**
 * A new Float32Array of `length` values, or ERR_MEMORY (instead of V8's RangeError) when that many cannot
 * be allocated: sizes at the API boundary come from the caller (n, batchSize, n x dim) and may be huge.
 */
export function newFloat32(length: number, what: string): Float32Array {
  try {
    return new Float32Array(length);
  } catch (err) {
    if (err instanceof RangeError) {
      throw new HypernoiseError(`Could not allocate ${what}: ${length} floats (${(length * 4 / 2 ** 30).toFixed(1)} GiB): ${err.message}`, 'ERR_MEMORY');
    }
    throw err;
  }
}
