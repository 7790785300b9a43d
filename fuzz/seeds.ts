/**
 * Seed files of the fuzz targets, all tiny (1x1 to 64x64) so that each input costs
 * milliseconds: .nimg files made by the codec under test (sizes, qualities, alpha), PNGs of
 * every colour type and bit depth (plain and interlaced, palette, tRNS), JPEGs from jpeg-js
 * (YCbCr) and DC-only ones of 1 and 4 (CMYK) components.
 */
import { deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { crc32 } from '../src/format/crc32.js';
import type { NimgCodec } from '../src/codec.js';
import { flatJpeg } from '../test/fixtures/flat-images.js';
import { makeRng, type Rng } from './rng.js';

/** An RGBA test picture: smooth gradients, an edge and some noise. */
export function picture(w: number, h: number, rng: Rng, alpha = false): Uint8ClampedArray {
  const d = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = 4 * (y * w + x);
      d[i] = 128 + 100 * Math.sin(x / 5 + y / 9) + rng.int(16);
      d[i + 1] = x > w / 2 ? 200 : 40 + 3 * y;
      d[i + 2] = (x * y) & 255;
      d[i + 3] = alpha ? (x * 16 + y) & 255 : 255;
    }
  return d;
}

/** .nimg seeds from `codec` (random weights in the fuzz runs: the network is cheap). */
export async function nimgSeeds(codec: NimgCodec): Promise<Uint8Array[]> {
  const rng = makeRng(7);
  const shapes: [number, number, number, boolean][] = [
    [16, 16, 5, false],
    [17, 23, 1, false],
    [32, 32, 8, false],
    [48, 40, 3.5, true],
    [64, 64, 5, false],
    [64, 16, 2, true],
    [1, 1, 4, false],
    [20, 64, 6, true],
  ];
  const out: Uint8Array[] = [];
  for (const [w, h, q, a] of shapes) out.push(await codec.encode({ width: w, height: h, data: picture(w, h, rng, a) }, { quality: q }));
  return out;
}

function chunk(type: string, data: Uint8Array): number[] {
  const o = new Uint8Array(12 + data.length);
  const dv = new DataView(o.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) o[4 + i] = type.charCodeAt(i);
  o.set(data, 8);
  dv.setUint32(8 + data.length, crc32(o, 4, 8 + data.length));
  return [...o];
}

const NC: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];

/** A PNG of random samples; rows cycle through the five filter types (raw bytes: Sub on row 1 etc. are just data here). */
function png(w: number, h: number, ctype: number, depth: number, interlace: boolean, rng: Rng, trns = false): Uint8Array {
  const nc = NC[ctype];
  const passes = interlace
    ? ADAM7.map(([x0, y0, dx, dy]) => ({ w: Math.ceil((w - x0) / dx), h: Math.ceil((h - y0) / dy) })).filter((p) => p.w > 0 && p.h > 0)
    : [{ w, h }];
  const raw: number[] = [];
  let r = 0;
  for (const p of passes) {
    const bpl = Math.ceil((p.w * nc * depth) / 8);
    for (let y = 0; y < p.h; y++, r++) {
      raw.push(r % 5);
      for (let x = 0; x < bpl; x++) raw.push(ctype === 3 ? rng.int(256) & (depth === 8 ? 15 : 0xff) : rng.int(256));
    }
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, w);
  dv.setUint32(4, h);
  ihdr[8] = depth;
  ihdr[9] = ctype;
  ihdr[12] = interlace ? 1 : 0;
  const bytes = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...chunk('IHDR', ihdr)];
  if (ctype === 3) bytes.push(...chunk('PLTE', Uint8Array.from({ length: 3 * 16 }, () => rng.int(256))));
  if (trns) bytes.push(...chunk('tRNS', ctype === 3 ? Uint8Array.from({ length: 8 }, () => rng.int(256)) : new Uint8Array(ctype === 0 ? 2 : 6)));
  bytes.push(...chunk('tEXt', new TextEncoder().encode('Comment\0fuzz seed')));
  const z = deflateSync(Uint8Array.from(raw));
  const cut = z.length >> 1;
  bytes.push(...chunk('IDAT', z.subarray(0, cut)), ...chunk('IDAT', z.subarray(cut)), ...chunk('IEND', new Uint8Array(0)));
  return Uint8Array.from(bytes);
}

export function pngSeeds(): Uint8Array[] {
  const rng = makeRng(11);
  const out: Uint8Array[] = [];
  const kinds: [number, number[]][] = [[0, [1, 2, 4, 8, 16]], [2, [8, 16]], [3, [1, 2, 4, 8]], [4, [8, 16]], [6, [8, 16]]];
  let k = 0;
  for (const [ctype, depths] of kinds)
    for (const depth of depths) {
      const w = 1 + ((k * 7) % 33), h = 1 + ((k * 5) % 29);
      out.push(png(w, h, ctype, depth, k % 3 === 0, rng, k % 4 === 1 && ctype !== 4 && ctype !== 6));
      k++;
    }
  return out;
}

export function jpegSeeds(): Uint8Array[] {
  const rng = makeRng(13);
  const out: Uint8Array[] = [];
  for (const [w, h, q] of [[16, 16, 90], [33, 17, 50], [8, 8, 10], [40, 24, 75]]) {
    out.push(new Uint8Array(jpeg.encode({ width: w, height: h, data: picture(w, h, rng) }, q).data));
  }
  out.push(flatJpeg(24, 16, 4), flatJpeg(16, 16, 1), flatJpeg(9, 13, 3));
  return out;
}
