/**
 * decodePerImageFile: the one "v2 file bytes → RGBA" entry the API, the fuzzer and the benches
 * use. Pixels equal the core's own synthesis of the coded grids; alpha applied; stats filled;
 * options and limits checked (LIMIT_EXCEEDED from the header, in well under 2 s, for a v2 file
 * declaring more than maxPixels); the caller's buffer pinned; an abort honoured.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { NimgError } from '../src/errors.js';
import { encodeAlpha } from '../src/format/alpha.js';
import { writePerImageContainer } from '../src/profiles/perimage/container.js';
import { createPerImageCore, type PerImageCore } from '../src/profiles/perimage/core.js';
import { decodePerImageFile } from '../src/profiles/perimage/decode-file.js';
import { defaultArch, type LatentGrids, type PerImageParams } from '../src/profiles/perimage/types.js';
import { crc32 } from '../src/format/crc32.js';
import { makeRng, randomGrids, randomParams } from './fixtures/perimage-random.js';

let core: PerImageCore;
let params: PerImageParams;
let grids: LatentGrids;
let pBytes: Uint8Array;
let lBytes: Uint8Array;
const W = 37;
const H = 22;

beforeAll(async () => {
  core = await createPerImageCore();
  const rng = makeRng(77);
  params = randomParams(rng, defaultArch(), { armScale: 24, armBias: 300 });
  grids = randomGrids(rng, 7, W, H, 40, 1.2);
  pBytes = core.encodeParams(params);
  lBytes = core.encodeLatents(params, grids, W, H);
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    if (!(e instanceof NimgError)) throw e;
    return e.code;
  }
}

/** a v2 header alone (no payload) declaring w × h, CRC right: what a hostile server sends first */
function headerOnly(w: number, h: number, paramsLen = 100, latentLen = 100): Uint8Array {
  const f = writePerImageContainer({ width: 1, height: 1, quality: 4, params: new Uint8Array(paramsLen), latents: new Uint8Array(latentLen), alpha: null });
  const dv = new DataView(f.buffer);
  dv.setUint32(12, w, true);
  dv.setUint32(16, h, true);
  dv.setUint32(44, crc32(f, 0, 44), true);
  return f;
}

