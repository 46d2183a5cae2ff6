/**
 * What `npm install` builds (CMakeLists.txt; README, "What the install builds"): CPU only where no GPU answers,
 * CUDA when asked with HYPERNOISE_CUDA=1 (an error without nvcc) and never with 0, the C++ test programs only
 * when asked. Configures CMake in a scratch directory (no compilation) with the environment npm would pass.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-install-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** PATH without nvidia-smi (so that no GPU answers, as on this project's machines) but with nvcc if present. */
const pathWithoutSmi = (process.env.PATH ?? '').split(':').filter((d) => !fs.existsSync(path.join(d, 'nvidia-smi'))).join(':');
const hasNvcc = spawnSync('nvcc', ['--version']).status === 0;

function configure(name: string, env: Record<string, string>, extra: string[] = []): { ok: boolean; out: string; cache: string } {
  const dir = path.join(scratch, name);
  const r = spawnSync('cmake', ['-S', root, '-B', dir, '-DHYPERNOISE_ADDON=ON', ...extra], {
    env: { ...process.env, PATH: pathWithoutSmi, HYPERNOISE_CUDA: '', HYPERNOISE_TESTS: '', ...env },
    encoding: 'utf8',
  });
  const cacheFile = path.join(dir, 'CMakeCache.txt');
  return { ok: r.status === 0, out: r.stdout + r.stderr, cache: fs.existsSync(cacheFile) ? fs.readFileSync(cacheFile, 'utf8') : '' };
}

const targets = (name: string) => execFileSync('cmake', ['--build', path.join(scratch, name), '--target', 'help'], { encoding: 'utf8' });

describe('what the install builds', () => {
  test('no GPU: the CPU backend only, no test programs', () => {
    const c = configure('default', {});
    expect(c.ok).toBe(true);
    expect(c.out).toMatch(/no GPU answers; building the CPU backend only/);
    expect(c.cache).not.toMatch(/CMAKE_CUDA_COMPILER:/);
    expect(targets('default')).not.toMatch(/hn_core_test/);
  }, 60000);

  test('HYPERNOISE_CUDA=0: CPU only; HYPERNOISE_TESTS=1: the test programs', () => {
    const c = configure('off', { HYPERNOISE_CUDA: '0', HYPERNOISE_TESTS: '1' });
    expect(c.ok).toBe(true);
    expect(c.cache).toMatch(/HYPERNOISE_CUDA:STRING=OFF/);
    expect(targets('off')).toMatch(/hn_core_test/);
  }, 60000);

  test('HYPERNOISE_CUDA=1: the CUDA backend wherever nvcc is, and a clear error where it is not', () => {
    const c = configure('on', { HYPERNOISE_CUDA: '1' });
    if (hasNvcc) {
      expect(c.ok).toBe(true);
      expect(targets('on')).toMatch(/hn_cuda\b/);
    } else {
      expect(c.ok).toBe(false);
      expect(c.out).toMatch(/HYPERNOISE_CUDA is ON but no CUDA compiler/);
    }
  }, 120000);

  test('a value that is neither 1 nor 0 is refused', () => {
    const c = configure('bad', { HYPERNOISE_CUDA: 'maybe' });
    expect(c.ok).toBe(false);
    expect(c.out).toMatch(/HYPERNOISE_CUDA=maybe: expected 1/);
  }, 60000);
});
