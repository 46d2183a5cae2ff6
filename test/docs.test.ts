/**
 * Docs that run (issue 14): every code block of README.md and models/README.md is a file of examples/, shown
 * verbatim (an `<!-- example: PATH -->` line names it); the examples run here against this checkout, linked
 * into a scratch project as node_modules/hypernoise (TypeScript type-checked and compiled with strict tsc
 * against the package's .d.ts, JavaScript with node, Python with Debian's PyTorch at /usr/bin/python3), and
 * what they print, write and compute is checked. The blocks that are not examples (shell commands, the CLI's
 * synopsis, the layout) are checked for what they name: every `npx hypernoise` command and option exists, every
 * `npm run` script and option exists, every path of the layout exists. References to sections of other
 * documents (a file name, a comma and a quoted title) name a heading that exists. test/package.test.ts runs the CommonJS, ESM and
 * TypeScript examples against the packed tarball.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Hypernetwork, HypernoiseError, rewards, Sampler, SequentialModel, Trainer, sampleNoise, oneHot, writeSafetensors } from '../src';
import { compileTypeScript, copyExamples, documentedOutput, EXAMPLE_ENV, EXAMPLES, lines, makeScratchProject, ROOT, runNodeExample } from './examples-run';

const DOCS = ['README.md', 'models/README.md'];
const CLI = path.join(ROOT, 'dist', 'cli.js');
const PYTHON = '/usr/bin/python3';

function read(rel: string): string {
  return fs.readFileSync(path.join(ROOT, rel), 'utf8');
}

interface Block {
  doc: string;
  /** 1-based line of the opening fence */
  line: number;
  lang: string;
  body: string;
  /** the example file named by the `<!-- example: PATH -->` line right above the fence */
  example?: string;
}

/** The fenced code blocks of a Markdown document (fences at the start of a line, as this project writes them). */
function fencedBlocks(doc: string): Block[] {
  const text = read(doc).split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < text.length; i++) {
    const open = /^```(\w*)\s*$/.exec(text[i]);
    if (!open) continue;
    let j = i + 1;
    while (j < text.length && !/^```\s*$/.test(text[j])) j++;
    if (j === text.length) throw new Error(`${doc}:${i + 1}: unclosed code block`);
    const marker = i > 0 ? /^<!-- example: (\S+) -->$/.exec(text[i - 1]) : null;
    blocks.push({ doc, line: i + 1, lang: open[1], body: text.slice(i + 1, j).join('\n') + '\n', example: marker?.[1] });
    i = j;
  }
  return blocks;
}

const blocks = DOCS.flatMap(fencedBlocks);
const exampleBlocks = blocks.filter((b) => b.example !== undefined);
/** Blocks that are not programs: shell commands, the CLI's synopsis, the layout. */
const EXEMPT_LANGS = ['sh', 'text'];

/** The language of an example file, as its block's fence must name it. */
const LANG_OF: Record<string, string> = { '.ts': 'ts', '.js': 'js', '.mjs': 'js', '.py': 'python' };

