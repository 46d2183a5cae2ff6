/**
 * The main job (`npx hypernoise demo`, `npm start`): on the shipped MNIST models, train class-conditional
 * noise hypernetworks and put them side by side with the base generator, ReNO, best-of-N, the generator
 * fine-tuned on the reward and exact samples of the reward-tilted target. The headline experiment runs on
 * the distilled one-step diffusion generator (D = 784), also at 2 and 4 steps; the second on the VAE
 * decoder (D = 32). Writes runs/demo/report.json, report.md and a PNG grid per experiment.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { backendInfo } from '../backend';
import { HypernoiseError } from '../errors';
import { EvaluationReport, evaluate, evaluateSampler, METHODS, Method, MethodMetrics, SamplerEvaluation } from '../eval';
import { makeDirectories } from '../files';
import { fewStepSample, oneStepGenerator } from '../flow';
import { Hypernetwork } from '../hypernetwork';
import { gridImage, hconcat, loadSharp, SHARP_REMEDY, writePng } from '../images';
import { SequentialModel } from '../models';
import { BackendName, packageDir } from '../native';
import { oneHotRandomClasses } from '../noise';
import { ProgressBar } from '../progress';
import { Reward, rewards } from '../rewards';
import { formatTable } from '../table';
import { Trainer } from '../trainer';

export interface DemoOptions {
  quick?: boolean;
  out?: string;
  modelsDir?: string;
  backend?: BackendName;
  steps?: number;
  samplesPerClass?: number;
  seed?: number;
  /** the hypernetworks' rank (default 64) */
  rank?: number;
  /** run only the experiments of these names (default: all) */
  experiments?: string[];
  /** progress and logs on stderr */
  verbose?: boolean;
  signal?: AbortSignal;
}

export interface ExperimentReport extends Omit<EvaluationReport, 'kept'> {
  name: string;
  description: string;
  generator: { file: string; description: string; noiseDim: number; params: number };
  rewardMax: number;
  alpha: number;
  training: { steps: number; seconds: number; msPerStep: number; rewardStart: number; rewardEnd: number; klEnd: number; skippedSteps: number; nonInvertibleSamples: number; fused: boolean };
  hypernetwork: { rank: number; depth: number; activation: string; kl: string; lambda: number; batchSize: number; lr: number };
  fineTune: { steps: number; batchSize: number; lr: number; secondsPerDigit: number };
  /** the hypernetwork trained for one step, applied to the first noise of the 2- and 4-step sampler */
  fewStep: Array<{ steps: number } & SamplerEvaluation>;
  /** the PNG grid's file name, or null where the optional sharp package is missing */
  grid: string | null;
}

export interface DemoReport {
  date: string;
  machine: { cpu: string; cores: number; backend: string; isa: string; threads: number };
  quick: boolean;
  seconds: number;
  /** the headline experiment's figures, repeated at the top level */
  methods: Record<Method, MethodMetrics>;
  fractionRecovered: number;
  speedupVsReno: number;
  frechetFloor: number;
  perDigit: EvaluationReport['perClass'];
  experiments: ExperimentReport[];
}

/**
 * Training steps per experiment in the full demo. Sized so the whole demo fits in 5 minutes on a 2-core AVX2
 * machine (issue 10). Against the 5,000 (flow) and 6,000 (VAE) steps of earlier versions: the distilled
 * generator's FD to its target is the same (16.56 vs 16.55), the VAE's 5-8 % higher (bench/RESULTS.md,
 * "The demo's size"), for half the training time.
 */
const DEMO_STEPS = 3000;

const METHOD_LABEL: Record<Method, string> = { base: 'base', hypernoise: 'HyperNoise', reno: 'ReNO', bestOfN: 'best-of-N', fineTune: 'fine-tuned', target: 'target (exact)' };

function defaultModelsDir(): string {
  return path.join(packageDir(), 'models');
}

