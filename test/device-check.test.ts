/**
 * scripts/device-check.sh cannot pass where no GPU check ran (issue 13): without nvcc, or with a driver that
 * finds no CUDA backend or no device, it exits non-zero with the reason in its last line. Runs only the
 * script's cheap paths (no CUDA build): a PATH without nvcc, and a stand-in driver in a scratch build folder.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');
const script = path.join(root, 'scripts', 'device-check.sh');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-device-check-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A PATH holding only what the script needs besides nvcc, nvidia-smi and python3. */
function pathWithout(): string {
  const bin = path.join(scratch, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  for (const tool of ['bash', 'date', 'mkdir', 'sed', 'grep', 'tail', 'head', 'cut', 'tee', 'timeout', 'cat', 'nproc', 'dirname']) {
    const where = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (where && !fs.existsSync(path.join(bin, tool))) fs.symlinkSync(where, path.join(bin, tool));
  }
  return bin;
}

function run(args: string[], env: Record<string, string>): { status: number | null; last: string; out: string } {
  const r = spawnSync('bash', [script, ...args], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  const lines = (r.stdout + r.stderr).trim().split('\n');
  return { status: r.status, last: lines[lines.length - 1], out: r.stdout + r.stderr };
}

test('without nvcc the build step fails and says so last', () => {
  const r = run(['--only', 'build', path.join(scratch, 'out1')], { PATH: pathWithout() });
  expect(r.status).not.toBe(0);
  expect(r.last).toMatch(/^DEVICE CHECK FAILED: build: nvcc not found/);
  expect(fs.readFileSync(path.join(scratch, 'out1', 'summary.txt'), 'utf8')).toContain('DEVICE CHECK FAILED');
});

test('a driver that reports SKIP (no CUDA backend, no device) fails the check', () => {
  // The script runs build-device/hn_cuda_parity from the project root: a stand-in driver that answers as a
  // CPU-only build does under --require-gpu, in a copy of the script's tree.
  const tree = path.join(scratch, 'tree');
  fs.mkdirSync(path.join(tree, 'scripts'), { recursive: true });
  fs.mkdirSync(path.join(tree, 'build-device'), { recursive: true });
  fs.copyFileSync(script, path.join(tree, 'scripts', 'device-check.sh'));
  const driver = path.join(tree, 'build-device', 'hn_cuda_parity');
  fs.writeFileSync(
    driver,
    '#!/usr/bin/env bash\necho "hn_cuda_parity: cuda compiled no"\n' +
      'for a in "$@"; do [ "$a" = --require-gpu ] && { echo "FAIL: --require-gpu: this build has no CUDA backend"; exit 3; }; done\n' +
      'echo "SKIP: this build has no CUDA backend"; exit 0\n',
  );
  fs.chmodSync(driver, 0o755);
  const r = spawnSync('bash', [path.join(tree, 'scripts', 'device-check.sh'), '--only', 'parity,timing', path.join(scratch, 'out2')], {
    cwd: tree,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const lines = (r.stdout + r.stderr).trim().split('\n');
  expect(r.status).not.toBe(0);
  expect(lines[lines.length - 1]).toMatch(/^DEVICE CHECK FAILED: probe: FAIL: --require-gpu: this build has no CUDA backend/);
});

test('an unknown option is refused', () => {
  const r = run(['--frobnicate'], {});
  expect(r.status).toBe(2);
});
