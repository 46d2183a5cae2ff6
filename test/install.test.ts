/**
 * What `npm install` builds (CMakeLists.txt; README, "What the install builds"): CUDA only where a GPU answers,
 * or when asked with HYPERNOISE_CUDA=1 (an error without nvcc), never with 0; the C++ test programs only when
 * asked; the environment's choice is not cached. Configures CMake in a scratch directory (no compilation) with
 * the environment npm would pass.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-install-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** Whether a GPU answers here (then AUTO builds CUDA, and the CPU-only expectations do not apply). */
const gpu = spawnSync('nvidia-smi', ['--query-gpu=compute_cap', '--format=csv,noheader']).status === 0;
const hasNvcc = spawnSync('nvcc', ['--version']).status === 0;

function configure(name: string, env: Record<string, string>, extra: string[] = []): { ok: boolean; out: string; cache: string } {
  const dir = path.join(scratch, name);
  const r = spawnSync('cmake', ['-S', root, '-B', dir, '-DHYPERNOISE_ADDON=ON', ...extra], {
    env: { ...process.env, HYPERNOISE_CUDA: '', HYPERNOISE_TESTS: '', ...env },
    encoding: 'utf8',
  });
  const cacheFile = path.join(dir, 'CMakeCache.txt');
  return { ok: r.status === 0, out: r.stdout + r.stderr, cache: fs.existsSync(cacheFile) ? fs.readFileSync(cacheFile, 'utf8') : '' };
}

const targets = (name: string) => execFileSync('cmake', ['--build', path.join(scratch, name), '--target', 'help'], { encoding: 'utf8' });

describe('what the install builds', () => {
  test('by default: CUDA only where a GPU answers, no test programs', () => {
    const c = configure('default', {});
    expect(c.ok).toBe(true);
    if (gpu) {
      expect(c.out).toMatch(/a GPU answers/);
    } else {
      expect(c.out).toMatch(/no GPU answers; building the CPU backend only/);
      expect(c.cache).not.toMatch(/CMAKE_CUDA_COMPILER:/);
    }
    expect(targets('default')).not.toMatch(/hn_core_test/);
  }, 120000);

  test('HYPERNOISE_CUDA=0: CPU only; HYPERNOISE_TESTS=1: the test programs; neither sticks in the cache', () => {
    const c = configure('off', { HYPERNOISE_CUDA: '0', HYPERNOISE_TESTS: '1' });
    expect(c.ok).toBe(true);
    expect(c.cache).not.toMatch(/CMAKE_CUDA_COMPILER:/);
    expect(targets('off')).toMatch(/hn_core_test/);
    // configured again without the variables: the defaults again
    const again = configure('off', {});
    expect(again.ok).toBe(true);
    expect(targets('off')).not.toMatch(/hn_core_test/);
  }, 120000);

  test('HYPERNOISE_CUDA=1: the CUDA backend wherever nvcc is, and a clear error where it is not', () => {
    const c = configure('on', { HYPERNOISE_CUDA: '1' });
    if (hasNvcc) {
      expect(c.ok).toBe(true);
      expect(targets('on')).toMatch(/hn_cuda\b/);
    } else {
      expect(c.ok).toBe(false);
      expect(c.out).toMatch(/HYPERNOISE_CUDA=1 but no CUDA compiler/);
    }
  }, 120000);

  (hasNvcc ? test : test.skip)('a GPU that answers: its architectures, or the default list when nvcc does not know them', () => {
    // A stand-in nvidia-smi first on PATH, answering as one H100 and one A100 would, then as a future GPU.
    const bin = path.join(scratch, 'fake-smi');
    fs.mkdirSync(bin, { recursive: true });
    const smi = path.join(bin, 'nvidia-smi');
    const arches = (caps: string, name: string) => {
      fs.writeFileSync(smi, `#!/bin/sh\nprintf '${caps}'\n`, { mode: 0o755 });
      const c = configure(name, { PATH: `${bin}:${process.env.PATH}` });
      expect(c.ok).toBe(true);
      expect(c.out).toMatch(/a GPU answers/);
      return /hypernoise: CUDA architectures (.*)/.exec(c.out)?.[1];
    };
    expect(arches('9.0\\n8.0\\n9.0\\n', 'gpu-known')).toBe('80-real;90-real;90-virtual');
    expect(arches('99.9\\n', 'gpu-future')).toBe('80-real;86-real;89-real;90-real;90-virtual');
  }, 120000);

  test('a value that is neither 1 nor 0 is refused', () => {
    const c = configure('bad', { HYPERNOISE_CUDA: 'maybe' });
    expect(c.ok).toBe(false);
    expect(c.out).toMatch(/HYPERNOISE_CUDA=MAYBE: expected 1/);
  }, 60000);
});

describe('the install step (scripts/install.js)', () => {
  const wrapper = path.join(root, 'scripts', 'install.js');
  const hasScript = spawnSync('script', ['--version']).status === 0;

  (hasScript ? test : test.skip)('shows its status on the terminal, not in the output npm captures', () => {
    // `script` gives the child a terminal; the wrapper's stdout (what npm would capture) goes to a file.
    const captured = path.join(scratch, 'captured.txt');
    const r = spawnSync('script', ['-qec', `${process.execPath} ${wrapper} --version > ${captured} 2>&1`, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/hypernoise: native addon built \(\d+ s\)/);
    const out = fs.readFileSync(captured, 'utf8');
    expect(out).toMatch(/^\d+\.\d+\.\d+/); // cmake-js's own output, passed through
    expect(out).not.toContain('hypernoise:');
  });

  const hasSetsid = spawnSync('setsid', ['--version']).status === 0;
  (hasSetsid ? test : test.skip)('without a terminal it prints nothing extra, and a failing build fails the install', () => {
    // setsid: a new session, so no controlling terminal (as under CI or a service).
    const ok = spawnSync('setsid', ['-w', process.execPath, wrapper, '--version'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout + ok.stderr).not.toContain('hypernoise:');
    const bad = spawnSync('setsid', ['-w', process.execPath, wrapper, 'no-such-command'], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
  });
});
