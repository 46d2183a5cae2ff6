/**
 * Running the examples of examples/ (the README's code blocks) as a user would: in a scratch project whose
 * node_modules/hypernoise is either a link to this checkout (test/docs.test.ts) or the packed tarball
 * installed (test/package.test.ts). TypeScript examples are type-checked and compiled with tsc against the
 * package's own .d.ts files (an ES module project, "module": "node16"), then run with node.
 */
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const ROOT = path.join(__dirname, '..');
export const EXAMPLES = path.join(ROOT, 'examples');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** The examples run with one native thread (and PyTorch with one): the tests share the machine, and results do not depend on it. */
export const EXAMPLE_ENV: NodeJS.ProcessEnv = { ...process.env, HYPERNOISE_NUM_THREADS: '1', OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' };

/** The directory of TypeScript examples inside a scratch project (an ES module package with its tsconfig). */
export const TS_DIR = 'ts';

/**
 * Makes `dir` a scratch project (a package.json unless it has one): `node_modules/@types/node` linked from this
 * checkout (the examples' only type dependency besides hypernoise's own), and a `ts/` folder that is an ES
 * module package with a strict tsconfig compiling to `ts/out/`. `hypernoise` (a link or an installed package)
 * is the caller's to provide; an `npm ci` after this would remove the link, so it comes first.
 */
export function makeScratchProject(dir: string): void {
  fs.mkdirSync(path.join(dir, 'node_modules', '@types'), { recursive: true });
  const types = path.join(dir, 'node_modules', '@types', 'node');
  if (!fs.existsSync(types)) fs.symlinkSync(path.join(ROOT, 'node_modules', '@types', 'node'), types, 'dir');
  const pkg = path.join(dir, 'package.json');
  if (!fs.existsSync(pkg)) fs.writeFileSync(pkg, JSON.stringify({ name: 'scratch', version: '1.0.0', private: true }, null, 2));
  const ts = path.join(dir, TS_DIR);
  fs.mkdirSync(ts, { recursive: true });
  fs.writeFileSync(path.join(ts, 'package.json'), JSON.stringify({ type: 'module', private: true }, null, 2));
  fs.writeFileSync(
    path.join(ts, 'tsconfig.json'),
    JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'node16',
          moduleResolution: 'node16',
          strict: true,
          // the package's declaration files are checked too: they are what a user's tsc reads
          skipLibCheck: false,
          types: ['node'],
          rootDir: '.',
          outDir: 'out',
        },
        include: ['*.ts'],
      },
      null,
      2,
    ),
  );
}

/** Copies example files into the scratch project: .ts into ts/, the others to the project's root. */
export function copyExamples(dir: string, files: string[], from = EXAMPLES): void {
  for (const f of files) fs.copyFileSync(path.join(from, f), path.join(dir, f.endsWith('.ts') ? TS_DIR : '', f));
}

/**
 * Type-checks the TypeScript examples of a scratch project and compiles them, in one tsc run (noEmitOnError:
 * a type error fails the run and emits nothing, as `tsc --noEmit` would; one run instead of two saves ~10 s).
 */
export function compileTypeScript(dir: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [TSC, '-p', path.join(dir, TS_DIR, 'tsconfig.json'), '--noEmitOnError'], { encoding: 'utf8' });
}

/** Runs an example with node in the scratch project (cwd: its root); a .ts example runs as compiled. */
export function runNodeExample(dir: string, file: string, timeoutMs = 120000): SpawnSyncReturns<string> {
  const script = file.endsWith('.ts') ? path.join(dir, TS_DIR, 'out', file.replace(/\.ts$/, '.js')) : path.join(dir, file);
  return spawnSync(process.execPath, [script], { cwd: dir, encoding: 'utf8', env: EXAMPLE_ENV, timeout: timeoutMs, maxBuffer: 16 << 20 });
}

/**
 * The output an example documents: the text after `// → ` on its lines (`# → ` in Python). Each must be a
 * line of what the example prints.
 */
export function documentedOutput(source: string): string[] {
  return [...source.matchAll(/(?:\/\/|#) → (.+)$/gm)].map((m) => m[1].trim());
}

/** Lines printed to stdout, trimmed. */
export function lines(stdout: string): string[] {
  return stdout.split('\n').map((l) => l.trim());
}
