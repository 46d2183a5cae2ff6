/** Drawing samples through a trained hypernetwork (or from the base generator) at base-model cost. */
import { checkFloat32, checkInteger, checkKeys, optional, optionKeys, outputArray, overlaps } from './checks';
import { expected, HypernoiseError } from './errors';
import { Hypernetwork } from './hypernetwork';
import { Generator, SequentialModel } from './models';
import { native, Seed } from './native';
import { checkSeed, NoiseStream } from './noise';

export interface SampleOptions {
  n: number;
  seed?: Seed;
  /** n x condDim conditions (conditional hypernetworks) */
  cond?: Float32Array | null;
  /** the base noise to use instead of drawing it (n x noiseDim) */
  noise?: Float32Array;
  /** samples per native call (memory bound), default 1024 */
  batchSize?: number;
  /** arrays to write the results into instead of new ones (each exactly its result's length) */
  out?: SampleOutputs;
}

/** Caller-provided result arrays: x is n x outputDim, noise and baseNoise n x noiseDim. */
export interface SampleOutputs {
  x?: Float32Array;
  noise?: Float32Array;
  baseNoise?: Float32Array;
}

/**
 * Work below this many multiply-add FLOPs runs on the calling thread even from `sample()`: handing a call to
 * the libuv pool and back costs ~40 µs here, more than a single MNIST-scale sample (~1 MFLOP) takes.
 */
export const INLINE_FLOPS = 4e6;

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

/** The offset and count of a synchronous native sampling call (read before the call returns; see nativeCall). */
const SYNC_OFFSET = new Float64Array(1);
const SYNC_COUNT = new Int32Array(1);

const SAMPLE_OPTIONS = optionKeys<SampleOptions>()(['n', 'seed', 'cond', 'noise', 'batchSize', 'out']);

export class Sampler {
  readonly hypernetwork: Hypernetwork | null;
  readonly generator: Generator;

