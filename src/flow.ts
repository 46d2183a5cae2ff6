/**
 * Rectified flow on images and its distillation to a one-step generator
 * (DESIGN.md, "The distilled generator"). Everything here is plain SequentialModels: time enters as sinusoidal features concatenated
 * to the input, so the teacher v(y_t, t) and the student f(y_t, t) are MLPs over [y_t, phi(t)].
 *
 * Conventions: pixels x in [0, 1]; the flow lives in y = 2x - 1; y_t = t y + (1 - t) eps with eps ~ N(0, I),
 * so t = 0 is noise and t = 1 is data. The teacher is a denoiser: it predicts the clean pixels E[x | y_t]
 * (through a sigmoid), from which the flow's velocity is (2 x_hat - 1 - y_t) / (1 - t); an MLP predicting
 * the velocity y - eps directly would have to pass the 784-dimensional noise through itself as an
 * identity map, and its errors there stay in the samples as noise. The student has the same output: f(y_t, t)
 * approximates the pixels at the end of the teacher's ODE trajectory through (y_t, t).
 */
import { checkFloat32, checkInteger } from './checks';
import { expected, HypernoiseError } from './errors';
import { LayerSpec, SequentialModel } from './models';
import { Seed } from './native';
import { sampleNoise } from './noise';

/** Number of time features: sin and cos at TIME_FREQUENCIES frequencies. */
export const TIME_FREQUENCIES = 8;
export const TIME_FEATURES = 2 * TIME_FREQUENCIES;

/**
 * The features' amplitude: 16 features beside 784 pixels of unit scale would weigh 2 % of the first
 * layer's input at initialisation; at 5 they weigh a third, so the network sees time from the start.
 */
export const TIME_SCALE = 5;

/** phi(t): TIME_SCALE sin(w_k t), TIME_SCALE cos(w_k t) with w_k = pi 2^(k/2), k = 0..7 (periods 2 down to 0.18). */
export function timeFeatures(t: number, out: Float32Array = new Float32Array(TIME_FEATURES), offset = 0): Float32Array {
  for (let k = 0; k < TIME_FREQUENCIES; k++) {
    const w = Math.PI * Math.pow(2, k / 2);
    out[offset + k] = TIME_SCALE * Math.sin(w * t);
    out[offset + TIME_FREQUENCIES + k] = TIME_SCALE * Math.cos(w * t);
  }
  return out;
}

/** Rows [y_i, phi(t_i)] for n rows of width d; `t` is one time for all rows or one per row. */
export function withTime(y: Float32Array, d: number, t: number | ArrayLike<number>, out?: Float32Array): Float32Array {
  const n = y.length / d;
  if (!Number.isInteger(n)) throw new HypernoiseError(`withTime: ${y.length} values are not rows of ${d}`, 'ERR_SHAPE');
  const w = d + TIME_FEATURES;
  const res = out ?? new Float32Array(n * w);
  const phi = new Float32Array(TIME_FEATURES);
  for (let i = 0; i < n; i++) {
    res.set(y.subarray(i * d, (i + 1) * d), i * w);
    timeFeatures(typeof t === 'number' ? t : t[i], phi);
    res.set(phi, i * w + d);
  }
  return res;
}

/**
 * The one-step generator eps -> pixels: the student at t = 0, with phi(0) folded into the first layer's
 * bias (b + W_t phi(0)), so that it is a plain D -> P SequentialModel the hypernetwork, ReNO and the
 * trainer's fused step can drive. Same function as the student at t = 0, to float32 rounding.
 */
export function oneStepGenerator(student: SequentialModel): SequentialModel {
  const first = student.layers[0];
  if (first.type !== 'linear' || first.in <= TIME_FEATURES) throw expected('a student whose first layer is linear over [y, phi(t)]', 'student', first);
  const D = first.in - TIME_FEATURES;
  const layers: LayerSpec[] = [{ type: 'linear', in: D, out: first.out }, ...(student.layers.slice(1) as LayerSpec[])];
  const { weight, bias } = student.layerParams(0);
  const phi0 = timeFeatures(0);
  const w = new Float32Array(first.out * D);
  const b = new Float32Array(first.out);
  for (let o = 0; o < first.out; o++) {
    let s = bias[o];
    for (let k = 0; k < TIME_FEATURES; k++) s += weight[o * first.in + D + k] * phi0[k];
    b[o] = s;
    w.set(weight.subarray(o * first.in, o * first.in + D), o * D);
  }
  const params = layers.map((l, i) => (i === 0 ? { weight: w, bias: b } : l.type === 'linear' ? student.layerParams(i) : null));
  return SequentialModel.fromLayerParams(layers, params, { backend: student.backend });
}

