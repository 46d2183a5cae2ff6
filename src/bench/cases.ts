/**
 * The benchmark cases: each native op at MNIST scale (the shipped generator) and SD-Turbo scale
 * (D = 4x64x64 = 16384, r = 128, a 16384->256->256 generator stand-in), with its FLOP count and the
 * same math for the PyTorch peer (bench/peers/torch_ops.py).
 */
import * as path from 'path';
import { Hypernetwork } from '../hypernetwork';
import { LayerSpec, SequentialModel } from '../models';
import { native, packageDir } from '../native';
import { oneHotRandomClasses, Rng, sampleNoise } from '../noise';
import { ModelOptimizer } from '../optimizer';
import { BuiltinReward, rewards } from '../rewards';
import { Sampler } from '../sampler';
import { Trainer } from '../trainer';
import { bestOfN, TestTimeOptimizer } from '../tto';

export interface Case {
  name: string;
  scale: 'mnist' | 'sd-turbo' | 'gemm' | 'scaling';
  params: Record<string, number | string>;
  /** floating-point operations of one call (0: not compute-bound, no GFLOP/s) */
  flops: number;
  /** samples produced per call (throughput cases) */
  samples?: number;
  /** returns the function to time; called once, outside the timing */
  setup: () => () => unknown | Promise<unknown>;
  peer?: { op: string; params: Record<string, number | string> };
  /** timing repetitions (expensive cases) */
  reps?: number;
}

const MODELS = path.join(packageDir(), 'models');
export const GENERATOR_FILE = path.join(MODELS, 'mnist-vae-decoder.safetensors');
export const CLASSIFIER_FILE = path.join(MODELS, 'mnist-classifier.safetensors');

interface Scale {
  name: 'mnist' | 'sd-turbo';
  D: number;
  r: number;
  n: number;
  /** generator layers (null: the shipped MNIST decoder) */
  genLayers: LayerSpec[] | null;
  P: number;
  /** generator FLOPs per sample, forward */
  genFlops: number;
  C: number;
}

export const MNIST: Scale = {
  name: 'mnist',
  D: 32,
  r: 64,
  n: 256,
  genLayers: null,
  P: 784,
  genFlops: 2 * (32 * 256 + 256 * 512 + 512 * 784),
  C: 10,
};

export function sdScale(n: number): Scale {
  return {
    name: 'sd-turbo',
    D: 16384,
    r: 128,
    n,
    genLayers: [{ type: 'linear', in: 16384, out: 256 }, { type: 'silu' }, { type: 'linear', in: 256, out: 256 }],
    P: 256,
    genFlops: 2 * (16384 * 256 + 256 * 256),
    C: 0,
  };
}

const modelCache = new Map<string, Promise<SequentialModel>>();

export async function generatorOf(s: Scale): Promise<SequentialModel> {
  const key = s.genLayers ? JSON.stringify(s.genLayers) : GENERATOR_FILE;
  if (!modelCache.has(key)) {
    modelCache.set(key, s.genLayers ? Promise.resolve(SequentialModel.fromLayers(s.genLayers, { seed: 1, backend: 'cpu' })) : SequentialModel.load(GENERATOR_FILE, { backend: 'cpu' }));
  }
  return modelCache.get(key) as Promise<SequentialModel>;
}

let classifier: Promise<SequentialModel> | undefined;
function classifierModel(): Promise<SequentialModel> {
  if (!classifier) classifier = SequentialModel.load(CLASSIFIER_FILE, { backend: 'cpu' });
  return classifier;
}

async function rewardOf(s: Scale): Promise<BuiltinReward> {
  return s.name === 'mnist' ? rewards.classifierLogProb(await classifierModel()) : rewards.brightness();
}

export function peerScale(s: Scale): Record<string, number | string> {
  const p: Record<string, number | string> = { D: s.D, r: s.r, n: s.n, L: 1, act: 'silu', P: s.P, C: s.C };
  if (!s.genLayers) {
    p.generator = GENERATOR_FILE;
    p.reward = 'classifier';
    p.classifier = CLASSIFIER_FILE;
  } else {
    p.hidden = 256;
    p.reward = 'brightness';
  }
  return p;
}

export function hypernet(s: Scale): Hypernetwork {
  const hn = new Hypernetwork({ noiseDim: s.D, condDim: s.C, rank: s.r, activation: 'silu', seed: 1, backend: 'cpu' });
  // A non-zero output layer, as after training (nothing is special-cased for zeros, but be fair).
  const p = hn.getParams();
  const [bOff, bLen] = hn.tensorLayout.B;
  p.set(sampleNoise({ n: 1, dim: bLen, seed: 2 }).map((v) => 0.01 * v), bOff);
  hn.setParams(p);
  return hn;
}

