/**
 * Trains the demo's distilled diffusion generator with this library's own engine, seeded and deterministic
 * for a given thread count (DESIGN.md, "The distilled generator"):
 *   1. a rectified-flow teacher on real MNIST pixels (D = 784): a denoiser x_hat([y_t, phi(t)]), BCE on the clean pixels;
 *   2. distillation data: the teacher's ODE (Heun) solved from pure noise (t = 0) and from forward-noised
 *      training images at t = 1/4, 1/2, 3/4, each to t = 1;
 *   3. a time-conditional student f([y_t, phi(t)]) -> pixels regressed (BCE on soft targets) on the
 *      trajectories' endpoints: at t = 0 it is a one-step generator, at 2 and 4 steps a few-step one;
 *   4. sample quality of the teacher, the student at 1, 2 and 4 steps and the shipped VAE decoder, all
 *      measured the same way (src/quality.ts) on 10,000 samples each.
 * Writes models/mnist-flow-student.safetensors and the "flow" entries of models/metrics.json.
 *   npm run train-diffusion [-- --out models --teacher-epochs 30 --student-epochs 40 --threads 2 --quick]
 */
import * as fs from 'fs';
import * as path from 'path';
import { backendInfo } from '../src/backend';
import { distillationLoss, fewStepSample, oneStepGenerator, teacherSolve, TIME_FEATURES, withTime } from '../src/flow';
import { loadMnist, MnistData } from '../src/mnist';
import { LayerSpec, SequentialModel } from '../src/models';
import { packageDir } from '../src/native';
import { Rng, sampleNoise } from '../src/noise';
import { ModelOptimizer } from '../src/optimizer';
import { featureExtractor, featureGaussian, FeatureGaussian, sampleQuality, SampleQuality } from '../src/quality';
import { gatherBatch, log, permutation, t0 } from './training-data';

const P = 784;
const SEEDS = { teacher: 11, teacherData: 12, distillNoise: 13, student: 14, quality: 15 };
const HEUN_STEPS = 16;
const RENOISE_TIMES = [0.25, 0.5, 0.75];

