import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Hypernetwork, readSafetensors, Sampler, sampleNoise, SequentialModel } from '../src';
import { parseNpy } from '../src/cli/npy';
import { CLASSIFIER, pngSize, run, VAE } from './cli-run';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-cli-out-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const at = (name: string) => path.join(tmp, name);
const NO_SHARP = path.join(__dirname, 'fixtures', 'no-sharp.js');

const npy = (file: string) => parseNpy(fs.readFileSync(file), file);
const argmax = (row: Float32Array) => row.indexOf(Math.max(...row));

let gen: SequentialModel;
const HN10 = at('hn10.safetensors'); // class-conditional, 10 classes
const HN0 = at('hn0.safetensors'); // unconditional

beforeAll(async () => {
  gen = await SequentialModel.load(VAE, { backend: 'cpu' });
  const common = ['--generator', VAE, '--steps', '60', '--rank', '8', '--batch', '32', '--lr', '3e-3', '--backend', 'cpu', '--quiet'];
  const c = run(['train', ...common, '--reward', `classifier:${CLASSIFIER}`, '--class-conditional', '--out', HN10]);
  expect(c.stderr).toBe('');
  expect(c.status).toBe(0);
  expect(run(['train', ...common, '--reward', 'brightness', '--out', HN0]).status).toBe(0);
});

