/**
 * The baselines' commands: `optimize` (ReNO test-time noise optimisation) and `best-of-n`. Both score against a
 * --reward, take the class of a classifier reward from --class/--cond, and write what `sample` writes (--out).
 */
import { CommandSpec, EXIT, ParsedOptions, parseCommand } from './args';
import { BACKEND_OPTION, checkBackend, GENERATOR_OPTIONS, loadGenerator, mean, OUTPUT_FLAGS, print } from './common';
import { CLASS_HELP, COND_HELP, conditionsFrom } from './conditions';
import { checkOutputTargets, OutputArray, OUTPUT_OPTIONS, OUTPUTS_NOTE, OutputFiles, writeOutputs } from './outputs';
import { checkRewardClasses, LoadedReward, loadReward, needsClassCondition, parseRewardSpec, REWARD_HELP } from './reward-spec';
import { SequentialModel } from '../models';
import { sampleNoise } from '../noise';
import { ProgressBar } from '../progress';
import { bestOfN, TestTimeOptimizer } from '../tto';

const COMMON = {
  ...GENERATOR_OPTIONS,
  reward: { kind: 'string', value: 'SPEC', help: REWARD_HELP, required: true },
  n: { kind: 'int', value: 'N', help: 'samples', default: 16, min: 1 },
  seed: { kind: 'int', value: 'S', help: 'noise seed', default: 0, min: 0 },
  class: { kind: 'string', value: 'N[,N...]', help: `${CLASS_HELP}; for a classifier reward without :CLASS` },
  cond: { kind: 'string', value: 'LIST|FILE', help: COND_HELP },
  out: { kind: 'string', value: 'BASE', help: 'write BASE.png and the arrays (default: print the summary only)' },
  ...OUTPUT_OPTIONS,
  ...BACKEND_OPTION,
  ...OUTPUT_FLAGS,
} as const;

export const OPTIMIZE_SPEC = {
  name: 'optimize',
  summary: 'ReNO: optimise each sample\'s noise against the reward (test-time, ~50 forward+backward passes per sample)',
  options: {
    ...COMMON,
    iterations: { kind: 'int', value: 'N', help: 'forward passes per sample', default: 50, min: 1 },
    lr: { kind: 'number', value: 'LR', help: 'SGD learning rate (ReNO\'s, tuned for SD-Turbo latents)', default: 5, min: 0 },
  },
  notes: `${OUTPUTS_NOTE}

Example: npx hypernoise optimize --generator models/mnist-vae-decoder.safetensors --reward classifier:models/mnist-classifier.safetensors --class 3 --out runs/reno3`,
} as const satisfies CommandSpec;

export const BEST_OF_N_SPEC = {
  name: 'best-of-n',
  summary: 'best-of-N: for each sample, draw N noises and keep the one with the highest reward',
  options: {
    ...COMMON,
    candidates: { kind: 'int', value: 'N', help: 'candidates per sample', default: 50, min: 1 },
  },
  notes: `${OUTPUTS_NOTE} (best-of-n has no baseNoise: its noise is drawn, not changed)

Example: npx hypernoise best-of-n --generator models/mnist-vae-decoder.safetensors --reward classifier:models/mnist-classifier.safetensors:3 --out runs/bon3`,
} as const satisfies CommandSpec;

type CommonKey = keyof typeof COMMON;

interface Setup {
  gen: SequentialModel;
  reward: LoadedReward;
  cond: Float32Array | null;
  condDim: number;
  n: number;
  seed: number;
}

/** Generator, reward and conditions, each checked before any pass runs. */
async function setup(o: ParsedOptions<CommonKey>): Promise<Setup> {
  const spec = parseRewardSpec(o.value('reward'));
  const backend = checkBackend(o.value('backend'));
  const n = o.number('n');
  const seed = o.number('seed');
  const out = o.string('out');
  if (out !== undefined) {
    checkOutputTargets(out, o.string('format'), [
      { flag: '--generator', file: o.value('generator') },
      { flag: '--reward classifier', file: spec.kind === 'classifier' ? spec.file : undefined },
      { flag: '--cond', file: o.string('cond') },
    ]);
  }
  const gen = await loadGenerator(o.value('generator'), o.flag('one-step'), backend);
  const reward = await loadReward(spec, backend, gen.outputDim);
  // A classifier reward without :CLASS reads each sample's class from a one-hot condition over its classes.
  const condDim = needsClassCondition(spec) ? (reward.classifier as SequentialModel).outputDim : 0;
  if (condDim > 0 && !o.has('class') && !o.has('cond')) checkRewardClasses(reward, 0, 'pass --class N');
  const what = condDim > 0 ? `--reward ${spec.text}` : `--reward ${spec.text} (${spec.kind === 'classifier' ? 'a fixed class' : 'no class'})`;
  const cond = await conditionsFrom({ cls: o.string('class'), cond: o.string('cond') }, n, condDim, what);
  return { gen, reward, cond, condDim, n, seed };
}

