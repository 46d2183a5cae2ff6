/**
 * The baselines the hypernetwork is measured against: ReNO-style test-time noise optimisation (per
 * sample, ~50 forward+backward passes) and best-of-N.
 */
import { checkFloat32, checkInteger, checkKeys, checkNumber, checkSignal, newFloat32, optional, optionKeys } from './checks';
import { expected, HypernoiseError } from './errors';
import { Generator, SequentialModel } from './models';
import { native, ResolvedRenoOptions, Seed } from './native';
import { checkSeed, NoiseStream, sampleNoise } from './noise';
import { BuiltinReward, Reward } from './rewards';
import { checkRows } from './sampler';

export interface RenoOptions {
  generator: Generator;
  reward: Reward;
  /** forward passes per sample (iterations - 1 updates), default 50 */
  iterations?: number;
  /** SGD learning rate, default 5 (ReNO's, tuned for SD-Turbo latents) */
  lr?: number;
  momentum?: number;
  nesterov?: boolean;
  /** per-sample gradient-norm clip, default 0.1 (<= 0: off) */
  gradClip?: number;
  /** weight of the chi-norm prior, default 0.01 */
  regWeight?: number;
}

export interface OptimizeOptions {
  n: number;
  seed?: Seed;
  cond?: Float32Array | null;
  /** initial noise (n x noiseDim) instead of drawing it from `seed` */
  noise?: Float32Array;
  onProgress?: (p: { pass: number; passes: number; meanReward: number }) => void;
  signal?: AbortSignal;
}

export interface OptimizeResult {
  /** outputs of the best iterate per sample, n x outputDim */
  x: Float32Array;
  /** the best noise per sample, n x noiseDim */
  noise: Float32Array;
  /** best reward per sample */
  reward: Float32Array;
  /** mean reward of the current iterates after each pass */
  history: number[];
  passesPerSample: number;
}

/** The resolved settings (iterations, lr, momentum, nesterov, gradClip, regWeight) are fields of the optimiser. */
export interface TestTimeOptimizer extends Readonly<ResolvedRenoOptions> {}

const RENO_OPTIONS = optionKeys<RenoOptions>()(['generator', 'reward', 'iterations', 'lr', 'momentum', 'nesterov', 'gradClip', 'regWeight']);
const OPTIMIZE_OPTIONS = optionKeys<OptimizeOptions>()(['n', 'seed', 'cond', 'noise', 'onProgress', 'signal']);

export class TestTimeOptimizer {
  readonly generator: Generator;
  readonly reward: Reward;
  /** the resolved settings, as the native run takes them */
  readonly config: Readonly<ResolvedRenoOptions>;

