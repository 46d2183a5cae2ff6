/**
 * The checkpoint file format: a safetensors file holding the hypernetwork's tensors, the optimiser's
 * moments (`opt.m.<name>`, `opt.v.<name>`) and, in its `hypernoise` metadata, the hypernetwork's
 * configuration, the trainer's configuration, the step count, the optimiser's counters and the RNG position.
 * A checkpoint is not a hypernetwork file (`Hypernetwork.load` reads those); `Trainer.fromCheckpoint` and
 * `trainer.loadCheckpoint` read it. Writes are atomic; reads check everything before anything is used.
 */
import { HypernoiseError } from './errors';
import { Hypernetwork } from './hypernetwork';
import { native, ResolvedTrainerOptions, Seed } from './native';
import { checkSeed, NoiseStream } from './noise';
import { OptimizerOptions, ResolvedOptimizer, resolveOptimizer } from './optimizer';
import { hypernoiseMetadata, readSafetensors, requireF32, SafetensorsFile, TensorInput, writeSafetensors } from './safetensors';

export interface OptimizerCounters {
  steps: number;
  applied: number;
  skipped: number;
}

/** A trainer's configuration as a checkpoint records it. */
export interface CheckpointTrainerConfig extends ResolvedTrainerOptions {
  seed: Seed;
  optimizer: ResolvedOptimizer;
}

export interface CheckpointContents {
  hypernetwork: Hypernetwork;
  config: CheckpointTrainerConfig;
  step: number;
  /** optimiser moments, flat like the hypernetwork's parameters */
  m: Float32Array;
  v: Float32Array;
  counters: OptimizerCounters;
  /** the reward's description (Reward.description), recorded so that a resumed run can be checked against it */
  reward?: string;
}

export function seedToJson(seed: Seed): string | number {
  return typeof seed === 'bigint' ? seed.toString() : seed;
}

export function seedFromJson(seed: unknown): unknown {
  return typeof seed === 'string' && /^[0-9]{1,20}$/.test(seed) ? BigInt(seed) : seed;
}

export async function writeCheckpoint(file: string, c: CheckpointContents): Promise<void> {
  const hn = c.hypernetwork;
  const tensors = hn.tensors();
  const out = new Map<string, TensorInput>(tensors);
  for (const [name, t] of tensors) {
    const [off, len] = hn.tensorLayout[name];
    out.set(`opt.m.${name}`, { shape: t.shape, data: c.m.slice(off, off + len) });
    out.set(`opt.v.${name}`, { shape: t.shape, data: c.v.slice(off, off + len) });
  }
  const seed = seedToJson(c.config.seed);
  const meta = {
    format: 'checkpoint',
    hypernetwork: hn.metadata(),
    trainer: { ...c.config, seed },
    ...(c.reward === undefined ? {} : { reward: c.reward }),
    step: c.step,
    optimizer: c.counters,
    rng: { seed, step: c.step, streams: { noise: 'trainer', conditions: NoiseStream.conditions } },
  };
  await writeSafetensors(file, out, { hypernoise: JSON.stringify(meta) });
}

