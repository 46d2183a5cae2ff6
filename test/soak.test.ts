/**
 * Soak (short): 1,500 calls each of forward, a fused training step, sample and save/load in this process.
 * After a warm-up and a full GC, RSS may grow by at most 16 MiB per phase (a leak of 12 KB per call fails) and
 * the native memory the CPU backend has handed out in blocks of 64 KiB and more (its own count) by 256 KiB (one
 * such block leaked in a fifth of the calls fails). The full run, 10,000 calls each, is `node test/soak/soak.js`;
 * its figures are in docs/RELIABILITY.md.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { soak } = require('./soak/soak.js');

test('1,500 calls each of forward, train step, sample and save/load: bounded RSS and native memory', async () => {
  const results = await soak(1500, { rssBound: 16 * 1024 * 1024, nativeBound: 256 * 1024 });
  for (const r of results) {
    expect({ phase: r.phase, ok: r.ok, rss: r.rssGrowthMiB, native: r.nativeGrowthMiB }).toEqual({ phase: r.phase, ok: true, rss: r.rssGrowthMiB, native: r.nativeGrowthMiB });
  }
  expect(results.map((r: { phase: string }) => r.phase)).toEqual(['forward', 'train step', 'sample', 'save/load']);
}, 60000);
