/**
 * hypernoise: noise hypernetworks for one-step generators (Eyring et al., 2025), with the exact noise
 * KL, ReNO and best-of-N baselines, over hand-written C++ and CUDA kernels.
 */
export { HypernoiseError, ErrorCode } from './errors';
export { backendInfo, BackendInfo } from './backend';
export { BackendName, ActivationName, KlName, Seed } from './native';
export { sampleNoise, SampleNoiseOptions, Rng, oneHot, oneHotRandomClasses, NoiseStream } from './noise';
export { SequentialModel, LayerSpec, Generator, generators, FunctionGeneratorSpec, ACTIVATIONS } from './models';
export { Hypernetwork, HypernetworkOptions, KlStats } from './hypernetwork';
export { rewards, Reward, RewardValue, RewardFunction, ClassOf, BuiltinReward } from './rewards';
export { Trainer, TrainerOptions, TrainOptions, TrainHistory, TrainProgress, StepRecord, NoiseMode } from './trainer';
export { ModelOptimizer, OptimizerOptions, OptimizerStep } from './optimizer';
export { Sampler, SampleOptions, SampleResult, SampleOutputs, INLINE_FLOPS } from './sampler';
export { BatchingSampler, BatchingSamplerOptions, BatchRequest } from './batching';
export { TestTimeOptimizer, RenoOptions, OptimizeOptions, OptimizeResult, bestOfN, BestOfNOptions, BestOfNResult } from './tto';
export { parseIdx, readIdx, IdxArray } from './idx';
export { loadMnist, MnistData, MnistSplit } from './mnist';
export { evaluate, EvaluateOptions, EvaluationReport, MethodMetrics, evaluateSampler, EvaluateSamplerOptions, SamplerEvaluation } from './eval';
export { fineTuneGenerator, fineTuneGradient, FineTuneOptions, FineTuneResult } from './finetune';
export { oneStepGenerator, fewStepSample, FewStepOptions, stepTimes, timeFeatures, withTime, distillationLoss, teacherSolve, TIME_FEATURES, TIME_SCALE } from './flow';
export { sampleQuality, SampleQuality, featureExtractor, featureGaussian, FeatureGaussian } from './quality';
export { readSafetensors, writeSafetensors, parseSafetensors, serializeSafetensors, Tensor, SafetensorsFile } from './safetensors';