/** 10 n D r: forward 4nDr, backward dB, dh, dA 2nDr each. */
function fwdBwdFlops(s: Scale, exact: boolean): number {
  const base = 10 * s.n * s.D * s.r;
  // exact: K = sAB (2r^2 D), dA and dB terms (4 r^2 D), per-sample inverse (~2 r^3)
  return exact ? base + 6 * s.r * s.r * s.D + 2 * s.n * s.r ** 3 : base;
}

export function opCases(s: Scale, set: 'all' | 'core' = 'all'): Case[] {
  const { D, r, n } = s;
  const tag = `${s.name}/n${n}`;
  const pp = peerScale(s);
  const cond = s.C > 0 ? oneHotRandomClasses(n, s.C, new Rng(1, 0)) : null;
  const cases: Case[] = [
    {
      name: `hypernet_forward/${tag}`,
      scale: s.name,
      params: { D, r, n },
      flops: 4 * n * D * r,
      setup: () => {
        const hn = hypernet(s);
        const eps = sampleNoise({ n, dim: D, seed: 3 });
        const out = new Float32Array(n * D); // reused, as PyTorch's caching allocator reuses its memory
        return () => hn.forwardSync(eps, cond, out);
      },
      peer: { op: 'hypernet_forward', params: pp },
    },
  ];
  for (const kl of ['l2', 'exact'] as const) {
    cases.push({
      name: `hypernet_fwd_bwd_${kl}/${tag}`,
      scale: s.name,
      params: { D, r, n, kl },
      flops: fwdBwdFlops(s, kl === 'exact'),
      setup: () => {
        const hn = hypernet(s);
        const eps = sampleNoise({ n, dim: D, seed: 3 });
        const g = sampleNoise({ n, dim: D, seed: 4 });
        const out = new Float32Array(n * D);
        return () => {
          hn.native.forwardTrainSync(eps, cond, n, kl, out, null);
          hn.native.backwardSync(g, n, kl, 1 / n, 1);
        };
      },
      peer: { op: 'hypernet_fwd_bwd', params: { ...pp, kl } },
    });
  }
  if (set === 'core') return cases;
  const genSetup = async () => generatorOf(s);
  cases.push(
    {
      name: `generator_forward/${tag}`,
      scale: s.name,
      params: { D, P: s.P, n },
      flops: n * s.genFlops,
      setup: () => {
        const x = sampleNoise({ n, dim: D, seed: 5 });
        const out = new Float32Array(n * s.P);
        let gen: SequentialModel | undefined;
        return async () => {
          gen ??= await genSetup();
          gen.forwardSync(x, out);
        };
      },
      peer: { op: 'seq_forward', params: pp },
    },
    {
      name: `generator_vjp/${tag}`,
      scale: s.name,
      params: { D, P: s.P, n },
      flops: 2 * n * s.genFlops,
      setup: () => {
        const x = sampleNoise({ n, dim: D, seed: 5 });
        const dy = sampleNoise({ n, dim: s.P, seed: 6 });
        let gen: SequentialModel | undefined;
        return async () => {
          gen ??= await genSetup();
          gen.vjpSync(x, dy);
        };
      },
      peer: { op: 'seq_vjp', params: pp },
    },
    {
      name: `adam_step/${tag}`,
      scale: s.name,
      params: { count: 2 * D * r + D + r },
      flops: 0,
      setup: () => {
        const m = SequentialModel.fromLayers([{ type: 'linear', in: D, out: 2 * r }], { seed: 1, backend: 'cpu' });
        const opt = new ModelOptimizer(m, { type: 'adam', lr: 1e-3, gradClip: 1 });
        const g = sampleNoise({ n: 1, dim: m.paramCount, seed: 7 });
        return () => opt.step(g);
      },
      peer: { op: 'adam_step', params: { count: 2 * D * r + D + r } },
    },
  );
  for (const kl of ['exact', 'l2'] as const) {
    cases.push({
      name: `train_step_${kl}/${tag}`,
      scale: s.name,
      params: { D, r, n, kl },
      flops: fwdBwdFlops(s, kl === 'exact') + 2 * n * s.genFlops,
      reps: 30,
      setup: () => {
        let trainer: Trainer | undefined;
        return async () => {
          if (!trainer) {
            trainer = new Trainer({
              hypernetwork: hypernet(s),
              generator: await generatorOf(s),
              reward: await rewardOf(s),
              kl,
              batchSize: n,
              optimizer: { type: 'adam', lr: 1e-3, gradClip: 1 },
              conditions: s.C > 0 ? (k, rng) => oneHotRandomClasses(k, s.C, rng) : undefined,
            });
            if (!trainer.isFused) throw new Error('the benchmark expects the fused step');
          }
          await trainer.stepOnce();
        };
      },
      peer: { op: 'train_step', params: { ...pp, kl } },
    });
  }
  cases.push(
    {
      name: `sample_base/${tag}`,
      scale: s.name,
      params: { D, n },
      flops: n * s.genFlops,
      samples: n,
      setup: () => {
        let sampler: Sampler | undefined;
        let seed = 0;
        return async () => {
          sampler ??= new Sampler({ generator: await generatorOf(s) });
          await sampler.sample({ n, seed: seed++ });
        };
      },
      peer: { op: 'sample', params: { ...pp, hypernet: 0 } },
    },
    {
      name: `sample_hypernoise/${tag}`,
      scale: s.name,
      params: { D, r, n },
      flops: n * s.genFlops + 4 * n * D * r,
      samples: n,
      setup: () => {
        let sampler: Sampler | undefined;
        let seed = 0;
        return async () => {
          sampler ??= new Sampler({ hypernetwork: hypernet(s), generator: await generatorOf(s) });
          await sampler.sample({ n, seed: seed++, cond });
        };
      },
      peer: { op: 'sample', params: { ...pp, hypernet: 1 } },
    },
  );
  return cases;
}

