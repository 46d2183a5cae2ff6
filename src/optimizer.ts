/** An optimiser over a SequentialModel's parameters (for training generators and classifiers natively). */
import { checkFloat32 } from './checks';
import { expected } from './errors';
import { SequentialModel } from './models';
import { native, NativeModelOptimizer } from './native';
import { OptimizerOptions, resolveOptimizer } from './trainer';

export interface OptimizerStep {
  /** global gradient norm before clipping */
  gradNorm: number;
  /** true when the gradient was not finite: nothing was updated */
  skipped: boolean;
  lr: number;
}

export class ModelOptimizer {
  private readonly impl: NativeModelOptimizer;
  constructor(
    readonly model: SequentialModel,
    opts: OptimizerOptions = {},
  ) {
    if (!(model instanceof SequentialModel)) throw expected('a SequentialModel', 'model', model);
    this.impl = new (native().ModelOptimizer)(model.native, resolveOptimizer(opts));
  }

  /** Applies one update from a flat gradient (as SequentialModel.gradients() returns). */
  step(grad: Float32Array): OptimizerStep {
    checkFloat32(grad, 'grad', this.model.paramCount);
    return this.impl.step(grad);
  }
}
