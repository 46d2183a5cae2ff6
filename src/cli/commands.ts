/**
 * npx hypernoise <command>: demo (the main job), analytic, train, sample, optimize, info.
 * Long runs show progress on stderr; --json prints results as JSON on stdout.
 */
import { runBench } from '../bench/run';
import { runDemo, methodTable } from './demo';
import { AnalyticResult, analyticProblem, runAnalytic, runAnalyticReno } from '../analytic';
import { Options, parseArgs } from './args';
import { backendInfo } from '../backend';
import { HypernoiseError } from '../errors';
import { Hypernetwork } from '../hypernetwork';
import { SequentialModel } from '../models';
import { BackendName, KlName } from '../native';
import { ProgressBar } from '../progress';
import { Reward, rewards } from '../rewards';
import { Sampler } from '../sampler';
import { formatTable } from '../table';
import { Trainer } from '../trainer';
import { TestTimeOptimizer } from '../tto';

const HELP = `hypernoise: noise hypernetworks for one-step generators

Usage: npx hypernoise <command> [options]

Commands:
  demo        the main job: MNIST, HyperNoise vs ReNO vs best-of-N vs the exact tilted target
                [--quick] [--out runs/demo] [--steps N] [--samples N-per-digit] [--seed 0]
  analytic    the closed-form Gaussian case: exact vs l2 KL against the true tilted distribution
  train       train a hypernetwork on a generator and reward
                --generator FILE --reward redness|brightness|classifier:FILE[:CLASS]
                --out FILE [--steps 1000] [--kl exact|l2|chi] [--rank 64] [--depth 1]
                [--activation silu] [--batch 64] [--lr 1e-3] [--lambda 1] [--alpha 1] [--seed 0]
                [--checkpoint FILE] [--checkpoint-every 100] [--resume FILE]
  sample      sample through a hypernetwork: --hypernetwork FILE --generator FILE [--n 16]
                [--seed 0] [--out samples.json]
  optimize    ReNO test-time optimisation: --generator FILE --reward ... [--n 16] [--iterations 50]
                [--lr 5] [--seed 0]
  bench       benchmarks against PyTorch: [--quick] [--isa avx512|avx2|neon|scalar] [--filter TEXT] [--no-peer] [--out DIR]
                [--load]: many n = 1 requests through Sampler and BatchingSampler (bench/RESULTS.md, "Load")
  info        backend, CPU ISA, threads, CUDA

Common options: --backend auto|cpu|cuda, --json, --quiet
`;

function rewardFrom(spec: string, backend: BackendName): Promise<Reward> | Reward {
  if (spec === 'redness') return rewards.redness();
  if (spec === 'brightness') return rewards.brightness();
  const m = /^classifier:(.+?)(?::(\d+))?$/.exec(spec);
  if (m) {
    return SequentialModel.load(m[1], { backend }).then((clf) => rewards.classifierLogProb(clf, m[2] === undefined ? undefined : Number(m[2])));
  }
  throw new HypernoiseError(`--reward: expected redness, brightness or classifier:FILE[:CLASS] but received '${spec}'`, 'ERR_ARGUMENT');
}

function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text() + '\n');
}

async function cmdInfo(o: Options): Promise<void> {
  const json = o.flag('json');
  o.finish();
  const info = backendInfo();
  print(json, info, () =>
    [
      `auto backend: ${info.auto}`,
      `cpu:  ISA ${info.cpu.isa}, ${info.cpu.threads} threads (HYPERNOISE_NUM_THREADS)`,
      `cuda: compiled ${info.cuda.compiled ? 'yes' : 'no'}, available ${info.cuda.available ? 'yes' : 'no'}`,
      `      ${info.cuda.reason}`,
    ].join('\n'),
  );
}

async function cmdAnalytic(o: Options): Promise<void> {
  const json = o.flag('json');
  const quiet = o.flag('quiet');
  const steps = o.int('steps', 3000);
  const samples = o.int('samples', 20000);
  o.finish();
  const problem = analyticProblem();
  const results: AnalyticResult[] = [];
  for (const kl of ['exact', 'l2'] as KlName[]) {
    const bar = new ProgressBar(`train kl=${kl}`, steps, process.stderr, !quiet && !json);
    results.push(await runAnalytic({ kl, steps, samples, problem, onProgress: (d) => bar.update(d) }));
  }
  const reno = await runAnalyticReno(problem);
  const value = { dim: problem.dim, samples, steps, results, reno };
  print(json, value, () =>
    [
      `Analytic case: g(eps) = W eps + b (D = P = ${problem.dim}), r(x) = -0.5 ||x - mu||^2 / sigma^2, alpha = 1.`,
      `The tilted noise distribution is Gaussian in closed form; errors are the largest absolute entry, on ${samples} samples.`,
      '',
      formatTable(
        ['kl', 'mean error', 'covariance error', 'train s'],
        results.map((r) => [r.kl, r.meanError, r.covError, r.seconds]),
      ),
      '',
      `ReNO (50 passes) mean reward: base ${reno.base.toFixed(3)} -> ${reno.reno.toFixed(3)}`,
    ].join('\n'),
  );
}

