/**
 * The noise hypernetwork T(eps) = eps + f(eps, c): a bottleneck residual MLP (DESIGN.md, "The hypernetwork") whose output
 * layer starts at zero, so an untrained hypernetwork is exactly the identity.
 */
import { NativeParameters } from './params';
import { checkFloat32, checkKeys, checkNumber, checkOneOf, newFloat32, optional, optionKeys, outputArray, rowsOf } from './checks';
import { expected, HypernoiseError } from './errors';
import { ActivationName, BackendName, KlName, native, NativeHypernetwork, Seed } from './native';
import { hypernoiseMetadata, readSafetensors, requireF32, SafetensorsFile, TensorInput, writeSafetensors } from './safetensors';
import { assertNotTraining } from './training-lock';

export interface HypernetworkOptions {
  /** D: the generator's noise dimension */
  noiseDim: number;
  /** C: condition width (one-hot class, prompt embedding); 0 for unconditional */
  condDim?: number;
  /** r: bottleneck width (the paper's LoRA rank), default 64 */
  rank?: number;
  /** L: layers before the output projection, default 1 */
  depth?: number;
  activation?: ActivationName;
  /** s: output scale, default 1 */
  scale?: number;
  seed?: Seed;
  backend?: BackendName;
}

/** Per-sample noise-space KL terms (DESIGN.md, "The exact noise KL"); each row is an independent array (its own buffer). */
export interface KlStats {
  /** 0.5 ||f||^2, the paper's tractable surrogate */
  l2: Float32Array;
  /** 0.5 ||f||^2 + Tr(J_f) - log det(I + J_f): the exact KL integrand (log-det dropped where not invertible) */
  exact: Float32Array;
  /** 0.5 ||eps_hat||^2 - (D-1) log ||eps_hat||, ReNO's norm prior */
  chi: Float32Array;
  trace: Float32Array;
  logdet: Float32Array;
  /** 1 where det(I + J_f) <= 0 (T not invertible at that sample), else 0 */
  nonInvertible: Float32Array;
}

export const KL_KINDS: readonly KlName[] = ['l2', 'exact', 'chi'];

/** The configuration keys of a hypernetwork file's metadata (DESIGN.md, "File formats"), all required. */
const HYPERNET_METADATA_KEYS = ['noiseDim', 'condDim', 'rank', 'depth', 'activation', 'scale'] as const;

/**
 * @internal splits the native per-sample statistics block into named rows. Each row is a copy with its own
 * ArrayBuffer (not a view into the block): `Buffer.from(stats.exact.buffer)`, a transfer or a structured clone
 * of one row then holds that row and nothing else.
 */
export function splitStats(block: Float32Array, n: number): KlStats & { sqnorm: Float32Array } {
  const row = (i: number) => block.slice(i * n, (i + 1) * n);
  return { l2: row(0), chi: row(1), exact: row(2), trace: row(3), logdet: row(4), nonInvertible: row(5), sqnorm: row(6) };
}

/** The options with their defaults (from the native core's option table), checked (ERR_ARGUMENT). */
const HYPERNETWORK_OPTIONS = optionKeys<HypernetworkOptions>()(['noiseDim', 'condDim', 'rank', 'depth', 'activation', 'scale', 'seed', 'backend']);

function resolveOptions(opts: HypernetworkOptions) {
  if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'Hypernetwork options', opts);
  checkKeys(opts, HYPERNETWORK_OPTIONS, 'Hypernetwork');
  return {
    ...native().resolveOptions('hypernetwork', opts),
    backend: checkOneOf(optional(opts.backend, 'auto'), 'backend', ['auto', 'cpu', 'cuda'] as const),
  };
}

/** The shape of each named tensor of a hypernetwork (DESIGN.md, "File formats"). */
function hypernetTensorShapes(D: number, C: number, r: number, depth: number): Record<string, number[]> {
  const shapes: Record<string, number[]> = { A: [r, D] };
  if (C > 0) shapes.U = [r, C];
  shapes.b1 = [r];
  for (let k = 2; k <= depth; k++) {
    shapes[`W${k}`] = [r, r];
    shapes[`b${k}`] = [r];
  }
  shapes.B = [D, r];
  shapes.bo = [D];
  return shapes;
}

export class Hypernetwork extends NativeParameters<NativeHypernetwork> {
  /** @internal */
  readonly native: NativeHypernetwork;
  readonly noiseDim: number;
  readonly condDim: number;
  readonly rank: number;
  readonly depth: number;
  readonly activation: ActivationName;
  readonly scale: number;
  readonly backend: 'cpu' | 'cuda';
  readonly paramCount: number;
  /** tensor name -> [offset, length] in the flat parameter vector */
  readonly tensorLayout: Readonly<Record<string, readonly [number, number]>>;

