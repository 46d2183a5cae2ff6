/**
 * npx hypernoise <command>: the dispatcher, the general help and the small commands (demo, analytic, info,
 * bench); train, sample, optimize and best-of-n live in their own files. Every command declares its options
 * (args.ts), has its own --help, and refuses unknown options and stray arguments (exit 2). Long runs show
 * progress on stderr; --json prints results as JSON on stdout.
 */
import { runBench } from '../bench/run';
import { runDemo, methodTable } from './demo';
import { AnalyticResult, analyticProblem, runAnalytic, runAnalyticReno } from '../analytic';
import { commandHelp, CommandSpec, EXIT, EXIT_CODES_HELP, nearest, parseCommand, wantsHelp } from './args';
import { BEST_OF_N_SPEC, cmdBestOfN, cmdOptimize, OPTIMIZE_SPEC } from './baselines';
import { BACKEND_OPTION, checkBackend, OUTPUT_FLAGS, print } from './common';
import { cmdSample, SAMPLE_SPEC } from './sample';
import { cmdTrain, TRAIN_SPEC } from './train';
import { backendInfo } from '../backend';
import { HypernoiseError } from '../errors';
import { KlName } from '../native';
import { ProgressBar } from '../progress';
import { formatTable } from '../table';

const DEMO_SPEC = {
  name: 'demo',
  summary: 'the main job: MNIST, HyperNoise vs ReNO vs best-of-N vs fine-tuning vs the exact tilted target',
  options: {
    quick: { kind: 'flag', help: 'a short run (about 70 s)' },
    out: { kind: 'string', value: 'DIR', help: 'where the report and grids go', default: 'runs/demo' },
    steps: { kind: 'int', value: 'N', help: 'training steps per experiment (default: the demo\'s own)', min: 1 },
    samples: { kind: 'int', value: 'N', help: 'samples per digit (default: 200, 48 with --quick)', min: 1 },
    seed: { kind: 'int', value: 'S', help: 'seed', default: 0, min: 0 },
    ...BACKEND_OPTION,
    ...OUTPUT_FLAGS,
  },
} as const satisfies CommandSpec;

const ANALYTIC_SPEC = {
  name: 'analytic',
  summary: 'the closed-form Gaussian case: exact vs l2 KL against the true tilted distribution',
  options: {
    steps: { kind: 'int', value: 'N', help: 'training steps per KL', default: 3000, min: 1 },
    samples: { kind: 'int', value: 'N', help: 'samples for the error estimates', default: 20000, min: 2 },
    ...OUTPUT_FLAGS,
  },
} as const satisfies CommandSpec;

const INFO_SPEC = {
  name: 'info',
  summary: 'backend, CPU instruction set, threads, CUDA and why',
  options: { json: OUTPUT_FLAGS.json },
} as const satisfies CommandSpec;

const BENCH_SPEC = {
  name: 'bench',
  summary: 'benchmarks against PyTorch (bench/RESULTS.md)',
  options: {
    quick: { kind: 'flag', help: 'short runs, no plots' },
    isa: { kind: 'string', value: 'ISA', help: 'cap every kernel at this instruction set', choices: ['avx512', 'avx2', 'neon', 'scalar'] },
    filter: { kind: 'string', value: 'TEXT', help: 'only the cases whose name contains TEXT' },
    'no-peer': { kind: 'flag', help: 'do not run the PyTorch peer' },
    'no-plots': { kind: 'flag', help: 'no PNG plots' },
    load: { kind: 'flag', help: 'many n = 1 requests through Sampler and BatchingSampler (bench/RESULTS.md, "Load")' },
    out: { kind: 'string', value: 'DIR', help: 'where the results go (default: bench/results)' },
  },
} as const satisfies CommandSpec;

async function cmdInfo(argv: readonly string[]): Promise<number> {
  const o = parseCommand(INFO_SPEC, argv);
  const info = backendInfo();
  print(o.flag('json'), info, () =>
    [
      `auto backend: ${info.auto}`,
      `cpu:  ISA ${info.cpu.isa}${info.cpu.isa === info.cpu.detected ? '' : ` (capped by HYPERNOISE_ISA; the CPU has ${info.cpu.detected})`}, ${info.cpu.threads} thread${info.cpu.threads === 1 ? '' : 's'} (${process.env.HYPERNOISE_NUM_THREADS === undefined ? 'the hardware threads; HYPERNOISE_NUM_THREADS sets it' : 'HYPERNOISE_NUM_THREADS'})`,
      `cuda: compiled ${info.cuda.compiled ? 'yes' : 'no'}, available ${info.cuda.available ? 'yes' : 'no'}`,
      `      ${info.cuda.reason}`,
      ...info.warnings.map((w) => `warning: ${w}`),
    ].join('\n'),
  );
  return EXIT.ok;
}

