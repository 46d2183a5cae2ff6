import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const METHODS = ['base', 'hypernoise', 'reno', 'bestOfN', 'fineTune', 'target'];
const FIELDS = ['reward', 'accuracy', 'accuracyEval', 'frechetToTarget', 'diversity', 'msPerSample', 'passesPerSample'];

describe('npx hypernoise demo --quick', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-demo-'));
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  test('writes a well-formed report.json, report.md and the PNG grids', () => {
    const stdout = execFileSync(process.execPath, [path.join(__dirname, '..', 'dist', 'cli.js'), 'demo', '--quick', '--out', out, '--json'], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const printed = JSON.parse(stdout);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
    expect(printed.fractionRecovered).toBe(report.fractionRecovered);
    for (const m of METHODS) for (const f of FIELDS) expect(typeof report.methods[m][f]).toBe('number');
    expect(Number.isFinite(report.fractionRecovered)).toBe(true);
    expect(report.speedupVsReno).toBeGreaterThan(1);
    expect(report.perDigit).toHaveLength(10);
    for (const d of report.perDigit) {
      for (const m of METHODS) for (const f of FIELDS) expect(Number.isFinite(d.methods[m][f])).toBe(true);
      expect(typeof d.fractionRecovered).toBe('number');
      expect(typeof d.speedupVsReno).toBe('number');
    }
    expect(report.experiments.map((e: { name: string }) => e.name)).toEqual(['flow', 'vae', 'vae+brightness']);
    // the headline experiment runs on the distilled generator, whose noise is the image's size
    const head = report.experiments[0];
    expect(head.generator.file).toBe('mnist-flow-student.safetensors');
    expect(head.generator.noiseDim).toBe(784);
    expect(head.hypernetwork.rank).toBeLessThanOrEqual(128);
    // the FD floor: two independent exact-target sets are close, but not identical
    expect(report.frechetFloor).toBe(head.frechetFloor);
    expect(report.frechetFloor).toBeGreaterThan(0);
    for (const d of report.perDigit) expect(d.frechetFloor).toBeGreaterThan(0);
    // few-step sampling with the one-step hypernetwork
    expect(head.fewStep.map((f: { steps: number }) => f.steps)).toEqual([2]);
    for (const k of ['base', 'hypernoise', 'target']) for (const f of FIELDS) expect(Number.isFinite(head.fewStep[0].methods[k][f])).toBe(true);
    expect(head.fewStep[0].methods.base.passesPerSample).toBe(2);
    expect(head.fewStep[0].methods.hypernoise.reward).toBeGreaterThan(head.fewStep[0].methods.base.reward);
    // the methods behave as they should even in a short run
    const m = report.methods;
    expect(m.hypernoise.reward).toBeGreaterThan(m.base.reward);
    expect(m.reno.reward).toBeGreaterThan(m.base.reward);
    expect(m.target.reward).toBeGreaterThan(m.base.reward);
    expect(m.fineTune.reward).toBeGreaterThan(m.base.reward);
    expect(m.fineTune.passesPerSample).toBe(1);
    expect(m.reno.passesPerSample).toBe(50);
    expect(m.bestOfN.passesPerSample).toBe(50);
    const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(md).toContain('HyperNoise recovers');
    for (const e of report.experiments) {
      const png = fs.readFileSync(path.join(out, e.grid));
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    }
  });
});
