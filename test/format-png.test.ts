/**
 * Image input: PNG of every colour type / bit depth / interlacing, tRNS, and JPEG → RGBA8.
 * The PNG files are written here by an independent minimal encoder (node:zlib), with every
 * filter type, so the expected pixels are known exactly.
 */
import { describe, expect, it } from 'vitest';
import { deflateSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import UPNG from 'upng-js';
import { decodeImageFile, decodePng, encodePng } from '../src/image/index.js';
import { crc32 } from '../src/format/crc32.js';
import { NimgError } from '../src/errors.js';
import { resolveLimits } from '../src/limits.js';

function chunk(type: string, data: Uint8Array): Buffer {
  const b = Buffer.alloc(12 + data.length);
  b.writeUInt32BE(data.length, 0);
  b.write(type, 4, 'latin1');
  Buffer.from(data).copy(b, 8);
  b.writeUInt32BE(crc32(b, 4, 8 + data.length), 8 + data.length);
  return b;
}

const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
const NC: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function paeth(a: number, b: number, c: number) {
  const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Pack raw samples (per pixel, nc values of `depth` bits) into filtered scanlines. */
function scanlines(samples: number[][], w: number, h: number, nc: number, depth: number, rowBase: number): Buffer {
  const bpl = Math.ceil((w * nc * depth) / 8);
  const bpp = Math.max(1, (nc * depth) >> 3);
  const out: number[] = [];
  let prev = new Uint8Array(bpl);
  for (let y = 0; y < h; y++) {
    const row = new Uint8Array(bpl);
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < nc; c++) {
        const v = samples[y * w + x][c];
        if (depth === 16) {
          row[2 * (x * nc + c)] = v >> 8;
          row[2 * (x * nc + c) + 1] = v & 255;
        } else if (depth === 8) row[x * nc + c] = v;
        else {
          const bit = (x * nc + c) * depth;
          row[bit >> 3] |= v << (8 - depth - (bit & 7));
        }
      }
    }
    const f = (y + rowBase) % 5;
    out.push(f);
    for (let x = 0; x < bpl; x++) {
      const a = x >= bpp ? row[x - bpp] : 0, b = prev[x], c = x >= bpp ? prev[x - bpp] : 0;
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : paeth(a, b, c);
      out.push((row[x] - pred) & 255);
    }
    prev = row;
  }
  return Buffer.from(out);
}

function makePng(w: number, h: number, ctype: number, depth: number, px: number[][], opts: { interlace?: boolean; plte?: number[]; trns?: number[] } = {}): Uint8Array {
  const nc = NC[ctype];
  const ih = Buffer.alloc(13);
  ih.writeUInt32BE(w, 0);
  ih.writeUInt32BE(h, 4);
  ih[8] = depth;
  ih[9] = ctype;
  ih[12] = opts.interlace ? 1 : 0;
  let raw: Buffer;
  if (!opts.interlace) raw = scanlines(px, w, h, nc, depth, 0);
  else {
    const parts: Buffer[] = [];
    ADAM7.forEach(([x0, y0, dx, dy], k) => {
      const pw = Math.ceil((w - x0) / dx), ph = Math.ceil((h - y0) / dy);
      if (pw <= 0 || ph <= 0) return;
      const sub: number[][] = [];
      for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) sub.push(px[(y0 + y * dy) * w + x0 + x * dx]);
      parts.push(scanlines(sub, pw, ph, nc, depth, k));
    });
    raw = Buffer.concat(parts);
  }
  const z = deflateSync(raw);
  const extra: Buffer[] = [];
  if (opts.plte) extra.push(chunk('PLTE', Uint8Array.from(opts.plte)));
  if (opts.trns) extra.push(chunk('tRNS', Uint8Array.from(opts.trns)));
  // split IDAT in two to exercise concatenation
  const half = z.length >> 1;
  return new Uint8Array(Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ih), ...extra, chunk('IDAT', z.subarray(0, half)), chunk('IDAT', z.subarray(half)), chunk('IEND', new Uint8Array(0))]));
}