  constructor(opts: RenoOptions) {
    if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'TestTimeOptimizer options', opts);
    checkKeys(opts, RENO_OPTIONS, 'TestTimeOptimizer');
    if (typeof opts.generator !== 'object' || opts.generator === null || typeof opts.generator.vjp !== 'function') throw expected('a generator', 'generator', opts.generator);
    if (typeof opts.reward !== 'object' || opts.reward === null || typeof opts.reward.evaluate !== 'function') throw expected('a reward', 'reward', opts.reward);
    this.generator = opts.generator;
    this.reward = opts.reward;
    // Defaults and ranges from the native core's option table (native/core/tto.cc).
    this.config = Object.freeze(native().resolveOptions('reno', opts));
    Object.assign(this, this.config);
  }

  async optimize(opts: OptimizeOptions): Promise<OptimizeResult> {
    if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'optimize options', opts);
    checkKeys(opts, OPTIMIZE_OPTIONS, 'optimize()');
    const n = checkInteger(opts.n, 'n', 1);
    const D = this.generator.inputDim;
    const eps = opts.noise !== undefined ? checkFloat32(opts.noise, 'noise', n * D).slice() : sampleNoise({ n, dim: D, seed: checkSeed(optional(opts.seed, 0)) });
    let cond: Float32Array | null = null;
    let condDim = 0;
    if (opts.cond !== undefined && opts.cond !== null) {
      checkFloat32(opts.cond, 'cond');
      condDim = opts.cond.length / n;
      if (!Number.isInteger(condDim)) throw new HypernoiseError(`cond has ${opts.cond.length} values, not a whole number per sample`, 'ERR_SHAPE');
      cond = opts.cond;
    }
    checkSignal(opts.signal);
    const nativePath = this.generator instanceof SequentialModel && this.reward instanceof BuiltinReward && (this.reward.backend === 'auto' || this.reward.backend === this.generator.backend);
    return nativePath ? this.optimizeNative(eps, n, cond, condDim, opts) : this.optimizeJs(eps, n, cond, condDim, opts);
  }

  private async optimizeNative(eps: Float32Array, n: number, cond: Float32Array | null, condDim: number, opts: OptimizeOptions): Promise<OptimizeResult> {
    const gen = this.generator as SequentialModel;
    const reward = this.reward as BuiltinReward;
    const run = new (native().RenoRun)(
      gen.native,
      reward.native(),
      this.config,
      eps,
      n,
      cond,
      condDim,
      reward.classes(cond, n),
    );
    // Progress every few passes keeps the per-call overhead negligible.
    const slice = opts.onProgress || opts.signal ? Math.max(1, Math.ceil(this.iterations / 25)) : this.iterations;
    let remaining = this.iterations;
    while (remaining > 0) {
      checkSignal(opts.signal);
      remaining = await run.iterate(slice);
      if (opts.onProgress) {
        const h = run.history();
        opts.onProgress({ pass: h.length, passes: this.iterations, meanReward: h[h.length - 1] });
      }
    }
    const noise = newFloat32(n * gen.inputDim, 'the result');
    const x = newFloat32(n * gen.outputDim, 'the result');
    const best = newFloat32(n, 'the result');
    run.best(noise, x, best);
    return { x, noise, reward: best, history: run.history(), passesPerSample: this.iterations };
  }

  /** The same algorithm for JavaScript generators or rewards (every pass crosses into JS). */
  private async optimizeJs(eps: Float32Array, n: number, cond: Float32Array | null, condDim: number, opts: OptimizeOptions): Promise<OptimizeResult> {
    const D = this.generator.inputDim;
    const P = this.generator.outputDim;
    const vel = newFloat32(n * D, 'the result');
    const bestNoise = eps.slice();
    const bestX = newFloat32(n * P, 'the result');
    const best = newFloat32(n, 'the result').fill(-Infinity);
    const history: number[] = [];
    for (let pass = 0; pass < this.iterations; pass++) {
      checkSignal(opts.signal);
      const x = await this.generator.forward(eps);
      // The last pass only scores (no update follows): its gradient is not asked for.
      const r = await this.reward.evaluate(x, P, cond, condDim, pass + 1 < this.iterations);
      let mean = 0;
      for (let i = 0; i < n; i++) {
        mean += r.value[i];
        if (r.value[i] > best[i]) {
          best[i] = r.value[i];
          bestNoise.set(eps.subarray(i * D, (i + 1) * D), i * D);
          bestX.set(x.subarray(i * P, (i + 1) * P), i * P);
        }
      }
      history.push(mean / n);
      opts.onProgress?.({ pass: pass + 1, passes: this.iterations, meanReward: mean / n });
      if (pass + 1 === this.iterations) break;
      const g = r.grad as Float32Array;
      for (let i = 0; i < g.length; i++) g[i] = -g[i];
      const dEps = await this.generator.vjp(eps, g);
      for (let i = 0; i < n; i++) {
        const e = eps.subarray(i * D, (i + 1) * D);
        const d = dEps.subarray(i * D, (i + 1) * D);
        const v = vel.subarray(i * D, (i + 1) * D);
        let e2 = 0;
        for (let j = 0; j < D; j++) e2 += e[j] * e[j];
        const chi = this.regWeight === 0 ? 0 : this.regWeight * (1 - (D - 1) / e2);
        let g2 = 0;
        for (let j = 0; j < D; j++) {
          const gj = d[j] + chi * e[j];
          g2 += gj * gj;
        }
        const norm = Math.sqrt(g2);
        const clip = this.gradClip > 0 && norm > this.gradClip ? this.gradClip / norm : 1;
        for (let j = 0; j < D; j++) {
          let gj = (d[j] + chi * e[j]) * clip;
          if (this.momentum !== 0) {
            v[j] = this.momentum * v[j] + gj;
            gj = this.nesterov ? gj + this.momentum * v[j] : v[j];
          }
          e[j] -= this.lr * gj;
        }
      }
    }
    return { x: bestX, noise: bestNoise, reward: best, history, passesPerSample: this.iterations };
  }
}

