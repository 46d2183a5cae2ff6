/**
 * Dynamic batching of concurrent sampling requests (the pattern of inference servers' dynamic batchers):
 * requests that arrive while the sampler is busy, or in the same turn of the event loop, are coalesced into
 * one native call of up to `maxBatch` samples and split again. Each request's noise is keyed by its own seed
 * and every op is row-independent, so its samples are bit-identical to `Sampler.sample` with the same seed
 * and conditions, whatever it was batched with.
 */
import { checkInteger, checkKeys, optional, optionKeys } from './checks';
import { expected, HypernoiseError } from './errors';
import { Hypernetwork } from './hypernetwork';
import { SequentialModel } from './models';
import { native, Seed } from './native';
import { checkSeed, NoiseStream } from './noise';
import { checkRows, INLINE_FLOPS, Sampler, SampleResult } from './sampler';

export interface BatchingSamplerOptions {
  hypernetwork?: Hypernetwork | null;
  generator: SequentialModel;
  /** most samples in one native call (default 64); a larger request runs alone */
  maxBatch?: number;
  /**
   * how long the first request of a batch may wait for others when the sampler is idle, in µs (default 0:
   * only the requests of the same event-loop turn join it; while a batch runs, arrivals always queue)
   */
  maxDelayMicros?: number;
  /** most samples waiting (default 16384); a request beyond it is refused with ERR_BUSY */
  maxQueue?: number;
  /**
   * run every batch on the event-loop thread (default false: only batches below INLINE_FLOPS). Saves the
   * libuv hop of each batch (more samples/s for small batches) but blocks the event loop while one runs.
   */
  blocking?: boolean;
}

export interface BatchRequest {
  /** samples (default 1) */
  n?: number;
  seed?: Seed;
  /** n x condDim conditions (conditional hypernetworks) */
  cond?: Float32Array | null;
  /** rejects the request with ERR_ABORTED; a request already in a running batch is dropped from it */
  signal?: AbortSignal;
}

const BATCHING_OPTIONS = optionKeys<BatchingSamplerOptions>()(['hypernetwork', 'generator', 'maxBatch', 'maxDelayMicros', 'maxQueue', 'blocking']);
const REQUEST_OPTIONS = optionKeys<BatchRequest>()(['n', 'seed', 'cond', 'signal']);

interface Pending {
  n: number;
  seed: Seed;
  cond: Float32Array | null;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
  resolve: (r: SampleResult) => void;
  reject: (e: unknown) => void;
  settled: boolean;
  queuedAt: bigint;
}

export class BatchingSampler {
  readonly sampler: Sampler;
  readonly maxBatch: number;
  readonly maxDelayMicros: number;
  readonly maxQueue: number;
  readonly blocking: boolean;
  private readonly queue: Pending[] = [];
  private queued = 0;
  private running = false;
  private scheduled = false;
  private closed = false;
  private readonly idle: Array<() => void> = [];
  private batches = 0;
  private batchedSamples = 0;
  private readonly buffers = new Map<string, Float32Array>();