async function cmdTrain(o: Options): Promise<void> {
  const json = o.flag('json');
  const quiet = o.flag('quiet');
  const backend = o.string('backend', 'auto') as BackendName;
  const genFile = o.string('generator');
  const rewardSpec = o.string('reward');
  const out = o.string('out');
  if (!genFile || !rewardSpec || !out) throw new HypernoiseError('train needs --generator FILE, --reward SPEC and --out FILE', 'ERR_ARGUMENT');
  const steps = o.int('steps', 1000);
  const kl = o.string('kl', 'exact') as KlName;
  const rank = o.int('rank', 64);
  const depth = o.int('depth', 1);
  const activation = o.string('activation', 'silu');
  const batchSize = o.int('batch', 64);
  const lr = o.number('lr', 1e-3);
  const lambda = o.number('lambda', 1);
  const alpha = o.number('alpha', 1);
  const seed = o.int('seed', 0);
  const checkpointPath = o.string('checkpoint');
  const checkpointEvery = o.int('checkpoint-every', 100);
  const resume = o.string('resume');
  o.finish();
  const gen = await SequentialModel.load(genFile, { backend });
  const reward = await rewardFrom(rewardSpec, backend);
  let trainer: Trainer;
  if (resume) {
    trainer = await Trainer.fromCheckpoint(resume, { generator: gen, reward, backend });
  } else {
    const hn = new Hypernetwork({ noiseDim: gen.inputDim, rank, depth, activation: activation as never, seed, backend });
    trainer = new Trainer({ hypernetwork: hn, generator: gen, reward, kl, lambda, alpha, batchSize, seed, optimizer: { type: 'adam', lr, gradClip: 1 } });
  }
  const bar = new ProgressBar('train', steps, process.stderr, !quiet && !json);
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  const h = await trainer.train({
    steps,
    signal: ac.signal,
    checkpointPath,
    checkpointEvery: checkpointPath ? checkpointEvery : undefined,
    onProgress: (p) => bar.update(p.done, `reward ${p.reward.toFixed(3)} kl ${p.kl.toFixed(3)}`),
  });
  process.off('SIGINT', onSigint);
  await trainer.hypernetwork.save(out);
  const last = h.records.slice(-Math.min(20, h.records.length));
  const summary = {
    out,
    steps: h.step,
    seconds: h.seconds,
    reward: last.reduce((s, r) => s + r.reward, 0) / Math.max(1, last.length),
    kl: last.reduce((s, r) => s + r.kl, 0) / Math.max(1, last.length),
    skippedSteps: h.skippedSteps,
    nonInvertibleSamples: h.nonInvertibleSamples,
    diverged: h.diverged,
    aborted: h.aborted,
    fused: trainer.isFused,
  };
  print(json, summary, () => `saved ${out} after ${summary.steps} steps (${summary.seconds.toFixed(1)} s): reward ${summary.reward.toFixed(4)}, kl ${summary.kl.toFixed(4)}, skipped ${summary.skippedSteps}${h.diverged ? ' (DIVERGED)' : ''}${h.aborted ? ' (aborted)' : ''}`);
}

async function cmdSample(o: Options): Promise<void> {
  const json = o.flag('json');
  const backend = o.string('backend', 'auto') as BackendName;
  const hnFile = o.string('hypernetwork');
  const genFile = o.string('generator');
  if (!genFile) throw new HypernoiseError('sample needs --generator FILE (and --hypernetwork FILE)', 'ERR_ARGUMENT');
  const n = o.int('n', 16);
  const seed = o.int('seed', 0);
  const out = o.string('out', 'samples.json');
  o.finish();
  const gen = await SequentialModel.load(genFile, { backend });
  const hn = hnFile ? await Hypernetwork.load(hnFile, { backend }) : null;
  if (hn && hn.condDim > 0) throw new HypernoiseError('sample from the CLI supports unconditional hypernetworks; use the API for conditions', 'ERR_ARGUMENT');
  const s = await new Sampler({ hypernetwork: hn, generator: gen }).sample({ n, seed });
  const fs = await import('fs');
  await fs.promises.writeFile(out, JSON.stringify({ n, outputDim: s.outputDim, x: Array.from(s.x) }));
  print(json, { out, n }, () => `wrote ${n} samples to ${out}`);
}

