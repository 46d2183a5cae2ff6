/**
 * Option defaults and ranges come from one place, the native core's option tables: what the TypeScript
 * classes report as their configuration is what the native objects run with.
 */
import { HypernoiseError, Hypernetwork, ModelOptimizer, rewards, SequentialModel, TestTimeOptimizer, Trainer } from '../src';
import { native } from '../src/native';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof HypernoiseError ? err.code : 'not a HypernoiseError';
  }
  return undefined;
}

describe('option tables', () => {
  test('defaults: the documented values, with AdamW decaying weights by 0.01 unless told otherwise', () => {
    expect(native().resolveOptions('optimizer', undefined)).toEqual({
      type: 'adam', lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, momentum: 0, nesterov: false, gradClip: 0, warmupSteps: 0, decaySteps: 0, minLr: 0,
    });
    expect(native().resolveOptions('optimizer', { type: 'adamw' }).weightDecay).toBe(0.01);
    expect(native().resolveOptions('optimizer', { type: 'adamw', weightDecay: 0 }).weightDecay).toBe(0);
    expect(native().resolveOptions('trainer', {})).toEqual({ kl: 'exact', lambda: 1, alpha: 1, batchSize: 64, noise: 'inf' });
    expect(native().resolveOptions('reno', {})).toEqual({ iterations: 50, lr: 5, momentum: 0.9, nesterov: true, gradClip: 0.1, regWeight: 0.01 });
    expect(native().resolveOptions('hypernetwork', { noiseDim: 3 })).toEqual({ noiseDim: 3, condDim: 0, rank: 64, depth: 1, activation: 'silu', scale: 1 });
  });

  test('given values come back as given (no float rounding of what the caller wrote)', () => {
    expect(native().resolveOptions('optimizer', { lr: 0.1, beta2: 0.95 })).toMatchObject({ lr: 0.1, beta2: 0.95 });
  });

  test('ranges: out-of-range and wrong-type values are ERR_ARGUMENT naming the option', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['optimizer', { lr: -1 }, /optimizer\.lr/],
      ['optimizer', { beta1: 1 }, /optimizer\.beta1/],
      ['optimizer', { eps: 0 }, /optimizer\.eps/],
      ['optimizer', { type: 'lamb' }, /one of 'adam', 'adamw', 'sgd' for optimizer\.type/],
      ['optimizer', { nesterov: 1 }, /a boolean for optimizer\.nesterov/],
      ['optimizer', { warmupSteps: 1.5 }, /an integer .* for optimizer\.warmupSteps/],
      ['trainer', { alpha: 0 }, /> 0 for alpha but received 0 of type number/],
      ['trainer', { batchSize: 2 ** 25 }, /batchSize/],
      ['reno', { momentum: 1 }, /momentum/],
      ['hypernetwork', {}, /noiseDim but received undefined/],
      ['hypernetwork', { noiseDim: 4, activation: 'swish' }, /activation/],
    ];
    for (const [table, opts, message] of cases) {
      let err: unknown;
      try {
        native().resolveOptions(table as 'optimizer', opts);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HypernoiseError);
      expect((err as HypernoiseError).code).toBe('ERR_ARGUMENT');
      expect((err as HypernoiseError).message).toMatch(message);
    }
    expect(codeOf(() => native().resolveOptions('optimizer', 5))).toBe('ERR_ARGUMENT');
  });

  test('the classes report the resolved configuration they run with', () => {
    const hn = new Hypernetwork({ noiseDim: 4 });
    const gen = SequentialModel.fromLayers([{ type: 'linear', in: 4, out: 3 }], { seed: 1 });
    const t = new Trainer({ hypernetwork: hn, generator: gen, reward: rewards.brightness(), optimizer: { type: 'adamw' } });
    expect(t.config).toMatchObject({ kl: 'exact', lambda: 1, alpha: 1, batchSize: 64, noise: 'inf', seed: 0 });
    expect(t.config.optimizer).toMatchObject({ type: 'adamw', weightDecay: 0.01, lr: 0.001 });
    expect(new ModelOptimizer(gen, { type: 'sgd', momentum: 0.5 }).config).toMatchObject({ type: 'sgd', momentum: 0.5, weightDecay: 0 });
    const tto = new TestTimeOptimizer({ generator: gen, reward: rewards.brightness() });
    expect([tto.iterations, tto.lr, tto.momentum, tto.nesterov, tto.gradClip, tto.regWeight]).toEqual([50, 5, 0.9, true, 0.1, 0.01]);
    expect([hn.rank, hn.depth, hn.activation, hn.scale, hn.condDim]).toEqual([64, 1, 'silu', 1, 0]);
  });
});
