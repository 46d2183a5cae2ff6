/**
 * `hypernoise train`: trains a hypernetwork on a generator and a reward, unconditionally or class-conditionally.
 * Checkpoints are written every --checkpoint-every steps while the run is healthy; Ctrl-C stops between steps,
 * saves the hypernetwork and a checkpoint, and exits 130; a loss or KL that goes non-finite stops the run as
 * diverged (exit 3) without overwriting --out or the last good checkpoint.
 */
import * as path from 'path';
import { CommandSpec, EXIT, parseCommand, usageError } from './args';
import { BACKEND_OPTION, checkBackend, GENERATOR_OPTIONS, loadGenerator, mean, note, OUTPUT_FLAGS, print } from './common';
import { checkOutputs } from './paths';
import { refuseConflicts, resumeConflicts } from './resume';
import { checkRewardClasses, loadReward, parseRewardSpec, TRAIN_REWARD_HELP } from './reward-spec';
import { readCheckpoint } from '../checkpoint';
import { HypernoiseError } from '../errors';
import { Hypernetwork } from '../hypernetwork';
import { ACTIVATIONS } from '../models';
import { ActivationName, KlName } from '../native';
import { oneHotRandomClasses, Rng } from '../noise';
import { ProgressBar } from '../progress';
import { StepRecord, Trainer } from '../trainer';

export const TRAIN_SPEC = {
  name: 'train',
  summary: 'train a hypernetwork on a generator and a reward',
  options: {
    ...GENERATOR_OPTIONS,
    reward: { kind: 'string', value: 'SPEC', help: TRAIN_REWARD_HELP, required: true },
    out: { kind: 'string', value: 'FILE', help: 'where to save the hypernetwork (for sample --hypernetwork)', required: true },
    steps: { kind: 'int', value: 'N', help: 'training steps to run (with --resume: more steps)', default: 1000, min: 0 },
    'class-conditional': { kind: 'flag', help: 'condition on a one-hot class (random classes in training); classes: --classes or the classifier\'s' },
    classes: { kind: 'int', value: 'K', help: 'number of classes of a class-conditional hypernetwork (implies --class-conditional)', min: 1 },
    kl: { kind: 'string', value: 'KL', help: 'the noise KL term', choices: ['exact', 'l2', 'chi'], default: 'exact' },
    rank: { kind: 'int', value: 'R', help: 'bottleneck width', default: 64, min: 1 },
    depth: { kind: 'int', value: 'L', help: 'hidden layers', default: 1, min: 1 },
    activation: { kind: 'string', value: 'NAME', help: 'activation', choices: ACTIVATIONS, default: 'silu' },
    batch: { kind: 'int', value: 'N', help: 'batch size', default: 64, min: 1 },
    lr: { kind: 'number', value: 'LR', help: 'Adam learning rate', default: 1e-3, min: 0 },
    warmup: { kind: 'int', value: 'N', help: 'linear warm-up steps of the learning rate', default: 0, min: 0 },
    decay: { kind: 'int', value: 'N', help: 'cosine decay steps after warm-up (0: constant rate)', default: 0, min: 0 },
    'min-lr': { kind: 'number', value: 'LR', help: 'floor of the decay: the rate holds it after warm-up + decay (0: it falls to 0)', default: 0, min: 0 },
    'grad-clip': { kind: 'number', value: 'C', help: 'global gradient-norm clip (0: off)', default: 1, min: 0 },
    lambda: { kind: 'number', value: 'X', help: 'weight of the KL term', default: 1, min: 0 },
    alpha: { kind: 'number', value: 'X', help: 'reward temperature: the target is p_base exp(r / alpha)', default: 1 },
    seed: { kind: 'int', value: 'S', help: 'seed of the initialisation, noise and classes', default: 0, min: 0 },
    checkpoint: { kind: 'string', value: 'FILE', help: 'where the resumable checkpoint goes, every --checkpoint-every steps and at the end (default: the --resume file, else OUT.checkpoint.safetensors)' },
    'checkpoint-every': { kind: 'int', value: 'N', help: 'steps between checkpoints', default: 100, min: 1 },
    resume: { kind: 'string', value: 'FILE', help: 'continue the run of this checkpoint (its settings; conflicting options are refused)' },
    ...BACKEND_OPTION,
    ...OUTPUT_FLAGS,
  },
  notes: `A checkpoint is written every --checkpoint-every steps and at the end (--checkpoint, else the --resume file, else
OUT.checkpoint.safetensors). --out and the checkpoint must not be an input, and an existing file there is replaced
only if it is a hypernetwork (a checkpoint). Ctrl-C stops between steps, saves --out and the checkpoint and
exits 130 (SIGTERM: 143); continue with --resume. A loss or KL that goes non-finite stops the run as diverged
(exit 3) and writes nothing over --out or the last good checkpoint. The summary's reward and kl are the means
over the last 20 steps.

Examples:
  npx hypernoise train --generator models/mnist-vae-decoder.safetensors --reward brightness --out hn.safetensors
  npx hypernoise train --generator models/mnist-vae-decoder.safetensors \\
      --reward classifier:models/mnist-classifier.safetensors --class-conditional --out hn10.safetensors`,
} as const satisfies CommandSpec;

