/**
 * What the model-training scripts share: a clock for their logs, seeded permutations of the training set
 * and batches gathered from it (with optional random shifts).
 */
import { Rng } from '../src/noise';
import { MnistData } from '../src/mnist';

const P = 784;
const SIDE = 28;

export const t0 = Date.now();
export const secs = (since: number) => ((Date.now() - since) / 1000).toFixed(1);
export function log(msg: string) {
  console.log(`[${secs(t0).padStart(6)} s] ${msg}`);
}

/** A seeded permutation of 0..n-1 (Fisher–Yates on Philox uniforms). */
export function permutation(n: number, rng: Rng): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** Copies rows idx[from..from+n) of `data` into `out`, each shifted by up to `shift` px in x and y (0: none). */
export function gatherBatch(data: MnistData, idx: Uint32Array, from: number, n: number, out: Float32Array, shift: number, rng: Rng | null) {
  for (let b = 0; b < n; b++) {
    const src = idx[from + b] * P;
    const dst = b * P;
    if (shift === 0 || rng === null) {
      out.set(data.images.subarray(src, src + P), dst);
      continue;
    }
    const sx = rng.int(2 * shift + 1) - shift;
    const sy = rng.int(2 * shift + 1) - shift;
    out.fill(0, dst, dst + P);
    for (let y = 0; y < SIDE; y++) {
      const ys = y - sy;
      if (ys < 0 || ys >= SIDE) continue;
      const x0 = Math.max(0, sx);
      const x1 = Math.min(SIDE, SIDE + sx);
      for (let x = x0; x < x1; x++) out[dst + y * SIDE + x] = data.images[src + ys * SIDE + (x - sx)];
    }
  }
}

