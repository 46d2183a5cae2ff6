/**
 * Side-by-side evaluation (DESIGN.md, "Evaluation"): base generator, HyperNoise, ReNO, best-of-N and the
 * generator fine-tuned on the reward, per class, against exact samples of the reward-tilted target drawn
 * by rejection sampling. Reports reward, accuracy under the reward's classifier and an independent one,
 * Fréchet distance to the target in the independent classifier's features (with the floor of that
 * measure: the distance between two independent sets of exact target samples), diversity, time and
 * generator passes per sample. evaluateSampler does the same for any sampler (e.g. few-step sampling).
 */
import { checkInteger, checkNumber, checkSignal, optional } from './checks';
import { expected, HypernoiseError } from './errors';
import { FineTuneOptions, fineTuneGenerator } from './finetune';
import { Hypernetwork } from './hypernetwork';
import { frechetDistance, gaussianOf, meanPairwiseDistance, meanStd } from './metrics';
import { featureExtractor } from './quality';
import { SequentialModel } from './models';
import { Seed } from './native';
import { NoiseStream, oneHot, repeatRow, Rng, sampleNoise } from './noise';
import { Reward } from './rewards';
import { TestTimeOptimizer, bestOfN } from './tto';

export const METHODS = ['base', 'hypernoise', 'reno', 'bestOfN', 'fineTune', 'target'] as const;
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
  /** FD between two independent sets of exact target samples of this size: the floor of every FD above */
  frechetFloor: number;
  /** seconds spent fine-tuning this class's generator (the fineTune method's one-off cost) */
  fineTuneSeconds: number;
}

export interface EvaluationReport {
  classes: number;
  samplesPerClass: number;
  perClass: ClassResult[];
  /** metrics averaged over classes */
  methods: Record<Method, MethodMetrics>;
  fractionRecovered: number;
  speedupVsReno: number;
  /** the per-class FD floor, averaged */
  frechetFloor: number;
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
  /** the fine-tuning baseline's settings (fineTuneGenerator; default 300 steps of 64, Adam lr 1e-4) */
  fineTune?: Pick<FineTuneOptions, 'steps' | 'batchSize' | 'optimizer'>;
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
  const features = opts.featureLayers === undefined ? featureExtractor(evalClassifier) : evalClassifier.prefix(opts.featureLayers);
  const F = features.outputDim;
  const kept = Object.fromEntries(METHODS.map((k) => [k, [] as Float32Array[]])) as Record<Method, Float32Array[]>;
  const perClass: ClassResult[] = [];
  const targetGaussians: Array<{ mean: Float64Array; cov: Float64Array }> = [];
  const renoSamples: Float32Array[] = [];
  const reno = new TestTimeOptimizer({ generator: gen, reward, iterations, lr: renoLr });
  const score = scorer({ reward, rewardClassifier, evalClassifier, features, K, P });