  constructor(opts: HypernetworkOptions) {
    super();
    const { noiseDim, condDim, rank, depth, activation, scale, backend } = resolveOptions(opts);
    this.native = new (native().Hypernetwork)({ noiseDim, condDim, rank, depth, activation, scale, backend });
    const info = this.native.info();
    this.noiseDim = noiseDim;
    this.condDim = condDim;
    this.rank = rank;
    this.depth = depth;
    this.activation = activation;
    this.scale = scale;
    this.backend = info.backend;
    this.paramCount = info.paramCount;
    this.tensorLayout = Object.freeze(info.tensors);
    this.native.init(opts.seed ?? 0);
  }

  /** Loads weights written by save() (or by PyTorch with the tensor names of DESIGN.md, "File formats"). */
  static async load(file: string, opts: { backend?: BackendName } = {}): Promise<Hypernetwork> {
    // The caller's backend is checked first: a name that does not exist is the caller's ERR_ARGUMENT, not the file's.
    checkOneOf(opts?.backend ?? 'auto', 'backend', ['auto', 'cpu', 'cuda'] as const);
    const st = await readSafetensors(file);
    const meta = hypernoiseMetadata(st, file, 'hypernetwork');
    const hn = Hypernetwork.fromMetadata(meta, file, opts.backend, st);
    hn.setTensors((name, shape) => requireF32(st, name, shape, file), file);
    return hn;
  }

  /**
   * @internal A hypernetwork of the configuration in `meta` (ERR_FILE when it is invalid). With `st`, every
   * tensor that configuration needs is checked to be in the file first, so that a small file whose metadata
   * claims a huge noiseDim or rank is an ERR_FILE rather than a huge allocation.
   */
  static fromMetadata(meta: Record<string, unknown>, file: string, backend?: BackendName, st?: SafetensorsFile): Hypernetwork {
    // Every key save() writes is required: a file that lost one must not load with a default in its place.
    for (const key of HYPERNET_METADATA_KEYS) {
      if (!(key in meta)) throw new HypernoiseError(`${file}: invalid hypernetwork metadata: the key '${key}' is missing`, 'ERR_FILE');
    }
    const opts: HypernetworkOptions = {
      noiseDim: meta.noiseDim as number,
      condDim: meta.condDim as number,
      rank: meta.rank as number,
      depth: meta.depth as number,
      activation: meta.activation as ActivationName,
      scale: meta.scale as number,
      backend,
    };
    try {
      const r = resolveOptions(opts);
      if (st) for (const [name, shape] of Object.entries(hypernetTensorShapes(r.noiseDim, r.condDim, r.rank, r.depth))) requireF32(st, name, shape, file);
      return new Hypernetwork(opts);
    } catch (err) {
      if (err instanceof HypernoiseError && err.code === 'ERR_ARGUMENT') throw new HypernoiseError(`${file}: invalid hypernetwork metadata: ${err.message}`, 'ERR_FILE');
      throw err;
    }
  }

  /** The shape of each named tensor. */
  tensorShapes(): Record<string, number[]> {
    return hypernetTensorShapes(this.noiseDim, this.condDim, this.rank, this.depth);
  }

  /** @internal fills the parameters from named tensors */
  setTensors(get: (name: string, shape: number[]) => Float32Array, source: string): void {
    const params = newFloat32(this.paramCount, 'the parameters');
    for (const [name, shape] of Object.entries(this.tensorShapes())) {
      params.set(get(name, shape), this.tensorLayout[name][0]);
    }
    try {
      this.setParams(params);
    } catch (err) {
      if (err instanceof HypernoiseError && err.code === 'ERR_NON_FINITE') throw new HypernoiseError(`${source}: ${err.message}`, 'ERR_FILE');
      throw err;
    }
  }

  /** Named tensors (copies), as saved. */
  tensors(): Map<string, TensorInput> {
    const p = this.getParams();
    const out = new Map<string, TensorInput>();
    for (const [name, shape] of Object.entries(this.tensorShapes())) {
      const [off, len] = this.tensorLayout[name];
      out.set(name, { shape, data: p.slice(off, off + len) });
    }
    return out;
  }

  /** @internal the metadata object saved with the weights */
  metadata(): Record<string, unknown> {
    return {
      format: 'hypernetwork',
      noiseDim: this.noiseDim,
      condDim: this.condDim,
      rank: this.rank,
      depth: this.depth,
      activation: this.activation,
      scale: this.scale,
    };
  }

  async save(file: string): Promise<void> {
    await writeSafetensors(file, this.tensors(), { hypernoise: JSON.stringify(this.metadata()) });
  }


  /** Re-initialises from `seed` (the identity map again). */
  reset(seed: Seed = 0): void {
    this.native.init(seed);
  }

