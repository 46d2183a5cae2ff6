/**
 * Training a noise hypernetwork (DESIGN §2): minimise E[lambda KL(eps) - r(g(T(eps)), c) / alpha] by
 * reward backpropagation through the frozen generator. With a native generator and a built-in reward a
 * step is one native call; with a JavaScript generator or reward the same pieces are composed here.
 * Checkpoints are atomic and training resumes from them exactly.
 */
import { checkInteger, checkNumber, checkOneOf, checkSignal, optional } from './checks';
import { expected, HypernoiseError } from './errors';
import { Hypernetwork, KL_KINDS } from './hypernetwork';
import { Generator, SequentialModel } from './models';
import { BackendName, KlName, native, NativeOptimizerConfig, NativeTrainer, Seed } from './native';
import { checkSeed, NoiseStream, Rng } from './noise';
import { BuiltinReward, Reward } from './rewards';
import { hypernoiseMetadata, readSafetensors, requireF32, TensorInput, writeSafetensors } from './safetensors';

export type NoiseMode = 'inf' | 'batch' | 'one';

export interface OptimizerOptions {
  type?: 'adam' | 'adamw' | 'sgd';
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  nesterov?: boolean;
  /** global L2 gradient-norm clip (0: off) */
  gradClip?: number;
  /** linear learning-rate warm-up over this many steps */
  warmupSteps?: number;
  /** cosine decay of the learning rate to 0 over this many steps after warm-up (0: constant) */
  decaySteps?: number;
}

export interface TrainerOptions {
  hypernetwork: Hypernetwork;
  generator: Generator;
  reward: Reward;
  /** the noise KL term: 'exact' (default), 'l2' (the paper's surrogate) or 'chi' (ReNO's norm prior) */
  kl?: KlName;
  lambda?: number;
  alpha?: number;
  optimizer?: OptimizerOptions;
  batchSize?: number;
  /** 'inf': fresh noise each step (default); 'batch': one fixed batch; 'one': one fixed noise */
  noise?: NoiseMode;
  seed?: Seed;
  /** conditions for a step, n x condDim (required when the hypernetwork is conditional) */
  conditions?: (n: number, rng: Rng) => Float32Array;
}

export interface StepRecord {
  step: number;
  loss: number;
  reward: number;
  /** mean of the configured KL term */
  kl: number;
  /** mean 0.5 ||f||^2 */
  klL2: number;
  gradNorm: number;
  skipped: boolean;
  /** samples whose log-det was excluded because T was not invertible there (exact KL) */
  nonInvertible: number;
  lr: number;
}

export interface TrainProgress extends StepRecord {
  /** steps done in this train() call, and asked for */
  done: number;
  total: number;
  elapsedMs: number;
  etaMs: number;
}

export interface TrainOptions {
  steps: number;
  onProgress?: (p: TrainProgress) => void;
  signal?: AbortSignal;
  checkpointEvery?: number;
  checkpointPath?: string;
}

export interface TrainHistory {
  records: StepRecord[];
  /** steps with a non-finite reward or gradient (no update made) */
  skippedSteps: number;
  nonInvertibleSamples: number;
  /** true when the run stopped because the loss or gradients stayed non-finite */
  diverged: boolean;
  aborted: boolean;
  seconds: number;
  /** the trainer's step count after this call */
  step: number;
}

/** Consecutive skipped steps after which a run is reported as diverged and stopped. */
const DIVERGED_AFTER = 25;

interface ResolvedConfig {
  kl: KlName;
  lambda: number;
  alpha: number;
  batchSize: number;
  noise: NoiseMode;
  seed: Seed;
  optimizer: NativeOptimizerConfig;
}

