/**
 * Issue 15, the throws that were not NimgErrors, and the decoder's input pinning: every
 * public entry point validates its arguments (null, wrong types, throwing getters) and
 * throws only NimgError; decodeImageFile merges and checks its limits; `threads` is capped;
 * changing (or detaching) the input buffer after `decode` is called changes nothing;
 * AbortSignal and timeoutMs end a call with ABORTED. Random weights: fast.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NimgCodec, probe, type ImageLike } from '../src/codec.js';
import { NimgError } from '../src/errors.js';
import { decodeImageFile, decodePng, decodeJpeg } from '../src/image/index.js';
import { jpegMemoryBudgetMB } from '../src/image/jpeg.js';
import { DEFAULT_LIMITS, resolveLimits } from '../src/limits.js';
import { MAX_THREADS, resolveThreads } from '../src/backend/threads.js';
import { crc32 } from '../src/format/crc32.js';
import { makeRandomWeights } from './fixtures/random-weights.js';
import { flatJpeg } from './fixtures/flat-images.js';
import { parseArgs } from '../src/node/cli.js';

const WASM = new URL('../build/nimg-core.wasm', import.meta.url);
const rw = makeRandomWeights({ seed: 5, N: 8, M: 12, Nz: 8, hsHidden: [8, 8] });
const weights = { manifest: rw.manifestJson, bin: rw.bin };

/** The code of what `f` throws or rejects with; fails the test on anything but a NimgError. */
async function codeOf(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (e) {
    if (!(e instanceof NimgError)) throw new Error(`not a NimgError: ${String(e)}`);
    return e.code;
  }
  return 'OK';
}

function photo(w: number, h: number): ImageLike {
  const data = new Uint8ClampedArray(w * h * 4);
  for (let i = 0; i < data.length; i++) data[i] = (i % 4 === 3 ? 255 : (i * 7919) >> 3) & 255;
  return { width: w, height: h, data };
}

const throwing = (key: string) => Object.defineProperty({}, key, { get: () => { throw new TypeError('boom'); }, enumerable: true });

/** A PNG header (signature + IHDR, CRC right) claiming w x h, RGBA 8-bit, and no data. */
function pngHeader(w: number, h: number): Uint8Array {
  const b = new Uint8Array(8 + 25);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const dv = new DataView(b.buffer);
  dv.setUint32(8, 13);
  b.set([73, 72, 68, 82], 12);
  dv.setUint32(16, w);
  dv.setUint32(20, h);
  b[24] = 8;
  b[25] = 6;
  dv.setUint32(29, crc32(b, 12, 29));
  return b;
}

