/**
 * Side-by-side evaluation (DESIGN.md, "Evaluation"): base generator, HyperNoise, ReNO and best-of-N, per class, against
 * exact samples of the reward-tilted target drawn by rejection sampling. Reports reward, accuracy under
 * the reward's classifier and an independent one, Fréchet distance to the target in the independent
 * classifier's features, diversity, time and generator passes per sample.
 */
import { checkInteger, checkNumber, checkSignal, optional } from './checks';
import { expected, HypernoiseError } from './errors';
import { Hypernetwork } from './hypernetwork';
import { frechetDistance, gaussianOf, meanPairwiseDistance, meanStd } from './metrics';
import { SequentialModel } from './models';
import { Seed } from './native';
import { NoiseStream, oneHot, Rng, sampleNoise } from './noise';
import { Reward } from './rewards';
import { TestTimeOptimizer, bestOfN } from './tto';

export const METHODS = ['base', 'hypernoise', 'reno', 'bestOfN', 'target'] as const;
export type Method = (typeof METHODS)[number];

export interface MethodMetrics {
  reward: number;
  rewardStd: number;
  /** argmax of the reward's classifier equals the class */
  accuracy: number;
  /** argmax of the independent evaluation classifier equals the class */
  accuracyEval: number;
  /** Fréchet distance to the target samples in the evaluation classifier's features */
  frechetToTarget: number;
  /** mean pairwise L2 distance between samples (pixels) */
  diversity: number;
  msPerSample: number;
  /** generator passes per sample (forward, or forward+backward for ReNO; draws per accepted sample for the target) */
  passesPerSample: number;
  /** noise-space KL(q || N(0, I)) where known: exact for HyperNoise, 0 for the base */
  noiseKl: number | null;
  samples: number;
}

export interface ClassResult {
  cls: number;
  methods: Record<Method, MethodMetrics>;
  /** (R_hn - R_base) / (R_reno - R_base) */
  fractionRecovered: number;
  /** ReNO ms/sample over HyperNoise ms/sample */
  speedupVsReno: number;
  /** the target's acceptance rate */
  acceptance: number;
}

export interface EvaluationReport {
  classes: number;
  samplesPerClass: number;
  perClass: ClassResult[];
  /** metrics averaged over classes */
  methods: Record<Method, MethodMetrics>;
  fractionRecovered: number;
  speedupVsReno: number;
  /** ReNO at the best learning rate of a small sweep, and best-of-N at ReNO's wall time (fairness) */
  fairness: {
    renoSweep: Array<{ lr: number; reward: number }>;
    renoBestLr: number;
    renoTuned: { reward: number; accuracyEval: number; frechetToTarget: number } | null;
    bestOfNEqualTime: { candidates: number; reward: number; accuracyEval: number; frechetToTarget: number } | null;
  };
  /** the first `keep` samples of each method per class, for grids: [method][class] -> n x P */
  kept: Record<Method, Float32Array[]>;
}

export interface EvaluateOptions {
  generator: SequentialModel;
  reward: Reward;
  hypernetwork: Hypernetwork;
  /** the classifier the reward uses (accuracy), and an independent one (accuracyEval, features) */
  rewardClassifier: SequentialModel;
  evalClassifier: SequentialModel;
  /** index of the evaluation classifier's layer whose output is the feature vector (default: its penultimate linear layer's activation) */
  featureLayers?: number;
  classes?: number;
  samplesPerClass?: number;
  /** r(x) <= rewardMax for every x; the target accepts x with probability exp((r - rewardMax) / alpha) */
  rewardMax: number;
  alpha?: number;
  renoIterations?: number;
  renoLr?: number;
  bestOfN?: number;
  /** ReNO learning rates tried in the fairness sweep (on a few samples per class); [] to skip */
  renoSweep?: number[];
  seed?: Seed;
  keep?: number;
  /** cap on target draws per class, as a multiple of samplesPerClass */
  maxDrawFactor?: number;
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
}

function argmaxRows(logits: Float32Array, n: number, k: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
}

async function medianTime<T>(fn: () => Promise<T>, reps = 5): Promise<{ value: T; ms: number }> {
  let value = await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    value = await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { value, ms: times[times.length >> 1] };
}

function repeatRow(row: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n * row.length);
  for (let i = 0; i < n; i++) out.set(row, i * row.length);
  return out;
}