export function resolveOptimizer(o: OptimizerOptions | undefined): NativeOptimizerConfig {
  if (o === undefined) return { type: 'adam', lr: 1e-3 };
  if (typeof o !== 'object' || o === null) throw expected('an options object', 'optimizer', o);
  const c: NativeOptimizerConfig = { type: checkOneOf(optional(o.type, 'adam'), 'optimizer.type', ['adam', 'adamw', 'sgd'] as const) };
  const num = (k: keyof OptimizerOptions, min = 0) => {
    const v = o[k];
    if (v !== undefined) (c as Record<string, unknown>)[k] = checkNumber(v, `optimizer.${k}`, { min });
  };
  num('lr');
  num('beta1');
  num('beta2');
  num('eps');
  num('weightDecay');
  num('momentum');
  num('gradClip');
  if (o.warmupSteps !== undefined) c.warmupSteps = checkInteger(o.warmupSteps, 'optimizer.warmupSteps', 0);
  if (o.decaySteps !== undefined) c.decaySteps = checkInteger(o.decaySteps, 'optimizer.decaySteps', 0);
  if (o.nesterov !== undefined) {
    if (typeof o.nesterov !== 'boolean') throw expected('a boolean', 'optimizer.nesterov', o.nesterov);
    c.nesterov = o.nesterov;
  }
  if (c.lr === undefined) c.lr = 1e-3;
  return c;
}

function seedToJson(seed: Seed): string | number {
  return typeof seed === 'bigint' ? seed.toString() : seed;
}

export class Trainer {
  readonly hypernetwork: Hypernetwork;
  readonly generator: Generator;
  readonly reward: Reward;
  readonly config: Readonly<ResolvedConfig>;
  /** steps completed so far (the next step's index) */
  step = 0;
  private readonly fused: boolean;
  private readonly nativeTrainer: NativeTrainer;
  private readonly conditions?: (n: number, rng: Rng) => Float32Array;

