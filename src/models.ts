/**
 * Generators and classifiers: `SequentialModel` (linear + activation layers, native forward, VJP and
 * weight gradients, stored as .safetensors with PyTorch nn.Sequential names) and `generators.fromFunctions`
 * for a generator written in JavaScript (the extension point; slower, every pass crosses into JS).
 */
import { NativeParameters } from './params';
import { checkFloat32, checkInteger, checkKeys, checkOneOf, newFloat32, outputArray, rowsOf } from './checks';
import { expected, HypernoiseError } from './errors';
import { ActivationName, BackendName, native, NativeLayer, NativeModel, Seed } from './native';
import { hypernoiseMetadata, readSafetensors, requireF32, TensorInput, writeSafetensors } from './safetensors';

export const ACTIVATIONS: readonly ActivationName[] = ['identity', 'relu', 'silu', 'gelu', 'tanh', 'sigmoid', 'softplus'];

export type LayerSpec = { type: 'linear'; in: number; out: number } | { type: ActivationName };

/** Anything that maps noise to samples and can pull a gradient back: the generator's contract. */
export interface Generator {
  readonly inputDim: number;
  readonly outputDim: number;
  /** x = g(eps) for n = eps.length / inputDim samples. */
  forward(eps: Float32Array): Promise<Float32Array>;
  /** J_g(eps)^T dx. */
  vjp(eps: Float32Array, dx: Float32Array): Promise<Float32Array>;
}

export interface ModelOptions {
  backend?: BackendName;
}

function checkLayers(layers: unknown): LayerSpec[] {
  if (!Array.isArray(layers) || layers.length === 0) throw expected('a non-empty array of layers', 'layers', layers);
  return layers.map((l: unknown, i: number) => {
    if (typeof l !== 'object' || l === null) throw expected('a layer object', `layers[${i}]`, l);
    const t = (l as { type?: unknown }).type;
    if (t === 'linear') {
      const { in: fanIn, out } = l as { in: unknown; out: unknown };
      return { type: 'linear', in: checkInteger(fanIn, `layers[${i}].in`, 1), out: checkInteger(out, `layers[${i}].out`, 1) };
    }
    return { type: checkOneOf(t, `layers[${i}].type`, ['linear', ...ACTIVATIONS] as const) as ActivationName };
  });
}

export class SequentialModel extends NativeParameters<NativeModel> implements Generator {
  /** @internal the native object (for the other classes of this package) */
  readonly native: NativeModel;
  readonly layers: readonly LayerSpec[];
  readonly inputDim: number;
  readonly outputDim: number;
  readonly paramCount: number;
  readonly backend: 'cpu' | 'cuda';
  private readonly offsets: Array<{ weight: number; bias: number } | null>;

  private constructor(layers: LayerSpec[], backend: BackendName) {
    super();
    this.native = new (native().SequentialModel)(layers as NativeLayer[], backend);
    const info = this.native.info();
    this.layers = Object.freeze(layers.map((l) => Object.freeze({ ...l })));
    this.inputDim = info.inputDim;
    this.outputDim = info.outputDim;
    this.paramCount = info.paramCount;
    this.backend = info.backend;
    this.offsets = info.layers.map((l) => (l.type === 'linear' ? { weight: l.weightOffset as number, bias: l.biasOffset as number } : null));
  }

