// CommonJS: the shipped VAE decoder and a new (untrained: the identity) hypernetwork; 8 samples of the digit 3.
const { Hypernetwork, SequentialModel, Sampler, oneHot } = require('hypernoise');

async function main() {
  const file = require.resolve('hypernoise/models/mnist-vae-decoder.safetensors');   // inside the package
  const gen = await SequentialModel.load(file);
  const hn = new Hypernetwork({ noiseDim: gen.inputDim, condDim: 10, rank: 16, seed: 0 });
  const sampler = new Sampler({ hypernetwork: hn, generator: gen });
  const { x, noise, baseNoise } = await sampler.sample({ n: 8, seed: 0, cond: oneHot(new Array(8).fill(3), 10) });
  const moved = noise.some((v, i) => v !== baseNoise[i]);
  console.log(`${x.length / 8} pixels per sample; noise moved: ${moved}`);
  // → 784 pixels per sample; noise moved: false
  hn.dispose();                                          // or leave it to the garbage collector
  gen.dispose();
}

main().catch((err) => {
  console.error(`${err.code}: ${err.message}`);           // every error of the library has a code (ERR_SHAPE, ...)
  process.exitCode = 1;
});