  constructor(opts: TrainerOptions) {
    if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'Trainer options', opts);
    const { hypernetwork: hn, generator: gen, reward } = opts;
    if (!(hn instanceof Hypernetwork)) throw expected('a Hypernetwork', 'hypernetwork', hn);
    if (typeof gen !== 'object' || gen === null || typeof gen.forward !== 'function' || typeof gen.vjp !== 'function') {
      throw expected('a generator (SequentialModel or generators.fromFunctions)', 'generator', gen);
    }
    if (typeof reward !== 'object' || reward === null || typeof reward.evaluate !== 'function') throw expected('a reward', 'reward', reward);
    if (gen.inputDim !== hn.noiseDim) {
      throw new HypernoiseError(`The generator takes ${gen.inputDim} noise dimensions but the hypernetwork has noiseDim ${hn.noiseDim}`, 'ERR_SHAPE');
    }
    if (hn.condDim > 0 && typeof opts.conditions !== 'function') {
      throw new HypernoiseError(`The hypernetwork is conditional (condDim ${hn.condDim}): pass conditions: (n, rng) => Float32Array of n x ${hn.condDim}`, 'ERR_ARGUMENT');
    }
    this.hypernetwork = hn;
    this.generator = gen;
    this.reward = reward;
    this.conditions = opts.conditions;
    this.config = Object.freeze({
      kl: checkOneOf(optional(opts.kl, 'exact'), 'kl', KL_KINDS),
      lambda: checkNumber(optional(opts.lambda, 1), 'lambda', { min: 0 }),
      alpha: checkNumber(optional(opts.alpha, 1), 'alpha', { min: 0, exclusiveMin: true }),
      batchSize: checkInteger(optional(opts.batchSize, 64), 'batchSize', 1, 1 << 24),
      noise: checkOneOf(optional(opts.noise, 'inf'), 'noise', ['inf', 'batch', 'one'] as const),
      seed: checkSeed(optional(opts.seed, 0)),
      optimizer: resolveOptimizer(opts.optimizer),
    });
    this.fused =
      gen instanceof SequentialModel &&
      reward instanceof BuiltinReward &&
      gen.backend === hn.backend &&
      (reward.backend === 'auto' || reward.backend === hn.backend);
    this.nativeTrainer = new (native().Trainer)(
      hn.native,
      this.fused ? (gen as SequentialModel).native : null,
      this.fused ? (reward as BuiltinReward).native() : null,
      this.config,
    );
  }

  /** Whether each step runs as one native call (native generator and built-in reward on one backend). */
  get isFused(): boolean {
    return this.fused;
  }

  private conditionsFor(step: number): Float32Array | null {
    const C = this.hypernetwork.condDim;
    if (C === 0 || !this.conditions) return null;
    const n = this.config.batchSize;
    const cond = this.conditions(n, new Rng(this.config.seed, step, NoiseStream.conditions));
    if (!(cond instanceof Float32Array) || cond.length !== n * C) {
      throw new HypernoiseError(`conditions(n, rng) must return a Float32Array of ${n} x ${C} values but returned ${cond instanceof Float32Array ? `length ${cond.length}` : typeof cond}`, 'ERR_SHAPE');
    }
    return cond;
  }

  /** The training noise of step `step` (batchSize x noiseDim). */
  noise(step: number): Float32Array {
    checkInteger(step, 'step', 0);
    const out = new Float32Array(this.config.batchSize * this.hypernetwork.noiseDim);
    this.nativeTrainer.noise(step, out);
    return out;
  }

  /** Runs one step (index this.step) and advances. */
  async stepOnce(): Promise<StepRecord> {
    if (this.hypernetwork.disposed) throw new HypernoiseError('Hypernetwork has been disposed', 'ERR_DISPOSED');
    if (this.generator instanceof SequentialModel && this.generator.disposed) throw new HypernoiseError('The generator has been disposed', 'ERR_DISPOSED');
    const step = this.step;
    const record = this.fused ? await this.fusedStep(step) : await this.composedStep(step);
    this.step = step + 1;
    return record;
  }

  private async fusedStep(step: number): Promise<StepRecord> {
    const cond = this.conditionsFor(step);
    const classes = (this.reward as BuiltinReward).classes(cond, this.config.batchSize);
    const s = await this.nativeTrainer.step(step, cond, classes);
    return { step, loss: s.loss, reward: s.reward, kl: s.kl, klL2: s.klL2, gradNorm: s.gradNorm, skipped: s.skipped, nonInvertible: s.nonInvertible, lr: s.lr };
  }

  private async composedStep(step: number): Promise<StepRecord> {
    const { batchSize: n, kl, lambda, alpha } = this.config;
    const hn = this.hypernetwork;
    const cond = this.conditionsFor(step);
    const eps = this.noise(step);
    const { epsHat, stats } = await hn.forwardTrain(eps, cond, kl === 'exact');
    const x = await this.generator.forward(epsHat);
    const r = await this.reward.evaluate(x, this.generator.outputDim, cond, hn.condDim, true);
    let sumR = 0;
    let finite = true;
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(r.value[i])) finite = false;
      sumR += r.value[i];
    }
    const klRow = kl === 'l2' ? stats.l2 : kl === 'chi' ? stats.chi : stats.exact;
    let sumKl = 0;
    let sumL2 = 0;
    let nonInvertible = 0;
    for (let i = 0; i < n; i++) {
      sumKl += klRow[i];
      sumL2 += stats.l2[i];
      nonInvertible += stats.nonInvertible[i];
    }
    const record: StepRecord = {
      step,
      loss: (lambda * sumKl) / n - sumR / n / alpha,
      reward: sumR / n,
      kl: sumKl / n,
      klL2: sumL2 / n,
      gradNorm: NaN,
      skipped: true,
      nonInvertible,
      lr: 0,
    };
    if (!finite || r.grad === undefined) {
      this.nativeTrainer.recordSkip();
      return record;
    }
    const dEps = await this.generator.vjp(epsHat, r.grad);
    // d loss / d eps_hat = -(1/alpha)(1/n) J^T dr/dx; KL weight lambda/n.
    await hn.backward(dEps, kl, lambda / n, -1 / (alpha * n));
    const o = await this.nativeTrainer.applyGradient();
    return { ...record, gradNorm: o.gradNorm, skipped: o.skipped, lr: o.lr };
  }

  /** Trains for `steps` more steps, with progress, cancellation and periodic atomic checkpoints. */
  async train(opts: TrainOptions): Promise<TrainHistory> {
    if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'train options', opts);
    const steps = checkInteger(opts.steps, 'steps', 0);
    const every = opts.checkpointEvery === undefined ? 0 : checkInteger(opts.checkpointEvery, 'checkpointEvery', 1);
    if (every > 0 && typeof opts.checkpointPath !== 'string') throw expected('a file path', 'checkpointPath', opts.checkpointPath);
    checkSignal(opts.signal);
    const start = Date.now();
    const history: TrainHistory = { records: [], skippedSteps: 0, nonInvertibleSamples: 0, diverged: false, aborted: false, seconds: 0, step: this.step };
    let consecutiveSkips = 0;
    for (let done = 0; done < steps; done++) {
      if (opts.signal?.aborted) {
        history.aborted = true;
        break;
      }
      const rec = await this.stepOnce();
      history.records.push(rec);
      if (rec.skipped) history.skippedSteps++;
      history.nonInvertibleSamples += rec.nonInvertible;
      consecutiveSkips = rec.skipped ? consecutiveSkips + 1 : 0;
      if (every > 0 && this.step % every === 0) await this.saveCheckpoint(opts.checkpointPath as string);
      if (opts.onProgress) {
        const elapsedMs = Date.now() - start;
        opts.onProgress({ ...rec, done: done + 1, total: steps, elapsedMs, etaMs: (elapsedMs / (done + 1)) * (steps - done - 1) });
      }
      if (consecutiveSkips >= DIVERGED_AFTER) {
        history.diverged = true;
        break;
      }
    }
    // Nothing lost: a run that stops early still leaves its last state on disk.
    if (opts.checkpointPath !== undefined && (history.aborted || history.diverged || every === 0 || this.step % every !== 0)) {
      await this.saveCheckpoint(opts.checkpointPath);
    }
    history.seconds = (Date.now() - start) / 1000;
    history.step = this.step;
    return history;
  }

  /** Writes the hypernetwork, optimiser state, step count and RNG position, atomically. */
  async saveCheckpoint(file: string): Promise<void> {
    const hn = this.hypernetwork;
    const tensors = hn.tensors();
    const m = new Float32Array(hn.paramCount);
    const v = new Float32Array(hn.paramCount);
    const counters = this.nativeTrainer.getOptimizerState(m, v);
    const out = new Map<string, TensorInput>(tensors);
    for (const [name, t] of tensors) {
      const [off, len] = hn.tensorLayout[name];
      out.set(`opt.m.${name}`, { shape: t.shape, data: m.slice(off, off + len) });
      out.set(`opt.v.${name}`, { shape: t.shape, data: v.slice(off, off + len) });
    }
    const meta = {
      format: 'checkpoint',
      hypernetwork: hn.metadata(),
      trainer: { ...this.config, seed: seedToJson(this.config.seed) },
      step: this.step,
      optimizer: counters,
      rng: { seed: seedToJson(this.config.seed), step: this.step, streams: { noise: 'trainer', conditions: NoiseStream.conditions } },
    };
    await writeSafetensors(file, out, { hypernoise: JSON.stringify(meta) });
  }

  /** Restores a checkpoint written by a trainer of the same configuration; the next step continues it exactly. */
  async loadCheckpoint(file: string): Promise<void> {
    const st = await readSafetensors(file);
    const meta = hypernoiseMetadata(st, file, 'checkpoint');
    const hm = meta.hypernetwork as Record<string, unknown> | undefined;
    const hn = this.hypernetwork;
    const mine = hn.metadata();
    for (const k of ['noiseDim', 'condDim', 'rank', 'depth', 'activation', 'scale']) {
      if (!hm || hm[k] !== mine[k]) {
        throw new HypernoiseError(`${file}: the checkpoint's hypernetwork has ${k} ${JSON.stringify(hm?.[k])} but this trainer's has ${JSON.stringify(mine[k])}`, 'ERR_ARGUMENT');
      }
    }
    const tc = meta.trainer as Record<string, unknown> | undefined;
    for (const k of ['kl', 'batchSize', 'noise'] as const) {
      if (!tc || tc[k] !== this.config[k]) {
        throw new HypernoiseError(`${file}: the checkpoint was trained with ${k} ${JSON.stringify(tc?.[k])} but this trainer uses ${JSON.stringify(this.config[k])}`, 'ERR_ARGUMENT');
      }
    }
    if (!tc || String(tc.seed) !== String(seedToJson(this.config.seed))) {
      throw new HypernoiseError(`${file}: the checkpoint's seed ${JSON.stringify(tc?.seed)} differs from this trainer's ${String(this.config.seed)}`, 'ERR_ARGUMENT');
    }
    const step = meta.step;
    const counters = meta.optimizer as { steps?: unknown; applied?: unknown; skipped?: unknown } | undefined;
    if (!Number.isSafeInteger(step) || (step as number) < 0 || !counters) throw new HypernoiseError(`${file}: invalid step or optimizer counters`, 'ERR_FILE');
    const m = new Float32Array(hn.paramCount);
    const v = new Float32Array(hn.paramCount);
    for (const [name, shape] of Object.entries(hn.tensorShapes())) {
      const off = hn.tensorLayout[name][0];
      m.set(requireF32(st, `opt.m.${name}`, shape, file), off);
      v.set(requireF32(st, `opt.v.${name}`, shape, file), off);
    }
    const c = counters as { steps: number; applied: number; skipped: number };
    for (const k of ['steps', 'applied', 'skipped'] as const) {
      if (!Number.isSafeInteger(c[k]) || c[k] < 0) throw new HypernoiseError(`${file}: invalid optimizer counter ${k}`, 'ERR_FILE');
    }
    hn.setTensors((name, shape) => requireF32(st, name, shape, file), file);
    try {
      this.nativeTrainer.setOptimizerState(m, v, c.steps, c.applied, c.skipped);
    } catch (err) {
      if (err instanceof HypernoiseError) throw new HypernoiseError(`${file}: ${err.message}`, 'ERR_FILE');
      throw err;
    }
    this.step = step as number;
  }

  /**
   * A trainer (and its hypernetwork) restored from a checkpoint; pass the same generator, reward and
   * conditions as the run that wrote it.
   */
  static async fromCheckpoint(
    file: string,
    opts: { generator: Generator; reward: Reward; conditions?: (n: number, rng: Rng) => Float32Array; backend?: BackendName },
  ): Promise<Trainer> {
    const st = await readSafetensors(file);
    const meta = hypernoiseMetadata(st, file, 'checkpoint');
    const hm = meta.hypernetwork as Record<string, unknown>;
    const tc = meta.trainer as Record<string, unknown>;
    if (typeof hm !== 'object' || hm === null || typeof tc !== 'object' || tc === null) throw new HypernoiseError(`${file}: missing hypernetwork or trainer metadata`, 'ERR_FILE');
    const hn = Hypernetwork.fromMetadata(hm, file, opts.backend);
    const seed = typeof tc.seed === 'string' ? BigInt(tc.seed) : (tc.seed as number);
    const trainer = new Trainer({
      hypernetwork: hn,
      generator: opts.generator,
      reward: opts.reward,
      conditions: opts.conditions,
      kl: tc.kl as KlName,
      lambda: tc.lambda as number,
      alpha: tc.alpha as number,
      batchSize: tc.batchSize as number,
      noise: tc.noise as NoiseMode,
      seed,
      optimizer: tc.optimizer as OptimizerOptions,
    });
    await trainer.loadCheckpoint(file);
    return trainer;
  }

  dispose(): void {
    this.nativeTrainer.dispose();
  }
}