describe.skipIf(!existsSync(WASM))('public entry points throw only NimgError', () => {
  let codec: NimgCodec;
  let file: Uint8Array;
  beforeAll(async () => {
    codec = await NimgCodec.create({ wasm: new Uint8Array(readFileSync(WASM)), weights, backend: 'wasm', threads: 1 });
    file = await codec.encode(photo(40, 24));
  }, 60_000);
  afterAll(() => codec?.dispose());

  it('probe(bytes, null) and bad probe arguments → BAD_INPUT (was TypeError)', async () => {
    expect(await codeOf(() => probe(file, null as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => probe(file, 'x' as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => probe(file, throwing('limits') as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => probe(null as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => probe(42 as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => codec.probe(file, null as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => probe(file, { limits: { maxPixels: 10 } }))).toBe('LIMIT_EXCEEDED');
    expect(probe(file).width).toBe(40);
  });

  it('NimgCodec.create(null) and bad init options → BAD_INPUT (was TypeError)', async () => {
    expect(await codeOf(() => NimgCodec.create(null as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => NimgCodec.create(7 as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => NimgCodec.create(throwing('backend') as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => NimgCodec.create({ weights, limits: null as never }))).toBe('BAD_INPUT');
    expect(await codeOf(() => NimgCodec.create({ weights, limits: { maxPixel: 5 } as never }))).toBe('BAD_INPUT');
  });

  it('encode(img, null), bad images and options → BAD_INPUT (was INTERNAL)', async () => {
    const img = photo(8, 8);
    expect(await codeOf(() => codec.encode(img, null as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => codec.encode(img, throwing('quality') as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => codec.encode(throwing('data') as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => codec.encode(img, { stats: 5 as never }))).toBe('BAD_INPUT');
    expect(await codeOf(() => codec.encode(img, { signal: {} as never }))).toBe('BAD_INPUT');
    expect(await codeOf(() => codec.encode(img, { timeoutMs: -1 }))).toBe('BAD_INPUT');
    expect(await codeOf(() => codec.encode(img, { limits: { maxPixels: '64' as never } }))).toBe('BAD_INPUT');
    expect(await codeOf(() => codec.decode(file, null as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => codec.decode(file, throwing('backend') as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => codec.decode(file, { timeoutMs: NaN }))).toBe('BAD_INPUT');
    expect(await codeOf(() => codec.decode({} as never))).toBe('BAD_INPUT');
  });

  it('decodeImageFile merges and validates limits (was RangeError / limits off)', async () => {
    const claim = pngHeader(20000, 100000);
    expect(await codeOf(() => decodeImageFile(claim, null as never))).toBe('BAD_INPUT');
    // {maxWidth: 20000} raises one limit; the others stay at their defaults
    const e = await decodeImageFile(claim, { maxWidth: 20000 }).catch((x) => x);
    expect(e).toBeInstanceOf(NimgError);
    expect(e.code).toBe('LIMIT_EXCEEDED');
    expect(e.limit).toBe('maxHeight');
    expect(e.value).toBe(100000);
    expect(await codeOf(() => decodeImageFile(claim, { maxWidth: 20000, maxHeight: 100000 }))).toBe('LIMIT_EXCEEDED');
    expect(await codeOf(() => decodeImageFile(claim, {}))).toBe('LIMIT_EXCEEDED');
    expect(await codeOf(() => decodeImageFile(claim, { maxPixels: 'lots' } as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => decodeImageFile(claim, { maxWidth: 0 }))).toBe('BAD_INPUT');
    expect(await codeOf(() => decodePng(claim, 'x' as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => decodeJpeg(flatJpeg(8, 8), [] as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => decodeImageFile(null as never))).toBe('BAD_INPUT');
    const big = await decodeImageFile(pngHeader(5000, 5000)).catch((x) => x);
    expect([big.code, big.limit, big.value]).toEqual(['LIMIT_EXCEEDED', 'maxPixels', 25_000_000]);
  });

  it('resolveLimits: unknown keys, null, strings, throwing getters → BAD_INPUT; Infinity allowed', async () => {
    expect(await codeOf(() => resolveLimits(null))).toBe('BAD_INPUT');
    expect(await codeOf(() => resolveLimits({ maxpixels: 1 } as never))).toBe('BAD_INPUT');
    expect(await codeOf(() => resolveLimits(throwing('maxWidth') as never))).toBe('BAD_INPUT');
    expect(resolveLimits({ maxPixels: Infinity }).maxPixels).toBe(Infinity);
    expect(resolveLimits(undefined)).toEqual(DEFAULT_LIMITS);
  });

  it('threads: capped by the cores and MAX_THREADS; 256 refused (API and CLI)', async () => {
    expect(MAX_THREADS).toBe(16);
    expect(resolveThreads(16, 2, true)).toBe(2);
    expect(resolveThreads(undefined, 64, true)).toBe(8);
    expect(resolveThreads(undefined, 64, false)).toBe(4);
    expect(resolveThreads(3, 0, true)).toBe(1);
    expect(await codeOf(() => NimgCodec.create({ weights, threads: 256 }))).toBe('BAD_INPUT');
    expect(await codeOf(() => NimgCodec.create({ weights, threads: 17 }))).toBe('BAD_INPUT');
    expect(await codeOf(() => NimgCodec.create({ weights, threads: 1.5 }))).toBe('BAD_INPUT');
    expect(() => parseArgs(['decode', 'a.nimg', 'b.png', '--threads', '256'])).toThrow(/threads/);
    expect(parseArgs(['decode', 'a.nimg', 'b.png', '--threads', '16'])).toMatchObject({ threads: 16 });
  });

  it('jpeg-js gets a memory budget derived from the declared size, enough for a real CMYK image of it', async () => {
    expect(jpegMemoryBudgetMB(4096 * 4096, 0)).toBeLessThan(420);
    const img = await decodeImageFile(flatJpeg(512, 384, 4));
    expect([img.width, img.height]).toEqual([512, 384]);
  });

  it('changing or detaching the input buffer after decode() is called changes nothing', async () => {
    const expected = await codec.decode(file.slice());
    // occupy the queue so that the decodes below start later, after the buffers changed
    const busy = codec.decode(file.slice());
    const a = file.slice();
    const pa = codec.decode(a);
    a.fill(0); // every stream byte changed
    const b = file.slice();
    const pb = codec.decode(b.buffer);
    structuredClone(b.buffer, { transfer: [b.buffer] }); // detaches b's buffer
    expect(b.byteLength).toBe(0);
    await busy;
    for (const r of [await pa, await pb]) expect(Buffer.from(r.data).equals(Buffer.from(expected.data))).toBe(true);
  });

  it('AbortSignal and timeoutMs → ABORTED; the codec keeps working', async () => {
    const ac = new AbortController();
    ac.abort(new Error('user left the page'));
    expect(await codeOf(() => codec.decode(file, { signal: ac.signal }))).toBe('ABORTED');
    expect(await codeOf(() => codec.encode(photo(16, 16), { signal: ac.signal }))).toBe('ABORTED');
    // aborted while queued behind another call
    const ac2 = new AbortController();
    const first = codec.decode(file);
    const second = codec.decode(file, { signal: ac2.signal });
    ac2.abort();
    expect(await codeOf(() => second)).toBe('ABORTED');
    await first;
    expect(await codeOf(() => codec.decode(file, { timeoutMs: 1e-9 }))).toBe('ABORTED');
    expect((await codec.decode(file, { timeoutMs: 60_000, signal: new AbortController().signal })).width).toBe(40);
  });
});