function averageMetrics(list: MethodMetrics[]): MethodMetrics {
  const avg = (f: (m: MethodMetrics) => number | null) => {
    const v = list.map(f).filter((x): x is number => x !== null && Number.isFinite(x));
    return v.length ? v.reduce((s, x) => s + x, 0) / v.length : NaN;
  };
  const kl = list.every((m) => m.noiseKl === null) ? null : avg((m) => m.noiseKl);
  return {
    reward: avg((m) => m.reward),
    rewardStd: avg((m) => m.rewardStd),
    accuracy: avg((m) => m.accuracy),
    accuracyEval: avg((m) => m.accuracyEval),
    frechetToTarget: avg((m) => m.frechetToTarget),
    diversity: avg((m) => m.diversity),
    msPerSample: avg((m) => m.msPerSample),
    passesPerSample: avg((m) => m.passesPerSample),
    noiseKl: kl,
    samples: list.reduce((s, m) => s + m.samples, 0),
  };
}

export async function evaluate(opts: EvaluateOptions): Promise<EvaluationReport> {
  if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'evaluate options', opts);
  const { generator: gen, reward, hypernetwork: hn, rewardClassifier, evalClassifier } = opts;
  const K = checkInteger(optional(opts.classes, hn.condDim), 'classes', 1);
  if (hn.condDim !== K) throw new HypernoiseError(`evaluate: the hypernetwork's condDim ${hn.condDim} is not the number of classes ${K}`, 'ERR_SHAPE');
  const m = checkInteger(optional(opts.samplesPerClass, 128), 'samplesPerClass', 2);
  const alpha = checkNumber(optional(opts.alpha, 1), 'alpha', { min: 0, exclusiveMin: true });
  const rewardMax = checkNumber(opts.rewardMax, 'rewardMax');
  const N = checkInteger(optional(opts.bestOfN, 50), 'bestOfN', 1);
  const iterations = checkInteger(optional(opts.renoIterations, 50), 'renoIterations', 1);
  const renoLr = checkNumber(optional(opts.renoLr, 5), 'renoLr', { min: 0 });
  const seed = Number(optional(opts.seed, 0));
  const keep = Math.min(m, checkInteger(optional(opts.keep, 10), 'keep', 0));
  const maxDraws = m * checkInteger(optional(opts.maxDrawFactor, 200), 'maxDrawFactor', 1);
  const log = opts.onProgress ?? (() => undefined);
  const D = gen.inputDim;
  const P = gen.outputDim;
  const featureLayers = opts.featureLayers ?? (() => {
    // the output of the last activation before the final linear layer
    let last = -1;
    evalClassifier.layers.forEach((l, i) => {
      if (l.type === 'linear') last = i;
    });
    return last;
  })();
  const features = evalClassifier.prefix(featureLayers);
  const F = features.outputDim;
  const kept = Object.fromEntries(METHODS.map((k) => [k, [] as Float32Array[]])) as Record<Method, Float32Array[]>;
  const perClass: ClassResult[] = [];
  const targetGaussians: Array<{ mean: Float64Array; cov: Float64Array }> = [];
  const reno = new TestTimeOptimizer({ generator: gen, reward, iterations, lr: renoLr });

  // Scores a batch of samples of class c.
  const score = async (x: Float32Array, n: number, c: number) => {
    const cond = repeatRow(oneHot([c], K), n);
    const r = await reward.evaluate(x, P, cond, K, false);
    const predR = argmaxRows(await rewardClassifier.forward(x), n, rewardClassifier.outputDim);
    const predE = argmaxRows(await evalClassifier.forward(x), n, evalClassifier.outputDim);
    const feats = await features.forward(x);
    let acc = 0;
    let accE = 0;
    for (let i = 0; i < n; i++) {
      acc += predR[i] === c ? 1 : 0;
      accE += predE[i] === c ? 1 : 0;
    }
    return { value: r.value, accuracy: acc / n, accuracyEval: accE / n, feats };
  };

  for (let c = 0; c < K; c++) {
    checkSignal(opts.signal);
    const condRow = oneHot([c], K);
    const cond = repeatRow(condRow, m);
    const eps = sampleNoise({ n: m, dim: D, seed: seed * 1000 + c, stream: NoiseStream.sample });
    const samples: Partial<Record<Method, { x: Float32Array; n: number; ms: number; passes: number; noiseKl: number | null }>> = {};

    // The cheap methods are timed as the median of a few repetitions (one pass is too short to time alone).
    const baseT = await medianTime(() => gen.forward(eps));
    samples.base = { x: baseT.value, n: m, ms: baseT.ms, passes: 1, noiseKl: 0 };

    const hnT = await medianTime(async () => gen.forward(await hn.forward(eps, cond)));
    const kl = await hn.kl(eps, cond);
    samples.hypernoise = { x: hnT.value, n: m, ms: hnT.ms, passes: 1, noiseKl: meanStd(kl.exact).mean };

    let t0 = performance.now();
    const r = await reno.optimize({ n: m, noise: eps, cond, signal: opts.signal });
    samples.reno = { x: r.x, n: m, ms: performance.now() - t0, passes: iterations, noiseKl: null };

    t0 = performance.now();
    const b = await bestOfN({ generator: gen, reward, n: m, candidates: N, seed: seed * 1000 + c, cond, signal: opts.signal });
    samples.bestOfN = { x: b.x, n: m, ms: performance.now() - t0, passes: N, noiseKl: null };

    // Exact target samples: accept a base sample with probability exp((r - rewardMax) / alpha).
    t0 = performance.now();
    const accepted = new Float32Array(m * P);
    let nAcc = 0;
    let draws = 0;
    const rng = new Rng(seed, c, NoiseStream.bestOfN + 1);
    let batchIndex = 0;
    while (nAcc < m && draws < maxDraws) {
      const bs = Math.min(4096, Math.max(256, 4 * m));
      const e = sampleNoise({ n: bs, dim: D, seed: seed * 1000 + c, offset: batchIndex * bs, stream: NoiseStream.bestOfN + 1 });
      batchIndex++;
      const x = await gen.forward(e);
      const rv = await reward.evaluate(x, P, repeatRow(condRow, bs), K, false);
      for (let i = 0; i < bs && nAcc < m; i++) {
        draws++;
        if (rng.uniform() < Math.exp((rv.value[i] - rewardMax) / alpha)) {
          accepted.set(x.subarray(i * P, (i + 1) * P), nAcc * P);
          nAcc++;
        }
      }
    }
    if (nAcc < 2) throw new HypernoiseError(`evaluate: rejection sampling accepted ${nAcc} samples of class ${c} in ${draws} draws`, 'ERR_INTERNAL');
    samples.target = { x: accepted.subarray(0, nAcc * P), n: nAcc, ms: performance.now() - t0, passes: draws / nAcc, noiseKl: null };

    const targetScore = await score(samples.target.x, nAcc, c);
    const targetGauss = gaussianOf(targetScore.feats, nAcc, F);
    targetGaussians.push(targetGauss);
    const methods = {} as Record<Method, MethodMetrics>;
    for (const key of METHODS) {
      const s = samples[key] as { x: Float32Array; n: number; ms: number; passes: number; noiseKl: number | null };
      const sc = key === 'target' ? targetScore : await score(s.x, s.n, c);
      const { mean, std } = meanStd(sc.value);
      methods[key] = {
        reward: mean,
        rewardStd: std,
        accuracy: sc.accuracy,
        accuracyEval: sc.accuracyEval,
        frechetToTarget: key === 'target' ? 0 : frechetDistance(gaussianOf(sc.feats, s.n, F), targetGauss, F),
        diversity: meanPairwiseDistance(s.x, Math.min(s.n, 256), P),
        msPerSample: s.ms / s.n,
        passesPerSample: s.passes,
        noiseKl: s.noiseKl,
        samples: s.n,
      };
      kept[key].push(s.x.slice(0, Math.min(keep, s.n) * P));
    }
    const gain = methods.reno.reward - methods.base.reward;
    perClass.push({
      cls: c,
      methods,
      fractionRecovered: gain !== 0 ? (methods.hypernoise.reward - methods.base.reward) / gain : NaN,
      speedupVsReno: methods.reno.msPerSample / methods.hypernoise.msPerSample,
      acceptance: nAcc / draws,
    });
    log(`class ${c}: reward base ${methods.base.reward.toFixed(3)}, hypernoise ${methods.hypernoise.reward.toFixed(3)}, reno ${methods.reno.reward.toFixed(3)}, best-of-${N} ${methods.bestOfN.reward.toFixed(3)}, target ${methods.target.reward.toFixed(3)} (acceptance ${(nAcc / draws).toFixed(3)})`);
  }

  const methods = Object.fromEntries(METHODS.map((k) => [k, averageMetrics(perClass.map((p) => p.methods[k]))])) as Record<Method, MethodMetrics>;
  const fairness = await fairnessChecks(opts, { K, D, P, m, N, iterations, seed, F, features, log, methods, targetGaussians });
  features.dispose();
  return {
    classes: K,
    samplesPerClass: m,
    perClass,
    methods,
    fractionRecovered: (methods.hypernoise.reward - methods.base.reward) / (methods.reno.reward - methods.base.reward),
    speedupVsReno: methods.reno.msPerSample / methods.hypernoise.msPerSample,
    fairness,
    kept,
  };
}

