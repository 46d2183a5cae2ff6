/**
 * The optimiser's options (shared by Trainer and ModelOptimizer) and an optimiser over a SequentialModel's
 * parameters (for training generators and classifiers natively). Defaults and ranges live in the native
 * core's option table (native/core/optimizer.cc), read here through resolveOptions.
 */
import { checkFloat32, checkKeys, optionKeys } from './checks';
import { expected } from './errors';
import { SequentialModel } from './models';
import { native, NativeModelOptimizer, OptimizerType, ResolvedOptimizerOptions } from './native';

/** Optimiser settings, as the public API takes them; every field has a default. */
export interface OptimizerOptions {
  /** 'adam' (default), 'adamw' (decoupled weight decay, default 0.01) or 'sgd' */
  type?: OptimizerType;
  /** learning rate, default 1e-3 */
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** L2 penalty (adam, sgd; default 0) or decoupled decay (adamw; default 0.01) */
  weightDecay?: number;
  /** SGD momentum, default 0 */
  momentum?: number;
  nesterov?: boolean;
  /** global L2 gradient-norm clip (0: off) */
  gradClip?: number;
  /** linear learning-rate warm-up over this many steps */
  warmupSteps?: number;
  /** cosine decay of the learning rate over this many steps after warm-up, down to minLr (0: constant) */
  decaySteps?: number;
  /**
   * the floor of the decay: after warm-up the rate follows a cosine from lr down to minLr (as PyTorch's
   * CosineAnnealingLR with eta_min) and holds minLr once warmupSteps + decaySteps steps have passed. Default 0:
   * the rate reaches 0 there and the parameters stop moving (each step's rate is reported as StepRecord.lr).
   * At most lr.
   */
  minLr?: number;
}

/** The optimiser's options with every default filled in. */
export type ResolvedOptimizer = ResolvedOptimizerOptions;

/** The options with every default filled in, checked (ERR_ARGUMENT naming optimizer.<key>). */
const OPTIMIZER_OPTIONS = optionKeys<OptimizerOptions>()(['type', 'lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'momentum', 'nesterov', 'gradClip', 'warmupSteps', 'decaySteps', 'minLr']);

export function resolveOptimizer(o: OptimizerOptions | undefined): ResolvedOptimizer {
  if (typeof o === 'object' && o !== null) checkKeys(o, OPTIMIZER_OPTIONS, 'the optimizer');
  return native().resolveOptions('optimizer', o);
}

export interface OptimizerStep {
  /** global gradient norm before clipping */
  gradNorm: number;
  /** true when the gradient was not finite: nothing was updated */
  skipped: boolean;
  lr: number;
}

export class ModelOptimizer {
  readonly config: Readonly<ResolvedOptimizer>;
  private readonly impl: NativeModelOptimizer;
  constructor(
    readonly model: SequentialModel,
    opts: OptimizerOptions = {},
  ) {
    if (!(model instanceof SequentialModel)) throw expected('a SequentialModel', 'model', model);
    this.config = Object.freeze(resolveOptimizer(opts));
    this.impl = new (native().ModelOptimizer)(model.native, this.config);
  }

  /** Applies one update from a flat gradient (as SequentialModel.gradients() returns). */
  step(grad: Float32Array): OptimizerStep {
    checkFloat32(grad, 'grad', this.model.paramCount);
    return this.impl.step(grad);
  }

  get disposed(): boolean {
    return this.impl.disposed;
  }

  /** Frees the optimiser's native state (moments, gradient buffer) now rather than at garbage collection. */
  dispose(): void {
    this.impl.dispose();
  }
}
