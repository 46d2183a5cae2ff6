// TypeScript, in an ES module project ("type": "module"; tsconfig "module": "node16" or "nodenext"): a
// class-conditional hypernetwork on the shipped MNIST models, 300 training steps (a few seconds).
import { createRequire } from 'node:module';
import { Hypernetwork, SequentialModel, Trainer, Sampler, rewards, oneHot, oneHotRandomClasses } from 'hypernoise';

const shipped = (name: string) => createRequire(import.meta.url).resolve(`hypernoise/models/${name}.safetensors`);
const gen = await SequentialModel.load(shipped('mnist-vae-decoder'));   // noise [32] -> pixels [784]
const clf = await SequentialModel.load(shipped('mnist-classifier'));    // pixels [784] -> 10 logits
const hn = new Hypernetwork({ noiseDim: gen.inputDim, condDim: 10, rank: 32 });
const trainer = new Trainer({
  hypernetwork: hn, generator: gen, batchSize: 128, optimizer: { lr: 3e-3 },
  reward: rewards.classifierLogProb(clf),                 // log p(c | x), c: the one-hot condition's digit
  conditions: (n, rng) => oneHotRandomClasses(n, 10, rng),
});
await trainer.train({ steps: 300 });

// How many of 100 samples the classifier reads as the digit 3, without and with the hypernetwork.
const threes = async (hypernetwork: Hypernetwork | null): Promise<number> => {
  const sampler = new Sampler({ hypernetwork, generator: gen });
  const { x } = await sampler.sample({ n: 100, seed: 1, cond: oneHot(new Array(100).fill(3), 10) });
  const logits = await clf.forward(x);
  let count = 0;
  for (let i = 0; i < 100; i++) {
    const row = Array.from(logits.subarray(10 * i, 10 * i + 10));
    if (row.indexOf(Math.max(...row)) === 3) count++;
  }
  return count;
};
console.log(`threes out of 100: ${await threes(null)} without, ${await threes(hn)} with the hypernetwork`);
