/**
 * npm run bench [-- --quick] [--load] [--isa NAME] [--filter TEXT] [--no-peer] [--no-plots] [--out DIR]
 *   (= npx hypernoise bench ...)
 * --load runs the load benchmark (src/bench/load.ts) instead of the op cases.
 *
 * Times each native op at MNIST and SD-Turbo scale against the same math in PyTorch (same shapes, same
 * thread count, same invocation), with GFLOP/s and the fraction of this machine's peak FMA rate measured by
 * a probe in the same run, under the ISA in use (--isa avx2 on an AVX-512 machine runs, and probes, the AVX2
 * path; default: the machine's best); the exact KL's share of a training step against the float64 peak;
 * scaling curves (PNG) and amortisation (samples/s). Writes
 * bench/results/latest.json (an array of results), latest-run.json (with machine, peak, command) and
 * latest.md (the summary table).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { backendInfo } from '../backend';
import { HypernoiseError } from '../errors';
import { native, packageDir } from '../native';
import { SHARP_REMEDY } from '../images';
import { formatTable } from '../table';
import { baselineCases, Case, gemmCases, MNIST, opCases, scalingCases, sdScale } from './cases';
import { Peak, peakGflops, peerIsaMismatch, time, torchPeer } from './harness';
import { loadRows } from './load';
import { svgPlot, writePlot } from './plot';

export interface Row {
  name: string;
  scale: string;
  params: Record<string, number | string>;
  medianMs: number;
  minMs: number;
  maxMs: number;
  gflops: number | null;
  peakFraction: number | null;
  peer: { name: string; medianMs: number } | null;
  ratioVsPeer: number | null;
  samplesPerSecond?: number;
  /** load rows: the 99th-percentile latency and the share of the batched ceiling's samples/s */
  p99Ms?: number;
  ceilingFraction?: number;
}


