/**
 * The typed mirror of the native addon and its loader: the one file that touches the `.node`.
 * Everything the addon exports is declared here, so all TypeScript that crosses the boundary is checked.
 */
import * as fs from 'fs';
import * as path from 'path';
import { HypernoiseError } from './errors';

export type BackendName = 'auto' | 'cpu' | 'cuda';
export type ActivationName = 'identity' | 'relu' | 'silu' | 'gelu' | 'tanh' | 'sigmoid' | 'softplus';
export type KlName = 'l2' | 'exact' | 'chi';
export type Seed = number | bigint;

export interface NativeBackendInfo {
  isa: string;
  detectedIsa: string;
  threads: number;
  cudaCompiled: boolean;
  cudaAvailable: boolean;
  cudaReason: string;
  cudaDevice: string;
  cudaRuntimeVersion: number;
  cudaDriverVersion: number;
  autoBackend: 'cpu' | 'cuda';
  bufferPinning: boolean;
  warnings: string[];
}

/** The hypernetwork's options, resolved (resolveOptions('hypernetwork')). */
export interface ResolvedHypernetworkOptions {
  noiseDim: number;
  condDim: number;
  rank: number;
  depth: number;
  activation: ActivationName;
  scale: number;
}

export interface NativeHypernetworkDesc extends ResolvedHypernetworkOptions {
  backend: BackendName;
}

export interface NativeHypernetworkInfo extends ResolvedHypernetworkOptions {
  backend: 'cpu' | 'cuda';
  paramCount: number;
  memoryBytes: number;
  /** tensor name -> [offset, length] in the flat parameter vector */
  tensors: Record<string, [number, number]>;
}

export interface NativeHypernetwork {
  info(): NativeHypernetworkInfo;
  init(seed: Seed): void;
  setParams(params: Float32Array): void;
  getParams(out: Float32Array): void;
  getGradient(out: Float32Array): void;
  forward(eps: Float32Array, cond: Float32Array | null, n: number, out: Float32Array): Promise<void>;
  forwardSync(eps: Float32Array, cond: Float32Array | null, n: number, out: Float32Array): void;
  kl(eps: Float32Array, cond: Float32Array | null, n: number, statsOut: Float32Array): Promise<void>;
  klSync(eps: Float32Array, cond: Float32Array | null, n: number, statsOut: Float32Array): void;
  forwardTrain(eps: Float32Array, cond: Float32Array | null, n: number, kl: KlName, epsHatOut: Float32Array, statsOut: Float32Array | null): Promise<void>;
  forwardTrainSync(eps: Float32Array, cond: Float32Array | null, n: number, kl: KlName, epsHatOut: Float32Array, statsOut: Float32Array | null): void;
  backward(dEpsHat: Float32Array, n: number, kl: KlName, klWeight: number, dScale: number): Promise<void>;
  backwardSync(dEpsHat: Float32Array, n: number, kl: KlName, klWeight: number, dScale: number): void;
  dispose(): void;
  readonly disposed: boolean;
}

export type NativeLayer = { type: 'linear'; in: number; out: number } | { type: ActivationName };

export interface NativeModelInfo {
  inputDim: number;
  outputDim: number;
  paramCount: number;
  backend: 'cpu' | 'cuda';
  layers: Array<{ type: string; in?: number; out?: number; weightOffset?: number; biasOffset?: number }>;
}

export interface NativeModel {
  info(): NativeModelInfo;
  init(seed: Seed): void;
  setParams(params: Float32Array): void;
  getParams(out: Float32Array): void;
  forward(x: Float32Array, n: number, out: Float32Array): Promise<void>;
  forwardSync(x: Float32Array, n: number, out: Float32Array): void;
  vjp(x: Float32Array, dy: Float32Array, n: number, out: Float32Array): Promise<void>;
  vjpSync(x: Float32Array, dy: Float32Array, n: number, out: Float32Array): void;
  gradients(x: Float32Array, dy: Float32Array, n: number, dxOut: Float32Array | null, gradOut: Float32Array): Promise<void>;
  gradientsSync(x: Float32Array, dy: Float32Array, n: number, dxOut: Float32Array | null, gradOut: Float32Array): void;
  dispose(): void;
  readonly disposed: boolean;
}

export interface NativeRewardTerm {
  kind: 'redness' | 'brightness' | 'classifierLogProb';
  weight: number;
  model?: NativeModel;
  fixedClass?: number;
  classOffset?: number;
}