  for (let c = 0; c < K; c++) {
    checkSignal(opts.signal);
    const condRow = oneHot([c], K);
    const cond = repeatRow(condRow, m);
    const eps = sampleNoise({ n: m, dim: D, seed: seed * 1000 + c, stream: NoiseStream.sample });
    const samples: Partial<Record<Method, Samples>> = {};

    // The cheap methods are timed as the median of a few repetitions (one pass is too short to time alone).
    const baseT = await medianTime(() => gen.forward(eps));
    samples.base = { x: baseT.value, n: m, ms: baseT.ms, passes: 1, noiseKl: 0 };

    const hnT = await medianTime(async () => gen.forward(await hn.forward(eps, cond)));
    const kl = await hn.kl(eps, cond);
    samples.hypernoise = { x: hnT.value, n: m, ms: hnT.ms, passes: 1, noiseKl: meanStd(kl.exact).mean };

    let t0 = performance.now();
    const r = await reno.optimize({ n: m, noise: eps, cond, signal: opts.signal });
    samples.reno = { x: r.x, n: m, ms: performance.now() - t0, passes: iterations, noiseKl: null };
    renoSamples.push(r.x);

    t0 = performance.now();
    const b = await bestOfN({ generator: gen, reward, n: m, candidates: N, seed: seed * 1000 + c, cond, signal: opts.signal });
    samples.bestOfN = { x: b.x, n: m, ms: performance.now() - t0, passes: N, noiseKl: null };

    const ft = await fineTuneGenerator({ generator: gen, reward, cond: condRow, alpha, seed: seed * 1000 + c, signal: opts.signal, ...opts.fineTune });
    try {
      const ftT = await medianTime(() => ft.model.forward(eps));
      samples.fineTune = { x: ftT.value, n: m, ms: ftT.ms, passes: 1, noiseKl: null };
    } finally {
      ft.model.dispose();
    }

    const draw = (e: Float32Array) => gen.forward(e);
    const targetOpts = { reward, condRow, K, D, P, want: m, maxDraws, rewardMax, alpha, seed: seed * 1000 + c };
    samples.target = await rejectionSample(draw, { ...targetOpts, stream: NoiseStream.bestOfN + 1, rng: new Rng(seed, c, NoiseStream.bestOfN + 1) });
    const floorSet = await rejectionSample(draw, { ...targetOpts, stream: NoiseStream.bestOfN + 2, rng: new Rng(seed, c, NoiseStream.bestOfN + 2) });
    for (const t of [samples.target, floorSet])
      if (t.n < 2) throw new HypernoiseError(`evaluate: rejection sampling accepted ${t.n} samples of class ${c} in ${t.passes * Math.max(1, t.n)} draws`, 'ERR_INTERNAL');

    const targetScore = await score(samples.target.x, samples.target.n, c);
    const targetGauss = gaussianOf(targetScore.feats, samples.target.n, F);
    targetGaussians.push(targetGauss);
    const floorScore = await score(floorSet.x, floorSet.n, c);
    const methods = {} as Record<Method, MethodMetrics>;
    for (const key of METHODS) {
      const s = samples[key] as Samples;
      methods[key] = metricsOf(s, key === 'target' ? targetScore : await score(s.x, s.n, c), key === 'target' ? null : targetGauss, F, P);
      kept[key].push(s.x.slice(0, Math.min(keep, s.n) * P));
    }
    const gain = methods.reno.reward - methods.base.reward;
    perClass.push({
      cls: c,
      methods,
      fractionRecovered: gain !== 0 ? (methods.hypernoise.reward - methods.base.reward) / gain : NaN,
      speedupVsReno: methods.reno.msPerSample / methods.hypernoise.msPerSample,
      acceptance: 1 / samples.target.passes,
      frechetFloor: frechetDistance(gaussianOf(floorScore.feats, floorSet.n, F), targetGauss, F),
      fineTuneSeconds: ft.seconds,
    });
    log(
      `class ${c}: reward base ${methods.base.reward.toFixed(3)}, hypernoise ${methods.hypernoise.reward.toFixed(3)}, reno ${methods.reno.reward.toFixed(3)}, ` +
        `best-of-${N} ${methods.bestOfN.reward.toFixed(3)}, fine-tuned ${methods.fineTune.reward.toFixed(3)}, target ${methods.target.reward.toFixed(3)} (acceptance ${(1 / samples.target.passes).toFixed(3)})`,
    );
  }

  const methods = Object.fromEntries(METHODS.map((k) => [k, averageMetrics(perClass.map((p) => p.methods[k]))])) as Record<Method, MethodMetrics>;
  const fairness = await fairnessChecks(opts, { K, D, P, m, N, iterations, seed, F, features, log, methods, targetGaussians, reno: { lr: renoLr, samples: renoSamples } });
  features.dispose();
  return {
    classes: K,
    samplesPerClass: m,
    perClass,
    methods,
    fractionRecovered: (methods.hypernoise.reward - methods.base.reward) / (methods.reno.reward - methods.base.reward),
    speedupVsReno: methods.reno.msPerSample / methods.hypernoise.msPerSample,
    frechetFloor: perClass.reduce((a, p) => a + p.frechetFloor, 0) / K,
    fairness,
    kept,
  };
}

/** A method's samples of one class: n x P pixels, time, passes per sample, noise KL where known. */
interface Samples {
  x: Float32Array;
  n: number;
  ms: number;
  passes: number;
  noiseKl: number | null;
}

type Score = { value: Float32Array; accuracy: number; accuracyEval: number; feats: Float32Array };