  /** @internal checks (eps, cond) and returns the batch size */
  batchOf(eps: Float32Array, cond: Float32Array | null | undefined, name = 'eps'): number {
    const n = rowsOf(checkFloat32(eps, name), this.noiseDim, name);
    if (this.condDim > 0) {
      if (cond === undefined || cond === null) {
        throw new HypernoiseError(`This hypernetwork is conditional (condDim ${this.condDim}): pass cond with ${n} x ${this.condDim} values`, 'ERR_SHAPE');
      }
      checkFloat32(cond, 'cond', n * this.condDim);
    } else if (cond !== undefined && cond !== null && cond.length !== 0) {
      throw new HypernoiseError(`This hypernetwork is unconditional (condDim 0) but a condition of length ${cond.length} was passed`, 'ERR_SHAPE');
    }
    return n;
  }

  /**
   * eps_hat = eps + f(eps, c), n = eps.length / noiseDim samples. `out` (n x noiseDim) is written and
   * returned instead of a new array: reusing it saves the allocation and its page faults in tight loops.
   * It must not share memory with eps or cond (ERR_ARGUMENT).
   */
  async forward(eps: Float32Array, cond?: Float32Array | null, out?: Float32Array): Promise<Float32Array> {
    const n = this.batchOf(eps, cond);
    const o = outputArray(out, n * this.noiseDim, 'out', 'the result', [['eps', eps], ['cond', cond]]);
    await this.native.forward(eps, this.condDim > 0 ? (cond as Float32Array) : null, n, o);
    return o;
  }

  forwardSync(eps: Float32Array, cond?: Float32Array | null, out?: Float32Array): Float32Array {
    const n = this.batchOf(eps, cond);
    const o = outputArray(out, n * this.noiseDim, 'out', 'the result', [['eps', eps], ['cond', cond]]);
    this.native.forwardSync(eps, this.condDim > 0 ? (cond as Float32Array) : null, n, o);
    return o;
  }

  /** The three KL terms per sample at eps (the exact one in O(r^3) per sample). */
  async kl(eps: Float32Array, cond?: Float32Array | null): Promise<KlStats> {
    const n = this.batchOf(eps, cond);
    const block = newFloat32(native().statRows * n, 'the result');
    await this.native.kl(eps, this.condDim > 0 ? (cond as Float32Array) : null, n, block);
    const { sqnorm: _unused, ...stats } = splitStats(block, n);
    return stats;
  }

  klSync(eps: Float32Array, cond?: Float32Array | null): KlStats {
    const n = this.batchOf(eps, cond);
    const block = newFloat32(native().statRows * n, 'the result');
    this.native.klSync(eps, this.condDim > 0 ? (cond as Float32Array) : null, n, block);
    const { sqnorm: _unused, ...stats } = splitStats(block, n);
    return stats;
  }

  /**
   * Lower level, for custom training loops: a forward that keeps what backward() needs for the KL term
   * `kl` (a backward with 'exact' needs a forwardTrain with 'exact'). Returns eps_hat and the per-sample KL
   * statistics (the exact ones only with 'exact').
   */
  async forwardTrain(eps: Float32Array, cond: Float32Array | null | undefined, kl: KlName): Promise<{ epsHat: Float32Array; stats: KlStats }> {
    assertNotTraining(this, 'Hypernetwork.forwardTrain');
    return this.forwardTrainWithin(eps, cond, kl);
  }

  /** @internal forwardTrain for the trainer's own step (the public one refuses calls from inside a step) */
  async forwardTrainWithin(eps: Float32Array, cond: Float32Array | null | undefined, kl: KlName): Promise<{ epsHat: Float32Array; stats: KlStats }> {
    checkOneOf(kl, 'kl', KL_KINDS);
    const n = this.batchOf(eps, cond);
    const epsHat = newFloat32(n * this.noiseDim, 'the result');
    const block = newFloat32(native().statRows * n, 'the result');
    await this.native.forwardTrain(eps, this.condDim > 0 ? (cond as Float32Array) : null, n, kl, epsHat, block);
    const { sqnorm: _unused, ...stats } = splitStats(block, n);
    return { epsHat, stats };
  }

  /**
   * Gradient, w.r.t. the parameters, of sum_i [klWeight * KL_i + dScale * <dEpsHat_i, eps_hat_i>] at the
   * last forwardTrain(); read it with getGradient().
   */
  async backward(dEpsHat: Float32Array, kl: KlName, klWeight: number, dScale = 1): Promise<void> {
    assertNotTraining(this, 'Hypernetwork.backward');
    return this.backwardWithin(dEpsHat, kl, klWeight, dScale);
  }

  /** @internal backward for the trainer's own step */
  async backwardWithin(dEpsHat: Float32Array, kl: KlName, klWeight: number, dScale = 1): Promise<void> {
    const n = rowsOf(checkFloat32(dEpsHat, 'dEpsHat'), this.noiseDim, 'dEpsHat');
    checkOneOf(kl, 'kl', KL_KINDS);
    checkNumber(klWeight, 'klWeight');
    checkNumber(dScale, 'dScale');
    await this.native.backward(dEpsHat, n, kl, klWeight, dScale);
  }

  getGradient(): Float32Array {
    const out = newFloat32(this.paramCount, 'the gradient');
    this.native.getGradient(out);
    return out;
  }

}
