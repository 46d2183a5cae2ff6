import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

describe('npx hypernoise bench --quick', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-bench-'));
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  test('runs and writes latest.json in the documented shape', () => {
    // The PyTorch peer is optional: without it the bench says how to install it and runs the rest.
    execFileSync(process.execPath, [path.join(__dirname, '..', 'dist', 'cli.js'), 'bench', '--quick', '--out', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
    const rows = JSON.parse(fs.readFileSync(path.join(out, 'latest.json'), 'utf8'));
    expect(Array.isArray(rows)).toBe(true);
    expect(rows.length).toBeGreaterThan(20);
    for (const r of rows) {
      expect(typeof r.name).toBe('string');
      expect(typeof r.scale).toBe('string');
      expect(typeof r.params).toBe('object');
      for (const k of ['medianMs', 'minMs', 'maxMs']) expect(r[k]).toBeGreaterThan(0);
      expect(r.minMs).toBeLessThanOrEqual(r.medianMs);
      expect(r.medianMs).toBeLessThanOrEqual(r.maxMs);
      expect(r.gflops === null || r.gflops > 0).toBe(true);
      expect(r.peakFraction === null || r.peakFraction > 0).toBe(true);
      expect(r.peer === null || (typeof r.peer.name === 'string' && r.peer.medianMs > 0)).toBe(true);
      expect(r.ratioVsPeer === null || r.ratioVsPeer > 0).toBe(true);
    }
    for (const scale of ['mnist', 'sd-turbo', 'gemm', 'scaling']) expect(rows.some((r: { scale: string }) => r.scale === scale)).toBe(true);
    const run = JSON.parse(fs.readFileSync(path.join(out, 'latest-run.json'), 'utf8'));
    expect(run.peak.total).toBeGreaterThan(0);
    expect(fs.readFileSync(path.join(out, 'latest.md'), 'utf8')).toContain('| case');
  });

  test('--load --quick runs in under 2 minutes and writes its rows into latest.json', () => {
    const loadOut = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-load-'));
    try {
      const t0 = Date.now();
      execFileSync(process.execPath, [path.join(__dirname, '..', 'dist', 'cli.js'), 'bench', '--load', '--quick', '--no-peer', '--out', loadOut], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
      expect(Date.now() - t0).toBeLessThan(120000);
      const rows = JSON.parse(fs.readFileSync(path.join(loadOut, 'latest.json'), 'utf8')) as Array<{ name: string; medianMs: number; samplesPerSecond?: number; p99Ms?: number; ceilingFraction?: number; params: Record<string, number> }>;
      const names = rows.map((r) => r.name);
      for (const n of ['load/trivial_native_call', 'load/compute/n1', 'load/sampleSync/n1', 'load/sample/n1', 'load/ceiling/n256', 'load/worker_threads/w2']) expect(names).toContain(n);
      for (const c of [1, 4, 16, 64, 256]) for (const mode of ['plain', 'batching']) expect(names).toContain(`load/${mode}/c${c}`);
      for (const r of rows.filter((x) => x.p99Ms !== undefined)) {
        expect(r.samplesPerSecond).toBeGreaterThan(0);
        expect(r.p99Ms).toBeGreaterThanOrEqual(r.medianMs);
        expect(r.ceilingFraction).toBeGreaterThan(0);
      }
      // Batching coalesces: 64 closed-loop callers make batches of more than one sample.
      expect(rows.find((r) => r.name === 'load/batching/c64')?.params.meanBatch).toBeGreaterThan(1);
      expect(fs.readFileSync(path.join(loadOut, 'latest.md'), 'utf8')).toContain('| load case');
    } finally {
      fs.rmSync(loadOut, { recursive: true, force: true });
    }
  }, 150000);
});