interface Args {
  out: string | null;
  teacherEpochs: number;
  studentEpochs: number;
  pairs: number;
  renoised: number;
  batch: number;
  hidden: number;
  qualitySamples: number;
  /** a saved teacher to distil instead of training one */
  teacher: string | null;
  /** a saved student to continue from instead of the teacher's weights */
  student: string | null;
  studentLr: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { out: 'models', teacherEpochs: 30, studentEpochs: 40, pairs: 60000, renoised: 30000, batch: 128, hidden: 1024, qualitySamples: 10000, teacher: null, student: null, studentLr: 1e-3 };
  let outGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const int = () => {
      const s = argv[++i];
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${k} needs a positive integer, got '${s}'`);
      return n;
    };
    if (k === '--out') (a.out = argv[++i]), (outGiven = true);
    else if (k === '--teacher-epochs') a.teacherEpochs = int();
    else if (k === '--teacher') a.teacher = argv[++i];
    else if (k === '--student') a.student = argv[++i];
    else if (k === '--student-lr') a.studentLr = Number(argv[++i]);
    else if (k === '--student-epochs') a.studentEpochs = int();
    else if (k === '--pairs') a.pairs = int();
    else if (k === '--renoised') a.renoised = int();
    else if (k === '--batch') a.batch = int();
    else if (k === '--hidden') a.hidden = int();
    else if (k === '--quality-samples') a.qualitySamples = int();
    else if (k === '--threads') process.env.HYPERNOISE_NUM_THREADS = String(int());
    else if (k === '--quick') {
      Object.assign(a, { teacherEpochs: 1, studentEpochs: 1, pairs: 2000, renoised: 1000, qualitySamples: 2000 });
      if (!outGiven) a.out = null;
    } else if (k === '--help' || k === '-h') {
      console.log('usage: train-diffusion [--out DIR] [--threads N] [--teacher-epochs N] [--student-epochs N] [--pairs N] [--renoised N] [--hidden N] [--teacher FILE] [--student FILE] [--student-lr X] [--quick]');
      process.exit(0);
    } else throw new Error(`unknown argument '${k}'`);
  }
  return a;
}

/** An exponential moving average of a model's parameters (the weights a flow model is sampled with). */
class Ema {
  readonly params: Float32Array;
  constructor(
    model: SequentialModel,
    readonly decay: number,
  ) {
    this.params = model.getParams();
  }
  update(model: SequentialModel) {
    const p = model.getParams();
    const d = this.decay;
    for (let i = 0; i < p.length; i++) this.params[i] = d * this.params[i] + (1 - d) * p[i];
  }
}

function mlp(inDim: number, hidden: number, depth: number, outDim: number): LayerSpec[] {
  const layers: LayerSpec[] = [];
  let d = inDim;
  for (let k = 0; k < depth; k++) {
    layers.push({ type: 'linear', in: d, out: hidden }, { type: 'silu' });
    d = hidden;
  }
  layers.push({ type: 'linear', in: d, out: outDim });
  return layers;
}

function trainTeacher(train: MnistData, args: Args, check?: (m: SequentialModel) => string) {
  const start = Date.now();
  const logitLayers = mlp(P + TIME_FEATURES, args.hidden, 3, P);
  const layers: LayerSpec[] = [...logitLayers, { type: 'sigmoid' }];
  const model = SequentialModel.fromLayers(logitLayers, { seed: SEEDS.teacher, backend: 'cpu' });
  const B = args.batch;
  const stepsPerEpoch = Math.floor(train.n / B);
  const total = stepsPerEpoch * args.teacherEpochs;
  const opt = new ModelOptimizer(model, { type: 'adam', lr: 1e-3, gradClip: 1, warmupSteps: Math.min(500, Math.floor(total / 10)), decaySteps: total });
  const ema = new Ema(model, 0.996);
  log(`teacher: ${JSON.stringify(layers.map((l) => (l.type === 'linear' ? `${l.in}->${l.out}` : l.type)))}, ${model.paramCount} params, ${total} steps`);
  const x = new Float32Array(B * P);
  const y = new Float32Array(B * P);
  const t = new Float32Array(B);
  const input = new Float32Array(B * (P + TIME_FEATURES));
  const history: number[] = [];
  let step = 0;
  for (let epoch = 0; epoch < args.teacherEpochs; epoch++) {
    const rng = new Rng(SEEDS.teacher, epoch, 0x464d);
    const perm = permutation(train.n, rng);
    let lossSum = 0;
    for (let s = 0; s < stepsPerEpoch; s++, step++) {
      gatherBatch(train, perm, s * B, B, x, 0, null);
      const eps = sampleNoise({ n: B, dim: P, seed: SEEDS.teacher, offset: step * B, stream: 0x464d });
      for (let i = 0; i < B; i++) t[i] = rng.uniform();
      for (let i = 0; i < B; i++) {
        for (let j = 0; j < P; j++) {
          const k = i * P + j;
          const data = 2 * x[k] - 1;
          y[k] = t[i] * data + (1 - t[i]) * eps[k];
        }
      }
      withTime(y, P, t, input);
      const { loss, dlogits } = distillationLoss(model.forwardSync(input), x, B);
      lossSum += loss;
      opt.step(model.gradientsSync(input, dlogits).grad);
      if (step % 4 === 3) ema.update(model);
    }
    history.push(lossSum / stepsPerEpoch);
    log(`teacher epoch ${epoch + 1}/${args.teacherEpochs}: denoising BCE ${(lossSum / stepsPerEpoch).toFixed(2)} nats per image`);
    if (check && (epoch % 5 === 4 || epoch === args.teacherEpochs - 1)) {
      const denoiser = SequentialModel.fromLayers(layers, { params: ema.params, backend: 'cpu' });
      log(`  teacher (EMA) after epoch ${epoch + 1}: ${check(denoiser)}`);
      denoiser.dispose();
    }
  }
  // sampled through a sigmoid: the denoised pixels
  const denoiser = SequentialModel.fromLayers(layers, { params: ema.params, backend: 'cpu' });
  model.dispose();
  return { model: denoiser, layers, steps: total, history, seconds: (Date.now() - start) / 1000 };
}

/** A teacher saved by an earlier run (its training record is then the earlier run's, in its metrics.json). */
async function loadTeacher(file: string) {
  const model = await SequentialModel.load(file, { backend: 'cpu' });
  log(`teacher: loaded ${file} (${model.paramCount} params)`);
  return { model, layers: model.layers as LayerSpec[], steps: 0, history: [] as number[], seconds: 0 };
}

/** Pixels in [0, 1] from flow coordinates, clamped (the soft targets of the distillation). */
function toPixels(y: Float32Array): Float32Array {
  const x = new Float32Array(y.length);
  for (let i = 0; i < y.length; i++) x[i] = Math.min(1, Math.max(0, 0.5 * (y[i] + 1)));
  return x;
}

/** The distillation set: student inputs [y_t] with their times, and the teacher's endpoint pixels. */
function distillationData(teacher: SequentialModel, train: MnistData, args: Args) {
  const start = Date.now();
  const n = args.pairs + args.renoised;
  const inputs = new Float32Array(n * P);
  const times = new Float32Array(n);
  const targets = new Float32Array(n * P);
  const chunk = 1000;
  // pure noise at t = 0: the one-step generator's pairs
  for (let s = 0; s < args.pairs; s += chunk) {
    const m = Math.min(chunk, args.pairs - s);
    const eps = sampleNoise({ n: m, dim: P, seed: SEEDS.distillNoise, offset: s });
    inputs.set(eps, s * P);
    targets.set(toPixels(teacherSolve(teacher, eps.slice(), 0, HEUN_STEPS)), s * P);
    if ((s / chunk) % 10 === 9) log(`  teacher ODE from noise: ${s + m}/${args.pairs}`);
  }
  // forward-noised training images at later times: what the few-step sampler feeds the student
  const rng = new Rng(SEEDS.teacherData, 0, 0x5244);
  const perm = permutation(train.n, rng);
  const x = new Float32Array(chunk * P);
  for (let s = 0; s < args.renoised; s += chunk) {
    const m = Math.min(chunk, args.renoised - s);
    const t = RENOISE_TIMES[(s / chunk) % RENOISE_TIMES.length];
    gatherBatch(train, perm, s % (train.n - chunk), m, x, 0, null);
    const eps = sampleNoise({ n: m, dim: P, seed: SEEDS.distillNoise, offset: s, stream: 0x5244 });
    const y = new Float32Array(m * P);
    for (let k = 0; k < m * P; k++) y[k] = t * (2 * x[k] - 1) + (1 - t) * eps[k];
    const row = args.pairs + s;
    inputs.set(y, row * P);
    times.fill(t, row, row + m);
    targets.set(toPixels(teacherSolve(teacher, y.slice(), t, Math.max(1, Math.round(HEUN_STEPS * (1 - t))))), row * P);
  }
  log(`distillation data: ${args.pairs} noise pairs + ${args.renoised} re-noised images (t in ${RENOISE_TIMES.join(', ')}), ${((Date.now() - start) / 1000).toFixed(1)} s`);
  return { inputs, times, targets, n, seconds: (Date.now() - start) / 1000 };
}

/**
 * The student starts as a copy of the teacher (same layers, same weights, sigmoid dropped: it trains on
 * logits): both map [y_t, phi(t)] to pixels, the teacher to E[x | y_t], the student to the trajectory's end,
 * so the student begins from a denoiser rather than from noise (as progressive and consistency distillation do).
 */
function trainStudent(data: ReturnType<typeof distillationData>, init: SequentialModel, args: Args) {
  const start = Date.now();
  const layers = init.layers.slice(0, -1) as LayerSpec[];
  const model = SequentialModel.fromLayers(layers, { params: init.getParams(), backend: 'cpu' });
  const B = args.batch;
  const stepsPerEpoch = Math.floor(data.n / B);
  const total = stepsPerEpoch * args.studentEpochs;
  const opt = new ModelOptimizer(model, { type: 'adam', lr: args.studentLr, gradClip: 1, warmupSteps: Math.min(500, Math.floor(total / 10)), decaySteps: total });
  const ema = new Ema(model, 0.996);
  log(`student: ${JSON.stringify(layers.map((l) => (l.type === 'linear' ? `${l.in}->${l.out}` : l.type)))} + sigmoid, ${model.paramCount} params, ${total} steps`);
  const y = new Float32Array(B * P);
  const target = new Float32Array(B * P);
  const t = new Float32Array(B);
  const input = new Float32Array(B * (P + TIME_FEATURES));
  const history: number[] = [];
  let step = 0;
  for (let epoch = 0; epoch < args.studentEpochs; epoch++) {
    const perm = permutation(data.n, new Rng(SEEDS.student, epoch, 0x5354));
    let lossSum = 0;
    for (let s = 0; s < stepsPerEpoch; s++, step++) {
      for (let i = 0; i < B; i++) {
        const r = perm[s * B + i];
        y.set(data.inputs.subarray(r * P, (r + 1) * P), i * P);
        target.set(data.targets.subarray(r * P, (r + 1) * P), i * P);
        t[i] = data.times[r];
      }
      withTime(y, P, t, input);
      const { loss, dlogits } = distillationLoss(model.forwardSync(input), target, B);
      lossSum += loss;
      opt.step(model.gradientsSync(input, dlogits).grad);
      if (step % 4 === 3) ema.update(model);
    }
    history.push(lossSum / stepsPerEpoch);
    log(`student epoch ${epoch + 1}/${args.studentEpochs}: distillation BCE ${(lossSum / stepsPerEpoch).toFixed(2)} nats per image`);
  }
  model.setParams(ema.params);
  // the shipped student: the same layers and parameters with the sigmoid that makes logits pixels
  const shipped = SequentialModel.fromLayers([...layers, { type: 'sigmoid' }], { params: model.getParams(), backend: 'cpu' });
  model.dispose();
  return { model: shipped, steps: total, history, seconds: (Date.now() - start) / 1000 };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const info = backendInfo();
  log(`hypernoise CPU backend: ${info.cpu.isa}, ${info.cpu.threads} threads; ${JSON.stringify(args)}`);
  const train = await loadMnist({ split: 'train' });
  const test = await loadMnist({ split: 'test' });
  const modelsDir = path.join(packageDir(), 'models');
  const rewardClf = await SequentialModel.load(path.join(modelsDir, 'mnist-classifier.safetensors'), { backend: 'cpu' });
  const evalClf = await SequentialModel.load(path.join(modelsDir, 'mnist-eval-classifier.safetensors'), { backend: 'cpu' });
  const vae = await SequentialModel.load(path.join(modelsDir, 'mnist-vae-decoder.safetensors'), { backend: 'cpu' });
  const features = featureExtractor(evalClf);
  const reference: FeatureGaussian = featureGaussian(features, test.images, test.n);
  const Q = args.qualitySamples;
  const quality = (x: Float32Array) => sampleQuality(x, Q, { evalClassifier: evalClf, rewardClassifier: rewardClf, reference });
  const trainQuality = quality(train.images.subarray(0, Q * P));
  log(`FD of ${Q} real training images to the test set (the floor of this measure): ${trainQuality.frechetToTest.toFixed(3)}`);

  const checkEps = sampleNoise({ n: 2000, dim: P, seed: SEEDS.quality, stream: 1 });
  const teacher = args.teacher !== null ? await loadTeacher(args.teacher) : trainTeacher(train, args, (m) => {
    const q = sampleQuality(toPixels(teacherSolve(m, checkEps.slice(), 0, HEUN_STEPS)), 2000, { evalClassifier: evalClf, rewardClassifier: rewardClf, reference });
    return `FD of 2000 samples ${q.frechetToTest.toFixed(2)}, classes ${JSON.stringify(q.rewardClassifierClassCounts)}`;
  });
  if (args.out !== null && args.teacher === null) {
    fs.mkdirSync(args.out, { recursive: true });
    await teacher.model.save(path.join(args.out, 'mnist-flow-teacher.safetensors'), { description: 'rectified-flow teacher (not shipped)' });
  }
  const qeps = sampleNoise({ n: Q, dim: P, seed: SEEDS.quality });
  let t1 = Date.now();
  const teacherSamples = toPixels(teacherSolve(teacher.model, qeps.slice(), 0, HEUN_STEPS));
  const teacherMsPerSample = (Date.now() - t1) / Q;
  const teacherQuality = quality(teacherSamples);
  log(`teacher (Heun, ${HEUN_STEPS} steps = ${2 * HEUN_STEPS - 1} evaluations): FD ${teacherQuality.frechetToTest.toFixed(3)}, classes ${JSON.stringify(teacherQuality.rewardClassifierClassCounts)}`);

  const data = distillationData(teacher.model, train, args);
  const init = args.student !== null ? await SequentialModel.load(args.student, { backend: 'cpu' }) : teacher.model;
  const student = trainStudent(data, init, args);
  const oneStep = oneStepGenerator(student.model);
  const studentQuality: Record<string, SampleQuality & { msPerSample: number }> = {};
  for (const steps of [1, 2, 4]) {
    t1 = Date.now();
    const x = steps === 1 ? oneStep.forwardSync(qeps) : await fewStepSample({ student: student.model, noise: qeps, steps, seed: SEEDS.quality });
    studentQuality[`${steps}`] = { ...quality(x), msPerSample: (Date.now() - t1) / Q };
    log(`student, ${steps} step${steps > 1 ? 's' : ''}: FD ${studentQuality[`${steps}`].frechetToTest.toFixed(3)}, classes ${JSON.stringify(studentQuality[`${steps}`].rewardClassifierClassCounts)}`);
  }
  const vaeQuality = quality(vae.forwardSync(sampleNoise({ n: Q, dim: vae.inputDim, seed: SEEDS.quality })));
  log(`VAE decoder: FD ${vaeQuality.frechetToTest.toFixed(3)}, classes ${JSON.stringify(vaeQuality.rewardClassifierClassCounts)}`);

  const flow = {
    date: new Date().toISOString(),
    command: 'npm run train-diffusion',
    isa: info.cpu.isa,
    threads: info.cpu.threads,
    totalSeconds: (Date.now() - t0) / 1000,
    qualitySeed: SEEDS.quality,
    qualityMeasure: `Fréchet distance of ${Q} samples (noise seed ${SEEDS.quality}) to the 10000 MNIST test images in the evaluation classifier's penultimate features; class counts by the reward classifier (src/quality.ts)`,
    realTrainingImages: trainQuality,
    teacher: {
      role: 'rectified-flow teacher (not shipped): denoiser x_hat([y_t, phi(t)]) with y_t = t (2x - 1) + (1 - t) eps',
      layers: teacher.layers,
      params: teacher.model.paramCount,
      seed: SEEDS.teacher,
      epochs: args.teacherEpochs,
      steps: teacher.steps,
      optimizer: 'adam lr 1e-3, clip 1, warm-up + cosine decay; EMA 0.996 of the weights (every 4th step) sampled',
      loss: 'denoising: BCE-with-logits of x_hat([y_t, phi(t)]) against the clean pixels x, t ~ U(0, 1); velocity (2 x_hat - 1 - y_t) / (1 - t)',
      lossByEpoch: teacher.history,
      trainingSeconds: teacher.seconds,
      sampler: `Heun, ${HEUN_STEPS} steps, the last one Euler (${2 * HEUN_STEPS - 1} evaluations)`,
      msPerSample: teacherMsPerSample,
      samples: teacherQuality,
    },
    distillation: {
      pairs: args.pairs,
      renoised: args.renoised,
      renoiseTimes: RENOISE_TIMES,
      seconds: data.seconds,
      targets: 'the teacher ODE endpoint from (y_t, t), as pixels clamped to [0, 1]',
    },
    'mnist-flow-student.safetensors': {
      init: args.student ?? 'the teacher\'s weights',
      role: 'distilled generator: f([y_t, phi(t)]) -> pixels; at t = 0 the one-step generator N(0, I_784) -> 28x28 (src/flow.ts oneStepGenerator)',
      layers: student.model.layers,
      params: student.model.paramCount,
      seed: SEEDS.student,
      epochs: args.studentEpochs,
      steps: student.steps,
      optimizer: `adam lr ${args.studentLr}, clip 1, warm-up + cosine decay; EMA 0.996 of the weights (every 4th step)`,
      loss: 'BCE-with-logits of the pixels against the teacher endpoint (soft targets), summed over pixels',
      lossByEpoch: student.history,
      trainingSeconds: student.seconds,
      samplesBySteps: studentQuality,
    },
    'mnist-vae-decoder.safetensors': { samples: vaeQuality },
  };
  if (args.out === null) {
    log('--quick without --out: nothing written');
    return;
  }
  fs.mkdirSync(args.out, { recursive: true });
  const file = path.join(args.out, 'mnist-flow-student.safetensors');
  await student.model.save(file, {
    trainedBy: 'scripts/train-diffusion.ts (npm run train-diffusion)',
    data: 'MNIST',
    description: 'distilled rectified-flow student: [y_t (784), phi(t) (16)] -> 28x28 pixels in [0, 1]; t = 0 is the one-step generator',
    seed: String(SEEDS.student),
    frechetToTest: studentQuality['1'].frechetToTest.toFixed(3),
  });
  const metricsFile = path.join(args.out, 'metrics.json');
  const metrics = fs.existsSync(metricsFile) ? JSON.parse(fs.readFileSync(metricsFile, 'utf8')) : {};
  metrics.flow = flow;
  fs.writeFileSync(metricsFile, JSON.stringify(metrics, null, 2) + '\n');
  log(`wrote ${file} (${(fs.statSync(file).size / 1e6).toFixed(2)} MB) and ${metricsFile}; done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
