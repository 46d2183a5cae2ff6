/**
 * What `sample`, `optimize` and `best-of-n` write: a PNG grid of the samples (through the optional sharp) and
 * the arrays (samples x, the noise fed to the generator, the base noise, the conditions, the rewards) as JSON,
 * .npy files or one .safetensors file. Without sharp the arrays are still written and the remedy is printed.
 */
import * as fs from 'fs';
import * as path from 'path';
import { OptionSpec } from './args';
import { note } from './common';
import { checkOutputs } from './paths';
import { serializeNpy } from './npy';
import { HypernoiseError } from '../errors';
import { makeDirectories } from '../files';
import { gridImage, ImageShape, loadSharp, SHARP_REMEDY, writePng } from '../images';
import { writeFileAtomic, writeSafetensors } from '../safetensors';

export const FORMATS = ['json', 'npy', 'safetensors'] as const;
export type ArrayFormat = (typeof FORMATS)[number];

export const OUTPUT_OPTIONS = {
  format: { kind: 'string', value: 'FORMAT', help: 'the arrays: BASE.json, BASE.<array>.npy files or BASE.safetensors (default: from --out\'s extension, else json)', choices: FORMATS },
  image: { kind: 'string', value: 'CxHxW', help: 'the image shape of a sample for the PNG grid (default: 1xSxS or 3xSxS when the size fits)' },
  cols: { kind: 'int', value: 'N', help: 'grid columns (default: about sqrt(n))', min: 1 },
  scale: { kind: 'int', value: 'K', help: 'PNG upscaling factor (nearest neighbour)', default: 2, min: 1 },
} as const satisfies Record<string, OptionSpec>;

export const OUTPUTS_NOTE = `Outputs: --out BASE writes BASE.png (the grid; needs the optional package sharp) and the arrays: x (samples, n x P),
noise (what the generator was fed, n x D), baseNoise (the Gaussian noise it started from, n x D), cond (n x C,
when conditional) and reward (n, where a reward is known). A .png, .json, .npy or .safetensors ending of --out is
dropped from BASE (and an array format's ending sets --format).`;

/** One named array of the outputs with its shape. */
export interface OutputArray {
  name: string;
  data: Float32Array;
  shape: number[];
}

export interface OutputRequest {
  out: string;
  format: string | undefined;
  image: string | undefined;
  cols: number | undefined;
  scale: number;
  arrays: OutputArray[];
  /** written with the arrays (JSON fields, the safetensors metadata) */
  meta: Record<string, unknown>;
  /** n samples of outputDim values: the array named x */
  n: number;
  outputDim: number;
}

export interface OutputFiles {
  /** every file written */
  files: string[];
  png: string | null;
  /** why there is no PNG, when there is none */
  pngSkipped?: string;
}

/** BASE and the array format from --out and --format. */
export function outputBase(out: string, format: string | undefined): { base: string; format: ArrayFormat } {
  const ext = path.extname(out).toLowerCase();
  const fromExt = (FORMATS as readonly string[]).includes(ext.slice(1)) ? (ext.slice(1) as ArrayFormat) : undefined;
  if (format !== undefined && fromExt !== undefined && format !== fromExt) {
    throw new HypernoiseError(`--out ${out} ends in ${ext} but --format is ${format}`, 'ERR_ARGUMENT');
  }
  const base = fromExt !== undefined || ext === '.png' ? out.slice(0, out.length - ext.length) : out;
  return { base, format: (format as ArrayFormat | undefined) ?? fromExt ?? 'json' };
}

/** The names of the arrays the commands write (for the file names of --format npy). */
const ARRAY_NAMES = ['x', 'noise', 'baseNoise', 'cond', 'reward'] as const;

/**
 * Checks, before any work, the files --out will write: none may be one of the command's inputs, and an existing
 * .json or .safetensors there is replaced only if it holds samples (checkOutputs).
 */
export function checkOutputTargets(out: string, format: string | undefined, inputs: ReadonlyArray<{ flag: string; file: string | undefined }>): void {
  const { base, format: f } = outputBase(out, format);
  const files: Array<{ flag: string; file: string; overwrites?: readonly string[] }> = [{ flag: '--out', file: `${base}.png` }];
  if (f === 'json') files.push({ flag: '--out', file: `${base}.json`, overwrites: ['samples'] });
  else if (f === 'safetensors') files.push({ flag: '--out', file: `${base}.safetensors`, overwrites: ['samples'] });
  else for (const name of ARRAY_NAMES) files.push({ flag: '--out', file: `${base}.${name}.npy` });
  checkOutputs(files, inputs);
}