function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** Runs the benchmarks; returns the rows written to <out>/latest.json. */
export async function runBench(argv: string[]): Promise<Row[]> {
  const outDir = path.resolve(arg(argv, '--out') ?? path.join(packageDir(), 'bench', 'results'));
  const quick = argv.includes('--quick');
  const noPeer = argv.includes('--no-peer');
  const noPlots = argv.includes('--no-plots') || quick;
  const filter = arg(argv, '--filter');
  const isa = arg(argv, '--isa');
  if (isa !== undefined) {
    const active = native()._capIsa(isa);
    if (active !== isa) {
      throw new HypernoiseError(`--isa ${isa}: this machine runs ${backendInfo().cpu.detected} at best, so the cap gives ${active}`, 'ERR_ARGUMENT');
    }
  }
  const info = backendInfo();
  const t0 = Date.now();
  const peak = peakGflops();
  process.stderr.write(`ISA ${peak.isa}; peak FMA probe: ${peak.perCore.toFixed(1)} GFLOP/s per core (float64 ${peak.perCoreF64.toFixed(1)}) x ${peak.threads} threads\n`);

  const all: Case[] = [
    ...gemmCases(quick ? [512] : [512, 1024, 2048]),
    ...opCases(MNIST),
    ...opCases(sdScale(64)),
    ...opCases(sdScale(32), quick ? 'core' : 'all'),
    ...baselineCases(MNIST, quick ? 16 : 64),
    ...(quick ? [] : baselineCases(sdScale(8), 8)),
    ...scalingCases(quick),
  ];
  const load = argv.includes('--load');
  const selected = load ? [] : all.filter((c) => !filter || c.name.includes(filter));
  const budgetMs = quick ? 250 : 1500;
  const rows: Row[] = [];
  const loadPeerCases: Array<{ name: string; op: string; params: Record<string, number | string> }> = [];
  if (load) {
    const l = await loadRows(quick);
    rows.push(...l.rows);
    loadPeerCases.push(...l.peerCases);
  }
  for (const c of selected) {
    const fn = c.setup();
    const t = await time(fn, { warmup: quick ? 1 : 3, budgetMs, reps: c.reps ?? 50 });
    const gflops = c.flops > 0 ? c.flops / (t.medianMs * 1e6) : null;
    rows.push({
      name: c.name,
      scale: c.scale,
      params: c.params,
      medianMs: t.medianMs,
      minMs: t.minMs,
      maxMs: t.maxMs,
      gflops,
      peakFraction: gflops === null ? null : gflops / peak.total,
      peer: null,
      ratioVsPeer: null,
      ...(c.samples ? { samplesPerSecond: (1000 * c.samples) / t.medianMs } : {}),
    });
    process.stderr.write(`  ${c.name}: ${t.medianMs.toFixed(3)} ms\n`);
  }

  rows.push(...exactKlRows(rows, peak));

  let peerNote = 'PyTorch peer not run (--no-peer)';
  if (!noPeer) {
    const peerCases = [...loadPeerCases, ...selected.filter((c) => c.peer).map((c) => ({ name: c.name, op: c.peer!.op, params: c.peer!.params }))];
    process.stderr.write(`PyTorch peer: ${peerCases.length} cases\n`);
    const peer = torchPeer(peerCases, info.cpu.threads, info.cpu.isa, budgetMs);
    if (peer.error) {
      peerNote = peer.error;
      process.stderr.write(peer.error + '\n');
    } else {
      const mismatch = peerIsaMismatch(info.cpu.isa);
      for (const m of mismatch) process.stderr.write(`warning: ${m}\n`);
      const isaNote = Object.entries(peer.isaEnv).map(([k, v]) => `${k}=${v}`).join(' ') + (mismatch.length ? ` (warning: ${mismatch.join('; ')})` : '');
      peerNote = `PyTorch ${peer.version} on OpenBLAS with ${info.cpu.threads} threads${isaNote ? `, ${isaNote}` : ''}; each case the faster of torch's intra-op pool at ${info.cpu.threads} and at 1 thread`;
      for (const row of rows) {
        const p = peer.results.get(row.name);
        if (!p) continue;
        row.peer = { name: `torch ${peer.version} (${p.config})`, medianMs: p.medianMs };
        row.ratioVsPeer = p.medianMs / row.medianMs;
      }
    }
  }

  fs.mkdirSync(outDir, { recursive: true });
  const run = {
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, isa: info.cpu.isa, detectedIsa: info.cpu.detected, threads: info.cpu.threads },
    peak,
    peer: peerNote,
    command: `npm run bench${argv.length ? ' -- ' + argv.join(' ') : ''}`,
    seconds: (Date.now() - t0) / 1000,
    results: rows,
  };
  fs.writeFileSync(path.join(outDir, 'latest.json'), JSON.stringify(rows, null, 2) + '\n');
  fs.writeFileSync(path.join(outDir, 'latest-run.json'), JSON.stringify(run, null, 2) + '\n');
  const md = summary(run, rows);
  fs.writeFileSync(path.join(outDir, 'latest.md'), md);
  if (!noPlots) await plots(rows, outDir);
  process.stdout.write(md);
  return rows;
}

/**
 * The exact KL's share of a training step: hypernet_fwd_bwd_exact minus hypernet_fwd_bwd_l2 at each scale.
 * Its time holds the per-sample float64 LU, inverse and r x r products (2 n r^3 FLOPs, counted here against
 * the float64 peak) and the float32 K and dA/dB products (6 r^2 D, not counted: negligible at MNIST scale,
 * most of the time at SD-Turbo scale, where the float64 fraction therefore understates the float64 kernels).
 */
function exactKlRows(rows: Row[], peak: Peak): Row[] {
  const out: Row[] = [];
  for (const exact of rows.filter((r) => r.name.startsWith('hypernet_fwd_bwd_exact/'))) {
    const l2 = rows.find((r) => r.name === exact.name.replace('_exact/', '_l2/'));
    if (!l2) continue;
    const { D, r, n } = exact.params as { D: number; r: number; n: number };
    const ms = exact.medianMs - l2.medianMs;
    const flops = 2 * n * r ** 3;
    const gflops = ms > 0 ? flops / (ms * 1e6) : null;
    out.push({
      name: exact.name.replace('hypernet_fwd_bwd_exact/', 'exact_kl_part/'),
      scale: exact.scale,
      params: { D, r, n, derived: 'hypernet_fwd_bwd_exact - hypernet_fwd_bwd_l2', flops: '2 n r^3 (float64)', peak: 'float64' },
      // A difference of two timings: the range is the exact case's about the l2 case's median.
      medianMs: ms,
      minMs: Math.max(1e-6, Math.min(ms, exact.minMs - l2.medianMs)),
      maxMs: Math.max(ms, exact.maxMs - l2.medianMs),
      gflops,
      peakFraction: gflops === null ? null : gflops / peak.totalF64,
      peer: null,
      ratioVsPeer: null,
    });
  }
  return out;
}

