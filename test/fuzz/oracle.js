// What each file reader must do with any bytes: return a result or throw a HypernoiseError with code
// ERR_FILE (DESIGN.md, "Errors"). Shared by the coverage-guided fuzz targets (targets/*.fuzz.js, Jazzer.js) and the
// jest test that replays the kept corpus (test/fuzz.test.ts). Uses the compiled package (dist/).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const hn = require('../../dist');

const { HypernoiseError } = hn;

class OracleError extends Error {}

/** Runs fn; anything but a result or a HypernoiseError whose code is in `allowed` is a finding. */
async function expectCoded(what, fn, allowed = ['ERR_FILE'], messageOk = () => true) {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof HypernoiseError)) {
      throw new OracleError(`${what}: threw ${err && err.constructor && err.constructor.name}: ${err && err.message}`);
    }
    if (!allowed.includes(err.code) || !messageOk(err)) {
      throw new OracleError(`${what}: threw ${err.code}, expected one of ${allowed.join(', ')}: ${err.message}`);
    }
    if (typeof err.message !== 'string' || err.message.length < 10) throw new OracleError(`${what}: no message`);
    return undefined;
  }
}

const numel = (shape) => shape.reduce((a, b) => a * b, 1);

/** parseSafetensors on arbitrary bytes. */
function safetensors(data) {
  let out;
  try {
    out = hn.parseSafetensors(data, 'fuzz');
  } catch (err) {
    if (err instanceof HypernoiseError && err.code === 'ERR_FILE' && err.message.length > 10) return 'error';
    throw new OracleError(`parseSafetensors threw ${err && err.constructor && err.constructor.name} ${err && err.code}: ${err && err.message}`);
  }
  for (const [name, t] of out.tensors) {
    if (t.data.length !== numel(t.shape)) throw new OracleError(`tensor ${name}: ${t.data.length} values for shape ${JSON.stringify(t.shape)}`);
  }
  for (const [k, v] of Object.entries(out.metadata)) {
    if (typeof v !== 'string') throw new OracleError(`metadata ${k} is not a string`);
  }
  return 'ok';
}

/** parseIdx on arbitrary bytes. */
function idx(data) {
  let out;
  try {
    out = hn.parseIdx(data, 'fuzz');
  } catch (err) {
    if (err instanceof HypernoiseError && err.code === 'ERR_FILE' && err.message.length > 10) return 'error';
    throw new OracleError(`parseIdx threw ${err && err.constructor && err.constructor.name} ${err && err.code}: ${err && err.message}`);
  }
  if (out.data.length !== numel(out.dims)) throw new OracleError(`idx: ${out.data.length} bytes for dims ${JSON.stringify(out.dims)}`);
  return 'ok';
}

// ---- checkpoint loading ----------------------------------------------------------------------------

// The world the seed checkpoints were written in (make-seeds.js): a generator with noiseDim 3, a
// classifier reward, one-hot conditions of width 2.
let world;
function getWorld() {
  if (world) return world;
  const gen = hn.SequentialModel.fromLayers([{ type: 'linear', in: 3, out: 5 }, { type: 'tanh' }, { type: 'linear', in: 5, out: 4 }], { seed: 1, backend: 'cpu' });
  const clf = hn.SequentialModel.fromLayers([{ type: 'linear', in: 4, out: 2 }], { seed: 2, backend: 'cpu' });
  const reward = hn.rewards.classifierLogProb(clf);
  const conditions = (n, rng) => hn.oneHotRandomClasses(n, 2, rng);
  const trainerOpts = { kl: 'exact', lambda: 0.5, alpha: 1, batchSize: 4, seed: 3, optimizer: { type: 'adam', lr: 0.01, gradClip: 1 } };
  const makeHn = () => new hn.Hypernetwork({ noiseDim: 3, condDim: 2, rank: 2, depth: 2, activation: 'silu', seed: 1, backend: 'cpu' });
  world = { gen, clf, reward, conditions, trainerOpts, makeHn };
  return world;
}

