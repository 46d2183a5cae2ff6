import { SequentialModel } from 'hypernoise';

const gen = await SequentialModel.load('models/mnist-vae-decoder.safetensors');   // 32 -> 784
const clf = await SequentialModel.load('models/mnist-classifier.safetensors');    // 784 -> 10 logits
console.log(`${gen.inputDim} -> ${gen.outputDim}, ${clf.inputDim} -> ${clf.outputDim}`);   // → 32 -> 784, 784 -> 10
