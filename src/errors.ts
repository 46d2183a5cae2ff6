/** Every error the library throws on purpose: a `HypernoiseError` with a stable `code`. */
export type ErrorCode =
  | 'ERR_SHAPE' // sizes that do not match
  | 'ERR_DTYPE' // the wrong kind of array
  | 'ERR_ARGUMENT' // an option out of range or of the wrong type
  | 'ERR_NON_FINITE' // NaN or Inf where finite values are required
  | 'ERR_DISPOSED' // an object used after dispose()
  | 'ERR_FILE' // a missing, truncated or corrupt file
  | 'ERR_MEMORY' // an allocation failed
  | 'ERR_CUDA_UNAVAILABLE' // backend 'cuda' asked for where it cannot run
  | 'ERR_CUDA' // a CUDA call failed
  | 'ERR_NATIVE_LOAD' // the native addon could not be loaded
  | 'ERR_ABORTED' // an AbortSignal fired
  | 'ERR_BUSY' // a bounded queue is full (BatchingSampler)
  | 'ERR_INTERNAL';

export class HypernoiseError extends Error {
  readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode = 'ERR_INTERNAL') {
    super(message);
    this.name = 'HypernoiseError';
    this.code = code;
  }
}

/** A short description of a value for messages: "-1 of type number", "a Float64Array", "undefined". */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor.name;
    const article = /^[AEIOU]/.test(name) ? 'an' : 'a';
    const length = 'length' in value ? ` of length ${(value as unknown as { length: number }).length}` : '';
    return `${article} ${name}${length}`;
  }
  if (Array.isArray(value)) return `an Array of length ${value.length}`;
  if (typeof value === 'string') return `'${value.length > 60 ? value.slice(0, 57) + '...' : value}' of type string`;
  if (typeof value === 'object') return `an object`;
  return `${String(value)} of type ${typeof value}`;
}

/** The error every argument check throws: "Expected <what> for <name> but received <value>". */
export function expected(what: string, name: string, received: unknown, code: ErrorCode = 'ERR_ARGUMENT'): HypernoiseError {
  return new HypernoiseError(`Expected ${what} for ${name} but received ${describe(received)}`, code);
}
