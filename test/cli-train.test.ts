import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Hypernetwork, readSafetensors } from '../src';
import { CLASSIFIER, CLI, run, VAE } from './cli-run';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-cli-train-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const at = (name: string) => path.join(tmp, name);
const SMALL = ['--generator', VAE, '--rank', '4', '--batch', '8', '--backend', 'cpu'];

/** A long training run sent `signal` once it has started; its exit code and stdout. */
async function interruptTraining(out: string, signal: NodeJS.Signals): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [CLI, 'train', ...SMALL, '--reward', 'brightness', '--steps', '100000000', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  let sent = false;
  const code = await new Promise<number | null>((resolve) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      // Once training has started (the handler is installed before this line); once: a second Ctrl-C would
      // end the process at once.
      if (!sent && stderr.includes('Ctrl-C stops and saves')) {
        sent = true;
        setTimeout(() => child.kill(signal), 300);
      }
    });
    child.on('exit', (c) => resolve(c));
  });
  return { code, stdout };
}

async function checkpointStep(file: string): Promise<number> {
  return JSON.parse((await readSafetensors(file)).metadata.hypernoise).step;
}

describe('hypernoise train', () => {
  test('--class-conditional trains a one-hot conditional hypernetwork (classes from the classifier, or --classes K)', async () => {
    const r = run(['train', ...SMALL, '--reward', `classifier:${CLASSIFIER}`, '--class-conditional', '--steps', '20', '--out', at('c10.safetensors'), '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ condDim: 10, steps: 20, diverged: false, interrupted: false });
    expect((await Hypernetwork.load(at('c10.safetensors'))).condDim).toBe(10);
    expect(run(['train', ...SMALL, '--reward', 'brightness', '--classes', '4', '--steps', '5', '--out', at('c4.safetensors'), '--quiet']).status).toBe(0);
    expect((await Hypernetwork.load(at('c4.safetensors'))).condDim).toBe(4);
    const noCount = run(['train', ...SMALL, '--reward', 'brightness', '--class-conditional', '--out', at('c.safetensors')]);
    expect(noCount.status).toBe(2);
    expect(noCount.stderr).toContain('--class-conditional needs --classes K');
    for (const k of ['4', '11']) {
      const mismatch = run(['train', ...SMALL, '--reward', `classifier:${CLASSIFIER}`, '--classes', k, '--out', at('c.safetensors')]);
      expect(mismatch.status).toBe(2);
      expect(mismatch.stderr).toContain(`the conditions have ${k} classes but the classifier has 10`);
    }
  });

  test('--resume refuses options that conflict with the checkpoint, naming each and what the checkpoint holds', async () => {
    const ck = at('run.checkpoint.safetensors');
    const first = run(['train', ...SMALL, '--reward', `classifier:${CLASSIFIER}`, '--class-conditional', '--steps', '30', '--checkpoint', ck, '--checkpoint-every', '10', '--out', at('run.safetensors'), '--quiet']);
    expect(first.status).toBe(0);
    expect(await checkpointStep(ck)).toBe(30);
    const out = at('resumed.safetensors');
    const r = run(['train', '--generator', VAE, '--reward', 'brightness', '--resume', ck, '--out', out, '--steps', '5', '--rank', '16', '--kl', 'l2', '--lr', '0.01', '--classes', '3', '--depth', '1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('5 options conflict with the checkpoint');
    expect(r.stderr).toContain('--rank 16: the checkpoint has rank 4');
    expect(r.stderr).toContain("--kl l2: the checkpoint has kl 'exact'");
    expect(r.stderr).toContain('--lr 0.01: the checkpoint has learning rate 0.001');
    expect(r.stderr).toContain('--classes 3: the checkpoint has condition width (classes) 10');
    expect(r.stderr).toContain("--reward brightness: the checkpoint was trained with reward 'classifierLogProb(classifier 235146 params, crc32c ");
    expect(r.stderr).not.toContain('--depth'); // given, but the same as the checkpoint's
    expect(fs.existsSync(out)).toBe(false);
    // the same run continued, with explicit options that agree: it goes on from step 30 (conditions included)
    const ok = run(['train', ...SMALL, '--reward', `classifier:${CLASSIFIER}`, '--resume', ck, '--checkpoint', ck, '--out', out, '--steps', '5', '--json']);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ steps: 35, stepsRun: 5, condDim: 10 });
    expect(await checkpointStep(ck)).toBe(35);
    // another classifier under the same kind of reward is another reward
    const otherClassifier = run(['train', ...SMALL, '--reward', `classifier:${path.join(__dirname, '..', 'models', 'mnist-eval-classifier.safetensors')}`, '--resume', ck, '--out', out, '--steps', '1']);
    expect(otherClassifier.status).toBe(2);
    expect(otherClassifier.stderr).toMatch(/--reward classifier:.*mnist-eval-classifier\.safetensors: the checkpoint was trained with reward 'classifierLogProb\(classifier 235146 params/);
    const otherGenerator = run(['train', '--generator', path.join(__dirname, '..', 'models', 'mnist-classifier.safetensors'), '--reward', 'brightness', '--resume', ck, '--out', out]);
    expect(otherGenerator.status).toBe(2);
    expect(otherGenerator.stderr).toContain("it takes 784 noise values but the checkpoint's hypernetwork has noiseDim 32");
  });

  test('a run whose loss goes non-finite is reported as diverged (exit 3, the step), without overwriting --out or the last good checkpoint', async () => {
    const out = at('div.safetensors');
    const ck = at('div.checkpoint.safetensors');
    const r = run(['train', ...SMALL, '--reward', 'brightness', '--lr', '1e9', '--steps', '40', '--checkpoint', ck, '--checkpoint-every', '1', '--out', out, '--json']);
    expect(r.status).toBe(3);
    const summary = JSON.parse(r.stdout);
    expect(summary.diverged).toBe(true);
    expect(summary.divergedAtStep).toBeGreaterThan(0);
    expect(summary.steps).toBe(summary.divergedAtStep); // stopped there, not run to 40
    expect(r.stderr).toMatch(/training diverged at step \d+: the (loss|KL) is not finite/);
    expect(r.stderr).toContain(`Nothing was written to ${out}`);
    expect(fs.existsSync(out)).toBe(false);
    // the checkpoint on disk is from before the divergence, and finite
    expect(await checkpointStep(ck)).toBe(summary.divergedAtStep - 1);
  });

  test('SIGTERM (a service manager stopping it) saves like Ctrl-C and exits 143', async () => {
    const out = at('term.safetensors');
    const { code, stdout } = await interruptTraining(out, 'SIGTERM');
    expect(code).toBe(143);
    expect(stdout).toContain('interrupted (SIGTERM)');
    expect(await checkpointStep(at('term.checkpoint.safetensors'))).toBeGreaterThan(0);
    expect((await Hypernetwork.load(out)).noiseDim).toBe(32);
  });

  test('mistakes caught before training, in flag terms', () => {
    const base = ['train', ...SMALL, '--out', at('m.safetensors')];
    const cases: Array<[string[], string]> = [
      [['--reward', `classifier:${CLASSIFIER}:3`, '--class-conditional'], 'scores every sample as class 3, so a condition would be ignored'],
      [['--reward', 'brightness', '--steps', '0'], '--steps 0 trains nothing'],
      [['--reward', 'brightness', '--min-lr', '1e-2', '--decay', '10'], 'Expected --min-lr (0.010000) to be at most --lr'],
      [['--reward', 'brightness', '--alpha', '0'], 'for --alpha but received 0'],
    ];
    for (const [args, message] of cases) {
      const r = run([...base, ...args]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(message);
    }
    expect(fs.existsSync(at('m.safetensors'))).toBe(false);
    const typo = run(['smaple']);
    expect(typo.status).toBe(2);
    expect(typo.stderr).toContain("unknown command 'smaple' (did you mean 'sample'?)");
  });

  test('Ctrl-C saves the hypernetwork and a checkpoint, exits 130, and the run resumes from it', async () => {
    const out = at('int.safetensors');
    const { code, stdout } = await interruptTraining(out, 'SIGINT');
    expect(code).toBe(130);
    const ck = at('int.checkpoint.safetensors');
    expect(stdout).toContain(`saved ${out} and the checkpoint ${ck}`);
    const step = await checkpointStep(ck);
    expect(step).toBeGreaterThan(0);
    expect(step).toBeLessThan(100000000);
    expect((await Hypernetwork.load(out)).noiseDim).toBe(32);
    const resumed = run(['train', '--generator', VAE, '--reward', 'brightness', '--resume', ck, '--steps', '3', '--out', at('int2.safetensors'), '--json']);
    expect(resumed.status).toBe(0);
    expect(JSON.parse(resumed.stdout).steps).toBe(step + 3);
  });

  test('the learning-rate schedule is visible: a rate that fell to 0 is reported, --min-lr holds a floor', () => {
    const zero = run(['train', ...SMALL, '--reward', 'brightness', '--steps', '8', '--decay', '4', '--out', at('lr0.safetensors'), '--json']);
    expect(zero.status).toBe(0);
    expect(JSON.parse(zero.stdout).lr).toBe(0);
    expect(zero.stderr).toContain('the learning rate reached 0 after step 4');
    const floor = run(['train', ...SMALL, '--reward', 'brightness', '--steps', '8', '--decay', '4', '--min-lr', '2e-4', '--out', at('lr1.safetensors'), '--json']);
    expect(floor.status).toBe(0);
    expect(JSON.parse(floor.stdout).lr).toBeCloseTo(2e-4, 9);
    expect(floor.stderr).not.toContain('reached 0');
  });
});
