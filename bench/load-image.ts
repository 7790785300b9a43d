/**
 * An image file (PNG or JPEG, src/image's reader) as RGBA, optionally a crop of it: the
 * inputs of the per-image benches (perimage-gpu.ts on the device, perimage-init-trace.ts on
 * the CPU). Listed in bench/gpu/prepare.sh, which transpiles it for the device.
 */
import { readFileSync } from 'node:fs';
import { decodeImageFile } from '../src/image/index.js';

export interface Rgba { width: number; height: number; data: Uint8ClampedArray }

/** The file's RGBA, or the crop [x, y, w, h] of it (an error when the crop leaves the image). */
export async function loadImage(file: string, crop?: readonly number[]): Promise<Rgba> {
  const img = await decodeImageFile(new Uint8Array(readFileSync(file)));
  const full = { width: img.width, height: img.height, data: new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.byteLength) };
  if (!crop) return full;
  const [x0, y0, w, h] = crop;
  if (x0 + w > full.width || y0 + h > full.height) throw new Error(`crop ${crop} outside ${file} (${full.width}x${full.height})`);
  const data = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) data.set(full.data.subarray(((y + y0) * full.width + x0) * 4, ((y + y0) * full.width + x0 + w) * 4), y * w * 4);
  return { width: w, height: h, data };
}
