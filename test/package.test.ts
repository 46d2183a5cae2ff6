/**
 * The npm package: what `npm pack` ships, and the packed tarball installed into a scratch project and used from
 * CommonJS, an ES module and TypeScript (issue 14's acceptance), as a user of the published package would.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compileTypeScript, copyExamples, documentedOutput, EXAMPLE_ENV, lines, makeScratchProject, runNodeExample } from './examples-run';

const root = path.join(__dirname, '..');

describe('the npm package', () => {
  test('ships LICENSE and every file the README links to', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const files = new Set((JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0].files.map((f) => f.path));
    expect(files.has('LICENSE')).toBe(true);
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
    expect(links.length).toBeGreaterThan(3);
    for (const l of links) expect({ link: l, shipped: files.has(l) }).toEqual({ link: l, shipped: true });
  }, 60000);
});

// ---------------------------------------------------------------------------------------------------------

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  dev?: boolean;
  [key: string]: unknown;
}

/**
 * The lockfile entries of the package's production dependencies (the closure of `dependencies`, located as
 * Node resolves them), from this repository's package-lock.json: the versions this checkout was tested with.
 */
function productionLockEntries(): Record<string, LockEntry> {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const pk = lock.packages;
  const locate = (from: string, dep: string): string => {
    for (let base = from; ; ) {
      const candidate = base ? `${base}/node_modules/${dep}` : `node_modules/${dep}`;
      if (candidate in pk) return candidate;
      if (!base) throw new Error(`package-lock.json: ${dep} (needed by ${from || 'the package'}) is not locked`);
      const i = base.lastIndexOf('/node_modules/');
      base = i >= 0 ? base.slice(0, i) : '';
    }
  };
  const out: Record<string, LockEntry> = {};
  const todo: Array<[string, string]> = Object.keys(pk[''].dependencies ?? {}).map((d) => ['', d]);
  while (todo.length > 0) {
    const [from, dep] = todo.pop() as [string, string];
    const at = locate(from, dep);
    if (at in out) continue;
    out[at] = pk[at];
    for (const d of Object.keys(pk[at].dependencies ?? {})) todo.push([at, d]);
  }
  return out;
}

/**
 * Installs the packed tarball into a scratch project, offline. A project without a lockfile makes npm fetch
 * each dependency's registry document, which an offline install can only take from npm's cache (and npm 11
 * asks for the full documents, which an `npm ci` of this repository does not leave there); so the scratch
 * project gets the lockfile a user's project would have: hypernoise from the local tarball, its dependencies
 * at the versions of this repository's package-lock.json. `npm ci --offline` then needs only their tarballs,
 * which installing this repository put in npm's cache.
 *
 * The package's install script builds the addon with cmake-js (about a minute on 2 cores): by default the
 * install runs with --ignore-scripts and the addon this checkout built (build/Release/hypernoise.node) is
 * copied to where the installed package looks for it, which keeps this test to seconds.
 * HYPERNOISE_TARBALL_BUILD=1 runs the install script instead (the whole native build from the shipped sources).
 */
function installTarball(project: string, tarball: string): void {
  const manifest = JSON.parse(execFileSync('tar', ['-xOzf', tarball, 'package/package.json'], { encoding: 'utf8' })) as Record<string, unknown>;
  const name = path.basename(tarball);
  fs.copyFileSync(tarball, path.join(project, name));
  const integrity = `sha512-${crypto.createHash('sha512').update(fs.readFileSync(tarball)).digest('base64')}`;
  const pkg = { name: 'scratch', version: '1.0.0', private: true, dependencies: { hypernoise: `file:${name}` } };
  const packages: Record<string, unknown> = {
    '': { name: pkg.name, version: pkg.version, dependencies: pkg.dependencies },
    'node_modules/hypernoise': {
      version: manifest.version,
      resolved: `file:${name}`,
      integrity,
      hasInstallScript: true,
      license: manifest.license,
      dependencies: manifest.dependencies,
      peerDependencies: manifest.peerDependencies,
      peerDependenciesMeta: manifest.peerDependenciesMeta,
      bin: manifest.bin,
      engines: manifest.engines,
    },
    ...productionLockEntries(),
  };
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify(pkg, null, 2));
  fs.writeFileSync(path.join(project, 'package-lock.json'), JSON.stringify({ name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true, packages }, null, 2));
  const build = process.env.HYPERNOISE_TARBALL_BUILD === '1';
  const r = spawnSync('npm', ['ci', '--offline', '--no-audit', '--no-fund', build ? '--foreground-scripts' : '--ignore-scripts'], { cwd: project, encoding: 'utf8', env: { ...process.env, HYPERNOISE_CUDA: '0' } });
  expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
  if (!build) {
    const release = path.join(project, 'node_modules', 'hypernoise', 'build', 'Release');
    fs.mkdirSync(release, { recursive: true });
    fs.copyFileSync(path.join(root, 'build', 'Release', 'hypernoise.node'), path.join(release, 'hypernoise.node'));
  }
}

