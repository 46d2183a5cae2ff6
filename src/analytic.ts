/**
 * The analytic case (README "Why the exact KL"): a linear generator g(eps) = W eps + b and a Gaussian
 * reward r(x) = -0.5 ||x - mu||^2 / sigma^2 with alpha = 1. The reward-tilted noise distribution is then
 * Gaussian with precision I + W^T W / sigma^2 and mean Precision^{-1} W^T (mu - b) / sigma^2, so a trained
 * hypernetwork can be checked against it exactly. Used by `hypernoise analytic`, the quick start and tests.
 */
import { Hypernetwork } from './hypernetwork';
import { identity, invert, matmul, maxAbsDiff, transpose } from './linalg';
import { gaussianOf } from './metrics';
import { SequentialModel } from './models';
import { BackendName, KlName } from './native';
import { Rng } from './noise';
import { Reward, rewards } from './rewards';
import { Sampler } from './sampler';
import { StepRecord, Trainer } from './trainer';
import { TestTimeOptimizer } from './tto';

export interface AnalyticProblem {
  dim: number;
  sigma: number;
  W: Float64Array;
  b: Float64Array;
  mu: Float64Array;
  generator: SequentialModel;
  reward: Reward;
  targetMean: Float64Array;
  targetCov: Float64Array;
}

export function analyticProblem(opts: { dim?: number; sigma?: number; seed?: number; backend?: BackendName } = {}): AnalyticProblem {
  const D = opts.dim ?? 8;
  const sigma = opts.sigma ?? 1;
  const rng = new Rng(opts.seed ?? 7, 0, 0x414e);
  const W = new Float64Array(D * D).map(() => rng.normal() / Math.sqrt(D));
  const b = new Float64Array(D).map(() => 0.5 * rng.normal());
  const mu = new Float64Array(D).map(() => 1 + 0.5 * rng.normal());
  const params = new Float32Array(D * D + D);
  params.set(W);
  params.set(b, D * D);
  const generator = SequentialModel.fromLayers([{ type: 'linear', in: D, out: D }], { params, backend: opts.backend ?? 'cpu' });
  const s2 = sigma * sigma;
  const reward = rewards.fromFunction((x, n) => {
    const value = new Float32Array(n);
    const grad = new Float32Array(n * D);
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let j = 0; j < D; j++) {
        const d = x[i * D + j] - mu[j];
        acc += d * d;
        grad[i * D + j] = -d / s2;
      }
      value[i] = (-0.5 * acc) / s2;
    }
    return { value, grad };
  }, 'gaussian');
  // Precision = I + W^T W / sigma^2; mean = Precision^{-1} W^T (mu - b) / sigma^2.
  const Wt = transpose(W, D, D);
  const prec = identity(D);
  const WtW = matmul(Wt, W, D, D, D);
  for (let i = 0; i < D * D; i++) prec[i] += WtW[i] / s2;
  const cov = invert(prec, D).inverse;
  const rhs = new Float64Array(D);
  for (let j = 0; j < D; j++) rhs[j] = (mu[j] - b[j]) / s2;
  const targetMean = matmul(cov, matmul(Wt, rhs, D, D, 1), D, D, 1);
  return { dim: D, sigma, W, b, mu, generator, reward, targetMean, targetCov: cov };
}

export interface AnalyticResult {
  kl: KlName;
  meanError: number;
  covError: number;
  samples: number;
  steps: number;
  seconds: number;
  finalRecord: StepRecord | undefined;
}

/** Trains a depth-1, identity-activation hypernetwork on the analytic case and measures its errors. */
export async function runAnalytic(opts: {
  kl: KlName;
  steps?: number;
  samples?: number;
  seed?: number;
  problem?: AnalyticProblem;
  onProgress?: (done: number, total: number) => void;
}): Promise<AnalyticResult> {
  const p = opts.problem ?? analyticProblem();
  const D = p.dim;
  const steps = opts.steps ?? 3000;
  const hn = new Hypernetwork({ noiseDim: D, rank: 2 * D, depth: 1, activation: 'identity', seed: opts.seed ?? 0, backend: 'cpu' });
  const trainer = new Trainer({
    hypernetwork: hn,
    generator: p.generator,
    reward: p.reward,
    kl: opts.kl,
    lambda: 1,
    alpha: 1,
    batchSize: 256,
    seed: opts.seed ?? 0,
    optimizer: { type: 'adam', lr: 1e-2, warmupSteps: 50, decaySteps: steps - 50 },
  });
  const history = await trainer.train({ steps, onProgress: opts.onProgress ? (pr) => opts.onProgress?.(pr.done, pr.total) : undefined });
  const samples = opts.samples ?? 20000;
  const out = await new Sampler({ hypernetwork: hn, generator: p.generator }).sample({ n: samples, seed: 12345 });
  const { mean, cov } = gaussianOf(out.noise, samples, D);
  trainer.dispose();
  hn.dispose();
  return {
    kl: opts.kl,
    meanError: maxAbsDiff(mean, p.targetMean),
    covError: maxAbsDiff(cov, p.targetCov),
    samples,
    steps,
    seconds: history.seconds,
    finalRecord: history.records[history.records.length - 1],
  };
}

/** ReNO on the analytic case: mean reward before and after. */
export async function runAnalyticReno(problem: AnalyticProblem, n = 256): Promise<{ base: number; reno: number }> {
  const base = await new Sampler({ generator: problem.generator }).sample({ n, seed: 99 });
  const r0 = await problem.reward.evaluate(base.x, problem.dim, null, 0, false);
  const tto = new TestTimeOptimizer({ generator: problem.generator, reward: problem.reward });
  const res = await tto.optimize({ n, seed: 99 });
  const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
  return { base: mean(r0.value), reno: mean(res.reward) };
}