async function loadModel(dir: string, name: string, backend: BackendName): Promise<SequentialModel> {
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) throw new HypernoiseError(`Shipped model ${file} not found (run \`npm run train-models\` to recreate it)`, 'ERR_FILE');
  return SequentialModel.load(file, { backend });
}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoReport> {
  const start = Date.now();
  const quick = opts.quick ?? false;
  const out = opts.out ?? path.join('runs', 'demo');
  const backend = opts.backend ?? 'auto';
  const verbose = opts.verbose ?? true;
  const log = (line: string) => verbose && process.stderr.write(line + '\n');
  const dir = opts.modelsDir ?? defaultModelsDir();
  const student = await loadModel(dir, 'mnist-flow-student.safetensors', backend);
  const flowGen = oneStepGenerator(student);
  const vae = await loadModel(dir, 'mnist-vae-decoder.safetensors', backend);
  const rewardClf = await loadModel(dir, 'mnist-classifier.safetensors', backend);
  const evalClf = await loadModel(dir, 'mnist-eval-classifier.safetensors', backend);
  const m = opts.samplesPerClass ?? (quick ? 48 : 200);
  const seed = opts.seed ?? 0;
  try {
    await makeDirectories(out);
  } catch (err) {
    throw new HypernoiseError(`--out ${out}: ${(err as Error).message}`, 'ERR_FILE');
  }

  const classifier = rewards.classifierLogProb(rewardClf);
  const brightnessWeight = 3;
  interface Experiment {
    name: string;
    description: string;
    generator: SequentialModel;
    generatorInfo: ExperimentReport['generator'];
    reward: Reward;
    rewardMax: number;
    steps: number;
    batchSize: number;
    fewStep: number[];
  }
  /** The experiments on the VAE decoder (D = 32): the same settings, one reward each. */
  const vaeExperiment = (name: string, rewardText: string, reward: Reward, rewardMax: number): Experiment => ({
    name,
    description: `VAE decoder (D = 32); ${rewardText}`,
    generator: vae,
    generatorInfo: { file: 'mnist-vae-decoder.safetensors', description: 'VAE decoder + sigmoid', noiseDim: vae.inputDim, params: vae.paramCount },
    reward,
    rewardMax,
    steps: opts.steps ?? (quick ? 250 : DEMO_STEPS),
    batchSize: 256,
    fewStep: [],
  });
  const experiments: Experiment[] = [
    {
      name: 'flow',
      description: 'distilled one-step diffusion generator (D = 784); r(x, c) = log p_clf(c | x), alpha = 1',
      generator: flowGen,
      generatorInfo: { file: 'mnist-flow-student.safetensors', description: 'rectified flow on MNIST distilled to one step (the student at t = 0)', noiseDim: flowGen.inputDim, params: flowGen.paramCount },
      reward: classifier,
      rewardMax: 0,
      steps: opts.steps ?? (quick ? 150 : DEMO_STEPS),
      batchSize: quick ? 64 : 128,
      fewStep: quick ? [2] : [2, 4],
    },
    vaeExperiment('vae', 'r(x, c) = log p_clf(c | x), alpha = 1', classifier, 0),
    vaeExperiment(
      'vae+brightness',
      `r(x, c) = log p_clf(c | x) + ${brightnessWeight} * mean brightness, alpha = 1`,
      rewards.weighted([[classifier, 1], [rewards.brightness(), brightnessWeight]]),
      brightnessWeight, // brightness <= 1 (sigmoid outputs)
    ),
  ];
  const fineTuneSettings = { steps: quick ? 40 : 100, batchSize: 64, lr: 1e-4 };
  const reports: ExperimentReport[] = [];
  for (const exp of experiments.filter((e) => opts.experiments === undefined || opts.experiments.includes(e.name))) {
    log(`\n== experiment ${exp.name}: ${exp.description}`);
    const gen = exp.generator;
    const steps = exp.steps;
    const hp = { rank: opts.rank ?? 64, depth: 1, activation: 'silu' as const, kl: 'exact' as const, lambda: 1, batchSize: exp.batchSize, lr: 2e-3 };
    const hn = new Hypernetwork({ noiseDim: gen.inputDim, condDim: 10, rank: hp.rank, depth: hp.depth, activation: hp.activation, seed, backend });
    const trainer = new Trainer({
      hypernetwork: hn,
      generator: gen,
      reward: exp.reward,
      kl: hp.kl,
      lambda: hp.lambda,
      alpha: 1,
      batchSize: hp.batchSize,
      seed,
      optimizer: { type: 'adam', lr: hp.lr, gradClip: 1, warmupSteps: Math.min(100, steps / 10), decaySteps: steps },
      conditions: (n, rng) => oneHotRandomClasses(n, 10, rng),
    });
    const bar = new ProgressBar(`train ${exp.name}`, steps, process.stderr, verbose);
    const h = await trainer.train({ steps, signal: opts.signal, onProgress: (p) => bar.update(p.done, `reward ${p.reward.toFixed(3)} kl ${p.kl.toFixed(3)}`) });
    const head = h.records.slice(0, 20);
    const tail = h.records.slice(-20);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);
    await hn.save(path.join(out, `hypernetwork-${exp.name}.safetensors`));

    const evalBar = new ProgressBar(`evaluate ${exp.name}`, 10, process.stderr, verbose);
    let done = 0;
    const report = await evaluate({
      generator: gen,
      reward: exp.reward,
      hypernetwork: hn,
      rewardClassifier: rewardClf,
      evalClassifier: evalClf,
      classes: 10,
      samplesPerClass: m,
      rewardMax: exp.rewardMax,
      alpha: 1,
      seed: seed + 1,
      renoSweep: quick ? [1, 5] : [0.5, 1, 2, 5, 10],
      fineTune: { steps: fineTuneSettings.steps, batchSize: fineTuneSettings.batchSize, optimizer: { type: 'adam', lr: fineTuneSettings.lr, gradClip: 1 } },
      signal: opts.signal,
      onProgress: (line) => {
        if (line.startsWith('class ')) evalBar.update(++done);
        else log(line);
      },
    });
    const fewStep: ExperimentReport['fewStep'] = [];
    for (const k of exp.fewStep) {
      log(`few-step sampling: ${k} steps, the one-step hypernetwork on the first noise`);
      const r = await evaluateSampler({
        sample: (noise, s) => fewStepSample({ student, noise, steps: k, seed: s }),
        passes: k,
        outputDim: gen.outputDim,
        reward: exp.reward,
        hypernetwork: hn,
        rewardClassifier: rewardClf,
        evalClassifier: evalClf,
        samplesPerClass: m,
        rewardMax: exp.rewardMax,
        alpha: 1,
        seed: seed + 1,
        signal: opts.signal,
      });
      fewStep.push({ steps: k, ...r });
    }
    const gridFile = path.join(out, `grid-${exp.name}.png`);
    const shape = { channels: 1 as const, height: 28, width: 28 };
    const grids = METHODS.map((k) => {
      const cols = Math.min(...report.kept[k].map((a) => a.length / gen.outputDim));
      const rows = report.kept[k].map((a) => a.subarray(0, cols * gen.outputDim));
      const all = new Float32Array(rows.length * cols * gen.outputDim);
      rows.forEach((r, i) => all.set(r, i * cols * gen.outputDim));
      return gridImage(all, rows.length, cols, shape, 1, 255);
    });
    const withPng = loadSharp() !== null;
    if (withPng) await writePng(gridFile, hconcat(grids, 10), 2);
    else log(`no PNG grid: ${SHARP_REMEDY}`);
    const { kept: _kept, ...rest } = report;
    reports.push({
      name: exp.name,
      description: exp.description,
      generator: exp.generatorInfo,
      rewardMax: exp.rewardMax,
      alpha: 1,
      ...rest,
      training: {
        steps: h.step,
        seconds: h.seconds,
        msPerStep: (1000 * h.seconds) / Math.max(1, h.records.length),
        rewardStart: mean(head.map((r) => r.reward)),
        rewardEnd: mean(tail.map((r) => r.reward)),
        klEnd: mean(tail.map((r) => r.kl)),
        skippedSteps: h.skippedSteps,
        nonInvertibleSamples: h.nonInvertibleSamples,
        fused: trainer.isFused,
      },
      hypernetwork: hp,
      fineTune: { ...fineTuneSettings, secondsPerDigit: mean(report.perClass.map((p) => p.fineTuneSeconds)) },
      fewStep,
      grid: withPng ? path.basename(gridFile) : null,
    });
    trainer.dispose();
    hn.dispose();
  }

  const info = backendInfo();
  const head = reports[0];
  const result: DemoReport = {
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, backend: flowGen.backend, isa: info.cpu.isa, threads: info.cpu.threads },
    quick,
    seconds: (Date.now() - start) / 1000,
    methods: head.methods,
    fractionRecovered: head.fractionRecovered,
    speedupVsReno: head.speedupVsReno,
    frechetFloor: head.frechetFloor,
    perDigit: head.perClass,
    experiments: reports,
  };
  await fs.promises.writeFile(path.join(out, 'report.json'), JSON.stringify(result, null, 2) + '\n');
  await fs.promises.writeFile(path.join(out, 'report.md'), markdownReport(result));
  for (const model of [flowGen, student, vae]) model.dispose();
  rewardClf.dispose();
  evalClf.dispose();
  return result;
}

