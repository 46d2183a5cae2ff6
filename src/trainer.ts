/**
 * Training a noise hypernetwork: minimise E[lambda KL(eps) - r(g(T(eps)), c) / alpha] by reward
 * backpropagation through the frozen generator. With a native generator and a built-in reward a step is
 * one native call; with a JavaScript generator or reward the same pieces are composed here. Checkpoints
 * (checkpoint.ts) are atomic and training resumes from them exactly.
 */
import { CheckpointTrainerConfig, checkCompatible, checkpointState, checkpointTrainerConfig, readCheckpoint, writeCheckpoint } from './checkpoint';
import { checkFloat32, checkInteger, checkKeys, checkSignal, newFloat32, optional, optionKeys } from './checks';
import { expected, HypernoiseError } from './errors';
import { Hypernetwork } from './hypernetwork';
import { Generator, SequentialModel } from './models';
import { BackendName, KlName, native, NativeTrainer, NoiseMode, Seed } from './native';
import { checkSeed, NoiseStream, Rng } from './noise';
import { OptimizerOptions, resolveOptimizer } from './optimizer';
import { BuiltinReward, Reward, RewardValue } from './rewards';
import { outsideTraining, serialTraining } from './training-lock';

export { NoiseMode } from './native';

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
  /**
   * true when the run stopped because, for 25 steps in a row, the reward or gradients were non-finite (skipped
   * steps) or the loss or KL was (the parameters have blown up)
   */
  diverged: boolean;
  aborted: boolean;
  seconds: number;
  /** the trainer's step count after this call */
  step: number;
}

function allFinite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

const TRAINER_OPTIONS = optionKeys<TrainerOptions>()(['hypernetwork', 'generator', 'reward', 'kl', 'lambda', 'alpha', 'optimizer', 'batchSize', 'noise', 'seed', 'conditions']);
const TRAIN_OPTIONS = optionKeys<TrainOptions>()(['steps', 'onProgress', 'signal', 'checkpointEvery', 'checkpointPath']);

/** Consecutive bad steps (skipped, or a non-finite loss or KL) after which a run is reported as diverged and stopped. */
const DIVERGED_AFTER = 25;

