/**
 * npm run bench -- --load [--quick]: many small requests from Node, as a service makes them. Closed-loop
 * callers (each awaits its n = 1 request, then makes the next) at several concurrencies, through the plain
 * Sampler and the BatchingSampler, against the batched ceiling (sample({ n: 256 }) samples/s), the per-call
 * floor (a trivial native call), the compute of one sample, serial sampleSync, samplers in worker threads,
 * and PyTorch's one-request-per-call loop (torch.no_grad forward, n = 1) measured in the same run.
 * MNIST scale: the shipped VAE decoder (D = 32) behind a conditional hypernetwork of rank 64.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { BatchingSampler } from '../batching';
import { native } from '../native';
import { oneHot } from '../noise';
import { Sampler } from '../sampler';
import { generatorOf, hypernet, MNIST, peerScale } from './cases';
import { time } from './harness';
import type { Row } from './run';

const CONCURRENCY = [1, 4, 16, 64, 256];

interface LoadPoint {
  samplesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  minMs: number;
  maxMs: number;
  requests: number;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** `callers` closed loops of one request each for `ms` milliseconds (after a short warm-up). */
async function closedLoop(callers: number, ms: number, request: (seed: number) => Promise<unknown>): Promise<LoadPoint> {
  let seed = 0;
  const lat: number[] = [];
  const loop = async (until: number, record: boolean) => {
    while (performance.now() < until) {
      const t = performance.now();
      await request(seed++);
      if (record) lat.push(performance.now() - t);
    }
  };
  const warm = performance.now() + Math.min(100, ms / 4);
  await Promise.all(Array.from({ length: callers }, () => loop(warm, false)));
  const t0 = performance.now();
  await Promise.all(Array.from({ length: callers }, () => loop(t0 + ms, true)));
  const elapsed = performance.now() - t0;
  lat.sort((a, b) => a - b);
  return { samplesPerSecond: (1000 * lat.length) / elapsed, p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99), minMs: lat[0], maxMs: lat[lat.length - 1], requests: lat.length };
}