describe('the packed tarball, installed offline in a scratch project', () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-tarball-'));
  const project = path.join(scratch, 'project');
  const installed = path.join(project, 'node_modules', 'hypernoise');
  /** The examples the README shows for use in a project; run as the installed package ships them. */
  const examples = ['readme-commonjs.js', 'readme-esm.mjs', 'readme-quickstart.ts'];
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  beforeAll(() => {
    // dist/ as it is built (npm test builds it first; --ignore-scripts skips `prepare`'s rebuild)
    const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as Array<{ filename: string }>;
    fs.mkdirSync(project);
    installTarball(project, path.join(scratch, packed[0].filename));
    makeScratchProject(project);
    copyExamples(project, examples, path.join(installed, 'examples'));
  }, 240000);

  test('the package is installed from the tarball (not linked), with its models and examples', () => {
    expect(fs.lstatSync(installed).isSymbolicLink()).toBe(false);
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'models/mnist-vae-decoder.safetensors', 'LICENSE', ...examples.map((e) => `examples/${e}`)]) {
      expect({ f, installed: fs.existsSync(path.join(installed, f)) }).toEqual({ f, installed: true });
    }
    // the installed examples are this checkout's
    for (const e of examples) expect(fs.readFileSync(path.join(installed, 'examples', e), 'utf8')).toBe(fs.readFileSync(path.join(root, 'examples', e), 'utf8'));
  });

  test('its bin runs: `npx hypernoise info` names the backend', () => {
    const r = spawnSync(path.join(project, 'node_modules', '.bin', 'hypernoise'), ['info'], { cwd: project, encoding: 'utf8', env: EXAMPLE_ENV });
    expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout).toMatch(/^auto backend: (cpu|cuda)/m);
  });

  test('the TypeScript example type-checks (strict) against the installed declarations', () => {
    const r = compileTypeScript(project);
    expect({ status: r.status, out: r.stdout + r.stderr }).toEqual({ status: 0, out: '' });
  }, 120000);

  test.each(examples)('%s runs against the installed package', (file) => {
    const r = runNodeExample(project, file);
    expect({ file, status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ file, status: 0, stderr: '' });
    // what the example prints is what test/docs.test.ts checks against the checkout: the same lines here
    const printed = lines(r.stdout);
    for (const want of documentedOutput(fs.readFileSync(path.join(root, 'examples', file), 'utf8'))) expect(printed).toContain(want);
    if (file === 'readme-quickstart.ts') {
      const m = /threes out of 100: (\d+) without, (\d+) with/.exec(r.stdout);
      expect(m).not.toBeNull();
      expect(Number((m as RegExpExecArray)[2])).toBeGreaterThan(Number((m as RegExpExecArray)[1]) + 20);
    }
    if (file === 'readme-esm.mjs') {
      const m = /mean reward: (-?[\d.]+) -> (-?[\d.]+)/.exec(r.stdout);
      expect(m).not.toBeNull();
      expect(Number((m as RegExpExecArray)[2])).toBeGreaterThan(Number((m as RegExpExecArray)[1]) + 5);
    }
  }, 120000);
});
