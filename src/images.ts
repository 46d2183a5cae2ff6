/**
 * Sample grids as PNG (through sharp). Generator outputs are float [0, 1] images laid out channel-first
 * ([C, H, W], as in PyTorch); sharp wants interleaved 8-bit pixels, so they are clamped, scaled and rounded.
 */
import * as fs from 'fs';
import * as path from 'path';
import { HypernoiseError } from './errors';
import { makeDirectories } from './files';

export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

export interface ImageShape {
  channels: 1 | 3;
  height: number;
  width: number;
}

/** A grid of tiles: rows x cols images (row-major in `samples`), `pad` pixels of `background` between them. */
export function gridImage(samples: Float32Array, rows: number, cols: number, shape: ImageShape, pad = 2, background = 255): RawImage {
  const { channels: C, height: H, width: W } = shape;
  const per = C * H * W;
  if (samples.length < rows * cols * per) {
    throw new HypernoiseError(`gridImage: ${rows}x${cols} tiles of ${per} values need ${rows * cols * per} values but received ${samples.length}`, 'ERR_SHAPE');
  }
  const width = cols * W + (cols + 1) * pad;
  const height = rows * H + (rows + 1) * pad;
  const data = new Uint8Array(width * height * C).fill(background);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const tile = (r * cols + c) * per;
      const x0 = pad + c * (W + pad);
      const y0 = pad + r * (H + pad);
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          for (let ch = 0; ch < C; ch++) {
            const v = samples[tile + ch * H * W + y * W + x];
            const u8 = Math.round(Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * 255);
            data[((y0 + y) * width + (x0 + x)) * C + ch] = u8;
          }
        }
      }
    }
  }
  return { data, width, height, channels: C };
}

/** Places images side by side with a gap (e.g. one grid per method). */
export function hconcat(images: RawImage[], gap = 8, background = 255): RawImage {
  const C = images[0].channels;
  const height = Math.max(...images.map((i) => i.height));
  const width = images.reduce((s, i) => s + i.width, 0) + gap * (images.length - 1);
  const data = new Uint8Array(width * height * C).fill(background);
  let x0 = 0;
  for (const img of images) {
    if (img.channels !== C) throw new HypernoiseError('hconcat: images must have the same channel count', 'ERR_SHAPE');
    for (let y = 0; y < img.height; y++) {
      data.set(img.data.subarray(y * img.width * C, (y + 1) * img.width * C), (y * width + x0) * C);
    }
    x0 += img.width + gap;
  }
  return { data, width, height, channels: C };
}

/** What to do when PNG output is asked for without sharp (an optional peer dependency). */
export const SHARP_REMEDY = "PNG output needs the optional package 'sharp': npm install sharp";

/** The sharp module, or null when it is not installed. */
export function loadSharp(): typeof import('sharp') | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('sharp') as typeof import('sharp');
  } catch {
    return null;
  }
}

/** Writes a PNG, upscaled by an integer factor (nearest neighbour keeps pixels crisp). ERR_FILE without sharp. */
export async function writePng(file: string, img: RawImage, scale = 1): Promise<void> {
  const sharp = loadSharp();
  if (sharp === null) throw new HypernoiseError(`Cannot write ${file}: ${SHARP_REMEDY}`, 'ERR_FILE');
  try {
    await makeDirectories(path.dirname(path.resolve(file)));
  } catch (err) {
    throw new HypernoiseError(`Cannot write ${file}: ${(err as Error).message}`, 'ERR_FILE');
  }
  let pipeline = sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
    raw: { width: img.width, height: img.height, channels: img.channels },
  });
  if (scale !== 1) pipeline = pipeline.resize(img.width * scale, img.height * scale, { kernel: 'nearest' });
  await pipeline.png().toFile(file);
}