/** The image shape of one sample: --image CxHxW, or a guess (a square, gray or RGB), or null. */
export function imageShape(outputDim: number, spec: string | undefined): ImageShape | null {
  if (spec !== undefined) {
    const m = /^([13])x(\d+)x(\d+)$/.exec(spec.trim());
    if (!m) throw new HypernoiseError(`--image expects CxHxW with C = 1 or 3 (e.g. 1x28x28) but received '${spec}'`, 'ERR_ARGUMENT');
    const shape = { channels: Number(m[1]) as 1 | 3, height: Number(m[2]), width: Number(m[3]) };
    if (shape.channels * shape.height * shape.width !== outputDim) {
      throw new HypernoiseError(`--image ${spec} holds ${shape.channels * shape.height * shape.width} values but a sample has ${outputDim}`, 'ERR_ARGUMENT');
    }
    return shape;
  }
  for (const channels of [1, 3] as const) {
    const side = Math.round(Math.sqrt(outputDim / channels));
    if (side > 1 && channels * side * side === outputDim) return { channels, height: side, width: side };
  }
  return null;
}

function toJson(req: OutputRequest): string {
  const shapes: Record<string, number[]> = {};
  for (const a of req.arrays) shapes[a.name] = a.shape;
  const body: Record<string, unknown> = { format: 'samples', ...req.meta, n: req.n, outputDim: req.outputDim, shapes };
  for (const a of req.arrays) body[a.name] = Array.from(a.data);
  return JSON.stringify(body);
}

async function writePngGrid(req: OutputRequest, file: string): Promise<{ png: string | null; skipped?: string }> {
  const shape = imageShape(req.outputDim, req.image);
  if (shape === null) return { png: null, skipped: `a sample's ${req.outputDim} values are not a square image; pass --image CxHxW for a PNG grid` };
  if (req.n === 0) return { png: null, skipped: 'no samples' };
  if (loadSharp() === null) return { png: null, skipped: SHARP_REMEDY };
  const cols = Math.max(1, Math.min(req.n, req.cols ?? Math.ceil(Math.sqrt(req.n))));
  const rows = Math.ceil(req.n / cols);
  const per = req.outputDim;
  const tiles = new Float32Array(rows * cols * per).fill(1); // empty tiles of the last row are white
  const x = req.arrays.find((a) => a.name === 'x');
  if (x === undefined) return { png: null, skipped: 'no samples' };
  tiles.set(x.data.subarray(0, req.n * per));
  await writePng(file, gridImage(tiles, rows, cols, shape), req.scale);
  return { png: file };
}

/** Writes the arrays, then the PNG grid; a missing sharp or a non-image output skips only the PNG. */
export async function writeOutputs(req: OutputRequest): Promise<OutputFiles> {
  if (!Number.isInteger(req.scale) || req.scale < 1 || req.scale > 64) throw new HypernoiseError(`--scale expects an integer from 1 to 64 but received ${req.scale}`, 'ERR_ARGUMENT');
  if (req.cols !== undefined && req.cols < 1) throw new HypernoiseError(`--cols expects an integer >= 1 but received ${req.cols}`, 'ERR_ARGUMENT');
  imageShape(req.outputDim, req.image); // a bad --image is an argument error before anything is written
  const { base, format } = outputBase(req.out, req.format);
  try {
    await makeDirectories(path.dirname(path.resolve(base)));
  } catch (err) {
    throw new HypernoiseError(`--out ${req.out}: ${(err as Error).message}`, 'ERR_FILE');
  }
  const files: string[] = [];
  if (format === 'json') {
    files.push(`${base}.json`);
    await writeFileAtomic(`${base}.json`, Buffer.from(toJson(req)));
  } else if (format === 'npy') {
    for (const a of req.arrays) {
      const file = `${base}.${a.name}.npy`;
      await writeFileAtomic(file, serializeNpy(a.data, a.shape));
      files.push(file);
    }
  } else {
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const a of req.arrays) tensors[a.name] = { shape: a.shape, data: a.data };
    await writeSafetensors(`${base}.safetensors`, tensors, { hypernoise: JSON.stringify({ format: 'samples', ...req.meta }) });
    files.push(`${base}.safetensors`);
  }
  const { png, skipped } = await writePngGrid(req, `${base}.png`);
  if (png !== null) files.unshift(png);
  else if (skipped !== undefined) note(`no PNG grid: ${skipped}`);
  return { files, png, ...(skipped === undefined ? {} : { pngSkipped: skipped }) };
}
