/**
 * Rewards r(x, c) with their gradients. The built-ins run natively (and inside the fused training step);
 * `rewards.fromFunction` is the JavaScript extension point (slower: every evaluation crosses into JS).
 */
import { checkFloat32, checkInteger, checkKeys, checkNumber, newFloat32, optionKeys } from './checks';
import { describe, expected, HypernoiseError } from './errors';
import { crc32c } from './integrity';
import { SequentialModel } from './models';
import { BackendName, native, NativeReward, NativeRewardTerm } from './native';

export interface RewardValue {
  /** r(x_i, c_i) per sample */
  value: Float32Array;
  /** d r / d x, n x P (when asked for) */
  grad?: Float32Array;
}

export interface Reward {
  readonly description: string;
  /** Scores n = x.length / p samples; cond is n x condDim (or null). */
  evaluate(x: Float32Array, p: number, cond: Float32Array | null, condDim: number, withGrad: boolean): Promise<RewardValue>;
}

/** Where the classifier reward takes each sample's class from. */
export type ClassOf =
  | number // the same class for every sample
  | { offset: number } // argmax of the condition's entries [offset, offset + classes)
  | ((cond: Float32Array | null, n: number) => Int32Array | number[]); // computed per call

interface Term {
  kind: 'redness' | 'brightness' | 'classifierLogProb';
  weight: number;
  model?: SequentialModel;
  classOf?: ClassOf;
}

/** A weighted sum of built-in terms, evaluated natively. */
export class BuiltinReward implements Reward {
  /** @internal */
  readonly terms: readonly Term[];
  private nativeReward: NativeReward | undefined;

  /** @internal */
  constructor(terms: Term[]) {
    this.terms = terms;
    const fns = new Set(terms.map((t) => t.classOf).filter((c) => typeof c === 'function'));
    if (fns.size > 1) throw new HypernoiseError('A built-in reward can use at most one classOf function', 'ERR_ARGUMENT');
  }

  /**
   * The terms, with a classifier's fixed class and a fingerprint of its parameters (CRC-32C), so that a
   * checkpoint's recorded reward tells one classifier from another (the CLI's --resume compares them).
   */
  get description(): string {
    return this.terms
      .map((t) => {
        const weight = t.weight === 1 ? '' : `${t.weight}*`;
        if (t.kind !== 'classifierLogProb') return `${weight}${t.kind}`;
        const cls = typeof t.classOf === 'number' ? `[${t.classOf}]` : '';
        const model = t.model && !t.model.disposed ? `(classifier ${t.model.paramCount} params, crc32c ${crc32c(new Uint8Array(t.model.getParams().buffer)).toString(16).padStart(8, '0')})` : '';
        return `${weight}${t.kind}${cls}${model}`;
      })
      .join(' + ');
  }

  /** @internal the native object */
  native(): NativeReward {
    if (this.nativeReward === undefined) {
      const terms: NativeRewardTerm[] = this.terms.map((t) => {
        const nt: NativeRewardTerm = { kind: t.kind, weight: t.weight };
        if (t.model) {
          nt.model = t.model.native;
          if (typeof t.classOf === 'number') nt.fixedClass = t.classOf;
          else if (typeof t.classOf === 'object') nt.classOffset = t.classOf.offset;
        }
        return nt;
      });
      this.nativeReward = new (native().Reward)(terms);
    }
    return this.nativeReward;
  }

  /** @internal per-sample classes when a classOf function is in use, else null */
  classes(cond: Float32Array | null, n: number): Int32Array | null {
    const fn = this.terms.map((t) => t.classOf).find((c): c is Exclude<ClassOf, number | { offset: number }> => typeof c === 'function');
    if (fn === undefined) return null;
    const raw: unknown = fn(cond, n);
    if (!(raw instanceof Int32Array) && !Array.isArray(raw)) throw expected('an Int32Array or an array of class indices', 'the result of classOf', raw);
    if (raw.length !== n) throw new HypernoiseError(`classOf returned ${raw.length} classes for ${n} samples`, 'ERR_SHAPE');
    // Not Int32Array.from alone: it would turn NaN, 2.5 or '3' into some class without a word.
    for (let i = 0; i < n; i++) {
      const c: unknown = raw[i];
      if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > 0x7fffffff) {
        throw new HypernoiseError(`classOf returned ${typeof c === 'number' ? c : describe(c)} for sample ${i}: expected a class index (an integer >= 0)`, 'ERR_ARGUMENT');
      }
    }
    // Always a copy: the checked values are what the native call reads (the caller's array could be changed or
    // sit on a resizable buffer while a Promise call runs).
    return Int32Array.from(raw as ArrayLike<number>);
  }

  /** @internal the backend the reward runs on (that of its classifier, if any) */
  get backend(): BackendName {
    const m = this.terms.find((t) => t.model)?.model;
    return m ? m.backend : 'auto';
  }

  async evaluate(x: Float32Array, p: number, cond: Float32Array | null, condDim: number, withGrad: boolean): Promise<RewardValue> {
    checkFloat32(x, 'x');
    if (cond !== null) checkFloat32(cond, 'cond');
    const n = x.length / p;
    if (!Number.isInteger(n)) throw new HypernoiseError(`x has ${x.length} values, not a whole number of samples of ${p}`, 'ERR_SHAPE');
    const value = newFloat32(n, 'the result');
    const grad = withGrad ? newFloat32(n * p, 'the result') : null;
    await this.native().evaluate(x, n, p, cond, cond ? condDim : 0, this.classes(cond, n), value, grad, this.backend);
    return grad ? { value, grad } : { value };
  }
}

/**
 * A reward written in JavaScript. `needGrad` says whether the caller uses the gradient: when it is false (best-of-N,
 * evaluation, ReNO's last pass) `grad` may be left out and its work skipped; when it is true `grad` is required.
 */