  constructor(opts: BatchingSamplerOptions) {
    if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'BatchingSampler options', opts);
    checkKeys(opts, BATCHING_OPTIONS, 'BatchingSampler');
    if (!(opts.generator instanceof SequentialModel)) throw expected('a SequentialModel (batching runs natively)', 'generator', opts.generator);
    this.sampler = new Sampler({ hypernetwork: opts.hypernetwork ?? null, generator: opts.generator });
    this.maxBatch = checkInteger(optional(opts.maxBatch, 64), 'maxBatch', 1, 1 << 20);
    this.maxDelayMicros = checkInteger(optional(opts.maxDelayMicros, 0), 'maxDelayMicros', 0, 1e7);
    this.maxQueue = checkInteger(optional(opts.maxQueue, 16384), 'maxQueue', 1, 1 << 30);
    const blocking = optional(opts.blocking, false);
    if (typeof blocking !== 'boolean') throw expected('a boolean', 'blocking', blocking);
    this.blocking = blocking;
  }

  /** Samples waiting for a batch. */
  get pending(): number {
    return this.queued;
  }

  /** Native calls made and the samples they held (mean batch size = samples / batches). */
  get stats(): { batches: number; samples: number } {
    return { batches: this.batches, samples: this.batchedSamples };
  }

  /** n samples of `seed`: the same values as `sampler.sample({ n, seed, cond })`. */
  sample(req: BatchRequest = {}): Promise<SampleResult> {
    try {
      if (typeof req !== 'object' || req === null) throw expected('an options object', 'sample options', req);
      checkKeys(req, REQUEST_OPTIONS, 'sample()');
      if (this.closed) throw new HypernoiseError('The BatchingSampler is closed', 'ERR_DISPOSED');
      const n = checkInteger(optional(req.n, 1), 'n', 1, 1 << 30);
      const seed = checkSeed(optional(req.seed, 0));
      const C = this.sampler.hypernetwork?.condDim ?? 0;
      // Copied now: the caller may reuse its array before the batch runs.
      const cond = checkRows(req.cond, n, C, 'cond')?.slice() ?? null;
      // Checked here: a non-finite condition must fail its own request, not the batch it would join.
      if (cond) {
        const bad = cond.findIndex((v) => !Number.isFinite(v));
        if (bad >= 0) throw new HypernoiseError(`Expected finite values in cond but element ${bad} is ${cond[bad]}`, 'ERR_NON_FINITE');
      }
      const signal = req.signal;
      if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean')) {
        throw expected('an AbortSignal', 'signal', signal);
      }
      if (signal?.aborted) throw new HypernoiseError('The request was aborted', 'ERR_ABORTED');
      if (this.queued + n > this.maxQueue) {
        throw new HypernoiseError(`The BatchingSampler's queue is full (${this.queued} of ${this.maxQueue} samples waiting); retry later or raise maxQueue`, 'ERR_BUSY');
      }
      return new Promise<SampleResult>((resolve, reject) => {
        const p: Pending = { n, seed, cond, signal, onAbort: null, resolve, reject, settled: false, queuedAt: this.maxDelayMicros > 0 ? process.hrtime.bigint() : 0n };
        if (signal) {
          p.onAbort = () => this.abort(p);
          signal.addEventListener('abort', p.onAbort, { once: true });
        }
        this.queue.push(p);
        this.queued += n;
        this.schedule();
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Resolves once every request made so far has been answered. */
  drain(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Refuses new requests (ERR_DISPOSED); those already queued still run. */
  close(): Promise<void> {
    this.closed = true;
    return this.drain();
  }

  private abort(p: Pending): void {
    const i = this.queue.indexOf(p);
    if (i >= 0) {
      this.queue.splice(i, 1);
      this.queued -= p.n;
    }
    this.settle(p, null, new HypernoiseError('The request was aborted', 'ERR_ABORTED'));
    if (!this.running && this.queue.length === 0) this.wakeIdle();
  }

  private settle(p: Pending, result: SampleResult | null, err?: unknown): void {
    if (p.settled) return;
    p.settled = true;
    if (p.signal && p.onAbort) p.signal.removeEventListener('abort', p.onAbort);
    if (result) p.resolve(result);
    else p.reject(err);
  }

  private schedule(): void {
    if (this.running || this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => this.tick());
  }

  private tick(): void {
    this.scheduled = false;
    if (this.running || this.queue.length === 0) return;
    if (this.maxDelayMicros > 0 && this.queued < this.maxBatch) {
      const waited = Number(process.hrtime.bigint() - this.queue[0].queuedAt) / 1000;
      if (waited < this.maxDelayMicros) {
        const left = this.maxDelayMicros - waited;
        this.scheduled = true;
        // setTimeout has millisecond granularity: spin the event loop for the last millisecond.
        if (left >= 1500) setTimeout(() => this.tick(), Math.floor(left / 1000));
        else setImmediate(() => this.tick());
        return;
      }
    }
    void this.runBatch();
  }

  private async runBatch(): Promise<void> {
    const batch: Pending[] = [];
    let total = 0;
    while (this.queue.length > 0 && (batch.length === 0 || total + this.queue[0].n <= this.maxBatch)) {
      const p = this.queue.shift() as Pending;
      this.queued -= p.n;
      batch.push(p);
      total += p.n;
    }
    this.running = true;
    const s = this.sampler;
    const hn = s.hypernetwork;
    const D = s.generator.inputDim, P = s.generator.outputDim, C = hn?.condDim ?? 0;
    try {
      // One batch runs at a time and requests get copies, so the batch arrays are reused.
      const base = this.scratch('base', total * D);
      const noise = hn ? this.scratch('noise', total * D) : null;
      const x = this.scratch('x', total * P);
      let cond: Float32Array | null = null;
      if (C > 0) {
        cond = this.scratch('cond', total * C);
        let row = 0;
        for (const p of batch) {
          cond.set(p.cond as Float32Array, row * C);
          row += p.n;
        }
      }
      const args = [
        hn?.native ?? null,
        (s.generator as SequentialModel).native,
        batch.map((p) => p.seed),
        new Float64Array(batch.length),
        Int32Array.from(batch, (p) => p.n),
        NoiseStream.sample,
        cond,
        base,
        noise,
        x,
      ] as const;
      if (this.blocking || total * s.flopsPerSample <= INLINE_FLOPS) native().sampleRequestsSync(...args);
      else await native().sampleRequests(...args);
      this.batches += 1;
      this.batchedSamples += total;
      let row = 0;
      for (const p of batch) {
        const r0 = row, r1 = row + p.n;
        row = r1;
        if (p.settled) continue;
        const b = base.slice(r0 * D, r1 * D);
        this.settle(p, { x: x.slice(r0 * P, r1 * P), noise: noise ? noise.slice(r0 * D, r1 * D) : b, baseNoise: b, n: p.n, noiseDim: D, outputDim: P });
      }
    } catch (err) {
      for (const p of batch) this.settle(p, null, err);
    } finally {
      this.running = false;
    }
    if (this.queue.length > 0) this.schedule();
    else this.wakeIdle();
  }

  /** A reused array of exactly `length` floats (a view of a grow-only buffer). */
  private scratch(name: 'base' | 'noise' | 'x' | 'cond', length: number): Float32Array {
    let buf = this.buffers.get(name);
    if (!buf || buf.length < length) {
      buf = new Float32Array(Math.max(length, 2 * (buf?.length ?? 0)));
      this.buffers.set(name, buf);
    }
    return buf.subarray(0, length);
  }

  private wakeIdle(): void {
    for (const f of this.idle.splice(0)) f();
  }
}
