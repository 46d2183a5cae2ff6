/** What the commands share: the common options, printing, the backend check and model loading. */
import { OptionSpec } from './args';
import { backendInfo } from '../backend';
import { HypernoiseError } from '../errors';
import { oneStepGenerator, TIME_FEATURES } from '../flow';
import { SequentialModel } from '../models';
import { BackendName } from '../native';

export const BACKENDS: readonly BackendName[] = ['auto', 'cpu', 'cuda'];

export const BACKEND_OPTION = {
  backend: { kind: 'string', value: 'NAME', help: 'where to run: auto picks CUDA when a GPU answers, else the CPU', choices: BACKENDS, default: 'auto' },
} as const satisfies Record<string, OptionSpec>;

/** The generator a command runs, and how to read a distilled flow student as the one-step generator. */
export const GENERATOR_OPTIONS = {
  generator: { kind: 'string', value: 'FILE', help: 'the generator (a sequential .safetensors)', required: true },
  'one-step': {
    kind: 'flag',
    help: `the generator is a distilled flow student over [noise, ${TIME_FEATURES} time features] (models/mnist-flow-student.safetensors): use it at t = 0, the one-step generator`,
  },
} as const satisfies Record<string, OptionSpec>;

export const OUTPUT_FLAGS = {
  json: { kind: 'flag', help: 'print the result as JSON on stdout' },
  quiet: { kind: 'flag', help: 'no progress on stderr' },
} as const satisfies Record<string, OptionSpec>;

export function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text() + '\n');
}

/** A line on stderr (notes and warnings that are not the result). */
export function note(line: string): void {
  process.stderr.write(line + '\n');
}

/**
 * The backend asked for, checked where it can run: `cuda` without a usable GPU is ERR_CUDA_UNAVAILABLE saying
 * why and what to pass instead (the option's choices already refused names that do not exist).
 */
export function checkBackend(name: string): BackendName {
  const backend = name as BackendName;
  if (backend === 'cuda') {
    const info = backendInfo();
    if (!info.cuda.available) {
      const why = info.cuda.reason.replace(/;?\s*using the CPU\.?$/i, '');
      throw new HypernoiseError(`--backend cuda: CUDA cannot run here (${why}); use --backend cpu or --backend auto`, 'ERR_CUDA_UNAVAILABLE');
    }
  }
  return backend;
}

/** A sequential model file (generator or classifier); what it is for goes into the error. */
export async function loadModel(file: string, backend: BackendName, role: string): Promise<SequentialModel> {
  try {
    return await SequentialModel.load(file, { backend });
  } catch (err) {
    if (err instanceof HypernoiseError && err.code === 'ERR_FILE' && !err.message.includes(role)) throw new HypernoiseError(`${role}: ${err.message}`, 'ERR_FILE');
    throw err;
  }
}

/**
 * --generator, read as the one-step generator with --one-step. A model whose input is its output plus the time
 * features looks like a flow student: without --one-step its time features would be fed noise, so say so.
 */
export async function loadGenerator(file: string, oneStep: boolean, backend: BackendName): Promise<SequentialModel> {
  const model = await loadModel(file, backend, '--generator');
  if (oneStep) {
    try {
      return oneStepGenerator(model);
    } catch (err) {
      if (err instanceof HypernoiseError) throw new HypernoiseError(`--one-step: ${file}: ${err.message}`, 'ERR_ARGUMENT');
      throw err;
    } finally {
      model.dispose();
    }
  }
  if (model.inputDim === model.outputDim + TIME_FEATURES) {
    note(`note: ${file} takes ${model.inputDim} inputs = ${model.outputDim} + ${TIME_FEATURES}; if it is a flow student (as models/mnist-flow-student.safetensors), pass --one-step to use it as the one-step generator`);
  }
  return model;
}

export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return values.length > 0 ? s / values.length : NaN;
}
