/**
 * The streaming PNG writer (src/node/png-writer.ts; issue 15: output memory that grows with
 * a row, not with the image):
 * - RGB (every alpha 255) and RGBA images, odd sizes (1x1, 1xN, Nx1, widths of no particular
 *   multiple), every filter choice: read back by decodeImageFile / the strict decodePng
 *   (which verifies every CRC) to identical pixels; the chunk layout walked and each CRC
 *   checked here too; large images come out as several IDAT chunks;
 * - the file is written through a temporary file (no partial output, none left on failure);
 * - stdout streaming gives the same bytes as the file;
 * - memory: a 4000x3000 image written in a child process costs a bounded few MB above the
 *   RGBA, where upng-js' whole-file encodePng (the control) costs several times the image;
 * - `nimg decode` (file and stdout) and `decodeFile` write PNGs whose pixels equal the
 *   in-process decode.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NimgCodec } from '../src/codec.js';
import { NimgError } from '../src/errors.js';
import { crc32 } from '../src/format/crc32.js';
import { decodeImageFile, decodePng } from '../src/image/index.js';
import { decodeFile } from '../src/node/index.js';
import { writePng, writePngFile, writePngStream } from '../src/node/png-writer.js';
import { ROOT, runCli, runCliBytes } from './cli-helpers.js';

const CORE = path.join(ROOT, 'build', 'nimg-core.wasm');
const HAVE_CORE = existsSync(CORE);
const NIMG_FIXTURE = path.join(ROOT, 'test', 'fixtures', 'perimage', 'gpu-img_001_00-64x48.nimg');
const RSS_HOOK = new URL('./fixtures/report-rss.mjs', import.meta.url).href;
const CHILD = path.join(ROOT, 'test', 'fixtures', 'png-write-child.ts');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'nimg-pngw-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A deterministic RGBA image: gradients plus noise; `alpha`: varying alpha, else all 255. */
function image(w: number, h: number, alpha: boolean, seed = 1): { width: number; height: number; data: Uint8ClampedArray } {
  const data = new Uint8ClampedArray(w * h * 4);
  let s = seed;
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i += 4) {
      s = (s * 1103515245 + 12345) >>> 0;
      const n = s >>> 24;
      data[i] = (x * 7 + (n & 31)) & 255;
      data[i + 1] = (y * 5 + (n >> 5)) & 255;
      data[i + 2] = (x ^ y) & 255;
      data[i + 3] = alpha ? (x + y + (n & 3)) & 255 : 255;
    }
  }
  return { width: w, height: h, data };
}

interface Chunk {
  type: string;
  data: Uint8Array;
}

/** The chunks of a PNG, each CRC checked here (independently of decodePng). */
function chunks(png: Uint8Array): Chunk[] {
  expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: Chunk[] = [];
  let p = 8;
  while (p < png.length) {
    const len = dv.getUint32(p);
    const type = String.fromCharCode(...png.subarray(p + 4, p + 8));
    expect(dv.getUint32(p + 8 + len), `CRC of ${type} at ${p}`).toBe(crc32(png, p + 4, p + 8 + len));
    out.push({ type, data: png.subarray(p + 8, p + 8 + len) });
    p += 12 + len;
  }
  expect(p).toBe(png.length);
  return out;
}

async function toBytes(img: ReturnType<typeof image>, opts?: Parameters<typeof writePng>[2]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const n = await writePng(img, async (b) => void parts.push(Buffer.from(b)), opts);
  const all = Buffer.concat(parts);
  expect(all.length).toBe(n);
  return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
}