describe('the code blocks of the READMEs are the examples, verbatim', () => {
  test('every block is an example file or a shell/text block, and every example is shown once', () => {
    expect(exampleBlocks.length).toBeGreaterThanOrEqual(10);
    for (const b of blocks) {
      const where = `${b.doc}:${b.line}`;
      if (b.example === undefined) {
        expect({ where, lang: b.lang, exempt: EXEMPT_LANGS.includes(b.lang) }).toEqual({ where, lang: b.lang, exempt: true });
        continue;
      }
      const file = path.join(ROOT, b.example);
      expect({ where, example: b.example, exists: fs.existsSync(file) }).toEqual({ where, example: b.example, exists: true });
      expect({ where, lang: b.lang }).toEqual({ where, lang: LANG_OF[path.extname(b.example)] });
      // the block is the file, character for character
      expect({ where, body: b.body }).toEqual({ where, body: fs.readFileSync(file, 'utf8') });
    }
    const shown = exampleBlocks.map((b) => b.example).sort();
    const files = fs.readdirSync(EXAMPLES).map((f) => `examples/${f}`).sort();
    expect(shown).toEqual(files);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Running the examples

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-docs-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const exampleFiles = fs.readdirSync(EXAMPLES);
const nodeExamples = exampleFiles.filter((f) => /\.(ts|js|mjs)$/.test(f));
const pythonExamples = exampleFiles.filter((f) => f.endsWith('.py'));

/** Whether Debian's PyTorch is there; the Python examples are skipped (and say so) where it is not. */
const torchCheck = fs.existsSync(PYTHON) ? spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }) : null;
const hasTorch = torchCheck !== null && torchCheck.status === 0;
if (!hasTorch) {
  // eslint-disable-next-line no-console
  console.warn(`docs.test: the Python examples are skipped: 'import torch' fails in ${PYTHON} (${torchCheck ? torchCheck.stderr.trim().split('\n').pop() : 'no such file'})`);
}

let compiled: ReturnType<typeof compileTypeScript>;
const outputs = new Map<string, string>();

beforeAll(() => {
  makeScratchProject(scratch);
  fs.symlinkSync(ROOT, path.join(scratch, 'node_modules', 'hypernoise'), 'dir');
  fs.symlinkSync(path.join(ROOT, 'models'), path.join(scratch, 'models'), 'dir');
  copyExamples(scratch, nodeExamples);
  // the Python examples run as `python3 examples/NAME.py` from the project's root, as models/README.md says
  fs.mkdirSync(path.join(scratch, 'examples'));
  for (const f of pythonExamples) fs.copyFileSync(path.join(EXAMPLES, f), path.join(scratch, 'examples', f));
  compiled = compileTypeScript(scratch);
}, 120000);

/** Runs a node example once, checks its exit status and documented lines, and returns its stdout. */
function runExample(file: string): string {
  const r = runNodeExample(scratch, file);
  expect({ file, status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ file, status: 0, stderr: '' });
  const printed = lines(r.stdout);
  for (const want of documentedOutput(fs.readFileSync(path.join(EXAMPLES, file), 'utf8'))) {
    expect({ file, printed: printed.includes(want) ? want : r.stdout }).toEqual({ file, printed: want });
  }
  outputs.set(file, r.stdout);
  return r.stdout;
}

function numbers(stdout: string, re: RegExp): number[] {
  const m = re.exec(stdout);
  expect({ pattern: re.source, found: m !== null, stdout: m ? '' : stdout }).toEqual({ pattern: re.source, found: true, stdout: '' });
  return (m as RegExpExecArray).slice(1).map(Number);
}

describe('the examples run', () => {
  test('the TypeScript examples type-check (strict) against the package\'s declarations and compile', () => {
    expect(nodeExamples.filter((f) => f.endsWith('.ts')).length).toBeGreaterThanOrEqual(6);
    expect({ status: compiled.status, out: compiled.stdout + compiled.stderr }).toEqual({ status: 0, out: '' });
  });

  test('every example documents at least one checked property', () => {
    // a `// → line` of output or a check below: an example nothing looks at could drift unnoticed
    const checkedHere = ['readme-esm.mjs', 'readme-quickstart.ts', 'readme-lower-level.ts', 'readme-flow.ts', 'hn_safetensors.py', 'models-to-pytorch.py', 'models-from-pytorch.py', 'hypernetwork-to-pytorch.py'];
    for (const f of exampleFiles) {
      const documented = documentedOutput(fs.readFileSync(path.join(EXAMPLES, f), 'utf8')).length > 0;
      expect({ f, checked: documented || checkedHere.includes(f) }).toEqual({ f, checked: true });
    }
  });

  test('readme-commonjs.js: CommonJS require, the shipped model found inside the package', () => {
    runExample('readme-commonjs.js');
  });

  test('readme-esm.mjs: a JavaScript generator and reward train through an ES module import', () => {
    const [first, last] = numbers(runExample('readme-esm.mjs'), /mean reward: (-?[\d.]+) -> (-?[\d.]+)/);
    expect(last).toBeGreaterThan(first + 5);
  });

  test('readme-quickstart.ts: the trained hypernetwork makes more of the samples the asked digit', () => {
    const [without, withHn] = numbers(runExample('readme-quickstart.ts'), /threes out of 100: (\d+) without, (\d+) with/);
    expect(withHn).toBeGreaterThan(without + 20);
  });

  test('readme-api.ts: trains, samples, batches, ReNO, best-of-N, saves a hypernetwork file and a checkpoint', () => {
    const out = runExample('readme-api.ts');
    const [base, hyper] = numbers(out, /reward of a 3: base (-?[\d.]+), HyperNoise (-?[\d.]+)/);
    expect(hyper).toBeGreaterThan(base + 2);
    const [requests, calls] = numbers(out, /(\d+) requests in (\d+) native call/);
    expect(calls).toBeLessThan(requests);
    numbers(out, /reward of a 3: ReNO (-?[\d.]+), best-of-50 (-?[\d.]+)/);
    expect(fs.existsSync(path.join(scratch, 'hn.safetensors'))).toBe(true);
    expect(fs.existsSync(path.join(scratch, 'hn.checkpoint.safetensors'))).toBe(true);
  });

  test('readme-lower-level.ts: the hand-written loop raises the reward', () => {
    const out = runExample('readme-lower-level.ts');
    const [r0] = numbers(out, /step 0: reward (-?[\d.]+)/);
    const [r40] = numbers(out, /step 40: reward (-?[\d.]+)/);
    expect(r40).toBeGreaterThan(r0 + 2);
    const [kl] = numbers(out, /KL\(q \|\| N\(0, I\)\) ≈ (-?[\d.]+)/);
    expect(kl).toBeGreaterThan(0);
  });

  test('readme-flow.ts: one-step and few-step sampling of the student, fine-tuning', () => {
    const [start, end] = numbers(runExample('readme-flow.ts'), /fine-tuned reward (-?[\d.]+) -> (-?[\d.]+)/);
    expect(Number.isFinite(start) && Number.isFinite(end)).toBe(true);
  });

  test('readme-errors.ts and models-load.ts: the messages and sizes they show are the real ones', () => {
    runExample('readme-errors.ts');
    runExample('models-load.ts');
  });

  test('every node example ran', () => {
    expect(nodeExamples.filter((f) => !outputs.has(f))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Python: the examples against Debian's PyTorch, and their numbers against the library's

const pyTest = hasTorch ? test : test.skip;

function python(args: string[], what: string): string {
  const r = spawnSync(PYTHON, args, { cwd: scratch, encoding: 'utf8', env: EXAMPLE_ENV, timeout: 120000 });
  expect({ what, status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ what, status: 0, stderr: '' });
  return r.stdout;
}

/** Largest absolute difference of two arrays of the same length. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Runs an example's file with runpy (its own lines included) and then `code`, with `fn` bound to one of its
 * functions; `inputs` go in as JSON, the result comes back as JSON.
 */
function pythonCall(example: string, fn: string, code: string, inputs: unknown): unknown {
  fs.writeFileSync(path.join(scratch, 'py-in.json'), JSON.stringify(inputs));
  const script = [
    'import json, runpy, sys, torch',
    "sys.path.insert(0, 'examples')",
    `${fn} = runpy.run_path('examples/${example}')['${fn}']`,
    "inputs = json.load(open('py-in.json'))",
    'out = {}',
    'with torch.no_grad():',
    ...code.split('\n').map((l) => `    ${l}`),
    "json.dump(out, open('py-out.json', 'w'))",
  ].join('\n');
  python(['-c', script], `${example}: ${fn}`);
  return JSON.parse(fs.readFileSync(path.join(scratch, 'py-out.json'), 'utf8'));
}

describe('the Python examples (Debian\'s PyTorch, our own safetensors reader)', () => {
  pyTest('models-to-pytorch.py runs, and its nn.Sequential computes what SequentialModel computes', async () => {
    expect(python(['examples/models-to-pytorch.py'], 'models-to-pytorch.py')).toMatch(/torch\.Size\(\[16, 1, 28, 28\]\) \[(\d, ){15}\d\]/);
    const cases = [
      { file: 'models/mnist-vae-decoder.safetensors', x: sampleNoise({ n: 4, dim: 32, seed: 5 }) }, // silu, sigmoid
      { file: 'models/mnist-eval-classifier.safetensors', x: sampleNoise({ n: 4, dim: 784, seed: 6 }).map((v) => 0.5 + 0.25 * v) }, // gelu (erf)
    ];
    const out = pythonCall('models-to-pytorch.py', 'load_sequential', "for k, v in inputs.items():\n    m = load_sequential(k)\n    out[k] = m(torch.tensor(v, dtype=torch.float32).view(4, -1)).flatten().tolist()", Object.fromEntries(cases.map((c) => [c.file, Array.from(c.x)]))) as Record<string, number[]>;
    for (const c of cases) {
      const model = await SequentialModel.load(path.join(ROOT, c.file));
      const mine = await model.forward(c.x);
      expect({ file: c.file, close: maxDiff(mine, out[c.file]) < 1e-4 }).toEqual({ file: c.file, close: true });
      model.dispose();
    }
  });

  pyTest('models-from-pytorch.py writes a file SequentialModel.load reads, computing what PyTorch computes', async () => {
    python(['examples/models-from-pytorch.py'], 'models-from-pytorch.py');
    const file = path.join(scratch, 'my-generator.safetensors');
    const model = await SequentialModel.load(file);
    expect(model.layers).toEqual([{ type: 'linear', in: 16, out: 128 }, { type: 'silu' }, { type: 'linear', in: 128, out: 784 }, { type: 'sigmoid' }]);
    const x = sampleNoise({ n: 3, dim: 16, seed: 7 });
    const out = pythonCall('models-to-pytorch.py', 'load_sequential', "m = load_sequential('my-generator.safetensors')\nout['y'] = m(torch.tensor(inputs, dtype=torch.float32).view(3, 16)).flatten().tolist()", Array.from(x)) as { y: number[] };
    expect(maxDiff(await model.forward(x), out.y)).toBeLessThan(1e-5);
    model.dispose();
  });

  pyTest('hypernetwork-to-pytorch.py: the documented formula is what Hypernetwork.forward computes', async () => {
    // hn.safetensors is the one readme-api.ts trained and saved (a small one of our own if that did not run)
    const trained = path.join(scratch, 'hn.safetensors');
    if (!fs.existsSync(trained)) {
      const own = new Hypernetwork({ noiseDim: 32, condDim: 10, rank: 8 });
      own.setParams(sampleNoise({ n: 1, dim: own.paramCount, seed: 99 }).map((v) => 0.3 * v));
      await own.save(trained);
      own.dispose();
    }
    expect(python(['examples/hypernetwork-to-pytorch.py'], 'hypernetwork-to-pytorch.py')).toMatch(/mean shift of the noise: \d+\.\d{3}/);
    // Configurations the README's file cannot show: deeper, other activations and scales, unconditional;
    // parameters random (a new hypernetwork's B and bo are zero: the identity, which would prove nothing).
    const configs = [
      { file: 'hn.safetensors', hn: await Hypernetwork.load(trained) },
      { file: 'hn-deep.safetensors', hn: new Hypernetwork({ noiseDim: 12, condDim: 3, rank: 5, depth: 3, activation: 'gelu', scale: 0.7 }) },
      { file: 'hn-plain.safetensors', hn: new Hypernetwork({ noiseDim: 9, rank: 4, depth: 2, activation: 'tanh', scale: 1.3 }) },
      { file: 'hn-softplus.safetensors', hn: new Hypernetwork({ noiseDim: 6, condDim: 2, rank: 3, activation: 'softplus' }) },
    ];
    const inputs: Record<string, { eps: number[]; cond: number[] | null; n: number }> = {};
    const expected: Record<string, Float32Array> = {};
    for (const [i, c] of configs.entries()) {
      const { hn } = c;
      if (i > 0) {
        hn.setParams(sampleNoise({ n: 1, dim: hn.paramCount, seed: 100 + i }).map((v) => 0.5 * v));
        await hn.save(path.join(scratch, c.file));
      }
      const n = 5;
      const eps = sampleNoise({ n, dim: hn.noiseDim, seed: 200 + i });
      const cond = hn.condDim > 0 ? oneHot([0, 1, 1, 0, 1].map((k) => k % hn.condDim), hn.condDim) : null;
      inputs[c.file] = { eps: Array.from(eps), cond: cond && Array.from(cond), n };
      expected[c.file] = await hn.forward(eps, cond);
      expect(maxDiff(expected[c.file], eps)).toBeGreaterThan(1e-3); // the map is not the identity
    }
    const out = pythonCall(
      'hypernetwork-to-pytorch.py',
      'load_hypernetwork',
      [
        'for k, v in inputs.items():',
        '    T, cfg = load_hypernetwork(k)',
        "    eps = torch.tensor(v['eps'], dtype=torch.float32).view(v['n'], -1)",
        "    cond = torch.tensor(v['cond'], dtype=torch.float32).view(v['n'], -1) if v['cond'] is not None else None",
        '    out[k] = T(eps, cond).flatten().tolist()',
      ].join('\n'),
      inputs,
    ) as Record<string, number[]>;
    for (const c of configs) {
      expect({ file: c.file, close: maxDiff(expected[c.file], out[c.file]) < 1e-4 }).toEqual({ file: c.file, close: true });
      c.hn.dispose();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// What the other blocks and the prose name

/** The text of every inline code span of a document (`...`), line breaks folded. */
function inlineCode(doc: string): string[] {
  const text = read(doc).replace(/^```[\s\S]*?^```$/gm, '');
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1].replace(/\s+/g, ' '));
}

/**
 * The shell invocations a document shows starting with `prefix` (`npx hypernoise`, `npm run`): from its shell
 * and text blocks (a line ending in a backslash, or followed by indented lines, continues) and inline code.
 */
function invocations(prefix: string): Array<{ where: string; text: string }> {
  const found: Array<{ where: string; text: string }> = [];
  for (const b of blocks.filter((x) => x.example === undefined)) {
    const ls = b.body.split('\n');
    for (let i = 0; i < ls.length; i++) {
      if (!ls[i].startsWith(prefix)) continue;
      let text = ls[i];
      while (i + 1 < ls.length && (/\\\s*$/.test(ls[i]) || /^\s+\S/.test(ls[i + 1])) && !ls[i + 1].startsWith(prefix)) {
        // a comment line of a shell block ("   # teacher: ...") is not part of the command
        if (/^\s*#/.test(ls[i + 1])) break;
        text += ' ' + ls[++i];
      }
      found.push({ where: `${b.doc}:${b.line + 1 + i}`, text: text.replace(/\s#.*$/, '') });
    }
  }
  for (const doc of DOCS) for (const span of inlineCode(doc)) if (span.startsWith(prefix)) found.push({ where: doc, text: span });
  return found;
}

/** The options (--name) named in an invocation. */
function optionsOf(text: string): string[] {
  return [...text.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0]);
}

const helpCache = new Map<string, { status: number | null; stdout: string }>();
function help(command: string): { status: number | null; stdout: string } {
  if (!helpCache.has(command)) {
    const r = spawnSync(process.execPath, [CLI, command, '--help'], { encoding: 'utf8' });
    helpCache.set(command, { status: r.status, stdout: r.stdout });
  }
  return helpCache.get(command) as { status: number | null; stdout: string };
}

describe('what the docs name exists', () => {
  test('every `npx hypernoise` command shown exists, with every option it shows (its --help lists them)', () => {
    const shown = invocations('npx hypernoise ');
    expect(shown.length).toBeGreaterThan(10);
    const commands = new Set<string>();
    for (const { where, text } of shown) {
      const command = text.split(/\s+/)[2];
      if (command === undefined || command === '<command>') continue;
      commands.add(command);
      const h = help(command);
      expect({ where, command, helpStatus: h.status }).toEqual({ where, command, helpStatus: 0 });
      for (const opt of optionsOf(text)) {
        const listed = new RegExp(`^\\s+(-\\w, )?${opt}(\\s|$)`, 'm').test(h.stdout);
        expect({ where, command, option: opt, listed }).toEqual({ where, command, option: opt, listed: true });
      }
    }
    // and every command of the CLI is in the README's synopsis
    const all = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    expect(all.status).toBe(0);
    const listed = [...all.stdout.slice(all.stdout.indexOf('Commands:')).matchAll(/^ {2}([a-z][a-z-]*) {2,}/gm)].map((m) => m[1]);
    expect(listed.length).toBeGreaterThanOrEqual(8);
    expect(listed.filter((c) => !commands.has(c))).toEqual([]);
  });

  test('the CLI messages the README quotes are the real ones', () => {
    const readme = read('README.md').replace(/\s+/g, ' ');
    const quoted = /`(unknown option --rnak for 'train' \(did you mean --rank\?\))`/.exec(readme);
    expect(quoted).not.toBeNull();
    const r = spawnSync(process.execPath, [CLI, 'train', '--rnak', '3'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain((quoted as RegExpExecArray)[1]);
  });

  test('every `npm run` script shown exists, and the options shown are ones its source reads', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    const sources: Record<string, string[]> = {
      'train-models': ['scripts/train-models.ts'],
      'train-diffusion': ['scripts/train-diffusion.ts'],
      bench: fs.readdirSync(path.join(ROOT, 'src', 'bench')).filter((f) => f.endsWith('.ts')).map((f) => `src/bench/${f}`),
    };
    const shown = invocations('npm run ');
    expect(shown.length).toBeGreaterThan(5);
    for (const { where, text } of shown) {
      const script = text.split(/\s+/)[2];
      expect({ where, script, exists: script in scripts }).toEqual({ where, script, exists: true });
      const args = text.includes(' -- ') ? text.slice(text.indexOf(' -- ') + 4) : '';
      const opts = optionsOf(args);
      if (opts.length === 0) continue;
      expect({ where, script, sourceKnown: script in sources }).toEqual({ where, script, sourceKnown: true });
      const source = sources[script].map(read).join('\n');
      for (const opt of opts) expect({ where, option: opt, read: source.includes(`'${opt}'`) }).toEqual({ where, option: opt, read: true });
    }
  });

  test('every path of the README\'s layout exists', () => {
    const layout = blocks.find((b) => b.doc === 'README.md' && b.body.startsWith('native/core'));
    expect(layout).toBeDefined();
    const paths = [...(layout as Block).body.matchAll(/(?:^| {3,})([a-z][\w-]*\/(?:[\w.-]+\/?)*)(?= )/gm)].map((m) => m[1]);
    expect(paths.length).toBeGreaterThan(10);
    for (const p of paths) expect({ path: p, exists: fs.existsSync(path.join(ROOT, p)) }).toEqual({ path: p, exists: true });
  });

  test('references to sections of other documents name headings that exist; none is numbered', () => {
    const docs = [...DOCS, ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const headingsOf = (file: string) => [...read(file).matchAll(/^#+ (.+)$/gm)].map((m) => m[1].trim());
    const resolve = (doc: string, name: string): string | undefined =>
      [path.join(path.dirname(doc), name), name, `docs/${name}`, `bench/${name}`].find((p) => fs.existsSync(path.join(ROOT, p)));
    let count = 0;
    for (const doc of docs) {
      const text = read(doc);
      // a file name followed by a section sign and number: a number goes stale when sections move
      expect({ doc, numbered: text.match(/[A-Z]+\.md[`\])]*,? *§/g) }).toEqual({ doc, numbered: null });
      // NAME.md, then a quoted title, the name possibly a link: [`bench/RESULTS.md`](bench/RESULTS.md), then the
      // title (a line break may fall in between)
      for (const m of text.matchAll(/((?:[\w-]+\/)*[A-Z]+\.md)`?\]?(?:\(([^)\s]*)\))?,?\s+"([^"]+)"/g)) {
        // a link's target when there is one (relative to the document), else the name
        const target = m[2] !== undefined ? path.join(path.dirname(doc), m[2]) : resolve(doc, m[1]);
        const title = m[3].replace(/\s+/g, ' ');
        expect({ doc, ref: m[0], target: target !== undefined && fs.existsSync(path.join(ROOT, target)) }).toEqual({ doc, ref: m[0], target: true });
        const headings = headingsOf(target as string);
        const found = headings.some((h) => h === title || h.startsWith(`${title}:`) || h.startsWith(`${title} (`));
        expect({ doc, ref: m[0].replace(/\s+/g, ' '), found }).toEqual({ doc, ref: m[0].replace(/\s+/g, ' '), found: true });
        count++;
      }
    }
    expect(count).toBeGreaterThan(8);
  });

  test('the hypernetwork tensors the README lists are the ones a hypernetwork has', () => {
    const row = read('README.md').split('\n').find((l) => l.startsWith('| hypernetwork |'));
    expect(row).toBeDefined();
    const listed = [...(row as string).matchAll(/`(\w+(?:\{k\})?) \[([^\]]+)\]`/g)];
    const [D, C, r, L] = [7, 3, 5, 3];
    const dims: Record<string, number> = { D, C, r };
    const shapes: Record<string, number[]> = {};
    for (const [, name, dimText] of listed) {
      const shape = dimText.split(',').map((d) => dims[d.trim()]);
      if (name.includes('{k}')) for (let k = 2; k <= L; k++) shapes[name.replace('{k}', String(k))] = shape;
      else shapes[name] = shape;
    }
    const hn = new Hypernetwork({ noiseDim: D, condDim: C, rank: r, depth: L });
    expect(shapes).toEqual(hn.tensorShapes());
    hn.dispose();
  });

  test('what readme-lower-level.ts says of the KL terms and of sampleNoise holds', () => {
    // exact = l2 + trace − logdet, per sample
    const hn = new Hypernetwork({ noiseDim: 6, condDim: 2, rank: 3, depth: 2 });
    hn.setParams(sampleNoise({ n: 1, dim: hn.paramCount, seed: 11 }).map((v) => 0.5 * v));
    const kl = hn.klSync(sampleNoise({ n: 8, dim: 6, seed: 12 }), oneHot([0, 1, 0, 1, 0, 1, 0, 1], 2));
    for (let i = 0; i < 8; i++) expect(kl.exact[i]).toBeCloseTo(kl.l2[i] + kl.trace[i] - kl.logdet[i], 3);
    // sampleNoise({ n, dim, seed }) is the base noise Sampler.sample draws for that seed
    const gen = SequentialModel.fromLayers([{ type: 'linear', in: 6, out: 2 }]);
    const sampled = new Sampler({ generator: gen }).sampleSync({ n: 5, seed: 13 });
    expect(Array.from(sampled.baseNoise)).toEqual(Array.from(sampleNoise({ n: 5, dim: 6, seed: 13 })));
    hn.dispose();
    gen.dispose();
  });

  test('the error codes the README lists are the library\'s', () => {
    const codes = new Set([...read('src/errors.ts').matchAll(/\| '(ERR_[A-Z_]+)'/g)].map((m) => m[1]));
    expect(codes.size).toBeGreaterThan(10);
    const bullet = /\*\*Errors\*\* are `HypernoiseError` with a `code`:([^]*?) and a message/.exec(read('README.md'));
    expect(bullet).not.toBeNull();
    const listed = [...(bullet as RegExpExecArray)[1].matchAll(/`(ERR_[A-Z_]+)`/g)].map((m) => m[1]);
    expect(listed.length).toBeGreaterThan(10);
    expect(listed.filter((c) => !codes.has(c))).toEqual([]);
    // every code but the internal one is listed
    expect([...codes].filter((c) => c !== 'ERR_INTERNAL' && !listed.includes(c))).toEqual([]);
  });

  test('the file-format errors the README quotes are the real ones; a checkpoint and a hypernetwork file do not load as each other', async () => {
    const readme = read('README.md').replace(/\s+/g, ' ');
    const quoted = /`(expected a hypernoise sequential file but its format is undefined)`/.exec(readme);
    expect(quoted).not.toBeNull();
    // a model file whose metadata lacks "format", as the reporter wrote one from PyTorch
    const noFormat = path.join(scratch, 'no-format.safetensors');
    await writeSafetensors(noFormat, { '0.weight': { shape: [2, 3], data: new Float32Array(6) }, '0.bias': { shape: [2], data: new Float32Array(2) } }, { hypernoise: JSON.stringify({ layers: [{ type: 'linear', in: 3, out: 2 }] }) });
    const err = await SequentialModel.load(noFormat).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(HypernoiseError);
    expect((err as HypernoiseError).code).toBe('ERR_FILE');
    expect((err as HypernoiseError).message).toContain((quoted as RegExpExecArray)[1]);
    // Trainer.fromCheckpoint refuses a hypernetwork file (the reverse is readme-errors.ts)
    const hn = new Hypernetwork({ noiseDim: 4, rank: 2 });
    const hnFile = path.join(scratch, 'small-hn.safetensors');
    await hn.save(hnFile);
    const gen = SequentialModel.fromLayers([{ type: 'linear', in: 4, out: 4 }]);
    const err2 = await Trainer.fromCheckpoint(hnFile, { generator: gen, reward: rewards.brightness() }).then(() => null, (e: unknown) => e);
    expect(err2).toBeInstanceOf(HypernoiseError);
    expect((err2 as HypernoiseError).code).toBe('ERR_FILE');
    expect((err2 as HypernoiseError).message).toContain('expected a hypernoise checkpoint file but its format is "hypernetwork"');
    hn.dispose();
    gen.dispose();
  });
});