/** Scores a batch of samples of class c: reward, both classifiers' accuracy, the FD features. */
function scorer(ctx: { reward: Reward; rewardClassifier: SequentialModel; evalClassifier: SequentialModel; features: SequentialModel; K: number; P: number }) {
  return async (x: Float32Array, n: number, c: number): Promise<Score> => {
    const cond = repeatRow(oneHot([c], ctx.K), n);
    const r = await ctx.reward.evaluate(x, ctx.P, cond, ctx.K, false);
    const predR = argmaxRows(await ctx.rewardClassifier.forward(x), n, ctx.rewardClassifier.outputDim);
    const predE = argmaxRows(await ctx.evalClassifier.forward(x), n, ctx.evalClassifier.outputDim);
    const feats = await ctx.features.forward(x);
    let acc = 0;
    let accE = 0;
    for (let i = 0; i < n; i++) {
      acc += predR[i] === c ? 1 : 0;
      accE += predE[i] === c ? 1 : 0;
    }
    return { value: r.value, accuracy: acc / n, accuracyEval: accE / n, feats };
  };
}

function metricsOf(s: Samples, sc: Score, target: { mean: Float64Array; cov: Float64Array } | null, F: number, P: number): MethodMetrics {
  const { mean, std } = meanStd(sc.value);
  return {
    reward: mean,
    rewardStd: std,
    accuracy: sc.accuracy,
    accuracyEval: sc.accuracyEval,
    frechetToTarget: target === null ? 0 : frechetDistance(gaussianOf(sc.feats, s.n, F), target, F),
    diversity: meanPairwiseDistance(s.x, Math.min(s.n, 256), P),
    msPerSample: s.ms / s.n,
    passesPerSample: s.passes,
    noiseKl: s.noiseKl,
    samples: s.n,
  };
}

/**
 * Exact samples of the reward-tilted target of a sampler, by rejection: draw x from the sampler (noise
 * seeded by `seed` on `stream`) and accept it with probability exp((r(x) - rewardMax) / alpha).
 * `passes` is draws per accepted sample.
 */
