// Errors are HypernoiseError with a stable code and a message that says what was expected.
import { Hypernetwork, HypernoiseError, SequentialModel, Trainer, rewards } from 'hypernoise';

const report = async (f: () => unknown): Promise<void> => {
  try {
    await f();
  } catch (err) {
    if (!(err instanceof HypernoiseError)) throw err;
    console.log(`${err.code}: ${err.message}`);
  }
};
const gen = await SequentialModel.load('models/mnist-vae-decoder.safetensors');
const hn = new Hypernetwork({ noiseDim: gen.inputDim });
await report(() => hn.forward(new Float32Array(33)));
// → ERR_SHAPE: Expected eps to hold whole rows of 32 values but its length 33 is not a multiple of 32
await report(() => hn.forward(new Float32Array(32), null, new Float32Array(31)));
// → ERR_SHAPE: Expected out to have length 32 but received length 31
const options = { hypernetwork: hn, generator: gen, reward: rewards.brightness(), batch: 64 };  // tsc accepts it ...
await report(() => new Trainer(options));                // ... the library does not ignore it
// → ERR_ARGUMENT: Unknown option 'batch' for Trainer (did you mean 'batchSize'?); the options are: hypernetwork, generator, reward, kl, lambda, alpha, optimizer, batchSize, noise, seed, conditions
await report(() => Hypernetwork.load('models/mnist-vae-decoder.safetensors'));
// → ERR_FILE: models/mnist-vae-decoder.safetensors: expected a hypernoise hypernetwork file but its format is "sequential"
const trainer = new Trainer({ hypernetwork: hn, generator: gen, reward: rewards.brightness() });
await trainer.saveCheckpoint('checkpoint.safetensors');
await report(() => Hypernetwork.load('checkpoint.safetensors'));   // a checkpoint is read by Trainer.fromCheckpoint
// → ERR_FILE: checkpoint.safetensors: expected a hypernoise hypernetwork file but its format is "checkpoint"
