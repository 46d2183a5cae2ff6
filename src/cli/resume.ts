/**
 * `train --resume`: the checkpoint's settings are the run's settings, so an option given on the command line
 * that disagrees with them is refused (each conflict named with what the checkpoint holds), never ignored.
 */
import { ParsedOptions } from './args';
import { CheckpointFile } from '../checkpoint';
import { HypernoiseError } from '../errors';

/** A train option and where the checkpoint keeps its value. */
interface Mapping {
  flag: string;
  /** what the checkpoint calls it, for the message */
  name: string;
  held: (ck: CheckpointFile) => unknown;
  /** whether the flag's value (as typed) equals what the checkpoint holds */
  same: (flag: string, held: unknown) => boolean;
}

const optimizerOf = (ck: CheckpointFile): Record<string, unknown> =>
  typeof ck.trainer.optimizer === 'object' && ck.trainer.optimizer !== null ? (ck.trainer.optimizer as Record<string, unknown>) : {};

/** Numbers are compared as the native side stores them (float32 for rates and weights). */
const sameNumber = (flag: string, held: unknown) => typeof held === 'number' && (Number(flag) === held || Math.fround(Number(flag)) === Math.fround(held));
const sameString = (flag: string, held: unknown) => String(held) === flag;

const MAPPINGS: readonly Mapping[] = [
  { flag: 'rank', name: 'rank', held: (ck) => ck.hypernetwork.rank, same: sameNumber },
  { flag: 'depth', name: 'depth', held: (ck) => ck.hypernetwork.depth, same: sameNumber },
  { flag: 'activation', name: 'activation', held: (ck) => ck.hypernetwork.activation, same: sameString },
  { flag: 'classes', name: 'condition width (classes)', held: (ck) => ck.hypernetwork.condDim, same: sameNumber },
  { flag: 'class-conditional', name: 'condition width (classes)', held: (ck) => ck.hypernetwork.condDim, same: (_f, held) => typeof held === 'number' && held > 0 },
  { flag: 'kl', name: 'kl', held: (ck) => ck.trainer.kl, same: sameString },
  { flag: 'batch', name: 'batch size', held: (ck) => ck.trainer.batchSize, same: sameNumber },
  { flag: 'lambda', name: 'lambda', held: (ck) => ck.trainer.lambda, same: sameNumber },
  { flag: 'alpha', name: 'alpha', held: (ck) => ck.trainer.alpha, same: sameNumber },
  { flag: 'seed', name: 'seed', held: (ck) => ck.trainer.seed, same: sameString },
  { flag: 'lr', name: 'learning rate', held: (ck) => optimizerOf(ck).lr, same: sameNumber },
  { flag: 'warmup', name: 'warm-up steps', held: (ck) => optimizerOf(ck).warmupSteps, same: sameNumber },
  { flag: 'decay', name: 'decay steps', held: (ck) => optimizerOf(ck).decaySteps, same: sameNumber },
  { flag: 'min-lr', name: 'minimum learning rate', held: (ck) => optimizerOf(ck).minLr ?? 0, same: sameNumber },
  { flag: 'grad-clip', name: 'gradient clip', held: (ck) => optimizerOf(ck).gradClip, same: sameNumber },
];

/** The options that these mappings check (the train options a resumed run takes from its checkpoint). */
export const RESUMED_OPTIONS: readonly string[] = MAPPINGS.map((m) => m.flag);

/** One line per option given explicitly that disagrees with the checkpoint. */
export function resumeConflicts<K extends string>(o: ParsedOptions<K>, ck: CheckpointFile): string[] {
  const given = new Set(o.given());
  const lines: string[] = [];
  for (const m of MAPPINGS) {
    if (!given.has(m.flag)) continue;
    const flagValue = m.flag === 'class-conditional' ? '' : (o.string(m.flag as K) as string);
    const held = m.held(ck);
    if (m.same(flagValue, held)) continue;
    const shown = typeof held === 'string' ? `'${held}'` : String(held);
    lines.push(`--${m.flag}${flagValue === '' ? '' : ` ${flagValue}`}: the checkpoint has ${m.name} ${shown}${m.flag === 'class-conditional' ? ' (unconditional)' : ''}`);
  }
  return lines;
}

/** ERR_ARGUMENT naming every conflict, or nothing when there is none. */
export function refuseConflicts(file: string, lines: readonly string[]): void {
  if (lines.length === 0) return;
  throw new HypernoiseError(
    [
      `--resume ${file}: ${lines.length === 1 ? 'an option conflicts' : `${lines.length} options conflict`} with the checkpoint:`,
      ...lines.map((l) => `  ${l}`),
      'Drop them to continue the run as the checkpoint holds it, or start a new run without --resume.',
    ].join('\n'),
    'ERR_ARGUMENT',
  );
}
