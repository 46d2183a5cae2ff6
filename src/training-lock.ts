/**
 * Who is training a hypernetwork: the operations of every Trainer of one hypernetwork (steps, train(),
 * checkpoint save and load) run one at a time in call order, across trainers, so that two trainers on one
 * hypernetwork give the results of their operations made one after another (a step is never interleaved with
 * another's forward, backward and update). Code running inside such an operation (a JavaScript generator or
 * reward) that calls back into a trainer of the same hypernetwork, or into its forwardTrain/backward, would
 * wait for itself or overwrite the step's saved state: that is ERR_BUSY at once instead of a deadlock. (A cycle
 * through two hypernetworks, each one's reward awaiting a step of the other, is not detected.)
 */
import { AsyncLocalStorage } from 'async_hooks';
import { HypernoiseError } from './errors';

/** A training operation on a hypernetwork, live until it settles. */
interface Operation {
  readonly hypernetwork: object;
  live: boolean;
}

/**
 * The training operations the current async context was started inside. A timer or promise chain begun in
 * an operation keeps its context after the operation has settled: only live ones count.
 */
const inside = new AsyncLocalStorage<readonly Operation[]>();
const queues = new WeakMap<object, Promise<unknown>>();

/** Runs `fn` after every earlier operation on `hypernetwork` has settled; ERR_BUSY when called from inside one. */
export function serialTraining<T>(hypernetwork: object, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    assertNotTraining(hypernetwork, what);
  } catch (err) {
    return Promise.reject(err);
  }
  const outer = (inside.getStore() ?? []).filter((o) => o.live);
  const run = async () => {
    const op: Operation = { hypernetwork, live: true };
    try {
      return await inside.run([...outer, op], fn);
    } finally {
      op.live = false;
    }
  };
  const queued = (queues.get(hypernetwork) ?? Promise.resolve()).then(run, run);
  queues.set(hypernetwork, queued.catch(() => undefined));
  return queued;
}

/** ERR_BUSY when the caller runs inside a live training operation on `hypernetwork` (its generator or reward). */
export function assertNotTraining(hypernetwork: object, what: string): void {
  if (inside.getStore()?.some((o) => o.live && o.hypernetwork === hypernetwork)) {
    throw new HypernoiseError(
      `${what} was called from inside a training step of the same hypernetwork (from its generator or reward): it would wait for the step it runs in, or overwrite that step's state`,
      'ERR_BUSY',
    );
  }
}

/** Runs `fn` outside any training operation (a progress callback: what it starts queues as usual). */
export function outsideTraining<T>(fn: () => T): T {
  return inside.exit(fn);
}
