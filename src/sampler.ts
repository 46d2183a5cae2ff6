/** Drawing samples through a trained hypernetwork (or from the base generator) at base-model cost. */
import { checkFloat32, checkInteger, newFloat32, optional } from './checks';
import { expected, HypernoiseError } from './errors';
import { Hypernetwork } from './hypernetwork';
import { Generator } from './models';
import { Seed } from './native';
import { checkSeed, NoiseStream, sampleNoise } from './noise';

export interface SampleOptions {
  n: number;
  seed?: Seed;
  /** n x condDim conditions (conditional hypernetworks) */
  cond?: Float32Array | null;
  /** the base noise to use instead of drawing it (n x noiseDim) */
  noise?: Float32Array;
  /** samples per native call (memory bound), default 1024 */
  batchSize?: number;
}

export interface SampleResult {
  /** generator outputs, n x outputDim */
  x: Float32Array;
  /** the noise fed to the generator: eps_hat = T(eps) (eps itself without a hypernetwork), n x noiseDim */
  noise: Float32Array;
  /** the base noise eps, n x noiseDim */
  baseNoise: Float32Array;
  n: number;
  noiseDim: number;
  outputDim: number;
}

/** Checks an optional n x width block (conditions) and returns it or null. */
export function checkRows(value: Float32Array | null | undefined, n: number, width: number, name: string): Float32Array | null {
  if (width === 0) return null;
  if (value === undefined || value === null) throw new HypernoiseError(`Expected ${name} with ${n} x ${width} values`, 'ERR_SHAPE');
  return checkFloat32(value, name, n * width);
}

export class Sampler {
  readonly hypernetwork: Hypernetwork | null;
  readonly generator: Generator;

  /** Without a hypernetwork, samples the base generator (the baseline). */
  constructor(opts: { hypernetwork?: Hypernetwork | null; generator: Generator }) {
    if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'Sampler options', opts);
    const { hypernetwork = null, generator } = opts;
    if (hypernetwork !== null && !(hypernetwork instanceof Hypernetwork)) throw expected('a Hypernetwork or null', 'hypernetwork', hypernetwork);
    if (typeof generator !== 'object' || generator === null || typeof generator.forward !== 'function') throw expected('a generator', 'generator', generator);
    if (hypernetwork && hypernetwork.noiseDim !== generator.inputDim) {
      throw new HypernoiseError(`The hypernetwork's noiseDim ${hypernetwork.noiseDim} differs from the generator's input ${generator.inputDim}`, 'ERR_SHAPE');
    }
    this.hypernetwork = hypernetwork;
    this.generator = generator;
  }

  async sample(opts: SampleOptions): Promise<SampleResult> {
    if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'sample options', opts);
    const n = checkInteger(opts.n, 'n', 0);
    const D = this.generator.inputDim;
    const P = this.generator.outputDim;
    const C = this.hypernetwork?.condDim ?? 0;
    const cond = checkRows(opts.cond, n, C, 'cond');
    const batch = checkInteger(optional(opts.batchSize, 1024), 'batchSize', 1);
    const eps = opts.noise !== undefined ? checkFloat32(opts.noise, 'noise', n * D) : sampleNoise({ n, dim: D, seed: checkSeed(optional(opts.seed, 0)), stream: NoiseStream.sample });
    const noise = this.hypernetwork ? newFloat32(n * D, 'the noise (n x noiseDim)') : eps;
    const x = newFloat32(n * P, 'the samples (n x outputDim)');
    for (let i0 = 0; i0 < n; i0 += batch) {
      const i1 = Math.min(n, i0 + batch);
      const e = eps.subarray(i0 * D, i1 * D);
      let input = e;
      if (this.hypernetwork) {
        input = await this.hypernetwork.forward(e, cond ? cond.subarray(i0 * C, i1 * C) : null);
        noise.set(input, i0 * D);
      }
      x.set(await this.generator.forward(input), i0 * P);
    }
    return { x, noise, baseNoise: eps, n, noiseDim: D, outputDim: P };
  }
}