const W = 13, H = 7; // odd sizes: row padding and all Adam7 passes
const scale = (v: number, depth: number) => (depth === 16 ? Math.round(v / 257) : Math.round((v * 255) / (2 ** depth - 1)));

function check(png: Uint8Array, expected: (i: number) => number[]) {
  return decodePng(png).then((img) => {
    expect(img.width).toBe(W);
    expect(img.height).toBe(H);
    for (let i = 0; i < W * H; i++) expect([...img.data.subarray(4 * i, 4 * i + 4)], `pixel ${i}`).toEqual(expected(i));
  });
}

describe('PNG decoding to RGBA8', () => {
  for (const interlace of [false, true]) {
    const tag = interlace ? ' interlaced' : '';
    for (const depth of [1, 2, 4, 8, 16]) {
      it(`grey ${depth}-bit${tag}`, async () => {
        const max = 2 ** depth - 1;
        const px = Array.from({ length: W * H }, (_, i) => [(i * 7 + 3) % (max + 1)]);
        await check(makePng(W, H, 0, depth, px, { interlace }), (i) => {
          const g = scale(px[i][0], depth);
          return [g, g, g, 255];
        });
      });
      it(`grey ${depth}-bit with tRNS${tag}`, async () => {
        const max = 2 ** depth - 1;
        const px = Array.from({ length: W * H }, (_, i) => [(i * 5) % (max + 1)]);
        const key = px[4][0];
        await check(makePng(W, H, 0, depth, px, { interlace, trns: [key >> 8, key & 255] }), (i) => {
          const g = scale(px[i][0], depth);
          return [g, g, g, px[i][0] === key ? 0 : 255];
        });
      });
    }
    for (const depth of [1, 2, 4, 8]) {
      it(`palette ${depth}-bit with partial tRNS${tag}`, async () => {
        const n = 2 ** depth;
        const plte: number[] = [];
        for (let k = 0; k < n; k++) plte.push((k * 37) & 255, (k * 91 + 7) & 255, (255 - k * 13) & 255);
        const trns = [0, 128];
        const px = Array.from({ length: W * H }, (_, i) => [(i * 3 + 1) % n]);
        await check(makePng(W, H, 3, depth, px, { interlace, plte, trns }), (i) => {
          const k = px[i][0];
          return [plte[3 * k], plte[3 * k + 1], plte[3 * k + 2], k < trns.length ? trns[k] : 255];
        });
      });
    }
    for (const depth of [8, 16]) {
      const max = 2 ** depth - 1;
      it(`grey+alpha ${depth}-bit${tag}`, async () => {
        const px = Array.from({ length: W * H }, (_, i) => [(i * 997) % (max + 1), (i * 389 + 11) % (max + 1)]);
        await check(makePng(W, H, 4, depth, px, { interlace }), (i) => {
          const g = scale(px[i][0], depth);
          return [g, g, g, scale(px[i][1], depth)];
        });
      });
      it(`RGB ${depth}-bit with tRNS${tag}`, async () => {
        const px = Array.from({ length: W * H }, (_, i) => [(i * 997) % (max + 1), (i * 389) % (max + 1), (i * 12345) % (max + 1)]);
        const key = px[5];
        const trns = key.flatMap((v) => [v >> 8, v & 255]);
        await check(makePng(W, H, 2, depth, px, { interlace, trns }), (i) => {
          const p = px[i];
          const isKey = p[0] === key[0] && p[1] === key[1] && p[2] === key[2];
          return [scale(p[0], depth), scale(p[1], depth), scale(p[2], depth), isKey ? 0 : 255];
        });
      });
      it(`RGBA ${depth}-bit${tag}`, async () => {
        const px = Array.from({ length: W * H }, (_, i) => [(i * 997) % (max + 1), (i * 389) % (max + 1), (i * 12345) % (max + 1), (i * 71) % (max + 1)]);
        await check(makePng(W, H, 6, depth, px, { interlace }), (i) => px[i].map((v) => scale(v, depth)));
      });
    }
  }

  it('a 1x1 4-bit palette image (upng-js trouble case)', async () => {
    const img = await decodePng(makePng(1, 1, 3, 4, [[2]], { plte: [1, 2, 3, 4, 5, 6, 7, 8, 9] }));
    expect([...img.data]).toEqual([7, 8, 9, 255]);
  });

  it('agrees with upng-js on an 8-bit RGB photograph (Kodak)', async () => {
    const file = new URL('../../shared/data/kodak/kodim23.png', import.meta.url);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(file));
    } catch {
      console.warn('[format-png] ../shared/data/kodak missing: skipped the upng-js cross-check');
      return;
    }
    const mine = await decodePng(bytes);
    const theirs = new Uint8Array(UPNG.toRGBA8(UPNG.decode(bytes))[0]);
    expect(mine.data.length).toBe(theirs.length);
    expect(Buffer.compare(Buffer.from(mine.data), Buffer.from(theirs))).toBe(0);
  });

  it('round-trips through encodePng', async () => {
    const data = new Uint8ClampedArray(W * H * 4).map((_, i) => (i * 31) & 255);
    const img = await decodePng(encodePng({ width: W, height: H, data }));
    expect([...img.data]).toEqual([...data]);
  });
});

