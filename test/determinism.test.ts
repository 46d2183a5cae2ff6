import { execFileSync } from 'child_process';
import * as path from 'path';
import { Sampler, sampleNoise, SequentialModel } from '../src';

function runWith(threads: number): { threads: number; digest: string } {
  const out = execFileSync(process.execPath, [path.join(__dirname, 'fixtures', 'determinism-run.js')], {
    env: { ...process.env, HYPERNOISE_NUM_THREADS: String(threads) },
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

describe('seeded determinism', () => {
  test('same seed, same noise, samples and trained parameters with 1 and 2 threads', () => {
    const one = runWith(1);
    const two = runWith(2);
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect(two.digest).toBe(one.digest);
  });

  test('noise is standard normal and keyed by (seed, sample, element)', () => {
    const a = sampleNoise({ n: 2000, dim: 101, seed: 1 });
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.01);
    // the fraction beyond 2 sigma is that of a normal (4.55%)
    const tail = a.filter((v) => Math.abs(v) > 2).length / a.length;
    expect(Math.abs(tail - 0.0455)).toBeLessThan(0.003);
    // rows are addressable: sample 10..19 of the stream are rows 10..19 of the whole
    const part = sampleNoise({ n: 10, dim: 101, seed: 1, offset: 10 });
    expect(Array.from(part)).toEqual(Array.from(a.subarray(1010, 2020)));
    expect(Array.from(sampleNoise({ n: 3, dim: 5, seed: 2 }))).not.toEqual(Array.from(a.subarray(0, 15)));
  });

  test('the Sampler draws the documented stream', async () => {
    const gen = SequentialModel.fromLayers([{ type: 'linear', in: 4, out: 4 }], { backend: 'cpu' });
    const s = await new Sampler({ generator: gen }).sample({ n: 5, seed: 3 });
    expect(Array.from(s.baseNoise)).toEqual(Array.from(sampleNoise({ n: 5, dim: 4, seed: 3 })));
  });
});