async function cmdAnalytic(argv: readonly string[]): Promise<number> {
  const o = parseCommand(ANALYTIC_SPEC, argv);
  const json = o.flag('json');
  const quiet = o.flag('quiet');
  const steps = o.number('steps');
  const samples = o.number('samples');
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
  return EXIT.ok;
}

async function cmdDemo(argv: readonly string[]): Promise<number> {
  const o = parseCommand(DEMO_SPEC, argv);
  const json = o.flag('json');
  const out = o.value('out');
  const backend = checkBackend(o.value('backend'));
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  let report;
  try {
    report = await runDemo({
      quick: o.flag('quick'),
      out,
      backend,
      seed: o.number('seed'),
      steps: o.number('steps', 'optional'),
      samplesPerClass: o.number('samples', 'optional'),
      verbose: !o.flag('quiet') && !json,
      signal: ac.signal,
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
  const r = report;
  print(json, r, () =>
    [
      ...r.experiments.flatMap((e) => [
        '',
        `${e.name}: ${e.description} (${e.samplesPerClass} samples per digit, averaged over digits)`,
        methodTable(e, false),
        `HyperNoise recovers ${(100 * e.fractionRecovered).toFixed(1)}% of ReNO's reward gain at ${e.speedupVsReno.toFixed(0)}x less time per sample.`,
      ]),
      '',
      `Wrote ${[`${out}/report.json`, `${out}/report.md`, ...r.experiments.flatMap((e) => [`${out}/hypernetwork-${e.name}.safetensors`, ...(e.grid === null ? [] : [`${out}/${e.grid}`])])].join(', ')} (${r.seconds.toFixed(0)} s).`,
    ].join('\n'),
  );
  return EXIT.ok;
}

async function cmdBench(argv: readonly string[]): Promise<number> {
  parseCommand(BENCH_SPEC, argv); // checks the flags; the benchmark reads them itself
  await runBench([...argv]);
  return EXIT.ok;
}

interface Command {
  spec: CommandSpec;
  run: (argv: readonly string[]) => Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  demo: { spec: DEMO_SPEC, run: cmdDemo },
  analytic: { spec: ANALYTIC_SPEC, run: cmdAnalytic },
  train: { spec: TRAIN_SPEC, run: cmdTrain },
  sample: { spec: SAMPLE_SPEC, run: cmdSample },
  optimize: { spec: OPTIMIZE_SPEC, run: cmdOptimize },
  'best-of-n': { spec: BEST_OF_N_SPEC, run: cmdBestOfN },
  info: { spec: INFO_SPEC, run: cmdInfo },
  bench: { spec: BENCH_SPEC, run: cmdBench },
};

function generalHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length)) + 2;
  return [
    'hypernoise: noise hypernetworks for one-step generators',
    '',
    'Usage: npx hypernoise <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.spec.summary}`),
    '',
    'npx hypernoise <command> --help shows the options of a command; train, sample, optimize, best-of-n and demo also take --backend auto|cpu|cuda, --json and --quiet.',
    EXIT_CODES_HELP,
    '',
  ].join('\n');
}

function exitCodeOf(err: HypernoiseError): number {
  if (err.code === 'ERR_ARGUMENT') return EXIT.usage;
  if (err.code === 'ERR_ABORTED') return EXIT.interrupted;
  return EXIT.error;
}

/** Runs the command line `argv` (without node and the script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(`hypernoise: no command given.\n\n${generalHelp()}`);
    return EXIT.usage;
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    const topic = command === 'help' ? rest[0] : undefined;
    if (topic !== undefined && COMMANDS[topic] === undefined) {
      process.stderr.write(`hypernoise help: unknown command '${topic}'; the commands are ${Object.keys(COMMANDS).join(', ')}\n`);
      return EXIT.usage;
    }
    process.stdout.write(topic === undefined ? generalHelp() : commandHelp(COMMANDS[topic].spec));
    return EXIT.ok;
  }
  const cmd = COMMANDS[command];
  if (cmd === undefined) {
    const near = command.startsWith('-') ? undefined : nearest(command, Object.keys(COMMANDS));
    const hint = command.startsWith('-') ? ' (the command comes first)' : near !== undefined ? ` (did you mean '${near}'?)` : '';
    process.stderr.write(`hypernoise: unknown command '${command}'${hint}.\n\n${generalHelp()}`);
    return EXIT.usage;
  }
  if (wantsHelp(rest)) {
    process.stdout.write(commandHelp(cmd.spec));
    return EXIT.ok;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (err instanceof HypernoiseError) {
      process.stderr.write(`hypernoise ${command}: ${err.message} [${err.code}]\n`);
      return exitCodeOf(err);
    }
    throw err;
  }
}
