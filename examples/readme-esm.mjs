// ES module: a generator and a reward written in JavaScript (a model of any framework fits: return its outputs
// and its vector-Jacobian product). The generator is g(eps) = W eps; the reward pulls every output towards 2.
import { Hypernetwork, Trainer, generators, rewards } from 'hypernoise';

const D = 8;
const W = Float32Array.from({ length: D * D }, (_, k) => (k % (D + 1) === 0 ? 1 : 0.1));   // [D, D], row-major
const matmul = (a, n, transpose) => {                    // rows of a times W^T (or times W)
  const out = new Float32Array(n * D);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < D; j++)
      for (let k = 0; k < D; k++) out[i * D + j] += a[i * D + k] * (transpose ? W[j * D + k] : W[k * D + j]);
  return out;
};
const gen = generators.fromFunctions({
  inputDim: D, outputDim: D,
  forward: (eps, n) => matmul(eps, n, true),             // x = W eps
  vjp: (eps, dx, n) => matmul(dx, n, false),             // J^T dx = W^T dx
});
const reward = rewards.fromFunction((x, n, cond, needGrad) => {
  const value = new Float32Array(n);
  const grad = needGrad ? new Float32Array(n * D) : undefined;   // needGrad false: scoring only
  for (let i = 0; i < n * D; i++) {
    value[Math.floor(i / D)] -= 0.5 * (x[i] - 2) ** 2;
    if (grad) grad[i] = -(x[i] - 2);
  }
  return { value, grad };
});

const hn = new Hypernetwork({ noiseDim: D, rank: 8, seed: 0 });
const trainer = new Trainer({ hypernetwork: hn, generator: gen, reward, batchSize: 64, optimizer: { lr: 1e-2 } });
const { records } = await trainer.train({ steps: 300 });
console.log(`mean reward: ${records[0].reward.toFixed(2)} -> ${records.at(-1).reward.toFixed(2)}`);