  /** A model from a layer list, initialised as torch.nn.Linear does (Kaiming-uniform) from `seed`. */
  static fromLayers(layers: LayerSpec[], opts: ModelOptions & { seed?: Seed; params?: Float32Array } = {}): SequentialModel {
    if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'fromLayers options', opts);
    checkKeys(opts, ['backend', 'seed', 'params'], 'SequentialModel.fromLayers');
    const m = new SequentialModel(checkLayers(layers), opts.backend ?? 'auto');
    if (opts.params !== undefined) m.setParams(opts.params);
    else m.native.init(opts.seed ?? 0);
    return m;
  }

  /** Loads a model saved by save() or exported from PyTorch (see README: "Models and files"). */
  static async load(file: string, opts: ModelOptions = {}): Promise<SequentialModel> {
    // The caller's backend is checked first: a name that does not exist is the caller's ERR_ARGUMENT, not the file's.
    checkOneOf(opts?.backend ?? 'auto', 'backend', ['auto', 'cpu', 'cuda'] as const);
    const st = await readSafetensors(file);
    const meta = hypernoiseMetadata(st, file, 'sequential');
    let layers: LayerSpec[];
    try {
      layers = checkLayers(meta.layers);
    } catch (err) {
      throw new HypernoiseError(`${file}: invalid layer list: ${(err as Error).message}`, 'ERR_FILE');
    }
    // Every tensor the layer list needs must be in the file before anything is allocated for it: a small
    // file whose layer list claims huge layers is an ERR_FILE, not a huge allocation.
    const weights = layers.map((l, i) =>
      l.type === 'linear' ? { weight: requireF32(st, `${i}.weight`, [l.out, l.in], file), bias: requireF32(st, `${i}.bias`, [l.out], file) } : null,
    );
    try {
      return SequentialModel.fromLayerParams(layers, weights, opts);
    } catch (err) {
      if (err instanceof HypernoiseError && (err.code === 'ERR_ARGUMENT' || err.code === 'ERR_NON_FINITE')) throw new HypernoiseError(`${file}: ${err.message}`, 'ERR_FILE');
      throw err;
    }
  }

  /** A model from a layer list and each linear layer's weight ([out, in], row-major) and bias (null for the others). */
  static fromLayerParams(layers: LayerSpec[], weights: ReadonlyArray<{ weight: Float32Array; bias: Float32Array } | null>, opts: ModelOptions = {}): SequentialModel {
    const model = new SequentialModel(checkLayers(layers), opts.backend ?? 'auto');
    const params = newFloat32(model.paramCount, 'the parameters');
    model.layers.forEach((l, i) => {
      if (l.type !== 'linear') return;
      const w = weights[i];
      if (!w || w.weight.length !== l.in * l.out || w.bias.length !== l.out)
        throw new HypernoiseError(`layer ${i}: needs a weight of ${l.out} x ${l.in} and a bias of ${l.out}`, 'ERR_ARGUMENT');
      const off = model.offsets[i] as { weight: number; bias: number };
      params.set(w.weight, off.weight);
      params.set(w.bias, off.bias);
    });
    try {
      model.setParams(params);
    } catch (err) {
      model.dispose();
      throw err;
    }
    return model;
  }

  /** Tensors named as in a PyTorch nn.Sequential state_dict: "{i}.weight" [out, in], "{i}.bias" [out]. */
  tensors(): Map<string, TensorInput> {
    const params = this.getParams();
    const out = new Map<string, TensorInput>();
    this.layers.forEach((l, i) => {
      if (l.type !== 'linear') return;
      const off = this.offsets[i] as { weight: number; bias: number };
      out.set(`${i}.weight`, { shape: [l.out, l.in], data: params.slice(off.weight, off.weight + l.in * l.out) });
      out.set(`${i}.bias`, { shape: [l.out], data: params.slice(off.bias, off.bias + l.out) });
    });
    return out;
  }

  async save(file: string, extraMetadata: Record<string, string> = {}): Promise<void> {
    const meta = { format: 'sequential', layers: this.layers };
    await writeSafetensors(file, this.tensors(), { ...extraMetadata, hypernoise: JSON.stringify(meta) });
  }


  /** Weight and bias of linear layer `index` (copies). */
  layerParams(index: number): { weight: Float32Array; bias: Float32Array } {
    const off = this.offsets[index];
    const l = this.layers[index];
    if (!off || l.type !== 'linear') throw expected('the index of a linear layer', 'index', index);
    const p = this.getParams();
    return { weight: p.slice(off.weight, off.weight + l.in * l.out), bias: p.slice(off.bias, off.bias + l.out) };
  }

  /** A new model made of layers [0, end) with the same parameters (e.g. a classifier's feature extractor). */
  prefix(end: number): SequentialModel {
    checkInteger(end, 'end', 1, this.layers.length);
    const layers = this.layers.slice(0, end) as LayerSpec[];
    const m = new SequentialModel(layers, this.backend);
    const p = this.getParams();
    const q = newFloat32(m.paramCount, 'the parameters');
    layers.forEach((l, i) => {
      if (l.type !== 'linear') return;
      const from = this.offsets[i] as { weight: number; bias: number };
      const to = m.offsets[i] as { weight: number; bias: number };
      q.set(p.subarray(from.weight, from.weight + l.in * l.out), to.weight);
      q.set(p.subarray(from.bias, from.bias + l.out), to.bias);
    });
    m.setParams(q);
    return m;
  }

  /** model(x) for n = x.length / inputDim rows; `out` (n x outputDim) is reused when given (not sharing memory with x). */
  async forward(x: Float32Array, out?: Float32Array): Promise<Float32Array> {
    const n = rowsOf(checkFloat32(x, 'x'), this.inputDim, 'x');
    const o = outputArray(out, n * this.outputDim, 'out', 'the result', [['x', x]]);
    await this.native.forward(x, n, o);
    return o;
  }

  forwardSync(x: Float32Array, out?: Float32Array): Float32Array {
    const n = rowsOf(checkFloat32(x, 'x'), this.inputDim, 'x');
    const o = outputArray(out, n * this.outputDim, 'out', 'the result', [['x', x]]);
    this.native.forwardSync(x, n, o);
    return o;
  }

  async vjp(x: Float32Array, dy: Float32Array): Promise<Float32Array> {
    const n = rowsOf(checkFloat32(x, 'x'), this.inputDim, 'x');
    checkFloat32(dy, 'dy', n * this.outputDim);
    const out = newFloat32(n * this.inputDim, 'the result');
    await this.native.vjp(x, dy, n, out);
    return out;
  }

  vjpSync(x: Float32Array, dy: Float32Array): Float32Array {
    const n = rowsOf(checkFloat32(x, 'x'), this.inputDim, 'x');
    checkFloat32(dy, 'dy', n * this.outputDim);
    const out = newFloat32(n * this.inputDim, 'the result');
    this.native.vjpSync(x, dy, n, out);
    return out;
  }

  /** Weight gradients (flat, like getParams()) of sum_i <dy_i, model(x_i)>, and the input gradient. */
  async gradients(x: Float32Array, dy: Float32Array): Promise<{ grad: Float32Array; dx: Float32Array }> {
    const n = rowsOf(checkFloat32(x, 'x'), this.inputDim, 'x');
    checkFloat32(dy, 'dy', n * this.outputDim);
    const grad = newFloat32(this.paramCount, 'the gradient');
    const dx = newFloat32(n * this.inputDim, 'the result');
    await this.native.gradients(x, dy, n, dx, grad);
    return { grad, dx };
  }

  gradientsSync(x: Float32Array, dy: Float32Array): { grad: Float32Array; dx: Float32Array } {
    const n = rowsOf(checkFloat32(x, 'x'), this.inputDim, 'x');
    checkFloat32(dy, 'dy', n * this.outputDim);
    const grad = newFloat32(this.paramCount, 'the gradient');
    const dx = newFloat32(n * this.inputDim, 'the result');
    this.native.gradientsSync(x, dy, n, dx, grad);
    return { grad, dx };
  }

}