export type RewardFunction = (
  x: Float32Array,
  n: number,
  cond: Float32Array | null,
  needGrad: boolean,
) => RewardValue | Promise<RewardValue>;

/** A reward written in JavaScript: returns value [n] and, when `needGrad` is true, grad = dvalue/dx [n*P]. */
export class FunctionReward implements Reward {
  readonly description: string;
  constructor(
    private readonly fn: RewardFunction,
    description = 'fromFunction',
  ) {
    if (typeof fn !== 'function') throw expected('a function', 'reward function', fn);
    this.description = description;
  }

  async evaluate(x: Float32Array, p: number, cond: Float32Array | null, _condDim: number, withGrad: boolean): Promise<RewardValue> {
    const n = x.length / p;
    const r = await this.fn(x, n, cond, withGrad);
    if (typeof r !== 'object' || r === null) throw expected('an object { value, grad }', 'the reward function result', r);
    checkFloat32(r.value, 'the reward function value', n);
    if (withGrad) {
      if (r.grad === undefined) throw new HypernoiseError('The reward function returned no grad (dvalue/dx, n*P values) although needGrad was true', 'ERR_SHAPE');
      checkFloat32(r.grad, 'the reward function grad', n * p);
    }
    return r;
  }
}

/** A weighted sum of rewards of any kind (used when a built-in sum is not possible). */
export class SumReward implements Reward {
  constructor(readonly parts: ReadonlyArray<{ reward: Reward; weight: number }>) {}

  get description(): string {
    return this.parts.map((p) => `${p.weight}*(${p.reward.description})`).join(' + ');
  }

  async evaluate(x: Float32Array, p: number, cond: Float32Array | null, condDim: number, withGrad: boolean): Promise<RewardValue> {
    const n = x.length / p;
    const value = newFloat32(n, 'the result');
    const grad = withGrad ? newFloat32(n * p, 'the result') : undefined;
    for (const part of this.parts) {
      const r = await part.reward.evaluate(x, p, cond, condDim, withGrad);
      for (let i = 0; i < n; i++) value[i] += part.weight * r.value[i];
      if (grad && r.grad) for (let i = 0; i < grad.length; i++) grad[i] += part.weight * r.grad[i];
    }
    return grad ? { value, grad } : { value };
  }
}

function checkClassOf(classOf: unknown): ClassOf | undefined {
  if (classOf === undefined || typeof classOf === 'function') return classOf as ClassOf | undefined;
  if (typeof classOf === 'number') return checkInteger(classOf, 'classOf', 0);
  if (typeof classOf === 'object' && classOf !== null && 'offset' in classOf) {
    return { offset: checkInteger((classOf as { offset: unknown }).offset, 'classOf.offset', 0) };
  }
  throw expected('a class index, { offset }, or a function (cond, n) => classes', 'classOf', classOf);
}

const WEIGHTED_PART_KEYS = optionKeys<{ reward: Reward; weight: number }>()(['reward', 'weight']);

export const rewards = {
  /** Paper §4.1: mean over pixels of R - (G + B) / 2, for RGB outputs laid out [3, H, W]. */
  redness(): BuiltinReward {
    return new BuiltinReward([{ kind: 'redness', weight: 1 }]);
  },

  /** Mean intensity. */
  brightness(): BuiltinReward {
    return new BuiltinReward([{ kind: 'brightness', weight: 1 }]);
  },

  /**
   * log softmax(model(x))[c]: the classifier's log-probability of each sample's class, by default the
   * argmax of the sample's (one-hot) condition.
   */
  classifierLogProb(model: SequentialModel, classOf?: ClassOf): BuiltinReward {
    if (!(model instanceof SequentialModel)) throw expected('a SequentialModel', 'model', model);
    return new BuiltinReward([{ kind: 'classifierLogProb', weight: 1, model, classOf: checkClassOf(classOf) }]);
  },

  /** sum_k w_k r_k; natively when every part is built in. */
  weighted(parts: ReadonlyArray<{ reward: Reward; weight: number } | [Reward, number]>): Reward {
    if (!Array.isArray(parts) || parts.length === 0) throw expected('a non-empty array of { reward, weight }', 'parts', parts);
    const list = parts.map((p, i) => {
      if (typeof p !== 'object' || p === null) throw expected('{ reward, weight } or [reward, weight]', `parts[${i}]`, p);
      if (Array.isArray(p) && p.length !== 2) throw expected('[reward, weight]', `parts[${i}]`, p);
      if (!Array.isArray(p)) checkKeys(p, WEIGHTED_PART_KEYS, `parts[${i}]`);
      const [reward, weight] = Array.isArray(p) ? p : [p.reward, p.weight];
      if (typeof reward !== 'object' || reward === null || typeof (reward as Reward).evaluate !== 'function') {
        throw expected('a reward', `parts[${i}].reward`, reward);
      }
      return { reward: reward as Reward, weight: checkNumber(weight, `parts[${i}].weight`) };
    });
    if (list.every((p) => p.reward instanceof BuiltinReward)) {
      const terms = list.flatMap((p) => (p.reward as BuiltinReward).terms.map((t) => ({ ...t, weight: t.weight * p.weight })));
      try {
        return new BuiltinReward(terms);
      } catch {
        // e.g. two different classOf functions: fall through to a JavaScript sum
      }
    }
    return new SumReward(list);
  },

  /**
   * A reward computed in JavaScript: (x, n, cond, needGrad) => ({ value: Float32Array[n], grad?: Float32Array[n*P] });
   * grad is required when needGrad is true and may be omitted (its work skipped) when it is false.
   */
  fromFunction(fn: RewardFunction, description?: string): Reward {
    return new FunctionReward(fn, description);
  },
};