type ResolvedConfig = CheckpointTrainerConfig;

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
  /** bad steps in a row (skipped, or a non-finite loss or KL), across train() calls; DIVERGED_AFTER stops a run */
  private badStreak = 0;
  /** whether a bad step of the current streak updated the parameters (then no automatic checkpoint) */
  private blewUp = false;

  constructor(opts: TrainerOptions) {
    if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'Trainer options', opts);
    checkKeys(opts, TRAINER_OPTIONS, 'Trainer');
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
    // kl, lambda, alpha, batchSize, noise: defaults and ranges from the native core's option table.
    this.config = Object.freeze({
      ...native().resolveOptions('trainer', opts),
      seed: checkSeed(optional(opts.seed, 0)),
      optimizer: Object.freeze(resolveOptimizer(opts.optimizer)),
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
    const cond: unknown = this.conditions(n, new Rng(this.config.seed, step, NoiseStream.conditions));
    if (!(cond instanceof Float32Array) || cond.length !== n * C) {
      throw new HypernoiseError(`conditions(n, rng) must return a Float32Array of ${n} x ${C} values but returned ${cond instanceof Float32Array ? `length ${cond.length}` : typeof cond}`, 'ERR_SHAPE');
    }
    return checkFloat32(cond, 'the result of conditions(n, rng)', n * C); // also refuses a resizable buffer
  }

  /** The training noise of step `step` (batchSize x noiseDim). */
  noise(step: number): Float32Array {
    checkInteger(step, 'step', 0);
    const out = newFloat32(this.config.batchSize * this.hypernetwork.noiseDim, 'the training noise (batchSize x noiseDim)');
    this.nativeTrainer.noise(step, out);
    return out;
  }

  /**
   * The trainer's operations (steps, train, checkpoint save and load) run one at a time, in call order, with
   * those of every other trainer of the same hypernetwork (training-lock.ts): concurrent calls give the
   * results of the same calls made one after another (a step reads and advances this.step across an await,
   * and two trainers' steps would otherwise interleave on the shared parameters and saved activations).
   */
  private serial<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return serialTraining(this.hypernetwork, what, fn);
  }

  /** Runs one step (index this.step) and advances. */
  stepOnce(): Promise<StepRecord> {
    return this.serial('Trainer.stepOnce', () => this.stepUnlocked());
  }

  private async stepUnlocked(): Promise<StepRecord> {
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
    const { epsHat, stats } = await hn.forwardTrainWithin(eps, cond, kl);
    const x = await this.generator.forward(epsHat);
    let r: RewardValue;
    try {
      r = await this.reward.evaluate(x, this.generator.outputDim, cond, hn.condDim, true);
    } catch (err) {
      // The built-in rewards refuse a non-finite generator output (a JavaScript generator, or one that
      // overflowed): as in the fused step, that is a non-finite reward, skipped and counted.
      if (!(err instanceof HypernoiseError && err.code === 'ERR_NON_FINITE')) throw err;
      r = { value: new Float32Array(n).fill(NaN) };
    }
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
    // A non-finite reward, reward gradient or VJP skips the step (vjp and backward refuse non-finite input).
    if (!finite || r.grad === undefined || !allFinite(r.grad)) {
      this.nativeTrainer.recordSkip();
      return record;
    }
    const dEps = await this.generator.vjp(epsHat, r.grad);
    if (!allFinite(dEps)) {
      this.nativeTrainer.recordSkip();
      return record;
    }
    // d loss / d eps_hat = -(1/alpha)(1/n) J^T dr/dx; KL weight lambda/n.
    await hn.backwardWithin(dEps, kl, lambda / n, -1 / (alpha * n));
    const o = await this.nativeTrainer.applyGradient();
    return { ...record, gradNorm: o.gradNorm, skipped: o.skipped, lr: o.lr };
  }

  /** Trains for `steps` more steps, with progress, cancellation and periodic atomic checkpoints. */
  train(opts: TrainOptions): Promise<TrainHistory> {
    return this.serial('Trainer.train', () => this.trainUnlocked(opts));
  }

  private async trainUnlocked(opts: TrainOptions): Promise<TrainHistory> {
    if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'train options', opts);
    checkKeys(opts, TRAIN_OPTIONS, 'train()');
    const steps = checkInteger(opts.steps, 'steps', 0);
    const every = opts.checkpointEvery === undefined ? 0 : checkInteger(opts.checkpointEvery, 'checkpointEvery', 1);
    if (every > 0 && typeof opts.checkpointPath !== 'string') throw expected('a file path', 'checkpointPath', opts.checkpointPath);
    if (opts.checkpointPath !== undefined && typeof opts.checkpointPath !== 'string') throw expected('a file path', 'checkpointPath', opts.checkpointPath);
    if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') throw expected('a function', 'onProgress', opts.onProgress);
    if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw expected('an AbortSignal', 'signal', opts.signal);
    checkSignal(opts.signal);
    const start = Date.now();
    const history: TrainHistory = { records: [], skippedSteps: 0, nonInvertibleSamples: 0, diverged: false, aborted: false, seconds: 0, step: this.step };
    for (let done = 0; done < steps; done++) {
      if (opts.signal?.aborted) {
        history.aborted = true;
        break;
      }
      const rec = await this.stepUnlocked();
      history.records.push(rec);
      if (rec.skipped) history.skippedSteps++;
      history.nonInvertibleSamples += rec.nonInvertible;
      // The streak lives on the trainer, so a run trained in chunks (train() called in a loop) is judged as one.
      const nonFinite = !rec.skipped && !(Number.isFinite(rec.loss) && Number.isFinite(rec.kl));
      this.badStreak = rec.skipped || nonFinite ? this.badStreak + 1 : 0;
      this.blewUp = this.badStreak > 0 && (this.blewUp || nonFinite);
      // No automatic checkpoint of parameters that have blown up: the last one written stays the good one.
      if (every > 0 && this.step % every === 0 && !this.blewUp) await this.autoCheckpoint(opts.checkpointPath as string);
      if (opts.onProgress) {
        const elapsedMs = Date.now() - start;
        const progress = { ...rec, done: done + 1, total: steps, elapsedMs, etaMs: (elapsedMs / (done + 1)) * (steps - done - 1) };
        const onProgress = opts.onProgress;
        outsideTraining(() => onProgress(progress)); // e.g. a saveCheckpoint() there queues after this run
      }
      if (this.badStreak >= DIVERGED_AFTER) {
        history.diverged = true;
        break;
      }
    }
    // Nothing lost: a run that stops early still leaves its last state on disk (unless that state has blown up).
    if (opts.checkpointPath !== undefined && !this.blewUp && (history.aborted || history.diverged || every === 0 || this.step % every !== 0)) {
      await this.autoCheckpoint(opts.checkpointPath);
    }
    history.seconds = (Date.now() - start) / 1000;
    history.step = this.step;
    return history;
  }

  /**
   * train()'s own checkpoints: skipped while the parameters are not finite (a run diverging through its
   * updates), so that the last good checkpoint on disk is not replaced by one that cannot be resumed.
   */
  private async autoCheckpoint(file: string): Promise<void> {
    const p = this.hypernetwork.getParams();
    for (let i = 0; i < p.length; i++) if (!Number.isFinite(p[i])) return;
    await this.saveUnlocked(file);
  }

  /** Writes the hypernetwork, optimiser state, step count and RNG position, atomically. */
  saveCheckpoint(file: string): Promise<void> {
    return this.serial('Trainer.saveCheckpoint', () => this.saveUnlocked(file));
  }

  private async saveUnlocked(file: string): Promise<void> {
    const hn = this.hypernetwork;
    const m = newFloat32(hn.paramCount, 'the optimiser state');
    const v = newFloat32(hn.paramCount, 'the optimiser state');
    const counters = this.nativeTrainer.getOptimizerState(m, v);
    await writeCheckpoint(file, { hypernetwork: hn, config: this.config, step: this.step, m, v, counters, reward: typeof this.reward.description === 'string' ? this.reward.description : undefined });
  }

  /** Restores a checkpoint written by a trainer of the same configuration; the next step continues it exactly. */
  loadCheckpoint(file: string): Promise<void> {
    return this.serial('Trainer.loadCheckpoint', () => this.loadUnlocked(file));
  }

  private async loadUnlocked(file: string): Promise<void> {
    const ck = await readCheckpoint(file);
    checkCompatible(ck, this.hypernetwork, this.config);
    // Everything is read and checked before anything is changed: a checkpoint that fails to load leaves the
    // trainer as it was (not new parameters with the old optimiser state).
    const { params, m, v } = checkpointState(ck, this.hypernetwork);
    const c = ck.counters;
    try {
      this.hypernetwork.setParams(params);
      this.nativeTrainer.setOptimizerState(m, v, c.steps, c.applied, c.skipped);
    } catch (err) {
      if (err instanceof HypernoiseError) throw new HypernoiseError(`${file}: ${err.message}`, 'ERR_FILE');
      throw err;
    }
    this.step = ck.step;
  }

  /**
   * A trainer (and its hypernetwork) restored from a checkpoint; pass the same generator, reward and
   * conditions as the run that wrote it.
   */
  static async fromCheckpoint(
    file: string,
    opts: { generator: Generator; reward: Reward; conditions?: (n: number, rng: Rng) => Float32Array; backend?: BackendName },
  ): Promise<Trainer> {
    if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'fromCheckpoint options', opts);
    const ck = await readCheckpoint(file);
    // The file's trainer configuration is checked here, so that a bad value in it is an ERR_FILE and any
    // error of the Trainer constructor below is about the caller's generator, reward or conditions.
    const config = checkpointTrainerConfig(ck);
    const hn = Hypernetwork.fromMetadata(ck.hypernetwork, file, opts.backend, ck.st);
    let trainer: Trainer;
    try {
      trainer = new Trainer({ hypernetwork: hn, generator: opts.generator, reward: opts.reward, conditions: opts.conditions, ...config });
    } catch (err) {
      hn.dispose();
      throw err;
    }
    try {
      await trainer.loadCheckpoint(file);
    } catch (err) {
      trainer.dispose();
      hn.dispose();
      // The trainer was configured from this very file: a configuration mismatch means an inconsistent file.
      if (err instanceof HypernoiseError && err.code === 'ERR_ARGUMENT') throw new HypernoiseError(err.message, 'ERR_FILE');
      throw err;
    }
    return trainer;
  }

  dispose(): void {
    this.nativeTrainer.dispose();
  }
}