// Scratch files for the loaders, in a directory of this process. Fuzzers leave through _exit (no 'exit'
// event), so directories of processes that are gone are removed here first.
const scratchRoot = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
for (const name of fs.readdirSync(scratchRoot)) {
  const m = /^hn-fuzz-(\d+)-/.exec(name);
  if (!m) continue;
  try {
    process.kill(Number(m[1]), 0);
  } catch (err) {
    if (err.code === 'ESRCH') fs.rmSync(path.join(scratchRoot, name), { recursive: true, force: true });
  }
}
const scratch = fs.mkdtempSync(path.join(scratchRoot, `hn-fuzz-${process.pid}-`));
const cleanup = () => fs.rmSync(scratch, { recursive: true, force: true });
process.on('exit', cleanup);
let counter = 0;

/**
 * Hypernetwork.load, SequentialModel.load, Trainer.fromCheckpoint and trainer.loadCheckpoint on the same
 * bytes. Besides ERR_FILE: loadCheckpoint of a valid checkpoint of another configuration is ERR_ARGUMENT,
 * fromCheckpoint of a checkpoint whose noiseDim is not the generator's is ERR_SHAPE. A loadCheckpoint that
 * fails leaves the trainer exactly as it was; one that succeeds can train a step.
 */
async function checkpoint(data) {
  const w = getWorld();
  const file = path.join(scratch, `f${process.pid}-${counter++ % 4}.safetensors`);
  fs.writeFileSync(file, data);
  const disposeAll = (...xs) => xs.forEach((x) => x && x.dispose());
  const h = await expectCoded('Hypernetwork.load', () => hn.Hypernetwork.load(file, { backend: 'cpu' }));
  if (h) {
    h.forwardSync(new Float32Array(h.noiseDim).fill(0.5), h.condDim > 0 ? new Float32Array(h.condDim) : null);
    h.dispose();
  }
  const m = await expectCoded('SequentialModel.load', () => hn.SequentialModel.load(file, { backend: 'cpu' }));
  if (m) {
    m.forwardSync(new Float32Array(m.inputDim));
    m.dispose();
  }
  const t = await expectCoded(
    'Trainer.fromCheckpoint',
    () => hn.Trainer.fromCheckpoint(file, { generator: w.gen, reward: w.reward, conditions: w.conditions, backend: 'cpu' }),
    ['ERR_FILE', 'ERR_SHAPE'],
    (e) => e.code === 'ERR_FILE' || /generator takes/.test(e.message),
  );
  if (t) {
    // The file's own configuration may not fit the caller's conditions or reward (ERR_SHAPE); a huge but
    // valid batchSize is not stepped (it would only be slow).
    if (t.config.batchSize <= 64) await expectCoded('step after fromCheckpoint', () => t.stepOnce(), ['ERR_SHAPE']);
    disposeAll(t, t.hypernetwork);
  }
  const h2 = w.makeHn();
  const trainer = new hn.Trainer({ hypernetwork: h2, generator: w.gen, reward: w.reward, conditions: w.conditions, ...w.trainerOpts });
  const before = h2.getParams();
  const stepBefore = trainer.step;
  let loaded = false;
  await expectCoded(
    'trainer.loadCheckpoint',
    async () => {
      await trainer.loadCheckpoint(file);
      loaded = true;
    },
    ['ERR_FILE', 'ERR_ARGUMENT'],
    (e) => e.code === 'ERR_FILE' || /the checkpoint/.test(e.message),
  );
  if (!loaded) {
    const after = h2.getParams();
    if (trainer.step !== stepBefore || after.some((v, i) => !Object.is(v, before[i]))) {
      throw new OracleError('a failed loadCheckpoint changed the trainer');
    }
  } else {
    await trainer.stepOnce();
  }
  disposeAll(trainer, h2);
  return 'done';
}

module.exports = { safetensors, idx, checkpoint, OracleError, cleanup };