/** The times of an n-step sampler: 0, 1/n, ..., (n-1)/n (one step: the student at t = 0 alone). */
export function stepTimes(steps: number): number[] {
  checkInteger(steps, 'steps', 1, 64);
  return Array.from({ length: steps }, (_, k) => k / steps);
}

export interface FewStepOptions {
  /** the time-conditional student f([y_t, phi(t)]) -> pixels in [0, 1] */
  student: SequentialModel;
  /** the first noise (n x D): the one a hypernetwork moves */
  noise: Float32Array;
  steps: number;
  /** seeds the fresh noise of steps 2.. (sample i of step k is row i of stream 0x4653 + k) */
  seed: Seed;
}

/**
 * Few-step sampling as consistency models do it: x = f(eps, 0); then for each later time t_k,
 * y_t = t_k (2x - 1) + (1 - t_k) eps_k with fresh noise and x = f(y_t, t_k). Returns pixels (n x P).
 */
export async function fewStepSample(opts: FewStepOptions): Promise<Float32Array> {
  const { student } = opts;
  const D = student.inputDim - TIME_FEATURES;
  checkFloat32(opts.noise, 'noise');
  const n = opts.noise.length / D;
  if (!Number.isInteger(n)) throw new HypernoiseError(`fewStepSample: noise of ${opts.noise.length} values is not rows of ${D}`, 'ERR_SHAPE');
  if (student.outputDim !== D) throw new HypernoiseError(`fewStepSample: the student maps ${D} to ${student.outputDim} values; few-step sampling needs output = noise size`, 'ERR_SHAPE');
  const times = stepTimes(opts.steps);
  const input = new Float32Array(n * student.inputDim);
  let x = await student.forward(withTime(opts.noise, D, 0, input));
  for (let k = 1; k < times.length; k++) {
    const t = times[k];
    const eps = sampleNoise({ n, dim: D, seed: opts.seed, stream: 0x4653 + k });
    const y = new Float32Array(n * D);
    for (let i = 0; i < y.length; i++) y[i] = t * (2 * x[i] - 1) + (1 - t) * eps[i];
    x = await student.forward(withTime(y, D, t, input));
  }
  return x;
}

/**
 * The objective of both models: binary cross-entropy of pixel logits against target pixels (soft targets
 * in [0, 1]: the clean image for the teacher, the teacher's endpoint for the student), summed over pixels
 * and averaged over rows. Returns the loss and its gradient with respect to the logits, (sigmoid(l) - target) / n.
 */
export function distillationLoss(logits: Float32Array, target: Float32Array, rows: number): { loss: number; dlogits: Float32Array } {
  if (logits.length !== target.length) throw new HypernoiseError(`distillationLoss: ${logits.length} logits vs ${target.length} targets`, 'ERR_SHAPE');
  const d = new Float32Array(logits.length);
  let loss = 0;
  for (let i = 0; i < logits.length; i++) {
    const l = logits[i];
    const y = target[i];
    // softplus(l) - y l, stably
    loss += (l > 0 ? l + Math.log1p(Math.exp(-l)) : Math.log1p(Math.exp(l))) - y * l;
    d[i] = (1 / (1 + Math.exp(-l)) - y) / rows;
  }
  return { loss: loss / rows, dlogits: d };
}

/**
 * Integrates the rectified-flow ODE from t0 to 1 in `steps` equal steps with a denoising teacher
 * (x_hat = teacher([y_t, phi(t)]) in pixels): the velocity is v = (2 x_hat - 1 - y) / (1 - t). Heun's
 * method on every step but the last, which is an Euler step (it lands on y = 2 x_hat - 1, the denoised
 * image, without evaluating at t = 1, where v divides by zero): 2 steps - 1 evaluations. `y` (n x D) is
 * overwritten with the end point, in flow coordinates.
 */
export function teacherSolve(teacher: SequentialModel, y: Float32Array, t0: number, steps: number): Float32Array {
  const D = teacher.outputDim;
  const n = y.length / D;
  const h = (1 - t0) / steps;
  const input = new Float32Array(n * teacher.inputDim);
  const pred = new Float32Array(n * D);
  const velocity = (at: Float32Array, t: number): Float32Array => {
    const x = teacher.forwardSync(withTime(at, D, t, input));
    for (let i = 0; i < x.length; i++) x[i] = (2 * x[i] - 1 - at[i]) / (1 - t);
    return x;
  };
  for (let s = 0; s < steps; s++) {
    const t = t0 + s * h;
    const v1 = velocity(y, t);
    if (s === steps - 1) {
      for (let i = 0; i < y.length; i++) y[i] += h * v1[i];
      break;
    }
    for (let i = 0; i < y.length; i++) pred[i] = y[i] + h * v1[i];
    const v2 = velocity(pred, t + h);
    for (let i = 0; i < y.length; i++) y[i] += 0.5 * h * (v1[i] + v2[i]);
  }
  return y;
}
