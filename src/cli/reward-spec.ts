/**
 * The --reward SPEC of the CLI: redness | brightness | classifier:FILE[:CLASS]. The spec is parsed before
 * anything is loaded, and checked against the generator and the conditions before any step runs, so that a
 * classifier reward without a class is a clear ERR_ARGUMENT and not a shape error at the first step.
 */
import { loadModel } from './common';
import { HypernoiseError } from '../errors';
import { SequentialModel } from '../models';
import { BackendName } from '../native';
import { Reward, rewards } from '../rewards';

export type RewardSpec =
  | { kind: 'redness' | 'brightness'; text: string }
  | { kind: 'classifier'; text: string; file: string; cls: number | undefined };

export const REWARD_HELP = 'redness | brightness | classifier:FILE[:CLASS] (log p(CLASS | x); without :CLASS the class is the one-hot condition: --class or --cond)';
export const TRAIN_REWARD_HELP = 'redness | brightness | classifier:FILE[:CLASS] (log p(CLASS | x); without :CLASS the class is the one-hot condition of a --class-conditional hypernetwork)';

export function parseRewardSpec(text: string): RewardSpec {
  if (text === 'redness' || text === 'brightness') return { kind: text, text };
  const m = /^classifier:(.+?)(?::(\d+))?$/.exec(text);
  if (m) return { kind: 'classifier', text, file: m[1], cls: m[2] === undefined ? undefined : Number(m[2]) };
  throw new HypernoiseError(`--reward: expected redness, brightness or classifier:FILE[:CLASS] but received '${text}'`, 'ERR_ARGUMENT');
}

/** Whether the reward takes each sample's class from its condition (a classifier reward without :CLASS). */
export function needsClassCondition(spec: RewardSpec): boolean {
  return spec.kind === 'classifier' && spec.cls === undefined;
}

export interface LoadedReward {
  spec: RewardSpec;
  reward: Reward;
  /** the reward's classifier, for classifier specs */
  classifier: SequentialModel | null;
}

/** Loads the reward and checks it against the generator's output size (ERR_ARGUMENT when they cannot work together). */
export async function loadReward(spec: RewardSpec, backend: BackendName, outputDim: number): Promise<LoadedReward> {
  if (spec.kind !== 'classifier') {
    if (spec.kind === 'brightness') return { spec, reward: rewards.brightness(), classifier: null };
    if (outputDim % 3 !== 0) throw new HypernoiseError(`--reward redness needs RGB outputs laid out [3, H, W], but the generator makes ${outputDim} values (not a multiple of 3)`, 'ERR_ARGUMENT');
    return { spec, reward: rewards.redness(), classifier: null };
  }
  const clf = await loadModel(spec.file, backend, '--reward classifier');
  if (clf.inputDim !== outputDim) {
    throw new HypernoiseError(`--reward ${spec.text}: the classifier takes ${clf.inputDim} inputs but the generator makes ${outputDim} values`, 'ERR_ARGUMENT');
  }
  if (spec.cls !== undefined && spec.cls >= clf.outputDim) {
    throw new HypernoiseError(`--reward ${spec.text}: class ${spec.cls} does not exist (the classifier has ${clf.outputDim} classes, 0 to ${clf.outputDim - 1})`, 'ERR_ARGUMENT');
  }
  return { spec, reward: rewards.classifierLogProb(clf, spec.cls), classifier: clf };
}

/**
 * ERR_ARGUMENT unless every sample will have a class: a classifier reward without :CLASS needs one-hot conditions
 * over exactly the classifier's classes. `condDim` is the width of the conditions the run will use.
 */
export function checkRewardClasses(loaded: LoadedReward, condDim: number, remedy: string): void {
  if (!needsClassCondition(loaded.spec)) return;
  const clf = loaded.classifier as SequentialModel;
  if (condDim === 0) {
    throw new HypernoiseError(`--reward ${loaded.spec.text} needs a class for each sample: add :CLASS (e.g. ${loaded.spec.text}:3) or ${remedy}`, 'ERR_ARGUMENT');
  }
  if (condDim !== clf.outputDim) {
    throw new HypernoiseError(`--reward ${loaded.spec.text}: the conditions have ${condDim} classes but the classifier has ${clf.outputDim} (its class is the condition's one-hot entry)`, 'ERR_ARGUMENT');
  }
}