function summary(run: { date: string; machine: { cpu: string; cores: number; isa: string; threads: number }; peak: Peak; peer: string; command: string; seconds: number }, rows: Row[]): string {
  const table = formatTable(
    ['case', 'median ms', 'min–max ms', 'GFLOP/s', '% peak', 'torch ms', 'vs torch'],
    rows
      .filter((r) => r.scale !== 'scaling')
      .map((r) => [
        r.name,
        r.medianMs,
        `${r.minMs.toFixed(3)}–${r.maxMs.toFixed(3)}`,
        r.gflops ?? '-',
        r.peakFraction === null ? '-' : `${(100 * r.peakFraction).toFixed(1)}%`,
        r.peer ? r.peer.medianMs : '-',
        r.ratioVsPeer === null ? '-' : `${r.ratioVsPeer.toFixed(2)}x`,
      ]),
    true,
  );
  const amort = rows.filter((r) => r.samplesPerSecond !== undefined);
  const amortTable = formatTable(
    ['method', 'samples/s', 'ms/sample', 'torch samples/s'],
    amort.map((r) => [r.name, r.samplesPerSecond as number, 1000 / (r.samplesPerSecond as number), r.peer ? ((r.samplesPerSecond as number) * r.medianMs) / r.peer.medianMs : '-']),
    true,
  );
  const loadRows = rows.filter((r) => r.p99Ms !== undefined);
  const loadTable = formatTable(
    ['load case', 'samples/s', 'p50 µs', 'p99 µs', '% of ceiling', 'mean batch'],
    loadRows.map((r) => [r.name, r.samplesPerSecond as number, 1000 * r.medianMs, 1000 * (r.p99Ms as number), `${(100 * (r.ceilingFraction as number)).toFixed(1)}%`, r.params.meanBatch ?? '-']),
    true,
  );
  return [
    `Machine: ${run.machine.cpu}, ${run.machine.cores} cores, ISA ${run.machine.isa}, ${run.machine.threads} threads. Date: ${run.date}. Command: \`${run.command}\` (${run.seconds.toFixed(0)} s).`,
    `Peak FMA (probe, same run, ISA ${run.peak.isa}): ${run.peak.perCore.toFixed(1)} GFLOP/s per core × ${run.peak.threads} = ${run.peak.total.toFixed(1)} GFLOP/s (float64: ${run.peak.totalF64.toFixed(1)}; the exact_kl_part rows are against it). Peer: ${run.peer}.`,
    '',
    table,
    '',
    'Amortisation (samples per second):',
    '',
    amortTable,
    '',
    ...(loadRows.length ? ['Load (closed-loop callers, n = 1 requests):', '', loadTable, ''] : []),
  ].join('\n');
}

async function plots(rows: Row[], outDir: string): Promise<void> {
  const axes: Array<[string, string, string]> = [
    ['batch', 'n', 'batch size n (D = 16384, r = 128)'],
    ['noiseDim', 'D', 'noise dimension D (r = 128, n = 64)'],
    ['rank', 'r', 'rank r (D = 16384, n = 64)'],
  ];
  for (const [axis, key, label] of axes) {
    const pts = rows.filter((r) => r.scale === 'scaling' && r.params.axis === axis);
    if (pts.length < 2) continue;
    const ours = pts.map((r) => [Number(r.params[key]), r.medianMs] as [number, number]);
    const torch = pts.filter((r) => r.peer).map((r) => [Number(r.params[key]), (r.peer as { medianMs: number }).medianMs] as [number, number]);
    const svg = svgPlot(`hypernetwork forward vs ${key}`, label, 'median ms', [
      { label: 'hypernoise (CPU)', color: '#1f77b4', points: ours },
      { label: 'PyTorch + OpenBLAS', color: '#d62728', points: torch },
    ]);
    if (!(await writePlot(path.join(outDir, `scaling-${axis}.png`), svg))) {
      process.stderr.write(`no scaling plots: ${SHARP_REMEDY}\n`);
      return;
    }
  }
}

if (require.main === module) {
  runBench(process.argv.slice(2)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
