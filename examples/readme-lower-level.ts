// Lower level: the hypernetwork's pieces, in a training loop of your own (plain SGD on lambda·KL − reward).
import { Hypernetwork, SequentialModel, rewards, sampleNoise, oneHot } from 'hypernoise';

const gen = await SequentialModel.load('models/mnist-vae-decoder.safetensors');
const clf = await SequentialModel.load('models/mnist-classifier.safetensors');
const reward = rewards.classifierLogProb(clf);
const n = 64, D = gen.inputDim, P = gen.outputDim, lambda = 1;
const hn = new Hypernetwork({ noiseDim: D, condDim: 10, rank: 16, seed: 0 });
const cond = oneHot(Array.from({ length: n }, (_, i) => i % 10), 10);   // n x 10: digits 0..9 in turn
const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;

for (let step = 0; step < 50; step++) {
  const eps = sampleNoise({ n, dim: D, seed: step });   // the Philox noise Sampler.sample draws for that seed
  const { epsHat, stats } = await hn.forwardTrain(eps, cond, 'exact');   // T(eps, c), KL terms per sample
  const x = await gen.forward(epsHat);                  // n x P
  const r = await reward.evaluate(x, P, cond, 10, true);   // value [n], grad = dr/dx [n x P]
  const dEpsHat = await gen.vjp(epsHat, r.grad!);       // J_g^T dr/dx
  await hn.backward(dEpsHat, 'exact', lambda / n, -1 / n);   // the gradient of mean(lambda·KL − r) ...
  const grad = hn.getGradient();                        // ... with respect to the parameters
  hn.setParams(hn.getParams().map((p, i) => p - 0.1 * grad[i]));
  if (step % 10 === 0) console.log(`step ${step}: reward ${mean(r.value).toFixed(2)}, KL ${mean(stats.exact).toFixed(3)}`);
}

const eps = sampleNoise({ n, dim: D, seed: 1000 });
const epsHat = await hn.forward(eps, cond);             // eps + f(eps, c); forwardSync is the synchronous twin
const kl = await hn.kl(eps, cond);   // per sample: l2 = 0.5||f||², trace = Tr J_f, logdet = log det(I + J_f),
                                     // exact = l2 + trace − logdet, chi, nonInvertible; each its own array
const x = await gen.forward(epsHat, new Float32Array(n * P));   // an output array of yours may be passed in
console.log(`KL(q || N(0, I)) ≈ ${mean(kl.exact).toFixed(3)}; ${x.length / n} pixels per sample`);