export interface BestOfNOptions {
  generator: Generator;
  reward: Reward;
  /** samples to return */
  n: number;
  /** candidates per sample */
  candidates: number;
  seed?: Seed;
  cond?: Float32Array | null;
  /** candidates evaluated per call, default 4096 */
  batchSize?: number;
  signal?: AbortSignal;
}

export interface BestOfNResult {
  x: Float32Array;
  noise: Float32Array;
  reward: Float32Array;
  passesPerSample: number;
}

/** For each sample, draws `candidates` noises and keeps the one with the highest reward. */
const BEST_OF_N_OPTIONS = optionKeys<BestOfNOptions>()(['generator', 'reward', 'n', 'candidates', 'seed', 'cond', 'batchSize', 'signal']);

export async function bestOfN(opts: BestOfNOptions): Promise<BestOfNResult> {
  if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'bestOfN options', opts);
  checkKeys(opts, BEST_OF_N_OPTIONS, 'bestOfN()');
  const { generator, reward } = opts;
  if (typeof generator !== 'object' || generator === null || typeof generator.forward !== 'function') throw expected('a generator', 'generator', generator);
  if (typeof reward !== 'object' || reward === null || typeof reward.evaluate !== 'function') throw expected('a reward', 'reward', reward);
  const n = checkInteger(opts.n, 'n', 0);
  const N = checkInteger(opts.candidates, 'candidates', 1);
  const seed = checkSeed(optional(opts.seed, 0));
  const D = generator.inputDim;
  const P = generator.outputDim;
  let condDim = 0;
  if (opts.cond !== undefined && opts.cond !== null) {
    condDim = n === 0 ? 0 : opts.cond.length / n;
    if (!Number.isInteger(condDim)) throw new HypernoiseError(`cond has ${opts.cond.length} values, not a whole number per sample`, 'ERR_SHAPE');
  }
  const cond = checkRows(opts.cond, n, condDim, 'cond');
  const perCall = Math.max(1, Math.floor(checkInteger(optional(opts.batchSize, 4096), 'batchSize', 1) / N));
  const x = newFloat32(n * P, 'the result');
  const noise = newFloat32(n * D, 'the result');
  const best = newFloat32(n, 'the result').fill(-Infinity);
  for (let i0 = 0; i0 < n; i0 += perCall) {
    checkSignal(opts.signal);
    const i1 = Math.min(n, i0 + perCall);
    const m = (i1 - i0) * N;
    // Candidate j of sample i is stream sample i*N + j: the result does not depend on batchSize.
    const eps = sampleNoise({ n: m, dim: D, seed, offset: i0 * N, stream: NoiseStream.bestOfN });
    let c: Float32Array | null = null;
    if (cond) {
      c = newFloat32(m * condDim, 'the result');
      for (let i = i0; i < i1; i++) for (let j = 0; j < N; j++) c.set(cond.subarray(i * condDim, (i + 1) * condDim), ((i - i0) * N + j) * condDim);
    }
    const xs = await generator.forward(eps);
    const r = await reward.evaluate(xs, P, c, condDim, false);
    for (let i = i0; i < i1; i++) {
      for (let j = 0; j < N; j++) {
        const k = (i - i0) * N + j;
        if (r.value[k] > best[i] || (j === 0 && !(best[i] > -Infinity))) {
          best[i] = r.value[k];
          x.set(xs.subarray(k * P, (k + 1) * P), i * P);
          noise.set(eps.subarray(k * D, (k + 1) * D), i * D);
        }
      }
    }
  }
  return { x, noise, reward: best, passesPerSample: N };
}