describe('bad image files → NimgError', () => {
  const good = makePng(W, H, 2, 8, Array.from({ length: W * H }, (_, i) => [i & 255, 0, 0]));
  const code = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      expect(e).toBeInstanceOf(NimgError);
      return (e as NimgError).code;
    }
    throw new Error('did not throw');
  };
  it('truncated PNG at every length → BAD_INPUT', async () => {
    for (let n = 0; n < good.length - 12; n++) expect(await code(decodeImageFile(good.subarray(0, n)))).toBe('BAD_INPUT');
  });
  it('flipped bits → BAD_INPUT', async () => {
    for (let i = 8; i < good.length; i += 3) {
      const b = good.slice();
      b[i] ^= 0x10;
      expect(await code(decodeImageFile(b))).toBe('BAD_INPUT');
    }
  });
  it('huge IHDR → LIMIT_EXCEEDED before inflating', async () => {
    const b = good.slice();
    const dv = new DataView(b.buffer);
    dv.setUint32(16, 100000);
    dv.setUint32(20, 100000);
    dv.setUint32(29, crc32(b, 12, 29));
    expect(await code(decodeImageFile(b))).toBe('LIMIT_EXCEEDED');
    expect(await code(decodePng(good, resolveLimits({ maxPixels: 10 })))).toBe('LIMIT_EXCEEDED');
  });
  it('not an image → BAD_INPUT', async () => {
    expect(await code(decodeImageFile(new Uint8Array(0)))).toBe('BAD_INPUT');
    expect(await code(decodeImageFile(new TextEncoder().encode('hello world')))).toBe('BAD_INPUT');
    expect(await code(decodeImageFile(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0)))).toBe('BAD_INPUT');
  });
});

describe('JPEG decoding to RGBA8', () => {
  it('decodes what jpeg-js encodes (size, near colours)', async () => {
    const w = 40, h = 24;
    const data = new Uint8Array(w * h * 4);
    for (let i = 0; i < w * h; i++) data.set([200, 100, 50, 255], 4 * i);
    const enc = jpeg.encode({ width: w, height: h, data }, 95);
    const img = await decodeImageFile(new Uint8Array(enc.data));
    expect(img.width).toBe(w);
    expect(img.height).toBe(h);
    expect(Math.abs(img.data[0] - 200) + Math.abs(img.data[1] - 100) + Math.abs(img.data[2] - 50)).toBeLessThan(12);
    expect(img.data[3]).toBe(255);
  });
  it('truncated or corrupt JPEG → BAD_INPUT', async () => {
    const w = 16, h = 16;
    const enc = new Uint8Array(jpeg.encode({ width: w, height: h, data: new Uint8Array(w * h * 4).fill(90) }, 90).data);
    for (const n of [3, 10, 50, 120]) {
      await expect(decodeImageFile(enc.subarray(0, n))).rejects.toBeInstanceOf(NimgError);
    }
  });
});