export interface NativeReward {
  evaluate(x: Float32Array, n: number, p: number, cond: Float32Array | null, condDim: number, classes: Int32Array | null, valueOut: Float32Array, gradOut: Float32Array | null, backend: BackendName): Promise<void>;
  evaluateSync(x: Float32Array, n: number, p: number, cond: Float32Array | null, condDim: number, classes: Int32Array | null, valueOut: Float32Array, gradOut: Float32Array | null, backend: BackendName): void;
  needsClasses(): boolean;
  dispose(): void;
  readonly disposed: boolean;
}

export type OptimizerType = 'adam' | 'adamw' | 'sgd';
export type NoiseMode = 'inf' | 'batch' | 'one';

/** The optimiser's options, resolved (resolveOptions('optimizer')): every default filled in. */
export interface ResolvedOptimizerOptions {
  type: OptimizerType;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  nesterov: boolean;
  gradClip: number;
  warmupSteps: number;
  decaySteps: number;
  minLr: number;
}

/** The trainer's own options, resolved (resolveOptions('trainer')). */
export interface ResolvedTrainerOptions {
  kl: KlName;
  lambda: number;
  alpha: number;
  batchSize: number;
  noise: NoiseMode;
}

/** Test-time optimisation's options, resolved (resolveOptions('reno')). */
export interface ResolvedRenoOptions {
  iterations: number;
  lr: number;
  momentum: number;
  nesterov: boolean;
  gradClip: number;
  regWeight: number;
}

/** The option tables of the native core, by name: what resolveOptions returns for each. */
export interface ResolvedOptionTables {
  hypernetwork: ResolvedHypernetworkOptions;
  optimizer: ResolvedOptimizerOptions;
  trainer: ResolvedTrainerOptions;
  reno: ResolvedRenoOptions;
}

export interface NativeTrainerConfig extends ResolvedTrainerOptions {
  seed: Seed;
  optimizer: ResolvedOptimizerOptions;
}

export interface NativeStepStats {
  loss: number;
  reward: number;
  kl: number;
  klL2: number;
  nonInvertible: number;
  gradNorm: number;
  skipped: boolean;
  nonFiniteReward: boolean;
  lr: number;
}

export interface NativeOptimizerStep {
  gradNorm: number;
  skipped: boolean;
  lr: number;
}

export interface NativeTrainer {
  step(step: number, cond: Float32Array | null, classes: Int32Array | null): Promise<NativeStepStats>;
  stepSync(step: number, cond: Float32Array | null, classes: Int32Array | null): NativeStepStats;
  noise(step: number, out: Float32Array): void;
  applyGradient(): Promise<NativeOptimizerStep>;
  applyGradientSync(): NativeOptimizerStep;
  recordSkip(): void;
  getOptimizerState(mOut: Float32Array, vOut: Float32Array): { steps: number; applied: number; skipped: number };
  setOptimizerState(m: Float32Array, v: Float32Array, steps: number, applied: number, skipped: number): void;
  dispose(): void;
}

export interface NativeModelOptimizer {
  step(grad: Float32Array): NativeOptimizerStep;
  dispose(): void;
  readonly disposed: boolean;
}

export interface NativeRenoRun {
  iterate(passes: number): Promise<number>;
  iterateSync(passes: number): number;
  best(epsOut: Float32Array | null, xOut: Float32Array | null, rewardOut: Float32Array | null): void;
  history(): number[];
  readonly done: number;
  dispose(): void;
  readonly disposed: boolean;
}

