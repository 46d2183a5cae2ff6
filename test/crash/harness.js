// Crash safety: a child process trains with checkpointEvery: 1 and is killed with SIGKILL at random moments,
// over and over, resuming each time from the checkpoint on disk. After every kill:
//   - the checkpoint on disk loads (Trainer.fromCheckpoint);
//   - it is the last checkpoint the child reported or the next one (written, renamed, not yet reported);
//   - it is byte for byte the uninterrupted run's checkpoint at the same step: parameters, optimiser state,
//     step count and RNG position, so the training resumed from it reproduces the uninterrupted run exactly.
// When a run reaches the last step it starts again from scratch. Used by test/crash.test.ts (20 kills) and
// runnable alone for the full figure:  node test/crash/harness.js [kills=300] [steps=240]
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, execFileSync } = require('child_process');
const h = require('../../dist');

const child = path.join(__dirname, 'child.js');

function runChild(dir, steps, killAfterMs) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [child, 'run', dir, String(steps)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), killAfterMs);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      const lines = out.split('\n').filter(Boolean);
      const start = lines.find((l) => l.startsWith('start'));
      const reported = lines.filter((l) => /^\d+$/.test(l)).map(Number);
      resolve({ code, signal, err, started: start ? Number(start.split(' ')[1]) : null, reported, done: lines.includes('done') });
    });
  });
}

async function verify(dir, world) {
  const file = path.join(dir, 'ckpt.safetensors');
  if (!fs.existsSync(file)) return null;
  const t = await h.Trainer.fromCheckpoint(file, { ...world, backend: 'cpu' });
  const step = t.step;
  t.dispose();
  t.hypernetwork.dispose();
  return { step, sha: crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex') };
}

/**
 * Runs `kills` kill-and-resume trials; returns the figures, throws on the first violation.
 * opts: { kills, steps, minDelay, maxDelay, seed, log }
 */
async function crashTrials(opts = {}) {
  const { kills = 300, steps = 240, minDelay = 40, maxDelay = 420, log = () => {} } = opts;
  let seed = opts.seed ?? 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-crash-'));
  try {
    const reference = JSON.parse(execFileSync(process.execPath, [child, 'reference', dir, String(steps)], { encoding: 'utf8' }).trim());
    fs.rmSync(path.join(dir, 'reference.safetensors'), { force: true });
    // The world of child.js (only generator, reward and conditions matter for loading).
    const gen = h.SequentialModel.fromLayers([{ type: 'linear', in: 32, out: 96 }, { type: 'silu' }, { type: 'linear', in: 96, out: 48 }, { type: 'sigmoid' }], { seed: 1, backend: 'cpu' });
    const clf = h.SequentialModel.fromLayers([{ type: 'linear', in: 48, out: 5 }], { seed: 2, backend: 'cpu' });
    const world = { generator: gen, reward: h.rewards.weighted([[h.rewards.classifierLogProb(clf), 1], [h.rewards.brightness(), 0.2]]), conditions: (n, rng) => h.oneHotRandomClasses(n, 5, rng) };
    const stats = { kills: 0, killedDuringRun: 0, checkpointsVerified: 0, aheadOfReport: 0, noCheckpointYet: 0, completedRuns: 0, killedMidWrite: 0, staleTempMax: 0, stepsResumed: 0 };
    let last = null; // the last verified checkpoint step
    while (stats.kills < kills) {
      const delay = minDelay + rand() * (maxDelay - minDelay);
      const r = await runChild(dir, steps, delay);
      if (r.code !== null && r.code !== 0) throw new Error(`child failed (exit ${r.code}): ${r.err}`);
      if (r.done) {
        // Reached the end: it must be the uninterrupted run's last checkpoint; start again.
        const v = await verify(dir, world);
        if (!v || v.step !== steps || v.sha !== reference[steps - 1]) throw new Error('a completed run differs from the uninterrupted one');
        stats.completedRuns++;
        for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { force: true });
        last = null;
        continue;
      }
      stats.kills++;
      if (r.started !== null) stats.killedDuringRun++;
      const lastReported = r.reported.length ? r.reported[r.reported.length - 1] : r.started ?? last ?? 0;
      const v = await verify(dir, world);
      if (v === null) {
        if (lastReported !== 0 || last !== null) throw new Error(`no checkpoint on disk after step ${lastReported} was reported`);
        stats.noCheckpointYet++;
        continue;
      }
      if (v.step !== lastReported && v.step !== lastReported + 1) {
        throw new Error(`the checkpoint on disk is step ${v.step} but the child last reported ${lastReported}`);
      }
      if (v.step === lastReported + 1) stats.aheadOfReport++;
      if (v.sha !== reference[v.step - 1]) throw new Error(`the checkpoint at step ${v.step} differs from the uninterrupted run's`);
      if (last !== null && v.step < last) throw new Error(`the checkpoint went back from ${last} to ${v.step}`);
      if (r.started !== null && r.started > 0) stats.stepsResumed++;
      stats.checkpointsVerified++;
      last = v.step;
      // A temporary file left behind means the kill landed while a checkpoint was being written (the next
      // writer removes it); the checkpoint itself was still whole.
      const temps = fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')).length;
      if (temps > 0) stats.killedMidWrite++;
      stats.staleTempMax = Math.max(stats.staleTempMax, temps);
      if (stats.kills % 25 === 0) log(`${stats.kills} kills, checkpoint at step ${v.step}`);
    }
    gen.dispose();
    clf.dispose();
    return stats;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { crashTrials };

if (require.main === module) {
  const kills = Number(process.argv[2] ?? 300);
  const steps = Number(process.argv[3] ?? 240);
  const t0 = Date.now();
  crashTrials({ kills, steps, seed: 12345, log: (m) => console.log(m) })
    .then((s) => console.log(JSON.stringify({ ...s, seconds: (Date.now() - t0) / 1000 })))
    .catch((e) => {
      console.error('VIOLATION:', e.message);
      process.exit(1);
    });
}