/** Where an interrupted run without --checkpoint leaves its checkpoint: next to --out. */
export function defaultCheckpoint(out: string): string {
  const ext = path.extname(out);
  return `${ext === '.safetensors' ? out.slice(0, -ext.length) : out}.checkpoint.safetensors`;
}

interface Divergence {
  /** steps done when it was seen (1-based: the step that produced it) */
  step: number;
  what: string;
}

function describeRecord(r: StepRecord): string {
  return `loss ${r.loss}, kl ${r.kl}, reward ${r.reward}`;
}

/** The library's option names, as this command's flags (an out-of-range value is reported as the user typed it). */
const FLAG_OF: ReadonlyArray<[RegExp, string]> = [
  [/\boptimizer\.minLr\b/g, '--min-lr'],
  [/\boptimizer\.lr\b/g, '--lr'],
  [/\boptimizer\.gradClip\b/g, '--grad-clip'],
  [/\boptimizer\.warmupSteps\b/g, '--warmup'],
  [/\boptimizer\.decaySteps\b/g, '--decay'],
  [/\bfor (rank|depth|alpha|lambda|activation|kl)\b/g, 'for --$1'],
  [/\bfor batchSize\b/g, 'for --batch'],
];

function inFlagTerms(err: unknown): unknown {
  if (!(err instanceof HypernoiseError) || err.code !== 'ERR_ARGUMENT') return err;
  let message = err.message;
  for (const [re, flag] of FLAG_OF) message = message.replace(re, flag);
  return message === err.message ? err : new HypernoiseError(message.replace(/ of type number\b/, ''), 'ERR_ARGUMENT');
}

