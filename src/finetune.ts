/**
 * The paper's other baseline: fine-tune the generator's own weights on the reward instead of moving its
 * noise. KL-free, as the paper's fine-tuning baseline is: minimise E_eps[-r(g_theta(eps), c) / alpha]
 * over theta, with the reward weight 1/alpha the hypernetwork's objective uses, from the base weights.
 * Nothing holds the fine-tuned generator near the base distribution, which is the point of the contrast.
 */
import { checkInteger, checkNumber, checkSignal, optional } from './checks';
import { expected, HypernoiseError } from './errors';
import { SequentialModel } from './models';
import { Seed } from './native';
import { repeatRow, sampleNoise } from './noise';
import { ModelOptimizer, OptimizerOptions } from './optimizer';
import { Reward } from './rewards';

/** Noise stream of fine-tuning batches ("FT"), apart from the sampler's and the trainer's. */
const FINE_TUNE_STREAM = 0x4654;

export interface FineTuneOptions {
  generator: SequentialModel;
  reward: Reward;
  /** the condition row every sample is scored with (e.g. a one-hot digit), or null */
  cond: Float32Array | null;
  steps?: number;
  batchSize?: number;
  /** weight 1 / alpha on the reward, as in the hypernetwork's objective (default 1) */
  alpha?: number;
  /** default: Adam, lr 1e-4, gradient clip 1, constant rate */
  optimizer?: OptimizerOptions;
  seed?: Seed;
  signal?: AbortSignal;
  onProgress?: (p: { step: number; steps: number; reward: number }) => void;
}

export interface FineTuneResult {
  /** a new model with the fine-tuned weights (the base generator is unchanged) */
  model: SequentialModel;
  /** mean training-batch reward of the first and the last 10 % of the steps */
  rewardStart: number;
  rewardEnd: number;
  seconds: number;
  steps: number;
}

/** One fine-tuning gradient: d/dtheta of mean_i -r(g_theta(eps_i), c) / alpha, with the batch's mean reward. */
export async function fineTuneGradient(generator: SequentialModel, reward: Reward, eps: Float32Array, cond: Float32Array | null, alpha: number): Promise<{ grad: Float32Array; reward: number }> {
  const n = eps.length / generator.inputDim;
  const P = generator.outputDim;
  const x = await generator.forward(eps);
  const condRows = cond === null ? null : repeatRow(cond, n);
  const r = await reward.evaluate(x, P, condRows, cond === null ? 0 : cond.length, true);
  const grad = r.grad as Float32Array;
  const scale = -1 / (alpha * n);
  let finite = true;
  for (let i = 0; i < grad.length; i++) {
    grad[i] *= scale;
    if (!Number.isFinite(grad[i])) finite = false;
  }
  let mean = 0;
  for (let i = 0; i < n; i++) mean += r.value[i] / n;
  // A non-finite reward gradient gives a non-finite parameter gradient, which the optimiser skips (gradients()
  // itself refuses non-finite input).
  if (!finite) return { grad: new Float32Array(generator.paramCount).fill(NaN), reward: mean };
  return { grad: (await generator.gradients(eps, grad)).grad, reward: mean };
}

export async function fineTuneGenerator(opts: FineTuneOptions): Promise<FineTuneResult> {
  if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'fineTuneGenerator options', opts);
  const { generator, reward } = opts;
  if (!(generator instanceof SequentialModel)) throw expected('a SequentialModel', 'generator', generator);
  const steps = checkInteger(optional(opts.steps, 300), 'steps', 1);
  const B = checkInteger(optional(opts.batchSize, 64), 'batchSize', 1);
  const alpha = checkNumber(optional(opts.alpha, 1), 'alpha', { min: 0, exclusiveMin: true });
  const seed = optional(opts.seed, 0);
  const start = performance.now();
  const model = SequentialModel.fromLayers(generator.layers.slice(), { params: generator.getParams(), backend: generator.backend });
  const opt = new ModelOptimizer(model, { type: 'adam', lr: 1e-4, gradClip: 1, ...opts.optimizer });
  const rewards: number[] = [];
  try {
    for (let s = 0; s < steps; s++) {
      checkSignal(opts.signal);
      const eps = sampleNoise({ n: B, dim: model.inputDim, seed, offset: s * B, stream: FINE_TUNE_STREAM });
      const g = await fineTuneGradient(model, reward, eps, opts.cond, alpha);
      if (!Number.isFinite(g.reward)) throw new HypernoiseError(`fineTuneGenerator: the reward became ${g.reward} at step ${s}`, 'ERR_NON_FINITE');
      opt.step(g.grad);
      rewards.push(g.reward);
      opts.onProgress?.({ step: s + 1, steps, reward: g.reward });
    }
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    opt.dispose();
  }
  const tenth = Math.max(1, Math.floor(steps / 10));
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  return { model, rewardStart: mean(rewards.slice(0, tenth)), rewardEnd: mean(rewards.slice(-tenth)), seconds: (performance.now() - start) / 1000, steps };
}
