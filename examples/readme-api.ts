import { Hypernetwork, SequentialModel, rewards, Trainer, Sampler, BatchingSampler, TestTimeOptimizer, bestOfN,
         oneHot, oneHotRandomClasses, backendInfo, Rng } from 'hypernoise';

console.log(`backend: ${backendInfo().auto}`);           // 'cpu' or 'cuda'; backendInfo() also says why
const gen = await SequentialModel.load('models/mnist-vae-decoder.safetensors');   // noise [32] -> pixels [784]
const clf = await SequentialModel.load('models/mnist-classifier.safetensors');    // pixels [784] -> 10 logits
const reward = rewards.classifierLogProb(clf);           // log p_clf(c | x); c: argmax of each sample's condition
const hn = new Hypernetwork({ noiseDim: gen.inputDim, condDim: 10, rank: 64, depth: 1,
                              activation: 'silu', scale: 1, seed: 0, backend: 'auto' });
const classes = (n: number, rng: Rng) => oneHotRandomClasses(n, 10, rng);   // a random digit per sample
const trainer = new Trainer({
  hypernetwork: hn, generator: gen, reward,
  kl: 'exact', lambda: 1, alpha: 1,
  optimizer: { type: 'adam', lr: 2e-3, gradClip: 1, warmupSteps: 50, decaySteps: 450, minLr: 1e-4 },
  batchSize: 128, noise: 'inf',                          // 'inf' | 'batch' | 'one', as in the paper's code
  conditions: classes,
});
const stop = new AbortController();                      // stop.abort(): training ends after the current step
const history = await trainer.train({ steps: 500, signal: stop.signal,
  checkpointEvery: 250, checkpointPath: 'hn.checkpoint.safetensors',  // a checkpoint: not a hypernetwork file
  onProgress: (p) => { if (p.done % 100 === 0) console.log(`step ${p.done}: reward ${p.reward.toFixed(2)}`); } });
console.log(`trained ${history.step} steps in ${history.seconds.toFixed(1)} s`);
await hn.save('hn.safetensors');                         // the hypernetwork alone: Hypernetwork.load reads it

const cond = oneHot(new Array(64).fill(3), 10);          // 64 samples of the digit 3
const sampler = new Sampler({ hypernetwork: hn, generator: gen });
const out = await sampler.sample({ n: 64, seed: 1, cond });
// out.x: pixels [n*784]; out.noise: eps_hat = T(eps, c) [n*32]; out.baseNoise: eps [n*32]
const base = await new Sampler({ generator: gen }).sample({ n: 64, seed: 1 });   // the generator alone
const meanReward = async (x: Float32Array) =>      // needGrad false: scoring only
  ((await reward.evaluate(x, gen.outputDim, cond, 10, false)).value.reduce((s, v) => s + v, 0) / 64).toFixed(2);
console.log(`reward of a 3: base ${await meanReward(base.x)}, HyperNoise ${await meanReward(out.x)}`);

const reused = new Float32Array(gen.outputDim);
sampler.sampleSync({ n: 1, seed: 7, cond: oneHot([3], 10), out: { x: reused } });   // one native call, into `reused`
const server = new BatchingSampler({ hypernetwork: hn, generator: gen, maxBatch: 64 });
const digits = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) =>
  server.sample({ seed: d, cond: oneHot([d], 10), signal: stop.signal })));      // concurrent calls share native calls
console.log(`${digits.length} requests in ${server.stats.batches} native call(s)`);
await server.close();

const reno = new TestTimeOptimizer({ generator: gen, reward });
const { iterations, lr, gradClip } = reno.config;
console.log(`ReNO: ${iterations} passes, lr ${lr}, clip ${gradClip}`);   // → ReNO: 50 passes, lr 5, clip 0.1
const tto = await reno.optimize({ n: 64, seed: 1, cond });
const bon = await bestOfN({ generator: gen, reward, n: 64, candidates: 50, seed: 1, cond });
console.log(`reward of a 3: ReNO ${await meanReward(tto.x)}, best-of-50 ${await meanReward(bon.x)}`);

const hn2 = await Hypernetwork.load('hn.safetensors');   // the same map as hn
const resumed = await Trainer.fromCheckpoint('hn.checkpoint.safetensors',   // the run, to train further
  { generator: gen, reward, conditions: classes });
console.log(`resumed at step ${resumed.step} with rank ${hn2.rank}`);   // → resumed at step 500 with rank 64