export interface FunctionGeneratorSpec {
  inputDim: number;
  outputDim: number;
  forward: (eps: Float32Array, n: number) => Float32Array | Promise<Float32Array>;
  vjp: (eps: Float32Array, dx: Float32Array, n: number) => Float32Array | Promise<Float32Array>;
}

/** A generator written in JavaScript. */
export class FunctionGenerator implements Generator {
  readonly inputDim: number;
  readonly outputDim: number;
  constructor(private readonly spec: FunctionGeneratorSpec) {
    this.inputDim = checkInteger(spec.inputDim, 'inputDim', 1);
    this.outputDim = checkInteger(spec.outputDim, 'outputDim', 1);
    if (typeof spec.forward !== 'function') throw expected('a function', 'forward', spec.forward);
    if (typeof spec.vjp !== 'function') throw expected('a function', 'vjp', spec.vjp);
  }

  async forward(eps: Float32Array): Promise<Float32Array> {
    const n = rowsOf(checkFloat32(eps, 'eps'), this.inputDim, 'eps');
    const x = await this.spec.forward(eps, n);
    return checkFloat32(x, 'the generator forward() result', n * this.outputDim);
  }

  async vjp(eps: Float32Array, dx: Float32Array): Promise<Float32Array> {
    const n = rowsOf(checkFloat32(eps, 'eps'), this.inputDim, 'eps');
    checkFloat32(dx, 'dx', n * this.outputDim);
    const d = await this.spec.vjp(eps, dx, n);
    return checkFloat32(d, 'the generator vjp() result', n * this.inputDim);
  }
}

export const generators = {
  fromFunctions(spec: FunctionGeneratorSpec): Generator {
    if (typeof spec !== 'object' || spec === null) throw expected('{ inputDim, outputDim, forward, vjp }', 'fromFunctions spec', spec);
    return new FunctionGenerator(spec);
  },
};
