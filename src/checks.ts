/** Argument checks shared by the public classes; each failure is a coded HypernoiseError. */
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
  if (!(value instanceof Float32Array)) throw expected('a Float32Array', name, value, 'ERR_DTYPE');
  if (length !== undefined && value.length !== length) {
    throw new HypernoiseError(`Expected ${name} to have length ${length} but received length ${value.length}`, 'ERR_SHAPE');
  }
  return value;
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