export async function cmdTrain(argv: readonly string[]): Promise<number> {
  const o = parseCommand(TRAIN_SPEC, argv);
  const json = o.flag('json');
  const quiet = o.flag('quiet') || json;
  const spec = parseRewardSpec(o.value('reward'));
  const backend = checkBackend(o.value('backend'));
  const out = o.value('out');
  const steps = o.number('steps');
  const resume = o.string('resume');
  if (steps === 0 && resume === undefined) throw usageError('--steps 0 trains nothing: give --steps N (with --resume, 0 only rewrites --out)');
  // Checkpoints go to --checkpoint, else back into the resumed file, else next to --out.
  const checkpointPath = o.string('checkpoint') ?? resume ?? defaultCheckpoint(out);
  checkOutputs(
    [
      { flag: '--out', file: out, overwrites: ['hypernetwork'] },
      { flag: o.has('checkpoint') ? '--checkpoint' : 'the checkpoint', file: checkpointPath, overwrites: ['checkpoint'] },
    ],
    [
      { flag: '--generator', file: o.value('generator') },
      { flag: '--reward classifier', file: spec.kind === 'classifier' ? spec.file : undefined },
    ],
  );
  const ck = resume === undefined ? null : await readCheckpoint(resume);
  const gen = await loadGenerator(o.value('generator'), o.flag('one-step'), backend);
  const reward = await loadReward(spec, backend, gen.outputDim);

  let condDim: number;
  if (ck) {
    const conflicts = resumeConflicts(o, ck);
    if (ck.reward !== undefined && ck.reward !== reward.reward.description) {
      conflicts.push(`--reward ${spec.text}: the checkpoint was trained with reward '${ck.reward}' (this spec gives '${reward.reward.description}')`);
    }
    if (ck.hypernetwork.noiseDim !== gen.inputDim) {
      conflicts.push(`--generator ${o.value('generator')}: it takes ${gen.inputDim} noise values but the checkpoint's hypernetwork has noiseDim ${String(ck.hypernetwork.noiseDim)}`);
    }
    refuseConflicts(resume as string, conflicts);
    condDim = typeof ck.hypernetwork.condDim === 'number' ? ck.hypernetwork.condDim : 0;
  } else if (o.has('classes') || o.flag('class-conditional')) {
    if (o.has('classes')) condDim = o.number('classes');
    else if (reward.classifier) condDim = reward.classifier.outputDim;
    else throw new HypernoiseError(`--class-conditional needs --classes K: the reward ${spec.text} has no classifier to take the class count from`, 'ERR_ARGUMENT');
  } else {
    condDim = 0;
  }
  if (condDim > 0 && spec.kind === 'classifier' && spec.cls !== undefined && !ck) {
    throw usageError(`--reward ${spec.text} scores every sample as class ${spec.cls}, so a condition would be ignored: drop :${spec.cls} to train class-conditionally, or drop --class-conditional/--classes`);
  }
  checkRewardClasses(reward, condDim, 'train class-conditionally (--class-conditional)');
  const conditions = condDim > 0 ? (n: number, rng: Rng) => oneHotRandomClasses(n, condDim, rng) : undefined;

  let trainer: Trainer;
  // The library checks the values; its messages name options as the API does, so they are put in flag terms.
  try {
    if (resume !== undefined) {
      trainer = await Trainer.fromCheckpoint(resume, { generator: gen, reward: reward.reward, conditions, backend });
    } else {
      const hn = new Hypernetwork({
        noiseDim: gen.inputDim,
        condDim,
        rank: o.number('rank'),
        depth: o.number('depth'),
        activation: o.value('activation') as ActivationName,
        seed: o.number('seed'),
        backend,
      });
      trainer = new Trainer({
        hypernetwork: hn,
        generator: gen,
        reward: reward.reward,
        conditions,
        kl: o.value('kl') as KlName,
        lambda: o.number('lambda'),
        alpha: o.number('alpha'),
        batchSize: o.number('batch'),
        seed: o.number('seed'),
        optimizer: { type: 'adam', lr: o.number('lr'), gradClip: o.number('grad-clip'), warmupSteps: o.number('warmup'), decaySteps: o.number('decay'), minLr: o.number('min-lr') },
      });
    }
  } catch (err) {
    throw inFlagTerms(err);
  }

  const every = o.number('checkpoint-every');
  const startStep = trainer.step;
  let checkpointStep: number | null = null; // the step of the last checkpoint this run wrote
  const bar = new ProgressBar('train', steps, process.stderr, !quiet);
  const ac = new AbortController();
  let interrupted = false;
  let divergence: Divergence | null = null;
  const onSigint = () => {
    interrupted = true;
    ac.abort();
  };
  // Ctrl-C, and the SIGTERM a service manager sends: stop between steps and save (exit 130 / 143).
  const received: { signal: NodeJS.Signals } = { signal: 'SIGINT' };
  const onSigterm = () => {
    received.signal = 'SIGTERM';
    onSigint();
  };
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigterm);
  const last: StepRecord[] = [];
  let skipped = 0;
  let nonInvertible = 0;
  const t0 = Date.now();
  try {
    if (!quiet) note(`training ${steps} steps from step ${startStep} (${trainer.isFused ? 'fused native steps' : 'composed steps'}, ${trainer.hypernetwork.backend}); Ctrl-C stops and saves`);
    let done = 0;
    while (done < steps && !interrupted && divergence === null) {
      const before = done;
      const h = await trainer.train({
        steps: Math.min(every, steps - done),
        signal: ac.signal,
        onProgress: (p) => {
          // A step that updated the parameters but whose loss or KL is not finite: the run has diverged.
          if (divergence === null && !p.skipped && (!Number.isFinite(p.loss) || !Number.isFinite(p.kl))) {
            divergence = { step: p.step + 1, what: `the ${Number.isFinite(p.loss) ? 'KL' : 'loss'} is not finite (${describeRecord(p)})` };
            ac.abort();
          }
          bar.update(before + p.done, `reward ${p.reward.toFixed(3)} kl ${p.kl.toFixed(3)} lr ${p.lr.toPrecision(3)}`);
        },
      });
      done += h.records.length;
      skipped += h.skippedSteps;
      nonInvertible += h.nonInvertibleSamples;
      last.push(...h.records);
      last.splice(0, Math.max(0, last.length - 20));
      if (h.diverged && divergence === null) {
        divergence = { step: trainer.step, what: 'the reward or the gradients stayed non-finite (25 steps skipped in a row)' };
      }
      if (divergence === null && !interrupted && h.records.length > 0) {
        await trainer.saveCheckpoint(checkpointPath);
        checkpointStep = trainer.step;
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  }
  if (interrupted && !quiet && process.stderr.isTTY) process.stderr.write('\n'); // end the progress line
  const seconds = (Date.now() - t0) / 1000;
  const opt = trainer.config.optimizer;
  const summary = {
    out,
    steps: trainer.step,
    stepsRun: trainer.step - startStep,
    seconds,
    reward: mean(last.map((r) => r.reward)),
    kl: mean(last.map((r) => r.kl)),
    lr: last.length > 0 ? last[last.length - 1].lr : null,
    skippedSteps: skipped,
    nonInvertibleSamples: nonInvertible,
    condDim: trainer.hypernetwork.condDim,
    fused: trainer.isFused,
    diverged: divergence !== null,
    interrupted,
  };

  const div = divergence as Divergence | null;
  if (div !== null) {
    const kept = checkpointStep !== null ? ` The last checkpoint written before it is ${checkpointPath} (step ${checkpointStep}).` : '';
    const message = `training diverged at step ${div.step}: ${div.what}. Nothing was written to ${out}.${kept} Try a lower --lr (this run: ${opt.lr}) or a larger --lambda.`;
    if (json) print(true, { ...summary, divergedAtStep: div.step, error: message }, () => '');
    process.stderr.write(`hypernoise train: ${message}\n`);
    return EXIT.diverged;
  }

  let checkpointWritten: string | null = checkpointStep !== null ? checkpointPath : null;
  if (interrupted) {
    checkpointWritten = checkpointPath;
    await trainer.saveCheckpoint(checkpointWritten);
  }
  await trainer.hypernetwork.save(out);
  if (opt.decaySteps > 0 && opt.minLr === 0 && trainer.step > opt.warmupSteps + opt.decaySteps) {
    note(`note: the learning rate reached 0 after step ${opt.warmupSteps + opt.decaySteps} (warm-up + decay); later steps did not change the hypernetwork (set --min-lr to keep a floor)`);
  }
  const result = { ...summary, checkpoint: checkpointWritten };
  if (interrupted) {
    print(json, result, () => `interrupted (${received.signal}) after ${summary.steps} steps: saved ${out} and the checkpoint ${checkpointWritten} (continue with --resume ${checkpointWritten})`);
    return received.signal === 'SIGTERM' ? EXIT.terminated : EXIT.interrupted;
  }
  print(json, result, () =>
    `saved ${out} after ${summary.steps} steps (${seconds.toFixed(1)} s): reward ${summary.reward.toFixed(4)}, kl ${summary.kl.toFixed(4)}, skipped ${skipped}${checkpointWritten ? `; checkpoint ${checkpointWritten}` : ''}`,
  );
  return EXIT.ok;
}