  /** Without a hypernetwork, samples the base generator (the baseline). */
  constructor(opts: { hypernetwork?: Hypernetwork | null; generator: Generator }) {
    if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'Sampler options', opts);
    checkKeys(opts, ['hypernetwork', 'generator'], 'Sampler');
    const { hypernetwork = null, generator } = opts;
    if (hypernetwork !== null && !(hypernetwork instanceof Hypernetwork)) throw expected('a Hypernetwork or null', 'hypernetwork', hypernetwork);
    if (typeof generator !== 'object' || generator === null || typeof generator.forward !== 'function') throw expected('a generator', 'generator', generator);
    if (hypernetwork && hypernetwork.noiseDim !== generator.inputDim) {
      throw new HypernoiseError(`The hypernetwork's noiseDim ${hypernetwork.noiseDim} differs from the generator's input ${generator.inputDim}`, 'ERR_SHAPE');
    }
    this.hypernetwork = hypernetwork;
    this.generator = generator;
  }

  /** FLOPs of one sample through the hypernetwork and the generator (2 per parameter of each). */
  get flopsPerSample(): number {
    const g = this.generator instanceof SequentialModel ? this.generator.paramCount : this.generator.inputDim * this.generator.outputDim;
    return 2 * (g + (this.hypernetwork?.paramCount ?? 0));
  }

  /**
   * n samples: base noise eps from `seed` (the sampling stream), eps_hat = T(eps) through the hypernetwork
   * (when there is one), x = g(eps_hat). With a SequentialModel generator and no given noise this is one
   * native call per `batchSize` samples (run on the calling thread when it is smaller than INLINE_FLOPS).
   */
  async sample(opts: SampleOptions): Promise<SampleResult> {
    const req = this.prepare(opts);
    if (req.nativeGenerator && opts.noise === undefined) {
      const inline = req.n * this.flopsPerSample <= INLINE_FLOPS;
      for (let i0 = 0; i0 < req.n; i0 += req.batch) {
        const i1 = Math.min(req.n, i0 + req.batch);
        if (inline) native().sampleRequestsSync(...this.nativeCall(req, i0, i1, true));
        else await native().sampleRequests(...this.nativeCall(req, i0, i1, false));
      }
      return req.result;
    }
    const { n, batch, cond, result } = req;
    const { x, noise, baseNoise: eps, noiseDim: D, outputDim: P } = result;
    const C = this.hypernetwork?.condDim ?? 0;
    // Drawn straight into the result array (sampleNoise would allocate one and this would copy it).
    if (opts.noise === undefined) native().sampleNoise(eps, n, D, req.seed, 0, NoiseStream.sample, 'cpu');
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
    return result;
  }

  /**
   * `sample` on the calling thread, as one native call per `batchSize` samples. Needs a SequentialModel
   * generator (a JavaScript generator may be asynchronous).
   */
  sampleSync(opts: SampleOptions): SampleResult {
    const req = this.prepare(opts);
    if (!req.nativeGenerator) {
      throw new HypernoiseError('sampleSync needs a SequentialModel generator; use sample() with a JavaScript generator', 'ERR_ARGUMENT');
    }
    const { n, batch, cond, result } = req;
    const D = result.noiseDim;
    if (opts.noise !== undefined) {
      const C = this.hypernetwork?.condDim ?? 0;
      const gen = this.generator as SequentialModel;
      for (let i0 = 0; i0 < n; i0 += batch) {
        const i1 = Math.min(n, i0 + batch);
        let input = result.baseNoise.subarray(i0 * D, i1 * D);
        if (this.hypernetwork) {
          const out = result.noise.subarray(i0 * D, i1 * D);
          this.hypernetwork.native.forwardSync(input, cond ? cond.subarray(i0 * C, i1 * C) : null, i1 - i0, out);
          input = out;
        }
        gen.native.forwardSync(input, i1 - i0, result.x.subarray(i0 * result.outputDim, i1 * result.outputDim));
      }
      return result;
    }
    for (let i0 = 0; i0 < n; i0 += batch) native().sampleRequestsSync(...this.nativeCall(req, i0, Math.min(n, i0 + batch), true));
    return result;
  }

  /** Checks the options and allocates (or takes) the result arrays. */
  private prepare(opts: SampleOptions): PreparedRequest {
    if (typeof opts === 'object' && opts !== null) checkKeys(opts, SAMPLE_OPTIONS, 'sample()');
    if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'sample options', opts);
    const n = checkInteger(opts.n, 'n', 0);
    const D = this.generator.inputDim;
    const P = this.generator.outputDim;
    const C = this.hypernetwork?.condDim ?? 0;
    const cond = checkRows(opts.cond, n, C, 'cond');
    const batch = checkInteger(optional(opts.batchSize, 1024), 'batchSize', 1, 2 ** 31 - 1);
    const seed = checkSeed(optional(opts.seed, 0));
    const out = opts.out ?? {};
    if (typeof out !== 'object' || out === null) throw expected('an object of output arrays', 'out', out);
    let baseNoise: Float32Array;
    if (opts.noise !== undefined) {
      const given = checkFloat32(opts.noise, 'noise', n * D);
      baseNoise = out.baseNoise === undefined ? given : outputArray(out.baseNoise, n * D, 'out.baseNoise', '');
      if (baseNoise !== given) baseNoise.set(given);
    } else {
      baseNoise = outputArray(out.baseNoise, n * D, 'out.baseNoise', 'the noise (n x noiseDim)');
    }
    const noise = this.hypernetwork ? outputArray(out.noise, n * D, 'out.noise', 'the noise (n x noiseDim)') : baseNoise;
    const x = outputArray(out.x, n * P, 'out.x', 'the samples (n x outputDim)');
    // A result written over an input of the same call would be read while it is overwritten.
    const named: Array<[string, Float32Array]> = [['out.x', x], ['out.baseNoise', baseNoise]];
    if (this.hypernetwork) named.push(['out.noise', noise]);
    if (cond) named.push(['cond', cond]);
    for (let i = 0; i < named.length; ++i) {
      for (let j = i + 1; j < named.length; ++j) {
        if (overlaps(named[i][1], named[j][1])) throw new HypernoiseError(`Expected ${named[i][0]} and ${named[j][0]} not to share memory`, 'ERR_ARGUMENT');
      }
    }
    return {
      n,
      batch,
      seed,
      cond,
      nativeGenerator: this.generator instanceof SequentialModel,
      result: { x, noise, baseNoise, n, noiseDim: D, outputDim: P },
    };
  }

  /** The arguments of one native sampling call for rows [i0, i1) of a prepared request. */
  private nativeCall(req: PreparedRequest, i0: number, i1: number, sync: boolean): Parameters<ReturnType<typeof native>['sampleRequestsSync']> {
    const { result, cond } = req;
    const D = result.noiseDim, P = result.outputDim, C = this.hypernetwork?.condDim ?? 0;
    // A synchronous call reads its offset and count before it returns, so they can live in one scratch
    // pair; a Promise call holds its arrays until it settles and gets its own. The whole request (the
    // usual case) passes the result arrays themselves: a single-sample request is a few microseconds of
    // work, and each view or array made for it costs a tenth of one.
    let offset: Float64Array, count: Int32Array;
    if (sync) {
      offset = SYNC_OFFSET;
      count = SYNC_COUNT;
      offset[0] = i0;
      count[0] = i1 - i0;
    } else {
      offset = new Float64Array([i0]);
      count = new Int32Array([i1 - i0]);
    }
    const whole = i0 === 0 && i1 === req.n;
    const rows = (a: Float32Array, width: number) => (whole ? a : a.subarray(i0 * width, i1 * width));
    return [
      this.hypernetwork?.native ?? null,
      (this.generator as SequentialModel).native,
      [req.seed],
      offset,
      count,
      NoiseStream.sample,
      cond ? rows(cond, C) : null,
      rows(result.baseNoise, D),
      this.hypernetwork ? rows(result.noise, D) : null,
      rows(result.x, P),
    ];
  }
}

interface PreparedRequest {
  n: number;
  batch: number;
  seed: Seed;
  cond: Float32Array | null;
  nativeGenerator: boolean;
  result: SampleResult;
}