describe('streaming PNG writer: pixels and structure', () => {
  const SIZES: [number, number][] = [[1, 1], [1, 17], [23, 1], [2, 2], [37, 23], [101, 7], [333, 65]];
  for (const alpha of [false, true]) {
    for (const [w, h] of SIZES) {
      it(`${alpha ? 'RGBA' : 'RGB'} ${w}x${h}: identical pixels through decodeImageFile, valid CRCs`, async () => {
        const img = image(w, h, alpha, w * 1000 + h);
        const png = await toBytes(img);
        const cs = chunks(png);
        expect(cs.map((c) => c.type)).toEqual(['IHDR', 'sRGB', ...cs.slice(2, -1).map(() => 'IDAT'), 'IEND']);
        const ihdr = new DataView(cs[0].data.buffer, cs[0].data.byteOffset, 13);
        expect([ihdr.getUint32(0), ihdr.getUint32(4), cs[0].data[8], cs[0].data[9], cs[0].data[12]]).toEqual([w, h, 8, alpha ? 6 : 2, 0]);
        const back = await decodeImageFile(png);
        expect([back.width, back.height]).toEqual([w, h]);
        expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
      });
    }
  }

  it('every fixed filter and the adaptive one give the same pixels; adaptive is no larger than the worst', async () => {
    for (const alpha of [false, true]) {
      const img = image(129, 31, alpha, 7);
      const sizes: number[] = [];
      for (const filter of ['adaptive', 0, 1, 2, 3, 4] as const) {
        const png = await toBytes(img, { filter });
        sizes.push(png.length);
        const back = await decodePng(png);
        expect(Buffer.from(back.data).equals(Buffer.from(img.data)), `filter ${filter}`).toBe(true);
      }
      expect(sizes[0]).toBeLessThanOrEqual(Math.max(...sizes.slice(1)));
    }
  });

  it('a large image streams as several IDAT chunks of at most 64 KB, CRCs valid', async () => {
    const img = image(1000, 600, true, 3);
    const png = await toBytes(img, { level: 1 });
    const idats = chunks(png).filter((c) => c.type === 'IDAT');
    expect(idats.length).toBeGreaterThan(3);
    for (const c of idats) expect(c.data.length).toBeLessThanOrEqual(64 * 1024);
    const back = await decodePng(png);
    expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
  });

  it('writePngFile: through a temporary file; writePngStream: the same bytes', async () => {
    const img = image(200, 150, false, 5);
    const file = path.join(dir, 'a.png');
    const n = await writePngFile(file, img);
    const onDisk = readFileSync(file);
    expect(onDisk.length).toBe(n);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const pt = new PassThrough();
    const got: Buffer[] = [];
    pt.on('data', (d: Buffer) => got.push(d));
    expect(await writePngStream(pt, img)).toBe(n);
    expect(Buffer.concat(got).equals(onDisk)).toBe(true);
    const back = await decodeImageFile(new Uint8Array(onDisk));
    expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
  });

  it('failures are NimgErrors and leave no file behind', async () => {
    const sub = path.join(dir, 'fail');
    mkdirSync(sub);
    const missing = path.join(sub, 'no-such-folder', 'x.png');
    await expect(writePngFile(missing, image(4, 4, false))).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('cannot write') });
    const bad = { width: 4, height: 4, data: new Uint8ClampedArray(10) };
    await expect(writePngFile(path.join(sub, 'y.png'), bad)).rejects.toBeInstanceOf(NimgError);
    await expect(writePngFile(path.join(sub, 'z.png'), { width: 0, height: 4, data: new Uint8ClampedArray(0) })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    // a sink that fails part-way: its error comes through
    await expect(writePng(image(300, 300, false), async () => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full');
    expect(readdirSync(sub)).toEqual([]);
  });
});

interface ChildRun {
  rssBeforeMb: number;
  rgbaMb: number;
  bytes: number;
  maxRssMb: number;
}

function writeInChild(writer: 'stream' | 'upng', out: string, w: number, h: number, kind: 'opaque' | 'alpha'): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', '--import', RSS_HOOK, '--import', 'tsx', CHILD, writer, out, String(w), String(h), kind], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => {
      const m = /NIMG_MAX_RSS_MB=([\d.]+)/.exec(stderr);
      if (code !== 0 || !m) return reject(new Error(`child exited ${code}: ${stderr.slice(-2000)}`));
      resolve({ ...(JSON.parse(stdout.trim().split('\n').pop()!) as Omit<ChildRun, 'maxRssMb'>), maxRssMb: Number(m[1]) });
    });
  });
}

describe('streaming PNG writer: memory', () => {
  // measured on the 2-core machine at 12 MP: 7 MB (opaque) and 16 MB (alpha) above the RSS
  // at the start of the write; upng-js' encodePng: 121 MB (24 MP: bench/results/big-image.json)
  const BOUND_MB = 40;
  it(
    'a 4000x3000 image costs at most 40 MB above the RSS with its RGBA (encodePng, the control, costs more)',
    async () => {
      const W = 4000, H = 3000;
      for (const kind of ['opaque', 'alpha'] as const) {
        const out = path.join(dir, `big-${kind}.png`);
        const r = await writeInChild('stream', out, W, H, kind);
        expect(r.rgbaMb).toBeCloseTo((W * H * 4) / 1048576, 3);
        const extra = r.maxRssMb - r.rssBeforeMb;
        expect(extra, `stream ${kind}: peak ${r.maxRssMb} MB, before ${r.rssBeforeMb.toFixed(1)} MB`).toBeLessThan(BOUND_MB);
        const back = await decodePng(new Uint8Array(readFileSync(out)));
        expect([back.width, back.height, back.data[3]]).toEqual([W, H, kind === 'alpha' ? 128 : 255]);
        rmSync(out);
      }
      // the control: the same measurement of the whole-file encoder exceeds the bound
      const c = await writeInChild('upng', path.join(dir, 'big-upng.png'), W, H, 'opaque');
      expect(c.maxRssMb - c.rssBeforeMb).toBeGreaterThan(BOUND_MB);
    },
    180_000,
  );
});

describe.skipIf(!HAVE_CORE)('decode to PNG: CLI and decodeFile', () => {
  it(
    '`nimg decode` to a file and to stdout, and decodeFile: pixels equal the in-process decode',
    async () => {
      const bytes = new Uint8Array(readFileSync(NIMG_FIXTURE));
      const codec = await NimgCodec.create({ wasm: new Uint8Array(readFileSync(CORE)), threads: 1 });
      let here: { width: number; height: number; data: Uint8ClampedArray };
      try {
        here = await codec.decode(bytes);
      } finally {
        codec.dispose();
      }
      const env = { NIMG_WEIGHTS: path.join(dir, 'missing.json') }; // a v2 file needs no weights
      const outFile = path.join(dir, 'cli-out.png');
      const d = await runCli(['decode', NIMG_FIXTURE, outFile], env);
      expect(d.code, d.stderr).toBe(0);
      const viaFile = new Uint8Array(readFileSync(outFile));
      chunks(viaFile);
      const s = await runCliBytes(['decode', NIMG_FIXTURE, '-'], { env });
      expect(s.code, s.stderr).toBe(0);
      expect(Buffer.from(s.stdout).equals(Buffer.from(viaFile))).toBe(true);
      const api = path.join(dir, 'api-out.png');
      expect(await decodeFile(NIMG_FIXTURE, api)).toEqual({ width: here.width, height: here.height });
      for (const png of [viaFile, new Uint8Array(readFileSync(api))]) {
        const back = await decodePng(png);
        expect([back.width, back.height]).toEqual([here.width, here.height]);
        expect(Buffer.from(back.data).equals(Buffer.from(here.data))).toBe(true);
      }
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    },
    120_000,
  );
});
