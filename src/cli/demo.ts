/**
 * The main job (`npx hypernoise demo`, `npm start`): on the shipped MNIST models, train class-conditional
 * noise hypernetworks and put them side by side with the base generator, ReNO, best-of-N and exact samples
 * of the reward-tilted target. Writes runs/demo/report.json, report.md and a PNG grid per experiment.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { backendInfo } from '../backend';
import { HypernoiseError } from '../errors';
import { EvaluationReport, evaluate, METHODS, Method, MethodMetrics } from '../eval';
import { Hypernetwork } from '../hypernetwork';
import { gridImage, hconcat, writePng } from '../images';
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
  /** progress and logs on stderr */
  verbose?: boolean;
  signal?: AbortSignal;
}

export interface ExperimentReport extends Omit<EvaluationReport, 'kept'> {
  name: string;
  description: string;
  rewardMax: number;
  alpha: number;
  training: { steps: number; seconds: number; msPerStep: number; rewardStart: number; rewardEnd: number; klEnd: number; skippedSteps: number; nonInvertibleSamples: number; fused: boolean };
  hypernetwork: { rank: number; depth: number; activation: string; kl: string; lambda: number; batchSize: number; lr: number };
  grid: string;
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
  perDigit: EvaluationReport['perClass'];
  experiments: ExperimentReport[];
}

const METHOD_LABEL: Record<Method, string> = { base: 'base', hypernoise: 'HyperNoise', reno: 'ReNO', bestOfN: 'best-of-N', target: 'target (exact)' };

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
  const gen = await loadModel(dir, 'mnist-vae-decoder.safetensors', backend);
  const rewardClf = await loadModel(dir, 'mnist-classifier.safetensors', backend);
  const evalClf = await loadModel(dir, 'mnist-eval-classifier.safetensors', backend);
  const steps = opts.steps ?? (quick ? 250 : 6000);
  const m = opts.samplesPerClass ?? (quick ? 48 : 200);
  const seed = opts.seed ?? 0;
  await fs.promises.mkdir(out, { recursive: true });

  const brightnessWeight = 3;
  const experiments: Array<{ name: string; description: string; reward: Reward; rewardMax: number }> = [
    { name: 'classifier', description: 'r(x, c) = log p_clf(c | x), alpha = 1', reward: rewards.classifierLogProb(rewardClf), rewardMax: 0 },
    {
      name: 'classifier+brightness',
      description: `r(x, c) = log p_clf(c | x) + ${brightnessWeight} * mean brightness, alpha = 1`,
      reward: rewards.weighted([[rewards.classifierLogProb(rewardClf), 1], [rewards.brightness(), brightnessWeight]]),
      rewardMax: brightnessWeight, // brightness <= 1 (sigmoid outputs)
    },
  ];
  const reports: ExperimentReport[] = [];
  for (const exp of experiments) {
    log(`\n== experiment ${exp.name}: ${exp.description}`);
    const hp = { rank: 64, depth: 1, activation: 'silu' as const, kl: 'exact' as const, lambda: 1, batchSize: 256, lr: 2e-3 };
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
      signal: opts.signal,
      onProgress: (line) => {
        if (line.startsWith('class ')) evalBar.update(++done);
        else log(line);
      },
    });
    const gridFile = path.join(out, `grid-${exp.name}.png`);
    const shape = { channels: 1 as const, height: 28, width: 28 };
    const grids = METHODS.map((k) => {
      const cols = Math.min(...report.kept[k].map((a) => a.length / gen.outputDim));
      const rows = report.kept[k].map((a) => a.subarray(0, cols * gen.outputDim));
      const all = new Float32Array(rows.length * cols * gen.outputDim);
      rows.forEach((r, i) => all.set(r, i * cols * gen.outputDim));
      return gridImage(all, rows.length, cols, shape, 1, 255);
    });
    await writePng(gridFile, hconcat(grids, 10), 2);
    const { kept: _kept, ...rest } = report;
    reports.push({
      name: exp.name,
      description: exp.description,
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
      grid: path.basename(gridFile),
    });
    trainer.dispose();
    hn.dispose();
  }

  const info = backendInfo();
  const head = reports[0];
  const result: DemoReport = {
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, backend: gen.backend, isa: info.cpu.isa, threads: info.cpu.threads },
    quick,
    seconds: (Date.now() - start) / 1000,
    methods: head.methods,
    fractionRecovered: head.fractionRecovered,
    speedupVsReno: head.speedupVsReno,
    perDigit: head.perClass,
    experiments: reports,
  };
  await fs.promises.writeFile(path.join(out, 'report.json'), JSON.stringify(result, null, 2) + '\n');
  await fs.promises.writeFile(path.join(out, 'report.md'), markdownReport(result));
  gen.dispose();
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
      `- HyperNoise recovers **${(100 * e.fractionRecovered).toFixed(1)}%** of ReNO's reward gain at **${e.speedupVsReno.toFixed(0)}x** less time per sample.`,
      `- ReNO learning-rate sweep: ${e.fairness.renoSweep.map((s) => `${s.lr}: ${s.reward.toFixed(3)}`).join(', ')}; at the best (${e.fairness.renoBestLr}): reward ${e.fairness.renoTuned?.reward.toFixed(3)}, eval accuracy ${e.fairness.renoTuned?.accuracyEval.toFixed(3)}, FD ${e.fairness.renoTuned?.frechetToTarget.toFixed(3)}.`,
      `- Best-of-N at ReNO's time per sample (N = ${e.fairness.bestOfNEqualTime?.candidates}): reward ${e.fairness.bestOfNEqualTime?.reward.toFixed(3)}, eval accuracy ${e.fairness.bestOfNEqualTime?.accuracyEval.toFixed(3)}, FD ${e.fairness.bestOfNEqualTime?.frechetToTarget.toFixed(3)}.`,
      '',
      'Per digit:',
      '',
      formatTable(
        ['digit', 'base', 'HyperNoise', 'ReNO', 'best-of-N', 'target', 'recovered', 'speedup', 'FD hn', 'FD ReNO', 'acceptance'],
        e.perClass.map((p) => [
          String(p.cls),
          p.methods.base.reward,
          p.methods.hypernoise.reward,
          p.methods.reno.reward,
          p.methods.bestOfN.reward,
          p.methods.target.reward,
          `${(100 * p.fractionRecovered).toFixed(0)}%`,
          p.speedupVsReno,
          p.methods.hypernoise.frechetToTarget,
          p.methods.reno.frechetToTarget,
          p.acceptance,
        ]),
        true,
      ),
      '',
      `![${e.name}](${e.grid}) (columns of blocks: ${METHODS.map((k) => METHOD_LABEL[k]).join(', ')}; a row per digit)`,
      '',
    );
  }
  return lines.join('\n');
}
