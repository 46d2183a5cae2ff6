// The distilled diffusion generator, in one step or a few, and the fine-tuning baseline.
import { Hypernetwork, SequentialModel, rewards, sampleNoise, oneHot, oneStepGenerator, fewStepSample,
         fineTuneGenerator } from 'hypernoise';

const student = await SequentialModel.load('models/mnist-flow-student.safetensors');   // f([y_t, phi(t)]) -> pixels
const oneStep = oneStepGenerator(student);               // 784 -> 784: the student at t = 0, a plain model
const clf = await SequentialModel.load('models/mnist-classifier.safetensors');
const reward = rewards.classifierLogProb(clf);
const hn = new Hypernetwork({ noiseDim: oneStep.inputDim, condDim: 10, rank: 8 });   // train it as in the block above
const cond = oneHot(new Array(16).fill(3), 10);
const eps = sampleNoise({ n: 16, dim: oneStep.inputDim, seed: 1 });
const x1 = await oneStep.forward(await hn.forward(eps, cond));                          // one step
const x4 = await fewStepSample({ student, noise: await hn.forward(eps, cond), steps: 4, seed: 1 });   // four
const ft = await fineTuneGenerator({ generator: oneStep, reward, cond: oneHot([3], 10), steps: 5, batchSize: 16 });
console.log(`${x1.length / 16} and ${x4.length / 16} pixels per sample`);   // → 784 and 784 pixels per sample
console.log(`fine-tuned reward ${ft.rewardStart.toFixed(2)} -> ${ft.rewardEnd.toFixed(2)} (a copy of the generator)`);