async function write(o: ParsedOptions<CommonKey>, s: Setup, meta: Record<string, unknown>, arrays: OutputArray[]): Promise<OutputFiles | null> {
  const out = o.string('out');
  if (out === undefined) return null;
  return writeOutputs({
    out,
    format: o.string('format'),
    image: o.string('image'),
    cols: o.number('cols', 'optional'),
    scale: o.number('scale'),
    n: s.n,
    outputDim: s.gen.outputDim,
    meta: { ...meta, seed: s.seed, generator: o.value('generator'), rewardSpec: s.reward.spec.text, ...(o.has('class') ? { class: o.value('class') } : {}) },
    arrays: [...arrays, ...(s.cond ? [{ name: 'cond', data: s.cond, shape: [s.n, s.condDim] }] : [])],
  });
}

export async function cmdOptimize(argv: readonly string[]): Promise<number> {
  const o = parseCommand(OPTIMIZE_SPEC, argv);
  const s = await setup(o);
  const iterations = o.number('iterations');
  const { gen, n } = s;
  const D = gen.inputDim;
  const P = gen.outputDim;
  const baseNoise = sampleNoise({ n, dim: D, seed: s.seed });
  const bar = new ProgressBar('reno', iterations, process.stderr, !o.flag('quiet') && !o.flag('json'));
  const t0 = Date.now();
  const r = await new TestTimeOptimizer({ generator: gen, reward: s.reward.reward, iterations, lr: o.number('lr') }).optimize({
    n,
    noise: baseNoise,
    cond: s.cond,
    onProgress: (p) => bar.update(p.pass, `mean reward ${p.meanReward.toFixed(3)}`),
  });
  const seconds = (Date.now() - t0) / 1000;
  const best = mean(r.reward);
  const written = await write(o, s, { command: 'optimize', iterations, lr: o.number('lr'), history: r.history }, [
    { name: 'x', data: r.x, shape: [n, P] },
    { name: 'noise', data: r.noise, shape: [n, D] },
    { name: 'baseNoise', data: baseNoise, shape: [n, D] },
    { name: 'reward', data: r.reward, shape: [n] },
  ]);
  const summary = { n, iterations, initialReward: r.history[0], bestReward: best, msPerSample: (1000 * seconds) / n, ...(written ?? {}) };
  print(o.flag('json'), summary, () =>
    `ReNO on ${n} samples: mean reward ${summary.initialReward.toFixed(4)} -> ${best.toFixed(4)} (${summary.msPerSample.toFixed(1)} ms/sample)${written ? `; wrote ${written.files.join(', ')}` : ''}`,
  );
  return EXIT.ok;
}

export async function cmdBestOfN(argv: readonly string[]): Promise<number> {
  const o = parseCommand(BEST_OF_N_SPEC, argv);
  const s = await setup(o);
  const candidates = o.number('candidates');
  const { gen, n } = s;
  const t0 = Date.now();
  const r = await bestOfN({ generator: gen, reward: s.reward.reward, n, candidates, seed: s.seed, cond: s.cond });
  const seconds = (Date.now() - t0) / 1000;
  const best = mean(r.reward);
  const written = await write(o, s, { command: 'best-of-n', candidates }, [
    { name: 'x', data: r.x, shape: [n, gen.outputDim] },
    { name: 'noise', data: r.noise, shape: [n, gen.inputDim] },
    { name: 'reward', data: r.reward, shape: [n] },
  ]);
  const summary = { n, candidates, bestReward: best, msPerSample: (1000 * seconds) / n, ...(written ?? {}) };
  print(o.flag('json'), summary, () =>
    `best-of-${candidates} on ${n} samples: mean reward ${best.toFixed(4)} (${summary.msPerSample.toFixed(1)} ms/sample)${written ? `; wrote ${written.files.join(', ')}` : ''}`,
  );
  return EXIT.ok;
}
