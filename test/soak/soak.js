// Soak: N calls each of forward, a training step, sample and save/load in one process, measuring RSS and the
// native memory the CPU backend has handed out (its blocks of 64 KiB and more, counted by the addon) before and
// after each phase, after a warm-up and a full GC. (V8's external-memory figure is not used: on Node 20 the
// memory an addon reports with napi_adjust_external_memory does not appear in process.memoryUsage().external,
// so a bound on it could not fail.)
//   node test/soak/soak.js [calls per operation = 10000]
// Prints one JSON line per phase and a summary; exits 1 when a growth exceeds the bounds of
// docs/RELIABILITY.md (RSS 32 MiB, native 1 MiB per phase). test/soak.test.ts runs a shorter version.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const v8 = require('v8');
const vm = require('vm');
const h = require('../../dist');
const { native } = require('../../dist/native');

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const MiB = 1024 * 1024;

function snapshot() {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return { rss: m.rss, native: native()._hostMemory().liveBytes, arrayBuffers: m.arrayBuffers, heapUsed: m.heapUsed };
}

async function soak(calls = 10000, opts = {}) {
  const { rssBound = 32 * MiB, nativeBound = 1 * MiB, log = () => {} } = opts;
  const dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'hn-soak-'));
  const gen = h.SequentialModel.fromLayers([{ type: 'linear', in: 32, out: 128 }, { type: 'gelu' }, { type: 'linear', in: 128, out: 3 * 64 }, { type: 'sigmoid' }], { seed: 1, backend: 'cpu' });
  const clf = h.SequentialModel.fromLayers([{ type: 'linear', in: 192, out: 10 }], { seed: 2, backend: 'cpu' });
  const hn = new h.Hypernetwork({ noiseDim: 32, condDim: 10, rank: 16, depth: 2, seed: 3, backend: 'cpu' });
  const reward = h.rewards.weighted([[h.rewards.classifierLogProb(clf), 1], [h.rewards.redness(), 0.5]]);
  const conditions = (n, rng) => h.oneHotRandomClasses(n, 10, rng);
  const trainer = new h.Trainer({ hypernetwork: hn, generator: gen, reward, conditions, kl: 'exact', batchSize: 32, seed: 4 });
  const sampler = new h.Sampler({ hypernetwork: hn, generator: gen });
  const eps = h.sampleNoise({ n: 64, dim: 32, seed: 5 });
  const cond = h.oneHotRandomClasses(64, 10, new h.Rng(6, 0));
  const cond16 = cond.subarray(0, 16 * 10);
  const file = path.join(dir, 'hn.safetensors');
  const ckpt = path.join(dir, 'ckpt.safetensors');
  const phases = {
    // Promise and Sync forwards, a new output array each call.
    forward: async (i) => (i % 2 ? hn.forwardSync(eps, cond) : await hn.forward(eps, cond)),
    // One fused native training step (hypernetwork forward, generator, reward, backward, Adam).
    'train step': async () => trainer.stepOnce(),
    sample: async (i) => sampler.sample({ n: 16, seed: i, cond: cond16 }),
    // Save and load a hypernetwork (disposed on even calls, left to the finalizer on odd ones) and, every
    // tenth call, a checkpoint round trip.
    'save/load': async (i) => {
      await hn.save(file);
      const back = await h.Hypernetwork.load(file, { backend: 'cpu' });
      if (i % 2 === 0) back.dispose();
      if (i % 10 === 0) {
        await trainer.saveCheckpoint(ckpt);
        await trainer.loadCheckpoint(ckpt);
      }
    },
  };
  const results = [];
  try {
    for (const [name, op] of Object.entries(phases)) {
      const warm = Math.min(500, Math.ceil(calls / 10));
      for (let i = 0; i < warm; i++) await op(i);
      const before = snapshot();
      const t0 = Date.now();
      for (let i = 0; i < calls; i++) {
        await op(i);
        if (i % 1000 === 999) await new Promise((r) => setImmediate(r)); // let finalizers run
      }
      const seconds = (Date.now() - t0) / 1000;
      await new Promise((r) => setTimeout(r, 10));
      const after = snapshot();
      const r = {
        phase: name,
        calls,
        seconds,
        rssGrowthMiB: +((after.rss - before.rss) / MiB).toFixed(2),
        nativeGrowthMiB: +((after.native - before.native) / MiB).toFixed(3),
        heapGrowthMiB: +((after.heapUsed - before.heapUsed) / MiB).toFixed(2),
        bytesPerCallRss: Math.round((after.rss - before.rss) / calls),
        ok: after.rss - before.rss < rssBound && after.native - before.native < nativeBound,
      };
      results.push(r);
      log(JSON.stringify(r));
    }
  } finally {
    trainer.dispose();
    hn.dispose();
    gen.dispose();
    clf.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

module.exports = { soak };

if (require.main === module) {
  const calls = Number(process.argv[2] ?? 10000);
  const start = snapshot();
  soak(calls, { log: (l) => console.log(l) }).then((rs) => {
    const end = snapshot();
    console.log(JSON.stringify({ summary: true, calls, rssStartMiB: +(start.rss / MiB).toFixed(1), rssEndMiB: +(end.rss / MiB).toFixed(1), nativeStartMiB: +(start.native / MiB).toFixed(2), nativeEndMiB: +(end.native / MiB).toFixed(2), ok: rs.every((r) => r.ok) }));
    process.exit(rs.every((r) => r.ok) ? 0 : 1);
  });
}