/** ReNO and best-of-N per sample (expensive: few reps). */
export function baselineCases(s: Scale, n: number): Case[] {
  const pp = { ...peerScale(s), n, iterations: 50 };
  const cond = s.C > 0 ? oneHotRandomClasses(n, s.C, new Rng(1, 0)) : null;
  return [
    {
      name: `reno/${s.name}/n${n}`,
      scale: s.name,
      params: { D: s.D, n, iterations: 50 },
      flops: 50 * 2 * n * s.genFlops,
      samples: n,
      reps: 5,
      setup: () => {
        let tto: TestTimeOptimizer | undefined;
        let seed = 0;
        return async () => {
          tto ??= new TestTimeOptimizer({ generator: await generatorOf(s), reward: await rewardOf(s) });
          await tto.optimize({ n, seed: seed++, cond });
        };
      },
      peer: { op: 'reno', params: pp },
    },
    {
      name: `best_of_50/${s.name}/n${n}`,
      scale: s.name,
      params: { D: s.D, n, candidates: 50 },
      flops: 50 * n * s.genFlops,
      samples: n,
      reps: 5,
      setup: () => {
        let seed = 0;
        return async () => bestOfN({ generator: await generatorOf(s), reward: await rewardOf(s), n, candidates: 50, seed: seed++, cond });
      },
    },
  ];
}

export function gemmCases(sizes: number[]): Case[] {
  return sizes.map((k) => ({
    name: `gemm/${k}x${k}x${k}`,
    scale: 'gemm' as const,
    params: { m: k, n: k, k },
    flops: 2 * k * k * k,
    setup: () => {
      const a = sampleNoise({ n: k, dim: k, seed: 1 });
      const b = sampleNoise({ n: k, dim: k, seed: 2 });
      const c = new Float32Array(k * k);
      return () => native()._gemm(false, false, k, k, k, a, b, c);
    },
    peer: { op: 'gemm', params: { m: k, n: k, k } },
  }));
}

/** Hypernetwork forward against batch size, noise dimension and rank (for the scaling plots). */
export function scalingCases(quick: boolean): Case[] {
  const out: Case[] = [];
  const add = (axis: string, D: number, r: number, n: number) => {
    const c = opCases({ ...sdScale(n), D, r }, 'core')[0];
    out.push({ ...c, name: `scaling/${axis}/D${D}/r${r}/n${n}`, scale: 'scaling', params: { ...c.params, axis } });
  };
  const ns = quick ? [8, 64] : [4, 8, 16, 32, 64, 128, 256];
  const Ds = quick ? [1024, 16384] : [256, 1024, 4096, 16384, 65536];
  const rs = quick ? [32, 128] : [16, 32, 64, 128, 256, 512];
  for (const n of ns) add('batch', 16384, 128, n);
  for (const D of Ds) add('noiseDim', D, 128, 64);
  for (const r of rs) add('rank', 16384, r, 64);
  return out;
}
