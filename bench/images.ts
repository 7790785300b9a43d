import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
// @ts-ignore — upng-js has no bundled types
import UPNG from 'upng-js';

export interface RgbaImage {
  name: string;
  width: number;
  height: number;
  /** RGBA 8-bit, alpha forced to 255 */
  data: Uint8ClampedArray;
}

export function decodePng(buf: Uint8Array): { width: number; height: number; data: Uint8ClampedArray } {
  const img = UPNG.decode(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
  const frames = UPNG.toRGBA8(img);
  const data = new Uint8ClampedArray(frames[0]);
  for (let i = 3; i < data.length; i += 4) data[i] = 255;
  return { width: img.width, height: img.height, data };
}

export async function loadImages(dir: string, limit?: number): Promise<RgbaImage[]> {
  const names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.png')).sort();
  const chosen = limit ? names.slice(0, limit) : names;
  const out: RgbaImage[] = [];
  for (const n of chosen) {
    const buf = await readFile(path.join(dir, n));
    out.push({ name: n, ...decodePng(new Uint8Array(buf)) });
  }
  if (!out.length) throw new Error(`no PNG images in ${dir}`);
  return out;
}
