/** Running the built CLI (dist/cli.js) from tests, and reading what it writes. */
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const CLI = path.join(__dirname, '..', 'dist', 'cli.js');
export const MODELS = path.join(__dirname, '..', 'models');
export const VAE = path.join(MODELS, 'mnist-vae-decoder.safetensors');
export const CLASSIFIER = path.join(MODELS, 'mnist-classifier.safetensors');

/** Runs `hypernoise ...args` to completion; `preload` modules go to node -r. */
export function run(args: string[], opts: { preload?: string[]; cwd?: string } = {}): SpawnSyncReturns<string> {
  const pre = (opts.preload ?? []).flatMap((p) => ['-r', p]);
  return spawnSync(process.execPath, [...pre, CLI, ...args], { encoding: 'utf8', cwd: opts.cwd, maxBuffer: 64 << 20 });
}

/** Width and height of a PNG file (its IHDR chunk), after checking the signature. */
export function pngSize(file: string): { width: number; height: number } {
  const b = fs.readFileSync(file);
  if (b.subarray(1, 4).toString('latin1') !== 'PNG') throw new Error(`${file} is not a PNG`);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}
