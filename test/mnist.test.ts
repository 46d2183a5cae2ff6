import * as fs from 'fs';
import * as path from 'path';
import { HypernoiseError, sampleNoise, SequentialModel } from '../src';
import { parseIdx, readIdx } from '../src/idx';
import { oneStepGenerator, TIME_FEATURES } from '../src/flow';
import { loadMnist, MnistData, mnistDataDir } from '../src/mnist';
import { featureExtractor, featureGaussian, FeatureGaussian, sampleQuality } from '../src/quality';

const MODELS = path.join(__dirname, '..', 'models');
const TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

function counts(labels: Uint8Array): number[] {
  const c = new Array(10).fill(0);
  for (const l of labels) c[l]++;
  return c;
}

function range(a: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (Number.isNaN(v)) return [NaN, NaN]; // fails every range check
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

function idx(type: number, dims: number[], data: number[]): Uint8Array {
  const buf = new Uint8Array(4 + 4 * dims.length + data.length);
  buf.set([0, 0, type, dims.length]);
  const v = new DataView(buf.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  buf.set(data, 4 + 4 * dims.length);
  return buf;
}

function fileError(fn: () => unknown, pattern: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(HypernoiseError);
  expect((err as HypernoiseError).code).toBe('ERR_FILE');
  expect((err as Error).message).toMatch(pattern);
}

describe('IDX parser', () => {
  test('the official label files: sizes and per-digit counts', async () => {
    const dir = mnistDataDir();
    const train = await readIdx(path.join(dir, 'train-labels-idx1-ubyte'));
    expect(train.dims).toEqual([60000]);
    expect(counts(train.data)).toEqual(TRAIN_COUNTS);
    const test = await readIdx(path.join(dir, 't10k-labels-idx1-ubyte'));
    expect(test.dims).toEqual([10000]);
    expect(counts(test.data)).toEqual(TEST_COUNTS);
    const images = await readIdx(path.join(dir, 't10k-images-idx3-ubyte'));
    expect(images.dims).toEqual([10000, 28, 28]);
  });

  test('a small valid buffer', () => {
    const a = parseIdx(idx(0x08, [2, 3], [1, 2, 3, 4, 5, 6]));
    expect(a.dims).toEqual([2, 3]);
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('wrong magic, unsupported type, truncated and over-long buffers are ERR_FILE errors', () => {
    const good = idx(0x08, [2, 3], [1, 2, 3, 4, 5, 6]);
    const gz = good.slice();
    gz[0] = 0x1f;
    gz[1] = 0x8b;
    fileError(() => parseIdx(gz, 'x.idx'), /x\.idx: .*magic number starts with 0x1f 0x8b/);
    fileError(() => parseIdx(idx(0x0d, [1], [0, 0, 0, 0])), /0x0d \(float32\) is not supported/);
    fileError(() => parseIdx(idx(0x42, [1], [0])), /unknown data type 0x42/);
    fileError(() => parseIdx(good.subarray(0, 3)), /shorter than the 4-byte magic/);
    fileError(() => parseIdx(good.subarray(0, 9)), /header needs 12 bytes .* \(truncated\)/);
    fileError(() => parseIdx(good.subarray(0, good.length - 1)), /need 6 data bytes but only 5 .*\(truncated\)/);
    const long = new Uint8Array(good.length + 2);
    long.set(good);
    fileError(() => parseIdx(long), /2 trailing bytes/);
    fileError(() => parseIdx(idx(0x08, [], [])), /0 dimensions/);
  });

  test('a missing file is an ERR_FILE error', async () => {
    await expect(readIdx(path.join(MODELS, 'no-such-file'))).rejects.toMatchObject({ code: 'ERR_FILE' });
  });
});

describe('shipped MNIST models', () => {
  let testSet: MnistData;
  const metrics = JSON.parse(fs.readFileSync(path.join(MODELS, 'metrics.json'), 'utf8'));

  beforeAll(async () => {
    testSet = await loadMnist({ split: 'test' });
  });

  test('loadMnist gives n x 784 images in [0, 1] and the official labels', () => {
    expect(testSet.n).toBe(10000);
    expect(testSet.images.length).toBe(10000 * 784);
    expect(counts(testSet.labels)).toEqual(TEST_COUNTS);
    const [lo, hi] = range(testSet.images);
    expect(lo).toBe(0);
    expect(hi).toBe(1);
  });

  test('the models together stay under 20 MB', () => {
    const bytes = ['mnist-flow-student', 'mnist-vae-decoder', 'mnist-classifier', 'mnist-eval-classifier']
      .map((f) => fs.statSync(path.join(MODELS, `${f}.safetensors`)).size)
      .reduce((a, b) => a + b, 0);
    expect(bytes).toBeLessThan(20e6);
  });

  test.each(['mnist-classifier', 'mnist-eval-classifier'])('%s loads and its recorded test accuracy holds', async (name) => {
    const model = await SequentialModel.load(path.join(MODELS, `${name}.safetensors`), { backend: 'cpu' });
    expect(model.inputDim).toBe(784);
    expect(model.outputDim).toBe(10);
    const logits = await model.forward(testSet.images);
    let correct = 0;
    for (let i = 0; i < testSet.n; i++) {
      let best = 0;
      for (let j = 1; j < 10; j++) if (logits[i * 10 + j] > logits[i * 10 + best]) best = j;
      if (best === testSet.labels[i]) correct++;
    }
    const acc = correct / testSet.n;
    const recorded = metrics.models[`${name}.safetensors`].testAccuracy;
    expect(Math.abs(acc - recorded)).toBeLessThanOrEqual(1e-4 + 1e-9);
    expect(acc).toBeGreaterThanOrEqual(0.97);
    model.dispose();
  });

  test('the two classifiers differ in architecture and seed', () => {
    const r = metrics.models['mnist-classifier.safetensors'];
    const e = metrics.models['mnist-eval-classifier.safetensors'];
    expect(r.seed).not.toBe(e.seed);
    expect(JSON.stringify(r.layers)).not.toBe(JSON.stringify(e.layers));
  });

  test('the decoder maps N(0, I) noise to [0, 1] images of 784 values', async () => {
    const gen = await SequentialModel.load(path.join(MODELS, 'mnist-vae-decoder.safetensors'), { backend: 'cpu' });
    expect(gen.inputDim).toBe(32);
    expect(gen.outputDim).toBe(784);
    expect(gen.layers[gen.layers.length - 1].type).toBe('sigmoid');
    const n = 256;
    const x = await gen.forward(sampleNoise({ n, dim: gen.inputDim, seed: 7 }));
    expect(x.length).toBe(n * 784);
    const [lo, hi] = range(x);
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    let mean = 0;
    for (let i = 0; i < x.length; i++) mean += x[i];
    mean /= x.length;
    // MNIST's mean intensity is ~0.13: samples are mostly dark background with some ink, not blank or saturated
    expect(mean).toBeGreaterThan(0.05);
    expect(mean).toBeLessThan(0.3);
    gen.dispose();
  });
  describe('the distilled generator and the VAE decoder: recorded sample quality holds', () => {
    const flow = metrics.flow;
    const Q = flow.realTrainingImages.samples;
    let reward: SequentialModel;
    let evalClf: SequentialModel;
    let reference: FeatureGaussian;
    beforeAll(async () => {
      reward = await SequentialModel.load(path.join(MODELS, 'mnist-classifier.safetensors'), { backend: 'cpu' });
      evalClf = await SequentialModel.load(path.join(MODELS, 'mnist-eval-classifier.safetensors'), { backend: 'cpu' });
      const features = featureExtractor(evalClf);
      reference = featureGaussian(features, testSet.images, testSet.n);
      features.dispose();
    });
    afterAll(() => {
      reward.dispose();
      evalClf.dispose();
    });
    const check = (x: Float32Array, recorded: { frechetToTest: number; rewardClassifierClassCounts: number[] }) => {
      const q = sampleQuality(x, Q, { evalClassifier: evalClf, rewardClassifier: reward, reference });
      // float32 sums in a different order than at training time: FD to 0.1 %, class counts to a handful
      expect(Math.abs(q.frechetToTest - recorded.frechetToTest)).toBeLessThanOrEqual(1e-3 * recorded.frechetToTest + 1e-3);
      q.rewardClassifierClassCounts.forEach((c, k) => expect(Math.abs(c - recorded.rewardClassifierClassCounts[k])).toBeLessThanOrEqual(5));
      return q;
    };

    test('the one-step student: FD to the test set as recorded, and at least as good as the VAE decoder', async () => {
      const student = await SequentialModel.load(path.join(MODELS, 'mnist-flow-student.safetensors'), { backend: 'cpu' });
      expect(student.inputDim).toBe(784 + TIME_FEATURES);
      const gen = oneStepGenerator(student);
      expect(gen.inputDim).toBe(784);
      const q = check(gen.forwardSync(sampleNoise({ n: Q, dim: 784, seed: flow.qualitySeed })), flow['mnist-flow-student.safetensors'].samplesBySteps['1']);
      expect(q.frechetToTest).toBeLessThanOrEqual(flow['mnist-vae-decoder.safetensors'].samples.frechetToTest);
      // every digit is drawn: no class below a third of its share
      for (const c of q.rewardClassifierClassCounts) expect(c).toBeGreaterThan(Q / 30);
      gen.dispose();
      student.dispose();
    });

    test('the VAE decoder: FD to the test set as recorded', async () => {
      const vae = await SequentialModel.load(path.join(MODELS, 'mnist-vae-decoder.safetensors'), { backend: 'cpu' });
      check(vae.forwardSync(sampleNoise({ n: Q, dim: vae.inputDim, seed: flow.qualitySeed })), flow['mnist-vae-decoder.safetensors'].samples);
      vae.dispose();
    });
  });
});
