/** `hypernoise sample`: samples through a hypernetwork (or of the base generator), written as a PNG grid and arrays. */
import { CommandSpec, EXIT, parseCommand } from './args';
import { BACKEND_OPTION, checkBackend, GENERATOR_OPTIONS, loadGenerator, OUTPUT_FLAGS, print } from './common';
import { CLASS_HELP, COND_HELP, conditionsFrom } from './conditions';
import { checkOutputTargets, OUTPUT_OPTIONS, OUTPUTS_NOTE, writeOutputs } from './outputs';
import { Hypernetwork } from '../hypernetwork';
import { Sampler } from '../sampler';

export const SAMPLE_SPEC = {
  name: 'sample',
  summary: 'draw samples through a trained hypernetwork (without one: the base generator)',
  options: {
    ...GENERATOR_OPTIONS,
    hypernetwork: { kind: 'string', value: 'FILE', help: 'the hypernetwork (as train --out writes it); without it, base samples' },
    n: { kind: 'int', value: 'N', help: 'samples', default: 16, min: 1 },
    seed: { kind: 'int', value: 'S', help: 'noise seed (the same seed gives the same base noise)', default: 0, min: 0 },
    class: { kind: 'string', value: 'N[,N...]', help: CLASS_HELP },
    cond: { kind: 'string', value: 'LIST|FILE', help: COND_HELP },
    out: { kind: 'string', value: 'BASE', help: 'where to write (BASE.png and the arrays)', default: 'samples' },
    ...OUTPUT_OPTIONS,
    ...BACKEND_OPTION,
    ...OUTPUT_FLAGS,
  },
  notes: `${OUTPUTS_NOTE}

Example: npx hypernoise sample --generator models/mnist-vae-decoder.safetensors --hypernetwork hn.safetensors --class 3 --out runs/threes`,
} as const satisfies CommandSpec;

export async function cmdSample(argv: readonly string[]): Promise<number> {
  const o = parseCommand(SAMPLE_SPEC, argv);
  const backend = checkBackend(o.value('backend'));
  const n = o.number('n');
  const seed = o.number('seed');
  const hnFile = o.string('hypernetwork');
  checkOutputTargets(o.value('out'), o.string('format'), [
    { flag: '--generator', file: o.value('generator') },
    { flag: '--hypernetwork', file: hnFile },
    { flag: '--cond', file: o.string('cond') },
  ]);
  const gen = await loadGenerator(o.value('generator'), o.flag('one-step'), backend);
  const hn = hnFile === undefined ? null : await Hypernetwork.load(hnFile, { backend });
  const condDim = hn?.condDim ?? 0;
  const cond = await conditionsFrom({ cls: o.string('class'), cond: o.string('cond') }, n, condDim, hn ? `the hypernetwork ${hnFile}${condDim === 0 ? ' (unconditional)' : ''}` : 'the base generator (no --hypernetwork)');
  const s = await new Sampler({ hypernetwork: hn, generator: gen }).sample({ n, seed, cond });
  const D = gen.inputDim;
  const P = gen.outputDim;
  const written = await writeOutputs({
    out: o.value('out'),
    format: o.string('format'),
    image: o.string('image'),
    cols: o.number('cols', 'optional'),
    scale: o.number('scale'),
    n,
    outputDim: P,
    meta: { command: 'sample', seed, generator: o.value('generator'), hypernetwork: hnFile ?? null, ...(o.has('class') ? { class: o.value('class') } : {}) },
    arrays: [
      { name: 'x', data: s.x, shape: [n, P] },
      { name: 'noise', data: s.noise, shape: [n, D] },
      { name: 'baseNoise', data: s.baseNoise, shape: [n, D] },
      ...(cond ? [{ name: 'cond', data: cond, shape: [n, condDim] }] : []),
    ],
  });
  print(o.flag('json'), { n, seed, ...written }, () => `wrote ${n} ${hn ? 'hypernetwork' : 'base'} sample${n === 1 ? '' : 's'}: ${written.files.join(', ')}`);
  return EXIT.ok;
}