export interface NativeAddon {
  Hypernetwork: new (desc: NativeHypernetworkDesc) => NativeHypernetwork;
  SequentialModel: new (layers: NativeLayer[], backend: BackendName) => NativeModel;
  Reward: new (terms: NativeRewardTerm[]) => NativeReward;
  Trainer: new (hn: NativeHypernetwork, generator: NativeModel | null, reward: NativeReward | null, config: NativeTrainerConfig) => NativeTrainer;
  ModelOptimizer: new (model: NativeModel, config: ResolvedOptimizerOptions) => NativeModelOptimizer;
  RenoRun: new (generator: NativeModel, reward: NativeReward, config: ResolvedRenoOptions, eps: Float32Array, n: number, cond: Float32Array | null, condDim: number, classes: Int32Array | null) => NativeRenoRun;
  setErrorClass(ctor: typeof HypernoiseError): void;
  backendInfo(): NativeBackendInfo;
  /** The options of a native option table with every default filled in and every value checked (ERR_ARGUMENT). */
  resolveOptions<K extends keyof ResolvedOptionTables>(table: K, options: unknown): ResolvedOptionTables[K];
  sampleNoise(out: Float32Array, n: number, dim: number, seed: Seed, firstSample: Seed, stream: number, backend: BackendName): void;
  /**
   * One native call for a batch of sampling requests: request j draws counts[j] samples of seed seeds[j] from
   * sample firsts[j] on; rows of cond and the outputs are the requests' rows in order.
   */
  sampleRequests(hn: NativeHypernetwork | null, generator: NativeModel, seeds: Seed[], firsts: Float64Array, counts: Int32Array, stream: number, cond: Float32Array | null, baseOut: Float32Array, noiseOut: Float32Array | null, xOut: Float32Array): Promise<void>;
  sampleRequestsSync(hn: NativeHypernetwork | null, generator: NativeModel, seeds: Seed[], firsts: Float64Array, counts: Int32Array, stream: number, cond: Float32Array | null, baseOut: Float32Array, noiseOut: Float32Array | null, xOut: Float32Array): void;
  sampleUniform(out: Float64Array, n: number, dim: number, seed: Seed, firstSample: Seed, stream: number): void;
  /** the evaluation's float64 metrics (native/core/metrics.h), synchronous; src/metrics.ts wraps them */
  metrics: {
    gaussianOf(x: Float64Array, n: number, d: number, mean: Float64Array, cov: Float64Array): void;
    symmetricEigen(a: Float64Array, n: number, tol: number, maxSweeps: number, values: Float64Array, vectors: Float64Array): void;
    sqrtPsd(a: Float64Array, n: number, out: Float64Array): void;
    frechetDistance(mean1: Float64Array, cov1: Float64Array, mean2: Float64Array, cov2: Float64Array, d: number): number;
    meanPairwiseDistance(x: Float64Array, n: number, d: number): number;
  };
  /** benchmarks and tests only: C = op(A) op(B) on the CPU backend */
  _gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array): void;
  /** benchmarks only: the peak FMA rate of one CPU core under the ISA in use (GFLOP/s, float32 or float64) */
  _peakGflopsPerCore(seconds: number, float64: boolean): number;
  /** benchmarks and tests only: caps the CPU ISA ('' removes the cap); returns the ISA in use */
  _capIsa(isa: string): string;
  /** tests only: the CPU backend's host blocks of 64 KiB and more, handed out (live) and held for reuse (cached) */
  _hostMemory(): { liveBytes: number; cachedBytes: number };
  /** rows of the per-sample statistics block: l2, chi, exact, trace, logdet, nonInvertible, sqnorm */
  statRows: number;
  /** the Philox streams of the native core (core/philox.h), which NoiseStream repeats */
  noiseStreams: { sample: number; trainer: number; conditions: number; bestOfN: number };
}

/** The package root: the nearest directory above this file whose package.json is hypernoise's. */
function findPackageRoot(): string {
  let dir = __dirname;
  for (;;) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'hypernoise') return dir;
    } catch {
      // no package.json here
    }
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(__dirname, '..');
    dir = up;
  }
}

const packageRoot = findPackageRoot();

/** The installed package's root directory (models/, bench/ live there). */
export function packageDir(): string {
  return packageRoot;
}

function candidates(): string[] {
  const list: string[] = [];
  if (process.env.HYPERNOISE_ADDON) list.push(path.resolve(process.env.HYPERNOISE_ADDON));
  list.push(path.join(packageRoot, 'build', 'Release', 'hypernoise.node'));
  list.push(path.join(packageRoot, 'build', 'Debug', 'hypernoise.node'));
  return list;
}

function load(): NativeAddon {
  const failures: string[] = [];
  for (const file of candidates()) {
    if (!fs.existsSync(file)) {
      failures.push(`${file}: not found`);
      continue;
    }
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const addon = require(file) as NativeAddon;
      addon.setErrorClass(HypernoiseError);
      return addon;
    } catch (err) {
      failures.push(`${file}: ${(err as Error).message}`);
    }
  }
  throw new HypernoiseError(
    [
      'Could not load the hypernoise native addon.',
      'Tried:',
      ...failures.map((f) => `  - ${f}`),
      'Remedies:',
      '  - build it: `npm rebuild hypernoise` (or `npm run build:native` in a clone); it needs cmake and a C++17 compiler',
      '  - point HYPERNOISE_ADDON at a built hypernoise.node',
      '  - a build from another Node.js version or machine must be rebuilt here',
    ].join('\n'),
    'ERR_NATIVE_LOAD',
  );
}

let cached: NativeAddon | undefined;

/** The addon, loaded on first use. */
export function native(): NativeAddon {
  if (cached === undefined) {
    cached = load();
    // A misspelt HYPERNOISE_ISA or HYPERNOISE_NUM_THREADS is ignored by the addon: say so once.
    for (const w of cached.backendInfo().warnings) process.emitWarning(w, 'HypernoiseWarning');
  }
  return cached;
}
