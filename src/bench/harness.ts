/** Timing for the benchmarks: warm-up, repeated runs, median and range; peak-FMA probe; the PyTorch peer. */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { native, packageDir } from '../native';
import { backendInfo } from '../backend';

export interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
  reps: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

/** Times fn after `warmup` calls: `reps` samples, or as many as fit in `budgetMs` (at least 5). */
export async function time(fn: () => unknown | Promise<unknown>, opts: { warmup?: number; reps?: number; budgetMs?: number } = {}): Promise<Timing> {
  const warmup = opts.warmup ?? 3;
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  const budget = opts.budgetMs ?? 2000;
  const maxReps = opts.reps ?? 50;
  const t0 = performance.now();
  while (samples.length < maxReps && (samples.length < 5 || performance.now() - t0 < budget)) {
    const s = performance.now();
    await fn();
    samples.push(performance.now() - s);
  }
  return { medianMs: median(samples), minMs: Math.min(...samples), maxMs: Math.max(...samples), reps: samples.length };
}

export interface Peak {
  /** the ISA the probe ran with (the one every kernel uses in this run) */
  isa: string;
  perCore: number;
  threads: number;
  total: number;
  /** the same in float64 (the exact KL's arithmetic) */
  perCoreF64: number;
  totalF64: number;
}

/** Measured peak FMA rate under the ISA in use (GFLOP/s, all configured threads), median of a few probes. */
export function peakGflops(): Peak {
  const probe = (float64: boolean) => median([0, 1, 2].map(() => native()._peakGflopsPerCore(0.2, float64)));
  const perCore = probe(false);
  const perCoreF64 = probe(true);
  const { isa, threads } = backendInfo().cpu;
  return { isa, perCore, threads, total: perCore * threads, perCoreF64, totalF64: perCoreF64 * threads };
}

/** The peer settings that run PyTorch on each of our instruction sets (see peerIsaEnv). */
const PEER_ISA_ENV: Record<string, Record<string, string>> = {
  avx512: { OPENBLAS_CORETYPE: 'SkylakeX', ATEN_CPU_CAPABILITY: 'avx512' },
  avx2: { OPENBLAS_CORETYPE: 'Haswell', ATEN_CPU_CAPABILITY: 'avx2' },
  scalar: { OPENBLAS_CORETYPE: 'Nehalem', ATEN_CPU_CAPABILITY: 'default' },
};

/**
 * The environment that makes the peer run the same instruction set as our kernels, so that a capped run
 * (`--isa avx2` on an AVX-512 machine) compares like with like: OpenBLAS's run-time kernel choice
 * (OPENBLAS_CORETYPE; 0.3.21 does not know recent AMD cores and would otherwise run its Haswell AVX2 kernels
 * even on AVX-512 hardware) and ATen's dispatch level (ATEN_CPU_CAPABILITY). Values the user set win.
 */
export function peerIsaEnv(isa: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(PEER_ISA_ENV[isa] ?? {})) env[k] = process.env[k] ?? v;
  return env;
}

/**
 * The peer settings the environment set to something other than what matches `isa` (a machine may export
 * OPENBLAS_CORETYPE globally): the run then compares against another instruction set, and the report says so.
 */
export function peerIsaMismatch(isa: string): string[] {
  return Object.entries(PEER_ISA_ENV[isa] ?? {})
    .filter(([k, v]) => process.env[k] !== undefined && process.env[k] !== v)
    .map(([k, v]) => `${k}=${process.env[k]} set in the environment (the ${isa} peer would use ${v})`);
}

export interface PeerResult {
  name: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
}

/**
 * Runs bench/peers/torch_ops.py for the given cases; an error (with how to install PyTorch) when it cannot.
 *
 * Debian's torch runs matrix products on OpenBLAS, whose threads only OPENBLAS_NUM_THREADS sets, and its
 * other ops on its own intra-op pool: with both at `threads` the two pools oversubscribe the cores and some
 * ops slow down several times. To give the peer a fair hearing it runs twice, with torch's pool at `threads`
 * and at 1 (OpenBLAS at `threads` both times), and each case keeps its faster median.
 */
export function torchPeer(
  cases: Array<{ name: string; op: string; params: Record<string, number | string> }>,
  threads: number,
  isa: string,
  budgetMs = 2000,
): { results: Map<string, PeerResult & { config: string }>; error: string | null; version: string | null; isaEnv: Record<string, string> } {
  const python = process.env.HYPERNOISE_PYTHON ?? '/usr/bin/python3';
  const script = path.join(packageDir(), 'bench', 'peers', 'torch_ops.py');
  const results = new Map<string, PeerResult & { config: string }>();
  let version: string | null = null;
  const isaEnv = peerIsaEnv(isa);
  for (const torchThreads of [...new Set([threads, 1])]) {
    const env = { ...process.env, ...isaEnv, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(torchThreads) };
    const r = spawnSync(python, [script], { input: JSON.stringify({ threads: torchThreads, cases, budgetMs }), encoding: 'utf8', maxBuffer: 64 << 20, env });
    if (r.error || r.status !== 0) {
      const why = r.error ? r.error.message : (r.stderr || '').trim().split('\n').slice(-3).join(' ');
      return { results: new Map(), error: `PyTorch peer unavailable (${why}). Install it with: apt-get install -y python3-torch libopenblas0-pthread`, version: null, isaEnv };
    }
    const out = JSON.parse(r.stdout) as { version: string; results: PeerResult[] };
    version = out.version;
    const config = `torch threads ${torchThreads}, OpenBLAS threads ${threads}`;
    for (const x of out.results) {
      const prev = results.get(x.name);
      if (!prev || x.medianMs < prev.medianMs) results.set(x.name, { ...x, config });
    }
  }
  return { results, error: null, version, isaEnv };
}
