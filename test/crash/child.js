// Child process of the crash-safety harness (harness.js): trains with checkpointEvery: 1.
//   node child.js run DIR STEPS         resume from DIR/ckpt.safetensors if it exists, else start; print each
//                                       step as soon as its checkpoint is written; stop at STEPS
//   node child.js reference DIR STEPS   the uninterrupted run: print the SHA-256 of the checkpoint at every step
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const h = require('../../dist');

const [mode, dir, stepsArg] = process.argv.slice(2);
const steps = Number(stepsArg);
const gen = h.SequentialModel.fromLayers([{ type: 'linear', in: 32, out: 96 }, { type: 'silu' }, { type: 'linear', in: 96, out: 48 }, { type: 'sigmoid' }], { seed: 1, backend: 'cpu' });
const clf = h.SequentialModel.fromLayers([{ type: 'linear', in: 48, out: 5 }], { seed: 2, backend: 'cpu' });
const reward = h.rewards.weighted([[h.rewards.classifierLogProb(clf), 1], [h.rewards.brightness(), 0.2]]);
const conditions = (n, rng) => h.oneHotRandomClasses(n, 5, rng);
const config = { kl: 'exact', lambda: 0.5, alpha: 1, batchSize: 32, seed: 11, optimizer: { type: 'adam', lr: 3e-3, gradClip: 1, warmupSteps: 5, decaySteps: 400 } };
const file = path.join(dir, 'ckpt.safetensors');
const sha = (f) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

async function main() {
  if (mode === 'reference') {
    const hn = new h.Hypernetwork({ noiseDim: 32, condDim: 5, rank: 16, depth: 2, seed: 4, backend: 'cpu' });
    const t = new h.Trainer({ hypernetwork: hn, generator: gen, reward, conditions, ...config });
    const ref = path.join(dir, 'reference.safetensors');
    const out = [];
    for (let k = 1; k <= steps; k++) {
      await t.stepOnce();
      await t.saveCheckpoint(ref);
      out.push(sha(ref));
    }
    process.stdout.write(JSON.stringify(out) + '\n');
    return;
  }
  let t;
  if (fs.existsSync(file)) {
    t = await h.Trainer.fromCheckpoint(file, { generator: gen, reward, conditions, backend: 'cpu' });
  } else {
    const hn = new h.Hypernetwork({ noiseDim: 32, condDim: 5, rank: 16, depth: 2, seed: 4, backend: 'cpu' });
    t = new h.Trainer({ hypernetwork: hn, generator: gen, reward, conditions, ...config });
  }
  process.stdout.write(`start ${t.step}\n`);
  await t.train({ steps: steps - t.step, checkpointEvery: 1, checkpointPath: file, onProgress: (p) => process.stdout.write(`${p.step + 1}\n`) });
  process.stdout.write('done\n');
}
main().catch((e) => {
  process.stderr.write(String(e && e.stack) + '\n');
  process.exit(2);
});