describe('decodePerImageFile', () => {
  it('decodes to the pixels of the coded grids, with the stage split', async () => {
    const file = writePerImageContainer({ width: W, height: H, quality: 3.5, params: pBytes, latents: lBytes, alpha: null });
    const stats = {};
    const r = await decodePerImageFile(core, file, { stats });
    expect([r.width, r.height, r.header.quality]).toEqual([W, H, 3.5]);
    expect(Buffer.from(r.data).equals(Buffer.from(core.synthesize(params, grids, W, H)))).toBe(true);
    expect(r.params.tensors.map((t) => Array.from(t.k))).toEqual(params.tensors.map((t) => Array.from(t.k)));
    expect(stats).toEqual(r.stats);
    expect(r.stats.macsPerPixel).toBe(1522);
    for (const k of ['containerMs', 'paramsMs', 'latentsMs', 'synthesisMs', 'totalMs'] as const) expect(r.stats[k]).toBeGreaterThanOrEqual(0);
    expect(r.stats.latentsMs).toBeGreaterThan(0);
    expect(r.stats.wasmMemoryBytes).toBeGreaterThan(0);
  });

  it('applies the alpha stream; a damaged one is CORRUPT_STREAM', async () => {
    const rgba = new Uint8Array(W * H * 4);
    for (let i = 0; i < W * H; i++) rgba[4 * i + 3] = (i * 7) & 255;
    const alpha = await encodeAlpha(rgba, W, H);
    const file = writePerImageContainer({ width: W, height: H, quality: 4, params: pBytes, latents: lBytes, alpha });
    const r = await decodePerImageFile(core, file);
    for (let i = 0; i < W * H; i++) expect(r.data[4 * i + 3]).toBe((i * 7) & 255);
    const bad = writePerImageContainer({ width: W, height: H, quality: 4, params: pBytes, latents: lBytes, alpha: alpha.map((b) => b ^ 0x5a) });
    expect(await codeOf(decodePerImageFile(core, bad))).toBe('CORRUPT_STREAM');
  });

  it('a header declaring more than maxPixels → LIMIT_EXCEEDED from the header, fast, nothing allocated', async () => {
    const before = core.memorySize();
    for (const [w, h, limits] of [
      [4097, 4096, undefined], // default maxPixels (4096²) + one column
      [6000, 4000, undefined], // a 24 MP photo under the default limits
      [0xffffffff, 0xffffffff, undefined],
      [1000, 1000, { maxPixels: 999_999 }],
    ] as const) {
      const t0 = performance.now();
      let err: unknown;
      try {
        await decodePerImageFile(core, headerOnly(w, h), limits ? { limits } : undefined);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NimgError);
      expect((err as NimgError).code).toBe('LIMIT_EXCEEDED');
      expect(performance.now() - t0).toBeLessThan(2000);
    }
    // the limit is checked before the payload is even looked at (no CRC of 2 GB, no grid)
    expect(core.memorySize()).toBe(before);
  });

  it('a side beyond the core (2^28) under raised limits → LIMIT_EXCEEDED, not BAD_INPUT (regression)', async () => {
    const limits = { maxPixels: Infinity, maxWidth: Infinity, maxHeight: Infinity };
    for (const [w, h] of [[2 ** 28 + 1, 1], [1, 0x30000000], [0xffffffff, 1]]) {
      const f = writePerImageContainer({ width: W, height: H, quality: 4, params: pBytes, latents: lBytes, alpha: null });
      const dv = new DataView(f.buffer);
      dv.setUint32(12, w, true);
      dv.setUint32(16, h, true);
      dv.setUint32(44, crc32(f, 0, 44), true);
      expect(await codeOf(decodePerImageFile(core, f, { limits })), `${w}x${h}`).toBe('LIMIT_EXCEEDED');
    }
  });

  it('memory: only the grids and the RGBA output grow with the image (synthesis in bands)', async () => {
    // a full-image float feature map would be 7 channels × 4 bytes a pixel (168 MB at 6 MP);
    // what is left besides grids, output and input is tables and band buffers: < 32 MiB
    for (const [w, h] of [[1536, 1024], [3000, 2000]]) {
      const rng = makeRng(4);
      const p = randomParams(rng, defaultArch(), { armScale: 20, armBias: 100 });
      const f = writePerImageContainer({ width: w, height: h, quality: 4, params: core.encodeParams(p), latents: core.encodeLatents(p, randomGrids(rng, 7, w, h, 10, 0.5), w, h), alpha: null });
      const fresh = await createPerImageCore();
      await decodePerImageFile(fresh, f, { limits: { maxPixels: w * h } });
      let grids = 0;
      for (let k = 0; k < 7; k++) grids += (Math.ceil(w / 2 ** k) + 8) * (Math.ceil(h / 2 ** k) + 4) * 2;
      const rest = fresh.memorySize() - grids - w * h * 4 - f.length;
      expect(rest, `${w}x${h}`).toBeLessThan(32 * 2 ** 20);
    }
  }, 60_000);

  it('options: BAD_INPUT on malformed ones; params limits reach the core', async () => {
    const file = writePerImageContainer({ width: W, height: H, quality: 4, params: pBytes, latents: lBytes, alpha: null });
    for (const o of [null, 5, { bogus: 1 }, { limits: { maxPixel: 5 } }, { limits: null }, { params: { maxParams: -1 } }, { params: { what: 1 } }, { stats: 3 }, { signal: {} }, { timeoutMs: -5 }]) {
      expect(await codeOf(decodePerImageFile(core, file, o as never)), JSON.stringify(o)).toBe('BAD_INPUT');
    }
    expect(await codeOf(decodePerImageFile({} as PerImageCore, file))).toBe('BAD_INPUT');
    expect(await codeOf(decodePerImageFile(core, 'nimg' as never))).toBe('BAD_INPUT');
    expect(await codeOf(decodePerImageFile(core, file, { params: { maxParams: 100 } }))).toBe('LIMIT_EXCEEDED');
    expect(await codeOf(decodePerImageFile(core, file, { params: { maxMacsPerPixel: 1000 } }))).toBe('LIMIT_EXCEEDED');
  });

  it('an aborted signal → ABORTED; changing the buffer after the call changes nothing', async () => {
    const file = writePerImageContainer({ width: W, height: H, quality: 4, params: pBytes, latents: lBytes, alpha: null });
    const ac = new AbortController();
    ac.abort();
    expect(await codeOf(decodePerImageFile(core, file, { signal: ac.signal }))).toBe('ABORTED');
    const ref = await decodePerImageFile(core, file);
    const mine = file.slice();
    const p = decodePerImageFile(core, mine);
    mine.fill(0);
    expect(Buffer.from((await p).data).equals(Buffer.from(ref.data))).toBe(true);
  });
});