/** ReNO at the best learning rate of a small sweep, and best-of-N given ReNO's time budget (DESIGN.md, "Evaluation"). */
async function fairnessChecks(
  opts: EvaluateOptions,
  ctx: {
    K: number;
    D: number;
    P: number;
    m: number;
    N: number;
    iterations: number;
    seed: number;
    F: number;
    features: SequentialModel;
    log: (l: string) => void;
    methods: Record<Method, MethodMetrics>;
    targetGaussians: Array<{ mean: Float64Array; cov: Float64Array }>;
  },
): Promise<EvaluationReport['fairness']> {
  const { generator: gen, reward } = opts;
  const { K, D, P, iterations, seed, F, features, log } = ctx;
  const lrs = opts.renoSweep ?? [0.5, 1, 2, 5, 10];
  const few = Math.min(ctx.m, 16);
  const sweep: Array<{ lr: number; reward: number }> = [];
  for (const lr of lrs) {
    checkSignal(opts.signal);
    const tto = new TestTimeOptimizer({ generator: gen, reward, iterations, lr });
    let total = 0;
    for (let c = 0; c < K; c++) {
      const cond = repeatRow(oneHot([c], K), few);
      const r = await tto.optimize({ n: few, noise: sampleNoise({ n: few, dim: D, seed: seed * 1000 + 500 + c }), cond });
      total += meanStd(r.reward).mean;
    }
    sweep.push({ lr, reward: total / K });
  }
  const bestLr = sweep.length ? sweep.reduce((a, b) => (b.reward > a.reward ? b : a)).lr : NaN;
  if (sweep.length) log(`ReNO learning-rate sweep: ${sweep.map((s) => `lr ${s.lr}: ${s.reward.toFixed(3)}`).join(', ')}; best ${bestLr}`);

  // Evaluate tuned ReNO and equal-time best-of-N on every class with the main sample count.
  const equalN = Math.max(1, Math.round(ctx.methods.reno.msPerSample / Math.max(1e-9, ctx.methods.bestOfN.msPerSample / ctx.N)));
  let renoTuned: EvaluationReport['fairness']['renoTuned'] = null;
  let bestEq: EvaluationReport['fairness']['bestOfNEqualTime'] = null;
  const tuned = { reward: 0, accuracyEval: 0, frechet: 0 };
  const eq = { reward: 0, accuracyEval: 0, frechet: 0 };
  const tto = new TestTimeOptimizer({ generator: gen, reward, iterations, lr: bestLr });
  for (let c = 0; c < K; c++) {
    checkSignal(opts.signal);
    const cond = repeatRow(oneHot([c], K), ctx.m);
    const eps = sampleNoise({ n: ctx.m, dim: D, seed: seed * 1000 + c, stream: NoiseStream.sample });
    const tg = ctx.targetGaussians[c];
    const one = async (x: Float32Array) => {
      const r = await reward.evaluate(x, P, cond, K, false);
      const predE = argmaxRows(await opts.evalClassifier.forward(x), ctx.m, opts.evalClassifier.outputDim);
      let accE = 0;
      for (let i = 0; i < ctx.m; i++) accE += predE[i] === c ? 1 : 0;
      const fd = frechetDistance(gaussianOf(await features.forward(x), ctx.m, F), tg, F);
      return { reward: meanStd(r.value).mean, accuracyEval: accE / ctx.m, frechet: fd };
    };
    if (Number.isFinite(bestLr)) {
      const r = await tto.optimize({ n: ctx.m, noise: eps, cond });
      const s = await one(r.x);
      tuned.reward += s.reward / K;
      tuned.accuracyEval += s.accuracyEval / K;
      tuned.frechet += s.frechet / K;
    }
    const b = await bestOfN({ generator: gen, reward, n: ctx.m, candidates: equalN, seed: seed * 1000 + c + 77, cond });
    const s = await one(b.x);
    eq.reward += s.reward / K;
    eq.accuracyEval += s.accuracyEval / K;
    eq.frechet += s.frechet / K;
  }
  if (Number.isFinite(bestLr)) renoTuned = { reward: tuned.reward, accuracyEval: tuned.accuracyEval, frechetToTarget: tuned.frechet };
  bestEq = { candidates: equalN, reward: eq.reward, accuracyEval: eq.accuracyEval, frechetToTarget: eq.frechet };
  return { renoSweep: sweep, renoBestLr: bestLr, renoTuned, bestOfNEqualTime: bestEq };
}