export function methodTable(r: ExperimentReport, markdown: boolean): string {
  return formatTable(
    ['method', 'reward', 'acc (reward clf)', 'acc (eval clf)', 'FD to target', 'diversity', 'ms/sample', 'passes/sample', 'noise KL'],
    METHODS.map((k) => {
      const m = r.methods[k];
      return [METHOD_LABEL[k], `${m.reward.toFixed(3)} ± ${m.rewardStd.toFixed(3)}`, m.accuracy, m.accuracyEval, k === 'target' ? '-' : m.frechetToTarget, m.diversity, m.msPerSample, m.passesPerSample, m.noiseKl === null ? '-' : m.noiseKl];
    }),
    markdown,
  );
}

export function markdownReport(r: DemoReport): string {
  const lines = [
    `# hypernoise demo report`,
    '',
    `${r.date}, ${r.machine.cpu} (${r.machine.cores} cores), backend ${r.machine.backend} (${r.machine.isa}, ${r.machine.threads} threads)${r.quick ? ', --quick' : ''}; ${r.seconds.toFixed(0)} s in all.`,
    '',
  ];
  for (const e of r.experiments) {
    lines.push(
      `## ${e.name}: ${e.description}`,
      '',
      `Hypernetwork: rank ${e.hypernetwork.rank}, depth ${e.hypernetwork.depth}, ${e.hypernetwork.activation}, kl '${e.hypernetwork.kl}', lambda ${e.hypernetwork.lambda}, batch ${e.hypernetwork.batchSize}, Adam lr ${e.hypernetwork.lr}; ${e.training.steps} steps in ${e.training.seconds.toFixed(1)} s (${e.training.msPerStep.toFixed(1)} ms/step${e.training.fused ? ', fused native step' : ''}), training reward ${e.training.rewardStart.toFixed(3)} -> ${e.training.rewardEnd.toFixed(3)}, ${e.training.skippedSteps} skipped steps, ${e.training.nonInvertibleSamples} non-invertible samples.`,
      '',
      `Averaged over the 10 digits, ${e.samplesPerClass} samples per digit:`,
      '',
      methodTable(e, true),
      '',
      `- Generator: ${e.generator.description} (\`${e.generator.file}\`, noise dimension ${e.generator.noiseDim}, ${e.generator.params} parameters).`,
      `- HyperNoise recovers **${(100 * e.fractionRecovered).toFixed(1)}%** of ReNO's reward gain at **${e.speedupVsReno.toFixed(0)}x** less time per sample.`,
      `- FD floor (two independent sets of ${e.samplesPerClass} exact target samples per digit): **${e.frechetFloor.toFixed(3)}**; HyperNoise's FD is ${(e.methods.hypernoise.frechetToTarget / e.frechetFloor).toFixed(2)}x it.`,
      `- Fine-tuned generator: ${e.fineTune.steps} Adam steps (lr ${e.fineTune.lr}, batch ${e.fineTune.batchSize}) per digit on -r, no KL, ${e.fineTune.secondsPerDigit.toFixed(1)} s per digit.`,
      `- ReNO learning-rate sweep: ${e.fairness.renoSweep.map((s) => `${s.lr}: ${s.reward.toFixed(3)}`).join(', ')}; at the best (${e.fairness.renoBestLr}): reward ${e.fairness.renoTuned?.reward.toFixed(3)}, eval accuracy ${e.fairness.renoTuned?.accuracyEval.toFixed(3)}, FD ${e.fairness.renoTuned?.frechetToTarget.toFixed(3)}.`,
      `- Best-of-N at ReNO's time per sample (N = ${e.fairness.bestOfNEqualTime?.candidates}): reward ${e.fairness.bestOfNEqualTime?.reward.toFixed(3)}, eval accuracy ${e.fairness.bestOfNEqualTime?.accuracyEval.toFixed(3)}, FD ${e.fairness.bestOfNEqualTime?.frechetToTarget.toFixed(3)}.`,
      '',
      ...fewStepLines(e),
      'Per digit (rewards, then FD to the target):',
      '',
      formatTable(
        ['digit', 'base', 'HyperNoise', 'ReNO', 'best-of-N', 'fine-tuned', 'target', 'recovered', 'speedup', 'FD hn', 'FD ReNO', 'FD fine-tuned', 'FD floor', 'acceptance'],
        e.perClass.map((p) => [
          String(p.cls),
          p.methods.base.reward,
          p.methods.hypernoise.reward,
          p.methods.reno.reward,
          p.methods.bestOfN.reward,
          p.methods.fineTune.reward,
          p.methods.target.reward,
          `${(100 * p.fractionRecovered).toFixed(0)}%`,
          p.speedupVsReno,
          p.methods.hypernoise.frechetToTarget,
          p.methods.reno.frechetToTarget,
          p.methods.fineTune.frechetToTarget,
          p.frechetFloor,
          p.acceptance,
        ]),
        true,
      ),
      '',
      e.grid === null ? `(no PNG grid: ${SHARP_REMEDY})` : `![${e.name}](${e.grid}) (columns of blocks: ${METHODS.map((k) => METHOD_LABEL[k]).join(', ')}; a row per digit)`,
      '',
    );
  }
  return lines.join('\n');
}

/** The few-step rows of an experiment: base and HyperNoise at k steps against that sampler's exact target. */
function fewStepLines(e: ExperimentReport): string[] {
  if (e.fewStep.length === 0) return [];
  const rows = e.fewStep.flatMap((f) =>
    (['base', 'hypernoise', 'target'] as const).map((k) => {
      const m = f.methods[k];
      return [`${f.steps} steps: ${METHOD_LABEL[k]}`, `${m.reward.toFixed(3)} ± ${m.rewardStd.toFixed(3)}`, m.accuracy, m.accuracyEval, k === 'target' ? `floor ${f.frechetFloor.toFixed(3)}` : m.frechetToTarget, m.diversity, m.msPerSample, m.passesPerSample];
    }),
  );
  return [
    'Few-step sampling (the hypernetwork trained for one step moves the first noise; FD against each sampler\'s own exact target):',
    '',
    formatTable(['sampler: method', 'reward', 'acc (reward clf)', 'acc (eval clf)', 'FD to target', 'diversity', 'ms/sample', 'passes/sample'], rows, true),
    '',
  ];
}
