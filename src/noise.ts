/**
 * Seeded randomness. Noise is Philox4x32-10 + Box–Muller computed natively, keyed by (seed, sample,
 * element): the same seed gives the same noise on every backend and thread count. `Rng` is a small
 * counter-based generator for conditions and other per-step choices, so that a resumed run replays them.
 */
import { checkInteger, checkKeys, newFloat32, optional, optionKeys } from './checks';
import { expected } from './errors';
import { BackendName, native, Seed } from './native';

/** Streams separate independent uses of one seed (the values of native/core/philox.h; a test checks them). */
export const NoiseStream = { sample: 0, trainer: 0x5452, conditions: 0x434f, bestOfN: 0x424f } as const;

export interface SampleNoiseOptions {
  n: number;
  dim: number;
  seed: Seed;
  /** index of the first sample in the stream (default 0) */
  offset?: number;
  stream?: number;
  backend?: BackendName;
}

function checkSeed(seed: unknown, name = 'seed'): Seed {
  if (typeof seed === 'bigint') {
    if (seed < 0n || seed >= 1n << 64n) throw expected('a seed in [0, 2^64)', name, seed);
    return seed;
  }
  checkInteger(seed, name, 0);
  return seed as number;
}

const SAMPLE_NOISE_OPTIONS = optionKeys<SampleNoiseOptions>()(['n', 'dim', 'seed', 'offset', 'stream', 'backend']);

/** Standard normal noise, n x dim, the stream the Sampler uses for that seed. */
export function sampleNoise(opts: SampleNoiseOptions): Float32Array {
  if (typeof opts !== 'object' || opts === null) throw expected('{ n, dim, seed }', 'sampleNoise options', opts);
  checkKeys(opts, SAMPLE_NOISE_OPTIONS, 'sampleNoise()');
  const n = checkInteger(opts.n, 'n', 0);
  const dim = checkInteger(opts.dim, 'dim', 0);
  const seed = checkSeed(opts.seed);
  const offset = checkInteger(optional(opts.offset, 0), 'offset', 0);
  const stream = checkInteger(optional(opts.stream, NoiseStream.sample), 'stream', 0, 0xffffffff);
  const out = newFloat32(n * dim, 'the noise (n x dim)');
  native().sampleNoise(out, n, dim, seed, offset, stream, opts.backend ?? 'cpu');
  return out;
}

/** A deterministic generator of uniforms, integers and normals for one (seed, step): Philox uniforms. */
export class Rng {
  private block = 0;
  private buffer = new Float64Array(0);
  private pos = 0;
  private spare: number | undefined;
  constructor(
    readonly seed: Seed,
    readonly step: number,
    readonly stream: number = NoiseStream.conditions,
  ) {
    checkSeed(seed);
    checkInteger(step, 'step', 0);
  }

  /** A uniform in [0, 1). */
  uniform(): number {
    if (this.pos >= this.buffer.length) {
      this.buffer = new Float64Array(256);
      // Sample index (step, block) -> a distinct Philox counter per refill.
      native().sampleUniform(this.buffer, 1, 256, this.seed, this.step * 4096 + this.block, this.stream);
      this.block++;
      this.pos = 0;
    }
    return this.buffer[this.pos++];
  }

  /** An integer in [0, k). */
  int(k: number): number {
    return Math.min(k - 1, Math.floor(this.uniform() * k));
  }

  /** A standard normal (Box–Muller). */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }
}

/** One-hot rows for n random classes out of k, drawn from `rng` (an Rng, or a seed for a new one). */
export function oneHotRandomClasses(n: number, k: number, rng: Rng | Seed): Float32Array {
  checkInteger(n, 'n', 0);
  checkInteger(k, 'k', 1);
  const r = rng instanceof Rng ? rng : new Rng(checkSeed(rng, 'rng'), 0);
  const out = newFloat32(n * k, 'the conditions (n x k)');
  for (let i = 0; i < n; i++) out[i * k + r.int(k)] = 1;
  return out;
}

/** One-hot rows for the given classes. */
export function oneHot(classes: ArrayLike<number>, k: number): Float32Array {
  const out = new Float32Array(classes.length * k);
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i];
    checkInteger(c, `classes[${i}]`, 0, k - 1);
    out[i * k + c] = 1;
  }
  return out;
}

/** n copies of one row (e.g. the same condition for every sample of a batch). */
export function repeatRow(row: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n * row.length);
  for (let i = 0; i < n; i++) out.set(row, i * row.length);
  return out;
}

export { checkSeed };