/** A checkpoint file read and its metadata checked for shape (ERR_FILE otherwise). */
export interface CheckpointFile {
  file: string;
  st: SafetensorsFile;
  /** the hypernetwork's configuration (as Hypernetwork.metadata() writes it) */
  hypernetwork: Record<string, unknown>;
  /** the trainer's configuration, unchecked values */
  trainer: Record<string, unknown>;
  step: number;
  counters: OptimizerCounters;
  /** the description of the reward it was trained with (absent in files written before it was recorded) */
  reward: string | undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export async function readCheckpoint(file: string): Promise<CheckpointFile> {
  const st = await readSafetensors(file);
  const meta = hypernoiseMetadata(st, file, 'checkpoint');
  const hm = meta.hypernetwork;
  const tc = meta.trainer;
  if (!isRecord(hm) || !isRecord(tc)) throw new HypernoiseError(`${file}: missing hypernetwork or trainer metadata`, 'ERR_FILE');
  const step = meta.step;
  const counters = meta.optimizer;
  if (!Number.isSafeInteger(step) || (step as number) < 0 || !isRecord(counters)) {
    throw new HypernoiseError(`${file}: invalid step or optimizer counters`, 'ERR_FILE');
  }
  for (const k of ['steps', 'applied', 'skipped'] as const) {
    const c = counters[k];
    if (!Number.isSafeInteger(c) || (c as number) < 0 || (c as number) > 2 ** 52) throw new HypernoiseError(`${file}: invalid optimizer counter ${k}`, 'ERR_FILE');
  }
  const c = counters as unknown as OptimizerCounters;
  if (c.applied + c.skipped > c.steps) throw new HypernoiseError(`${file}: inconsistent optimizer counters`, 'ERR_FILE');
  const reward = typeof meta.reward === 'string' ? meta.reward : undefined;
  return { file, st, hypernetwork: hm, trainer: tc, step: step as number, counters: { steps: c.steps, applied: c.applied, skipped: c.skipped }, reward };
}

/**
 * The trainer configuration a checkpoint records, checked through the native option tables: every trainer
 * option must be present (a file that lost one is corrupt), the optimiser's are resolved like a user's.
 */
export function checkpointTrainerConfig(ck: CheckpointFile): Omit<CheckpointTrainerConfig, 'optimizer'> & { optimizer: ResolvedOptimizer | undefined } {
  const tc = ck.trainer;
  try {
    for (const key of Object.keys(native().resolveOptions('trainer', undefined))) {
      if (tc[key] === undefined) throw new HypernoiseError(`missing ${key}`, 'ERR_ARGUMENT');
    }
    const resolved = native().resolveOptions('trainer', tc);
    return {
      ...resolved,
      seed: checkSeed(seedFromJson(tc.seed)),
      optimizer: tc.optimizer === undefined ? undefined : resolveOptimizer(tc.optimizer as OptimizerOptions),
    };
  } catch (err) {
    if (err instanceof HypernoiseError) throw new HypernoiseError(`${ck.file}: invalid trainer configuration: ${err.message}`, 'ERR_FILE');
    throw err;
  }
}

/**
 * ERR_ARGUMENT unless the checkpoint was written by a trainer of this configuration: the same hypernetwork
 * shape, KL term, batch size, noise mode and seed (what makes its next step the run's next step).
 */
export function checkCompatible(ck: CheckpointFile, hn: Hypernetwork, config: CheckpointTrainerConfig): void {
  const mine = hn.metadata();
  for (const k of ['noiseDim', 'condDim', 'rank', 'depth', 'activation', 'scale']) {
    if (ck.hypernetwork[k] !== mine[k]) {
      throw new HypernoiseError(`${ck.file}: the checkpoint's hypernetwork has ${k} ${JSON.stringify(ck.hypernetwork[k])} but this trainer's has ${JSON.stringify(mine[k])}`, 'ERR_ARGUMENT');
    }
  }
  for (const k of ['kl', 'batchSize', 'noise'] as const) {
    if (ck.trainer[k] !== config[k]) {
      throw new HypernoiseError(`${ck.file}: the checkpoint was trained with ${k} ${JSON.stringify(ck.trainer[k])} but this trainer uses ${JSON.stringify(config[k])}`, 'ERR_ARGUMENT');
    }
  }
  if (String(ck.trainer.seed) !== String(seedToJson(config.seed))) {
    throw new HypernoiseError(`${ck.file}: the checkpoint's seed ${JSON.stringify(ck.trainer.seed)} differs from this trainer's ${String(config.seed)}`, 'ERR_ARGUMENT');
  }
}

/** The parameters and optimiser moments of a checkpoint for `hn`, every value checked (ERR_FILE). */
export function checkpointState(ck: CheckpointFile, hn: Hypernetwork): { params: Float32Array; m: Float32Array; v: Float32Array } {
  const m = new Float32Array(hn.paramCount);
  const v = new Float32Array(hn.paramCount);
  const params = new Float32Array(hn.paramCount);
  for (const [name, shape] of Object.entries(hn.tensorShapes())) {
    const off = hn.tensorLayout[name][0];
    params.set(requireF32(ck.st, name, shape, ck.file), off);
    m.set(requireF32(ck.st, `opt.m.${name}`, shape, ck.file), off);
    v.set(requireF32(ck.st, `opt.v.${name}`, shape, ck.file), off);
  }
  for (let i = 0; i < params.length; i++) {
    // v is a running mean of squares: a negative entry would make Adam's sqrt(v) NaN on the next step.
    if (!Number.isFinite(params[i]) || !Number.isFinite(m[i]) || !Number.isFinite(v[i]) || v[i] < 0) {
      throw new HypernoiseError(`${ck.file}: non-finite parameter or optimizer state at index ${i}`, 'ERR_FILE');
    }
  }
  return { params, m, v };
}
