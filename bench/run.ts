/**
 * npm run bench [-- --quick] [--filter NAME] [--no-peer]: native ops timed against the same math in
 * PyTorch (same shapes, same thread count, same run), with GFLOP/s and the fraction of the measured
 * peak FMA rate. Writes bench/results/latest.json.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { backendInfo } from '../src/backend';
import { Hypernetwork } from '../src/hypernetwork';
import { sampleNoise } from '../src/noise';
import { formatTable } from '../src/table';
import { peakGflops, time, torchPeer } from './harness';

interface Case {
  name: string;
  scale: string;
  params: Record<string, number | string>;
  flops: number;
  setup: () => () => unknown;
  peer?: { op: string; params: Record<string, number | string> };
}

interface Row {
  name: string;
  scale: string;
  params: Record<string, number | string>;
  medianMs: number;
  minMs: number;
  maxMs: number;
  gflops: number;
  peakFraction: number;
  peer: { name: string; medianMs: number } | null;
  ratioVsPeer: number | null;
}

function hypernetForward(scale: string, D: number, r: number, n: number): Case {
  return {
    name: `hypernet_forward/${scale}/n${n}`,
    scale,
    params: { D, r, n, L: 1, act: 'silu' },
    flops: 4 * n * D * r,
    setup: () => {
      const hn = new Hypernetwork({ noiseDim: D, rank: r, activation: 'silu', seed: 1, backend: 'cpu' });
      // A non-zero output layer, so that nothing is special-cased away.
      const p = hn.getParams();
      const [bOff, bLen] = hn.tensorLayout.B;
      p.set(sampleNoise({ n: 1, dim: bLen, seed: 2 }).map((v) => 0.01 * v), bOff);
      hn.setParams(p);
      const eps = sampleNoise({ n, dim: D, seed: 3 });
      const out = new Float32Array(n * D); // reused, as PyTorch's caching allocator reuses its memory
      return () => hn.forwardSync(eps, null, out);
    },
    peer: { op: 'hypernet_forward', params: { D, r, n, L: 1, act: 'silu' } },
  };
}

function cases(): Case[] {
  return [hypernetForward('sd-turbo', 16384, 128, 64), hypernetForward('mnist', 32, 64, 256)];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const noPeer = argv.includes('--no-peer');
  const fi = argv.indexOf('--filter');
  const filter = fi >= 0 ? argv[fi + 1] : undefined;
  const info = backendInfo();
  const peak = peakGflops();
  const selected = cases().filter((c) => !filter || c.name.includes(filter));
  const budgetMs = quick ? 300 : 2000;
  const rows: Row[] = [];
  for (const c of selected) {
    const fn = c.setup();
    const t = await time(fn, { warmup: quick ? 1 : 3, budgetMs });
    const gflops = c.flops / (t.medianMs * 1e6);
    rows.push({ name: c.name, scale: c.scale, params: c.params, ...t, gflops, peakFraction: gflops / peak.total, peer: null, ratioVsPeer: null });
  }
  let peerNote = 'PyTorch peer not run (--no-peer)';
  if (!noPeer) {
    const peer = torchPeer(
      selected.filter((c) => c.peer).map((c) => ({ name: c.name, op: (c.peer as { op: string }).op, params: (c.peer as { params: Record<string, number | string> }).params })),
      info.cpu.threads,
    );
    if (peer.error) {
      peerNote = peer.error;
      process.stderr.write(peer.error + '\n');
    } else {
      peerNote = `PyTorch ${peer.version} (${info.cpu.threads} threads)`;
      for (const row of rows) {
        const p = peer.results.get(row.name);
        if (p) {
          row.peer = { name: `torch ${peer.version}`, medianMs: p.medianMs };
          row.ratioVsPeer = p.medianMs / row.medianMs;
        }
      }
    }
  }
  const out = {
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, isa: info.cpu.isa, threads: info.cpu.threads },
    peak,
    peer: peerNote,
    command: `npm run bench -- ${argv.join(' ')}`.trim(),
    results: rows,
  };
  const dir = path.join(__dirname, '..', '..', 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(rows, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'latest-run.json'), JSON.stringify(out, null, 2) + '\n');
  process.stdout.write(
    `peak FMA: ${peak.perCore.toFixed(1)} GFLOP/s per core x ${peak.threads} threads = ${peak.total.toFixed(1)} GFLOP/s; peer: ${peerNote}\n\n` +
      formatTable(
        ['case', 'median ms', 'min–max ms', 'GFLOP/s', '% peak', 'torch ms', 'speedup'],
        rows.map((r) => [r.name, r.medianMs, `${r.minMs.toFixed(3)}–${r.maxMs.toFixed(3)}`, r.gflops, 100 * r.peakFraction, r.peer ? r.peer.medianMs : '-', r.ratioVsPeer ?? '-']),
      ) +
      '\n',
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
