import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CLASSIFIER, CLI, run, VAE } from './cli-run';

const COMMANDS = ['demo', 'analytic', 'train', 'sample', 'optimize', 'best-of-n', 'info', 'bench'];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the CLI: help and usage errors', () => {
  test('--help, -h and help succeed and list every command; a bare call and an unknown command are usage errors (2)', () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = run(args);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('Usage: npx hypernoise <command>');
      for (const c of COMMANDS) expect(r.stdout).toContain(`  ${c} `);
    }
    const bare = run([]);
    expect(bare.status).toBe(2);
    expect(bare.stderr).toContain('no command given');
    const unknown = run(['nonsense']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'nonsense'");
  });

  test('every command has its own --help (exit 0, its own options), which wins over anything else on the line', () => {
    for (const c of COMMANDS) {
      for (const args of [[c, '--help'], [c, '-h'], ['help', c]]) {
        const r = run(args);
        expect(r.status).toBe(0);
        expect(r.stdout).toContain(`Usage: npx hypernoise ${c}`);
        expect(r.stdout).not.toContain('Commands:');
      }
    }
    const train = run(['train', '--help']).stdout;
    for (const o of ['--generator FILE', '--reward SPEC', '--class-conditional', '--classes K', '--resume FILE', '--min-lr LR']) expect(train).toContain(o);
    const sample = run(['sample', '--help']).stdout;
    for (const o of ['--class', '--cond', '--format FORMAT', 'json|npy|safetensors']) expect(sample).toContain(o);
    // Help does not run the command, even with options it would refuse.
    const withJunk = run(['train', '--nope', 'stray', '--help']);
    expect(withJunk.status).toBe(0);
    expect(withJunk.stdout).toContain('Usage: npx hypernoise train');
    expect(run(['help', 'nonsense']).status).toBe(2);
  });

  test('stray positional arguments are refused for every command (2), naming them', () => {
    for (const c of ['info', 'sample', 'train', 'optimize', 'best-of-n', 'analytic', 'demo', 'bench']) {
      const r = run([c, 'extra']);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain("unexpected argument 'extra'");
      expect(r.stderr).toContain('[ERR_ARGUMENT]');
    }
    const two = run(['sample', '--generator', VAE, 'a', 'b']);
    expect(two.status).toBe(2);
    expect(two.stderr).toContain("unexpected arguments 'a' 'b'");
  });

  test('unknown options are refused (2) with the nearest known one; malformed values too', () => {
    const unknown = run(['info', '--nope']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown option --nope');
    const typo = run(['train', '--generator', VAE, '--reward', 'brightness', '--out', path.join(tmp, 'x.safetensors'), '--rnak', '4']);
    expect(typo.status).toBe(2);
    expect(typo.stderr).toContain('did you mean --rank?');
    expect(fs.existsSync(path.join(tmp, 'x.safetensors'))).toBe(false);
    expect(run(['sample', '--generator', VAE, '--n', 'many']).stderr).toContain("--n expects a number but received 'many'");
    expect(run(['sample', '--generator', VAE, '--n', '0']).status).toBe(2);
    const missingValue = run(['sample', '--generator', VAE, '--seed']);
    expect(missingValue.status).toBe(2);
    expect(missingValue.stderr).toContain('--seed needs a value');
    const required = run(['train', '--generator', VAE]);
    expect(required.status).toBe(2);
    expect(required.stderr).toContain('train needs --reward SPEC, --out FILE');
    expect(run(['info', '--json=yes']).status).toBe(2);
  });

  test('a backend name that does not exist is ERR_ARGUMENT naming the valid ones, not a file error', () => {
    const r = run(['sample', '--generator', VAE, '--backend', 'gpu', '--out', path.join(tmp, 'gpu')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('[ERR_ARGUMENT]');
    expect(r.stderr).toContain('--backend must be one of auto, cpu, cuda');
    expect(r.stderr).not.toContain('ERR_FILE');
    expect(r.stderr).not.toContain(VAE);
  });

  test('a reward spec is checked before training starts: classifier:FILE needs :CLASS or class-conditional training', () => {
    const out = path.join(tmp, 'noclass.safetensors');
    const r = run(['train', '--generator', VAE, '--reward', `classifier:${CLASSIFIER}`, '--out', out, '--steps', '5', '--rank', '4', '--batch', '8']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('needs a class for each sample');
    expect(r.stderr).toContain(':CLASS');
    expect(r.stderr).toContain('--class-conditional');
    expect(r.stderr).not.toContain('training '); // no step ran
    expect(fs.existsSync(out)).toBe(false);
    const badClass = run(['train', '--generator', VAE, '--reward', `classifier:${CLASSIFIER}:12`, '--out', out]);
    expect(badClass.status).toBe(2);
    expect(badClass.stderr).toContain('class 12 does not exist (the classifier has 10 classes');
    const badSpec = run(['train', '--generator', VAE, '--reward', 'sharpness', '--out', out]);
    expect(badSpec.status).toBe(2);
    expect(badSpec.stderr).toContain('expected redness, brightness or classifier:FILE[:CLASS]');
    const redness = run(['train', '--generator', VAE, '--reward', 'redness', '--out', out]);
    expect(redness.status).toBe(2);
    expect(redness.stderr).toContain('RGB outputs');
    const opt = run(['optimize', '--generator', VAE, '--reward', `classifier:${CLASSIFIER}`, '--n', '2', '--iterations', '2']);
    expect(opt.status).toBe(2);
    expect(opt.stderr).toContain('or pass --class N');
  });

  test('misspelt HYPERNOISE_ISA / HYPERNOISE_NUM_THREADS are reported, not silently ignored', () => {
    const r = spawnSync(process.execPath, [CLI, 'info', '--json'], { encoding: 'utf8', env: { ...process.env, HYPERNOISE_ISA: 'avx3', HYPERNOISE_NUM_THREADS: 'two' } });
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.warnings).toEqual([
      "HYPERNOISE_ISA='avx3' is not one of scalar, avx2, avx512, neon: no cap is applied",
      expect.stringMatching(/^HYPERNOISE_NUM_THREADS='two' is not an integer from 1 to 1024: the hardware threads \(\d+\) are used$/),
    ]);
    expect(r.stderr).toContain("HypernoiseWarning: HYPERNOISE_ISA='avx3'");
    const ok = spawnSync(process.execPath, [CLI, 'info', '--json'], { encoding: 'utf8', env: { ...process.env, HYPERNOISE_ISA: 'scalar', HYPERNOISE_NUM_THREADS: '1' } });
    expect(JSON.parse(ok.stdout)).toMatchObject({ warnings: [], cpu: { isa: 'scalar', threads: 1 } });
  });
});