/** Serial sampleSync loops in `workers` worker threads for `ms` milliseconds: total samples/s. */
async function workerThroughput(workers: number, ms: number): Promise<number> {
  const dist = path.resolve(__dirname, '..');
  const code = `
    const { parentPort, workerData } = require('worker_threads');
    const hn = require(workerData.dist + '/index.js');
    const { hypernet, generatorOf, MNIST } = require(workerData.dist + '/bench/cases.js');
    (async () => {
      const s = new hn.Sampler({ hypernetwork: hypernet(MNIST), generator: await generatorOf(MNIST) });
      const cond = hn.oneHot([3], 10);
      let seed = 0;
      const run = (until) => { let k = 0; while (performance.now() < until) { s.sampleSync({ n: 1, seed: seed++, cond }); ++k; } return k; };
      run(performance.now() + 100);
      parentPort.postMessage('ready');
      parentPort.once('message', (start) => {
        const t0 = performance.now();
        const k = run(t0 + workerData.ms);
        parentPort.postMessage({ k, ms: performance.now() - t0 });
      });
    })();`;
  const ws = Array.from({ length: workers }, () => new Worker(code, { eval: true, workerData: { dist, ms } }));
  await Promise.all(ws.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const done = ws.map((w) => new Promise<{ k: number; ms: number }>((resolve) => w.once('message', resolve)));
  for (const w of ws) w.postMessage('go');
  const results = await Promise.all(done);
  await Promise.all(ws.map((w) => w.terminate()));
  return results.reduce((a, r) => a + (1000 * r.k) / r.ms, 0);
}

function row(name: string, params: Record<string, number | string>, t: { medianMs: number; minMs: number; maxMs: number }, extra: Partial<Row> = {}): Row {
  return { name, scale: 'mnist', params, medianMs: t.medianMs, minMs: t.minMs, maxMs: t.maxMs, gflops: null, peakFraction: null, peer: null, ratioVsPeer: null, ...extra };
}

/** The load rows; `peerCases` gets the PyTorch cases to run in the same invocation (by row name). */
export async function loadRows(quick: boolean): Promise<{ rows: Row[]; peerCases: Array<{ name: string; op: string; params: Record<string, number | string> }> }> {
  const gen = await generatorOf(MNIST);
  const hn = hypernet(MNIST);
  const D = MNIST.D;
  const cond = oneHot([3], MNIST.C);
  const plain = new Sampler({ hypernetwork: hn, generator: gen });
  const budgetMs = quick ? 250 : 1000;
  const loopMs = quick ? 300 : 1500;
  const rows: Row[] = [];
  const base = { D, r: MNIST.r, C: MNIST.C, P: MNIST.P };

  const empty = new Float32Array(0);
  const floor = await time(() => native().sampleNoise(empty, 0, D, 0, 0, 0, 'cpu'), { budgetMs, reps: 20000 });
  rows.push(row('load/trivial_native_call', { op: 'sampleNoise of 0 samples' }, floor));
  const eps = new Float32Array(D), epsHat = new Float32Array(D), x = new Float32Array(MNIST.P);
  const compute = await time(() => {
    hn.native.forwardSync(eps, cond, 1, epsHat);
    gen.native.forwardSync(epsHat, 1, x);
  }, { budgetMs, reps: 20000 });
  rows.push(row('load/compute/n1', { ...base, n: 1, op: 'hypernetwork + generator forwardSync, preallocated' }, compute));
  let seed = 0;
  const sync = await time(() => plain.sampleSync({ n: 1, seed: seed++, cond }), { budgetMs, reps: 20000 });
  rows.push(row('load/sampleSync/n1', { ...base, n: 1 }, sync, { samplesPerSecond: 1000 / sync.medianMs }));
  const serial = await time(() => plain.sample({ n: 1, seed: seed++, cond }), { budgetMs, reps: 20000 });
  rows.push(row('load/sample/n1', { ...base, n: 1 }, serial, { samplesPerSecond: 1000 / serial.medianMs }));
  const cond256 = oneHot(Array.from({ length: 256 }, (_, i) => i % 10), MNIST.C);
  const ceiling = await time(() => plain.sample({ n: 256, seed: seed++, cond: cond256 }), { budgetMs, reps: 200 });
  rows.push(row('load/ceiling/n256', { ...base, n: 256 }, ceiling, { samplesPerSecond: (1000 * 256) / ceiling.medianMs }));
  process.stderr.write(`  floor ${(1000 * floor.medianMs).toFixed(1)} us, compute ${(1000 * compute.medianMs).toFixed(1)} us, sampleSync ${(1000 * sync.medianMs).toFixed(1)} us, sample ${(1000 * serial.medianMs).toFixed(1)} us, ceiling ${((1000 * 256) / ceiling.medianMs).toFixed(0)} samples/s\n`);

  for (const mode of ['plain', 'batching', 'batching-blocking'] as const) {
    for (const c of mode === 'batching-blocking' ? [16, 64] : CONCURRENCY) {
      const b = mode === 'plain' ? null : new BatchingSampler({ hypernetwork: hn, generator: gen, maxBatch: 256, blocking: mode === 'batching-blocking' });
      const request = b ? (s: number) => b.sample({ seed: s, cond }) : (s: number) => plain.sample({ n: 1, seed: s, cond });
      const p = await closedLoop(c, loopMs, request);
      const meanBatch = b && b.stats.batches > 0 ? b.stats.samples / b.stats.batches : 1;
      rows.push(
        row(`load/${mode}/c${c}`, { ...base, n: 1, concurrency: c, meanBatch: Number(meanBatch.toFixed(1)) }, { medianMs: p.p50Ms, minMs: p.minMs, maxMs: p.maxMs }, {
          samplesPerSecond: p.samplesPerSecond,
          p99Ms: p.p99Ms,
          ceilingFraction: p.samplesPerSecond / ((1000 * 256) / ceiling.medianMs),
        }),
      );
      process.stderr.write(`  ${mode} c=${c}: ${p.samplesPerSecond.toFixed(0)} samples/s, p50 ${(1000 * p.p50Ms).toFixed(0)} us, p99 ${(1000 * p.p99Ms).toFixed(0)} us${b ? `, mean batch ${meanBatch.toFixed(1)}` : ''}\n`);
    }
  }
  for (const w of [1, 2]) {
    const sps = await workerThroughput(w, loopMs);
    rows.push(row(`load/worker_threads/w${w}`, { ...base, n: 1, workers: w, op: 'serial sampleSync loop per worker' }, { medianMs: 1000 / sps, minMs: 1000 / sps, maxMs: 1000 / sps }, { samplesPerSecond: sps }));
    process.stderr.write(`  ${w} worker thread(s): ${sps.toFixed(0)} samples/s\n`);
  }
  const pp = { ...peerScale(MNIST), n: 1, hypernet: 1 };
  return { rows, peerCases: [{ name: 'load/plain/c1', op: 'sample', params: pp }, { name: 'load/sample/n1', op: 'sample', params: pp }, { name: 'load/sampleSync/n1', op: 'sample', params: pp }] };
}

