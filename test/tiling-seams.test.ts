/**
 * No seams from tiling, end to end through the public codec on WASM: a 256x192 image coded
 * with 64 px tiles (4x3 tiles for g_a, 4x3 for g_s) and untiled (`tileSize: Infinity`).
 * PSNR within 0.05 dB whatever the combination; in practice the pixels (and the bytes) are
 * identical, which is asserted too for the same bytes decoded both ways. The 6000x4000 and
 * 1024x768 versions of this check are in bench/big-image.ts.
 *
 * Image: a 256x192 crop of ../shared/data/kodak/kodim05.png, else 240x192 of src/node/sample.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NimgCodec } from '../src/codec.js';
import { decodePng } from '../src/image/png.js';
import type { TiledTransforms } from '../src/model/transforms.js';
import { psnrRgba } from '../src/image/psnr.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KODAK05 = path.resolve(ROOT, '..', 'shared', 'data', 'kodak', 'kodim05.png');
const SRC = existsSync(KODAK05)
  ? { file: KODAK05, x: 256, y: 160, w: 256, h: 192 }
  : { file: path.join(ROOT, 'src/node/sample.png'), x: 0, y: 4, w: 240, h: 192 };

describe(`tiling seams: ${path.basename(SRC.file)} ${SRC.w}x${SRC.h}, tile 64 vs untiled (WASM)`, () => {
  let tiled: NimgCodec;
  let whole: NimgCodec;
  let img: { width: number; height: number; data: Uint8Array };

  beforeAll(async () => {
    const src = await decodePng(readFileSync(SRC.file));
    const data = new Uint8Array(SRC.w * SRC.h * 4);
    for (let y = 0; y < SRC.h; y++) {
      const o = ((SRC.y + y) * src.width + SRC.x) * 4;
      data.set(src.data.subarray(o, o + SRC.w * 4), y * SRC.w * 4);
    }
    img = { width: SRC.w, height: SRC.h, data };
    tiled = await NimgCodec.create({ backend: 'wasm', threads: 1, tileSize: 64 });
    whole = await NimgCodec.create({ backend: 'wasm', threads: 1, tileSize: Infinity });
  });

  afterAll(() => {
    tiled?.dispose();
    whole?.dispose();
  });

  for (const quality of [2, 6.5]) {
    it(`q${quality}: PSNR within 0.05 dB, same bytes decode to identical pixels`, async () => {
      const tileOf = async (c: NimgCodec) => ((await c.transformsFor('wasm')) as TiledTransforms).tileSize;
      expect(await tileOf(tiled)).toBe(64);
      expect(await tileOf(whole)).toBe(Infinity);
      const bT = await tiled.encode(img, { quality });
      const bU = await whole.encode(img, { quality });
      const tt = await tiled.decode(bT);
      const tu = await whole.decode(bT);
      const uu = await whole.decode(bU);
      const p = { tt: psnrRgba(img.data, tt.data), tu: psnrRgba(img.data, tu.data), uu: psnrRgba(img.data, uu.data) };
      let maxDiff = 0;
      for (let i = 0; i < tt.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(tt.data[i] - tu.data[i]));
      const sameBytes = Buffer.from(bT).equals(Buffer.from(bU));
      console.log(
        `[tiling-seams] q${quality}: PSNR tiled/tiled ${p.tt.toFixed(4)} dB, tiled/untiled-decode ${p.tu.toFixed(4)} dB, ` +
          `untiled/untiled ${p.uu.toFixed(4)} dB; decode max diff ${maxDiff}; encode bytes ${sameBytes ? 'identical' : 'differ'}`,
      );
      expect(Math.abs(p.tt - p.tu)).toBeLessThanOrEqual(0.05);
      expect(Math.abs(p.tt - p.uu)).toBeLessThanOrEqual(0.05);
      // preferably identical: the same bytes decode to the same pixels tiled or not
      expect(maxDiff).toBe(0);
    });
  }
});
