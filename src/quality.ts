/**
 * Sample quality of a generator, measured one way for every model in models/ (DESIGN.md, "Evaluation"):
 * the Fréchet distance between its samples and the real MNIST test images in the evaluation classifier's
 * features, and the reward classifier's class histogram of the samples.
 */
import { frechetDistance, gaussianOf } from './metrics';
import { SequentialModel } from './models';

/** The evaluation classifier up to the activation before its last linear layer (the FD's feature map). */
export function featureExtractor(evalClassifier: SequentialModel): SequentialModel {
  let last = -1;
  evalClassifier.layers.forEach((l, i) => {
    if (l.type === 'linear') last = i;
  });
  return evalClassifier.prefix(last);
}

export type FeatureGaussian = { mean: Float64Array; cov: Float64Array };

/** Mean and covariance of the features of n images (rows of `images`), in chunks. */
export function featureGaussian(features: SequentialModel, images: Float32Array, n: number): FeatureGaussian {
  const P = features.inputDim;
  const F = features.outputDim;
  const all = new Float32Array(n * F);
  const chunk = 2000;
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    all.set(features.forwardSync(images.subarray(s * P, (s + m) * P)), s * F);
  }
  return gaussianOf(all, n, F);
}

export interface SampleQuality {
  samples: number;
  /** Fréchet distance to the reference images (the MNIST test set) in the evaluation classifier's features */
  frechetToTest: number;
  /** how many samples the reward classifier puts in each class */
  rewardClassifierClassCounts: number[];
}

/** FD to `reference` and the class histogram of n samples (rows of `samples`, pixels in [0, 1]). */
export function sampleQuality(samples: Float32Array, n: number, opts: { evalClassifier: SequentialModel; rewardClassifier: SequentialModel; reference: FeatureGaussian }): SampleQuality {
  const features = featureExtractor(opts.evalClassifier);
  try {
    const g = featureGaussian(features, samples, n);
    const P = opts.rewardClassifier.inputDim;
    const K = opts.rewardClassifier.outputDim;
    const counts = new Array<number>(K).fill(0);
    for (let s = 0; s < n; s += 2000) {
      const m = Math.min(2000, n - s);
      const logits = opts.rewardClassifier.forwardSync(samples.subarray(s * P, (s + m) * P));
      for (let i = 0; i < m; i++) {
        let best = 0;
        for (let j = 1; j < K; j++) if (logits[i * K + j] > logits[i * K + best]) best = j;
        counts[best]++;
      }
    }
    return { samples: n, frechetToTest: frechetDistance(g, opts.reference, features.outputDim), rewardClassifierClassCounts: counts };
  } finally {
    features.dispose();
  }
}