async function rejectionSample(
  draw: (eps: Float32Array) => Promise<Float32Array>,
  o: { reward: Reward; condRow: Float32Array; K: number; D: number; P: number; want: number; maxDraws: number; rewardMax: number; alpha: number; seed: number; stream: number; rng: Rng },
): Promise<Samples> {
  const t0 = performance.now();
  const accepted = new Float32Array(o.want * o.P);
  let nAcc = 0;
  let draws = 0;
  const rng = o.rng;
  let batchIndex = 0;
  while (nAcc < o.want && draws < o.maxDraws) {
    const bs = Math.min(4096, Math.max(256, 4 * o.want));
    const e = sampleNoise({ n: bs, dim: o.D, seed: o.seed, offset: batchIndex * bs, stream: o.stream });
    batchIndex++;
    const x = await draw(e);
    const rv = await o.reward.evaluate(x, o.P, repeatRow(o.condRow, bs), o.K, false);
    for (let i = 0; i < bs && nAcc < o.want; i++) {
      draws++;
      if (rng.uniform() < Math.exp((rv.value[i] - o.rewardMax) / o.alpha)) {
        accepted.set(x.subarray(i * o.P, (i + 1) * o.P), nAcc * o.P);
        nAcc++;
      }
    }
  }
  return { x: accepted.subarray(0, nAcc * o.P), n: nAcc, ms: performance.now() - t0, passes: draws / Math.max(1, nAcc), noiseKl: null };
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
    /** the main ReNO run: its learning rate and samples per class (the same noise as the tuned run's) */
    reno: { lr: number; samples: Float32Array[] };
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
      // Where the sweep's best rate is the main run's, tuned ReNO is that run (same noise, rate, iterations;
      // ReNO is deterministic): its samples are reused rather than computed again.
      const x = bestLr === ctx.reno.lr ? ctx.reno.samples[c] : (await tto.optimize({ n: ctx.m, noise: eps, cond })).x;
      const s = await one(x);
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

export const SAMPLER_METHODS = ['base', 'hypernoise', 'target'] as const;
export type SamplerMethod = (typeof SAMPLER_METHODS)[number];

export interface EvaluateSamplerOptions {
  /** x = sample(noise, seed): a stochastic sampler driven by its first noise (the one a hypernetwork moves); `seed` keys its other randomness */
  sample: (noise: Float32Array, seed: number) => Promise<Float32Array>;
  /** how many generator evaluations one sample costs */
  passes: number;
  outputDim: number;
  reward: Reward;
  hypernetwork: Hypernetwork;
  rewardClassifier: SequentialModel;
  evalClassifier: SequentialModel;
  samplesPerClass?: number;
  rewardMax: number;
  alpha?: number;
  seed?: number;
  maxDrawFactor?: number;
  signal?: AbortSignal;
}

export interface SamplerEvaluation {
  classes: number;
  samplesPerClass: number;
  /** averaged over classes; FD against the exact target of this sampler */
  methods: Record<SamplerMethod, MethodMetrics>;
  perClass: Array<{ cls: number; methods: Record<SamplerMethod, MethodMetrics>; acceptance: number; frechetFloor: number }>;
  frechetFloor: number;
}

/**
 * The base sampler, the sampler fed the hypernetwork's noise, and exact samples of the sampler's own
 * reward-tilted target (rejection), per class, scored as evaluate() scores them. This is how a
 * hypernetwork trained for one step is measured at 2 and 4 steps (the paper's Table 2).
 */
export async function evaluateSampler(opts: EvaluateSamplerOptions): Promise<SamplerEvaluation> {
  const hn = opts.hypernetwork;
  const K = hn.condDim;
  const D = hn.noiseDim;
  const P = opts.outputDim;
  const m = checkInteger(optional(opts.samplesPerClass, 128), 'samplesPerClass', 2);
  const alpha = checkNumber(optional(opts.alpha, 1), 'alpha', { min: 0, exclusiveMin: true });
  const rewardMax = checkNumber(opts.rewardMax, 'rewardMax');
  const seed = Number(optional(opts.seed, 0));
  const maxDraws = m * checkInteger(optional(opts.maxDrawFactor, 200), 'maxDrawFactor', 1);
  const features = featureExtractor(opts.evalClassifier);
  const F = features.outputDim;
  const score = scorer({ reward: opts.reward, rewardClassifier: opts.rewardClassifier, evalClassifier: opts.evalClassifier, features, K, P });
  const perClass: SamplerEvaluation['perClass'] = [];
  try {
    for (let c = 0; c < K; c++) {
      checkSignal(opts.signal);
      const condRow = oneHot([c], K);
      const cond = repeatRow(condRow, m);
      const eps = sampleNoise({ n: m, dim: D, seed: seed * 1000 + c, stream: NoiseStream.sample });
      const base = await medianTime(() => opts.sample(eps, seed * 1000 + c), 3);
      const moved = await medianTime(async () => opts.sample(await hn.forward(eps, cond), seed * 1000 + c), 3);
      const kl = await hn.kl(eps, cond);
      let batch = 0;
      const draw = (e: Float32Array) => opts.sample(e, seed * 1000 + c + 1_000_000 * ++batch);
      const targetOpts = { reward: opts.reward, condRow, K, D, P, want: m, maxDraws, rewardMax, alpha, seed: seed * 1000 + c };
      const target = await rejectionSample(draw, { ...targetOpts, stream: NoiseStream.bestOfN + 1, rng: new Rng(seed, c, NoiseStream.bestOfN + 1) });
      const floorSet = await rejectionSample(draw, { ...targetOpts, stream: NoiseStream.bestOfN + 2, rng: new Rng(seed, c, NoiseStream.bestOfN + 2) });
      if (target.n < 2 || floorSet.n < 2) throw new HypernoiseError(`evaluateSampler: rejection sampling accepted too few samples of class ${c}`, 'ERR_INTERNAL');
      const targetScore = await score(target.x, target.n, c);
      const tg = gaussianOf(targetScore.feats, target.n, F);
      const floorScore = await score(floorSet.x, floorSet.n, c);
      const samples: Record<SamplerMethod, Samples> = {
        base: { x: base.value, n: m, ms: base.ms, passes: opts.passes, noiseKl: 0 },
        hypernoise: { x: moved.value, n: m, ms: moved.ms, passes: opts.passes, noiseKl: meanStd(kl.exact).mean },
        target: { ...target, passes: target.passes * opts.passes },
      };
      const methods = {} as Record<SamplerMethod, MethodMetrics>;
      for (const k of SAMPLER_METHODS) methods[k] = metricsOf(samples[k], k === 'target' ? targetScore : await score(samples[k].x, m, c), k === 'target' ? null : tg, F, P);
      perClass.push({ cls: c, methods, acceptance: 1 / target.passes, frechetFloor: frechetDistance(gaussianOf(floorScore.feats, floorSet.n, F), tg, F) });
    }
  } finally {
    features.dispose();
  }
  return {
    classes: K,
    samplesPerClass: m,
    methods: Object.fromEntries(SAMPLER_METHODS.map((k) => [k, averageMetrics(perClass.map((p) => p.methods[k]))])) as Record<SamplerMethod, MethodMetrics>,
    perClass,
    frechetFloor: perClass.reduce((a, p) => a + p.frechetFloor, 0) / K,
  };
}