async function cmdOptimize(o: Options): Promise<void> {
  const json = o.flag('json');
  const quiet = o.flag('quiet');
  const backend = o.string('backend', 'auto') as BackendName;
  const genFile = o.string('generator');
  const rewardSpec = o.string('reward');
  if (!genFile || !rewardSpec) throw new HypernoiseError('optimize needs --generator FILE and --reward SPEC', 'ERR_ARGUMENT');
  const n = o.int('n', 16);
  const iterations = o.int('iterations', 50);
  const lr = o.number('lr', 5);
  const seed = o.int('seed', 0);
  o.finish();
  const gen = await SequentialModel.load(genFile, { backend });
  const reward = await rewardFrom(rewardSpec, backend);
  const bar = new ProgressBar('reno', iterations, process.stderr, !quiet && !json);
  const t0 = Date.now();
  const r = await new TestTimeOptimizer({ generator: gen, reward, iterations, lr }).optimize({ n, seed, onProgress: (p) => bar.update(p.pass, `mean reward ${p.meanReward.toFixed(3)}`) });
  const mean = r.reward.reduce((s, v) => s + v, 0) / n;
  const summary = { n, iterations, initialReward: r.history[0], bestReward: mean, msPerSample: (Date.now() - t0) / n };
  print(json, summary, () => `ReNO on ${n} samples: mean reward ${summary.initialReward.toFixed(4)} -> ${mean.toFixed(4)} (${summary.msPerSample.toFixed(1)} ms/sample)`);
}

async function cmdDemo(o: Options): Promise<void> {
  const json = o.flag('json');
  const quiet = o.flag('quiet');
  const quick = o.flag('quick');
  const out = o.string('out', 'runs/demo');
  const backend = o.string('backend', 'auto') as BackendName;
  const stepsOpt = o.string('steps');
  const samplesOpt = o.string('samples');
  const seed = o.int('seed', 0);
  o.finish();
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  const report = await runDemo({
    quick,
    out,
    backend,
    seed,
    steps: stepsOpt === undefined ? undefined : Number(stepsOpt),
    samplesPerClass: samplesOpt === undefined ? undefined : Number(samplesOpt),
    verbose: !quiet && !json,
    signal: ac.signal,
  });
  process.off('SIGINT', onSigint);
  print(json, report, () =>
    [
      ...report.experiments.flatMap((e) => [
        '',
        `${e.name}: ${e.description} (${e.samplesPerClass} samples per digit, averaged over digits)`,
        methodTable(e, false),
        `HyperNoise recovers ${(100 * e.fractionRecovered).toFixed(1)}% of ReNO's reward gain at ${e.speedupVsReno.toFixed(0)}x less time per sample.`,
      ]),
      '',
      `Wrote ${out}/report.json, ${out}/report.md and ${report.experiments.map((e) => `${out}/${e.grid}`).join(', ')} (${report.seconds.toFixed(0)} s).`,
    ].join('\n'),
  );
}

async function cmdBench(_o: Options): Promise<void> {
  // The benchmark takes its own flags (see bench/RESULTS.md); pass everything after 'bench' through.
  const argv = process.argv.slice(process.argv.indexOf('bench') + 1);
  await runBench(argv);
}

const COMMANDS: Record<string, (o: Options) => Promise<void>> = {
  bench: cmdBench,
  demo: cmdDemo,
  analytic: cmdAnalytic,
  train: cmdTrain,
  sample: cmdSample,
  optimize: cmdOptimize,
  info: cmdInfo,
};

export async function main(argv: string[]): Promise<number> {
  const { command, positionals, options } = parseArgs(argv);
  if (command === undefined || command === 'help' || options.has('help')) {
    process.stdout.write(HELP);
    // Asking for help succeeds; a bare `hypernoise` is a usage error.
    return command === undefined && !options.has('help') ? 1 : 0;
  }
  const fn = COMMANDS[command];
  if (!fn) {
    process.stderr.write(`Unknown command '${command}'.\n\n${HELP}`);
    return 2;
  }
  if (positionals.length > 0) {
    // No command takes positional arguments: a stray one is a mistake (a missing --flag), not something to ignore.
    process.stderr.write(`hypernoise ${command}: unexpected argument${positionals.length > 1 ? 's' : ''} ${positionals.map((p) => `'${p}'`).join(' ')} (options are --name value) [ERR_ARGUMENT]\n`);
    return 1;
  }
  try {
    await fn(new Options(options));
    return 0;
  } catch (err) {
    if (err instanceof HypernoiseError) {
      process.stderr.write(`hypernoise ${command}: ${err.message} [${err.code}]\n`);
      return 1;
    }
    throw err;
  }
}