describe('hypernoise sample', () => {
  test('--class samples a conditional hypernetwork: PNG grid and .npy arrays of x, noise, base noise and one-hot conditions', async () => {
    const r = run(['sample', '--generator', VAE, '--hypernetwork', HN10, '--class', '3', '--n', '6', '--seed', '4', '--format', 'npy', '--out', at('threes'), '--backend', 'cpu']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // 6 samples: 3 columns x 2 rows of 28x28 tiles with 2-pixel gaps, upscaled 2x
    expect(pngSize(at('threes.png'))).toEqual({ width: 2 * (3 * 28 + 4 * 2), height: 2 * (2 * 28 + 3 * 2) });
    const x = npy(at('threes.x.npy'));
    const noise = npy(at('threes.noise.npy'));
    const base = npy(at('threes.baseNoise.npy'));
    const cond = npy(at('threes.cond.npy'));
    expect(x.shape).toEqual([6, 784]);
    expect(noise.shape).toEqual([6, 32]);
    expect(base.shape).toEqual([6, 32]);
    expect(cond.shape).toEqual([6, 10]);
    for (let i = 0; i < 6; i++) {
      const row = cond.data.subarray(i * 10, (i + 1) * 10);
      expect(argmax(row)).toBe(3);
      expect(row.reduce((s, v) => s + v, 0)).toBe(1);
    }
    // exactly what the API gives for the same seed and condition
    const hn = await Hypernetwork.load(HN10, { backend: 'cpu' });
    expect(hn.condDim).toBe(10);
    const api = await new Sampler({ hypernetwork: hn, generator: gen }).sample({ n: 6, seed: 4, cond: cond.data });
    expect(Buffer.from(x.data.buffer).equals(Buffer.from(api.x.buffer))).toBe(true);
    expect(Buffer.from(noise.data.buffer).equals(Buffer.from(api.noise.buffer))).toBe(true);
    expect(Buffer.from(base.data.buffer).equals(Buffer.from(sampleNoise({ n: 6, dim: 32, seed: 4 }).buffer))).toBe(true);
    // the hypernetwork moved the noise, and a different class gives different samples
    expect(Buffer.from(noise.data.buffer).equals(Buffer.from(base.data.buffer))).toBe(false);
    expect(run(['sample', '--generator', VAE, '--hypernetwork', HN10, '--class', '5', '--n', '6', '--seed', '4', '--format', 'npy', '--out', at('fives'), '--backend', 'cpu']).status).toBe(0);
    expect(Buffer.from(npy(at('fives.x.npy')).data.buffer).equals(Buffer.from(x.data.buffer))).toBe(false);
  });

  test('a list of classes, --cond rows and the JSON format (the default, and the old samples.json fields)', () => {
    const r = run(['sample', '--generator', VAE, '--hypernetwork', HN10, '--class', '0,1,2,3', '--n', '4', '--out', at('list'), '--json']);
    expect(r.status).toBe(0);
    const printed = JSON.parse(r.stdout);
    expect(printed.files).toEqual([at('list.png'), at('list.json')]);
    const j = JSON.parse(fs.readFileSync(at('list.json'), 'utf8'));
    expect(j.n).toBe(4);
    expect(j.outputDim).toBe(784);
    expect(j.shapes).toEqual({ x: [4, 784], noise: [4, 32], baseNoise: [4, 32], cond: [4, 10] });
    expect(j.x).toHaveLength(4 * 784);
    for (let i = 0; i < 4; i++) expect(argmax(Float32Array.from(j.cond.slice(i * 10, (i + 1) * 10)))).toBe(i);
    // --cond as a comma list of one row, and from a .npy file of n rows
    const row = '0,0,0,0,0,0,0,1,0,0';
    expect(run(['sample', '--generator', VAE, '--hypernetwork', HN10, '--cond', row, '--n', '2', '--out', at('cond7.json')]).status).toBe(0);
    const c7 = JSON.parse(fs.readFileSync(at('cond7.json'), 'utf8'));
    expect(c7.cond).toEqual([...row.split(',').map(Number), ...row.split(',').map(Number)]);
    expect(run(['sample', '--generator', VAE, '--hypernetwork', HN10, '--cond', at('threes.cond.npy'), '--n', '6', '--seed', '4', '--out', at('fromnpy'), '--format', 'npy']).status).toBe(0);
    expect(npy(at('fromnpy.x.npy')).data).toEqual(npy(at('threes.x.npy')).data);
  });

  test('conditions are required by a conditional hypernetwork and refused by an unconditional one (exit 2)', () => {
    const none = run(['sample', '--generator', VAE, '--hypernetwork', HN10, '--out', at('none')]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('pass --class N (0 to 9) or --cond');
    const outOfRange = run(['sample', '--generator', VAE, '--hypernetwork', HN10, '--class', '10', '--out', at('none')]);
    expect(outOfRange.status).toBe(2);
    expect(outOfRange.stderr).toContain("'10' is not a class from 0 to 9");
    const wrongCount = run(['sample', '--generator', VAE, '--hypernetwork', HN10, '--class', '1,2', '--n', '3', '--out', at('none')]);
    expect(wrongCount.status).toBe(2);
    const shortRow = run(['sample', '--generator', VAE, '--hypernetwork', HN10, '--cond', '1,0', '--out', at('none')]);
    expect(shortRow.status).toBe(2);
    expect(shortRow.stderr).toContain('expected 10 values');
    const uncond = run(['sample', '--generator', VAE, '--hypernetwork', HN0, '--class', '3', '--out', at('none')]);
    expect(uncond.status).toBe(2);
    expect(uncond.stderr).toContain('(unconditional) takes no condition');
    expect(fs.readdirSync(tmp).some((f) => f.startsWith('none'))).toBe(false);
  });

  test('--format safetensors holds every array and the run in its metadata; unconditional samples have no cond', async () => {
    const r = run(['sample', '--generator', VAE, '--hypernetwork', HN0, '--n', '5', '--out', at('st.safetensors')]);
    expect(r.status).toBe(0);
    const st = await readSafetensors(at('st.safetensors'));
    expect([...st.tensors.keys()]).toEqual(['x', 'noise', 'baseNoise']);
    expect(st.tensors.get('x')?.shape).toEqual([5, 784]);
    const meta = JSON.parse(st.metadata.hypernoise);
    expect(meta).toMatchObject({ format: 'samples', command: 'sample', seed: 0, hypernetwork: HN0 });
    expect(pngSize(at('st.png')).width).toBe(2 * (3 * 28 + 4 * 2));
  });

  test('without sharp the arrays are still written and the remedy is printed', () => {
    const r = run(['sample', '--generator', VAE, '--n', '4', '--out', at('nosharp')], { preload: [NO_SHARP] });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('npm install sharp');
    expect(fs.existsSync(at('nosharp.png'))).toBe(false);
    expect(JSON.parse(fs.readFileSync(at('nosharp.json'), 'utf8')).shapes.x).toEqual([4, 784]);
  });
});

describe('hypernoise optimize and best-of-n --out', () => {
  test('optimize writes the grid and arrays: its x is the generator at its noise, rewards per sample, the class as conditions', async () => {
    const r = run(['optimize', '--generator', VAE, '--reward', `classifier:${CLASSIFIER}`, '--class', '3', '--n', '4', '--iterations', '8', '--out', at('reno'), '--format', 'npy', '--json', '--backend', 'cpu']);
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.files).toEqual([at('reno.png'), ...['x', 'noise', 'baseNoise', 'reward', 'cond'].map((a) => at(`reno.${a}.npy`))]);
    expect(pngSize(at('reno.png'))).toEqual({ width: 2 * (2 * 28 + 3 * 2), height: 2 * (2 * 28 + 3 * 2) });
    const x = npy(at('reno.x.npy'));
    const noise = npy(at('reno.noise.npy'));
    const reward = npy(at('reno.reward.npy'));
    expect(reward.shape).toEqual([4]);
    expect(summary.bestReward).toBeCloseTo(reward.data.reduce((s, v) => s + v, 0) / 4, 5);
    expect(summary.bestReward).toBeGreaterThan(summary.initialReward);
    const again = await gen.forward(noise.data);
    for (let i = 0; i < x.data.length; i++) expect(Math.abs(again[i] - x.data[i])).toBeLessThan(1e-5);
    expect(npy(at('reno.baseNoise.npy')).data).toEqual(sampleNoise({ n: 4, dim: 32, seed: 0 }));
    const cond = npy(at('reno.cond.npy'));
    for (let i = 0; i < 4; i++) expect(argmax(cond.data.subarray(i * 10, (i + 1) * 10))).toBe(3);
  });

  test('best-of-n exists and writes the same outputs; without --out it only prints', async () => {
    const r = run(['best-of-n', '--generator', VAE, '--reward', `classifier:${CLASSIFIER}:7`, '--n', '3', '--candidates', '12', '--out', at('bon.safetensors'), '--json']);
    expect(r.status).toBe(0);
    const st = await readSafetensors(at('bon.safetensors'));
    expect([...st.tensors.keys()]).toEqual(['x', 'noise', 'reward']);
    expect(st.tensors.get('reward')?.shape).toEqual([3]);
    expect(JSON.parse(st.metadata.hypernoise)).toMatchObject({ command: 'best-of-n', candidates: 12 });
    const x = st.tensors.get('x')?.data as Float32Array;
    const again = await gen.forward(st.tensors.get('noise')?.data as Float32Array);
    for (let i = 0; i < x.length; i++) expect(Math.abs(again[i] - x[i])).toBeLessThan(1e-5);
    expect(fs.existsSync(at('bon.png'))).toBe(true);
    const quiet = run(['best-of-n', '--generator', VAE, '--reward', 'brightness', '--n', '2', '--candidates', '3']);
    expect(quiet.status).toBe(0);
    expect(quiet.stdout).toContain('best-of-3 on 2 samples');
    const classForFixed = run(['best-of-n', '--generator', VAE, '--reward', 'brightness', '--class', '3']);
    expect(classForFixed.status).toBe(2);
  });
});

describe('outputs never land on inputs, and an existing file is replaced only by its own kind', () => {
  const md5 = (file: string) => require('crypto').createHash('md5').update(fs.readFileSync(file)).digest('hex') as string;

  test('train refuses --out or --checkpoint on its generator, on each other, or over another kind of file', () => {
    const genCopy = at('gen-copy.safetensors');
    fs.copyFileSync(VAE, genCopy);
    const before = md5(genCopy);
    const base = ['train', '--generator', genCopy, '--reward', 'brightness', '--steps', '2', '--rank', '4', '--batch', '8', '--backend', 'cpu', '--quiet'];
    const onGen = run([...base, '--out', genCopy]);
    expect(onGen.status).toBe(2);
    expect(onGen.stderr).toContain(`--out ${genCopy} is the --generator file`);
    const same = run([...base, '--out', at('same.safetensors'), '--checkpoint', at('same.safetensors')]);
    expect(same.status).toBe(2);
    expect(same.stderr).toContain('are the same file');
    const fresh = run([...base, '--out', at('fresh.safetensors')]);
    expect(fresh.status).toBe(0);
    const again = run([...base, '--out', at('fresh.safetensors')]); // a hypernetwork over a hypernetwork: fine
    expect(again.status).toBe(0);
    fs.copyFileSync(VAE, at('a-model.safetensors'));
    const clobber = run([...base, '--out', at('a-model.safetensors')]);
    expect(clobber.status).toBe(2);
    expect(clobber.stderr).toContain('already exists (a sequential file) and is replaced only by a hypernetwork file');
    const pkg = at('package.json');
    fs.writeFileSync(pkg, '{"name":"x"}');
    const overJson = run(['sample', '--generator', VAE, '--n', '1', '--out', at('package'), '--backend', 'cpu']);
    expect(overJson.status).toBe(2);
    expect(overJson.stderr).toContain('already exists (a JSON file of something else)');
    expect(fs.readFileSync(pkg, 'utf8')).toBe('{"name":"x"}');
    const empty = run([...base, '--out', '']);
    expect(empty.status).toBe(2);
    expect(empty.stderr).toContain('--out expects FILE but received an empty string');
    expect(md5(genCopy)).toBe(before);
  });

  test('train writes a checkpoint next to --out by default, and says which one it wrote', () => {
    const out = at('ckdefault.safetensors');
    const r = run(['train', '--generator', VAE, '--reward', 'brightness', '--steps', '3', '--rank', '4', '--batch', '8', '--backend', 'cpu', '--quiet', '--json', '--out', out]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).checkpoint).toBe(at('ckdefault.checkpoint.safetensors'));
    expect(fs.existsSync(at('ckdefault.checkpoint.safetensors'))).toBe(true);
  });

  test('sample refuses an --out whose files would overwrite its generator or hypernetwork', () => {
    const r = run(['sample', '--generator', VAE, '--hypernetwork', HN0, '--format', 'safetensors', '--out', HN0, '--backend', 'cpu']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('is the --hypernetwork file');
  });

  test('--cond reads the cond field of a file sample wrote', () => {
    const first = run(['sample', '--generator', VAE, '--hypernetwork', HN10, '--class', '7', '--n', '2', '--out', at('seven'), '--backend', 'cpu']);
    expect(first.status).toBe(0);
    const again = run(['sample', '--generator', VAE, '--hypernetwork', HN10, '--cond', at('seven.json'), '--n', '2', '--out', at('seven2'), '--backend', 'cpu']);
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    const a = JSON.parse(fs.readFileSync(at('seven.json'), 'utf8'));
    const b = JSON.parse(fs.readFileSync(at('seven2.json'), 'utf8'));
    expect(b.cond).toEqual(a.cond);
    expect(b.x).toEqual(a.x);
  });

  test('the flow student: --one-step makes it the 784 -> 784 generator; without it, a note says so', () => {
    const student = path.join(__dirname, '..', 'models', 'mnist-flow-student.safetensors');
    const plain = run(['sample', '--generator', student, '--n', '1', '--out', at('fs-plain'), '--backend', 'cpu', '--json']);
    expect(plain.status).toBe(0);
    expect(plain.stderr).toContain('pass --one-step');
    const one = run(['sample', '--generator', student, '--one-step', '--n', '1', '--out', at('fs-one'), '--backend', 'cpu', '--json']);
    expect(one.stderr).not.toContain('--one-step');
    expect(one.status).toBe(0);
    const j = JSON.parse(fs.readFileSync(at('fs-one.json'), 'utf8'));
    expect(j.shapes.noise).toEqual([1, 784]);
  });
});
