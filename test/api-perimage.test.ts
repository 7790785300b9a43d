/**
 * The perimage profile through the public API (issue 16, points 6–7), on tfjs WASM with tiny
 * images and few optimisation steps:
 * - encode({ profile: 'perimage' }) → a version-2 file whose decode is exactly the encoder's
 *   reconstruction (the core's synthesis of the params and grids the encoder chose);
 * - a codec without weights decodes it (and refuses a version-1 file with NOT_INITIALIZED);
 * - probe reports the profile and the decoder; stats and progress report its stages;
 * - alpha round trip; the no-GPU refusal; bad options; limits and abort.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NimgCodec, lastTimings, probe, setDefaultAssets, type EncodeProgress } from '../src/codec.js';
import { loadCoreWasm, loadWeights } from '../src/node/loader.js';
import { isNimgError } from '../src/errors.js';
import { encodePerImage } from '../src/profiles/perimage/encoder/index.js';
import { createPerImageCore } from '../src/profiles/perimage/core.js';
import { macsOf } from '../src/profiles/perimage/core.js';
import { compactArch } from '../src/profiles/perimage/encoder/arch-choice.js';
import { makeRandomWeights } from './fixtures/random-weights.js';
import { sampleCrop } from './refine-helpers.js';
import { ROOT } from './cli-helpers.js';

const CORE = new Uint8Array(readFileSync(path.join(ROOT, 'build', 'nimg-core.wasm')));
const W = 32;
const H = 24;
/** 16 of the 8000 default steps */
const EFFORT = 16 / 8000;

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return isNimgError(e) ? e.code : `not a NimgError: ${String(e)}`;
  }
  return 'no error';
}

let codec: NimgCodec;
let rgba: Uint8ClampedArray;
/** calls of the Node default weights loader */
let weightLoads = 0;

beforeAll(async () => {
  // Node defaults, counting the weight loads: a codec that only meets v2 must read none
  setDefaultAssets({ loadCoreWasm, loadWeights: () => (weightLoads++, loadWeights()) });
  codec = await NimgCodec.createLazy({ backend: 'wasm', threads: 1 });
  rgba = await sampleCrop(W, H, 200, 100);
});
afterAll(() => {
  codec?.dispose();
  setDefaultAssets({ loadCoreWasm, loadWeights });
});

describe('perimage through encode / decode / probe', () => {
  let bytes: Uint8Array;

  it('round trip: decode gives the encoder reconstruction, with no weights loaded', async () => {
    const seen: EncodeProgress[] = [];
    const stats = {};
    bytes = await codec.encode({ width: W, height: H, data: rgba }, {
      profile: 'perimage', quality: 4, effort: EFFORT, backend: 'wasm', stats, onProgress: (p) => seen.push({ ...p }),
    });
    expect(bytes[8]).toBe(2);
    expect(stats).toMatchObject({ profile: 'perimage', backend: 'wasm', steps: 16, bytes: bytes.length });
    // progress: the optimisation in steps, then coding, then done
    expect([...new Set(seen.map((p) => p.stage))]).toEqual(['optimize', 'coding', 'done']);
    const opt = seen.filter((p) => p.stage === 'optimize');
    expect(opt[0]).toEqual({ stage: 'optimize', done: 0, total: 16 });
    expect(opt.at(-1)).toEqual({ stage: 'optimize', done: 16, total: 16 });
    // coding: one unit per quantized parameter tensor (SPEC §2: 2(D+1) ARM, taps, 2 per synthesis layer), then the coder's;
    // a 32x24 image at quality 4 carries the compact decoder (arch-choice.ts)
    const coding = seen.filter((p) => p.stage === 'coding');
    const a = compactArch();
    const nTensors = 2 * (a.D + 1) + 1 + 2 * a.synthesis.length;
    expect(coding.map((p) => p.done)).toEqual(Array.from({ length: nTensors + 1 }, (_, i) => i));
    expect(new Set(coding.map((p) => p.total))).toEqual(new Set([nTensors + 1]));

    const out = await codec.decodeWithStats(bytes);
    expect(out.image.width).toBe(W);
    expect(out.image.height).toBe(H);
    // the same optimisation (same seed, steps, quality, backend) and the core's synthesis of it
    const ref = await encodePerImage({ width: W, height: H, data: rgba }, { quality: 4, steps: 16, backend: 'wasm' });
    const core = await createPerImageCore(CORE);
    const expected = core.synthesize(ref.params, ref.grids, W, H);
    expect(Buffer.compare(Buffer.from(out.image.data), Buffer.from(expected))).toBe(0);
    expect(out.stats).toMatchObject({ profile: 'perimage', backend: 'wasm', hsMs: 0 });
    expect(out.stats.entropyMs).toBeCloseTo((out.stats.paramsMs ?? 0) + (out.stats.latentMs ?? 0), 6);
    expect(lastTimings().decode?.profile).toBe('perimage');
    expect(lastTimings().encode?.profile).toBe('perimage');
    expect(codec.hasWeights).toBe(false);
    expect(weightLoads).toBe(0);
  }, 300_000);

  it('probe reports the profile and the decoder the file carries', () => {
    const info = probe(bytes);
    expect(info).toMatchObject({ format: 'nimg', version: 2, profile: 'perimage', width: W, height: H, quality: 4, hasAlpha: false, scales: 'fine' });
    expect(bytes[9] & 2).toBe(2); // required flag FINE_SCALES (FORMAT.md §9.1)
    if (info.profile !== 'perimage') throw new Error('profile');
    expect(info.bytes.total).toBe(bytes.length);
    expect(info.bytes.header + info.bytes.params + info.bytes.latents + info.bytes.alpha).toBe(bytes.length);
    // the compact decoder: a 32x24 image at quality 4 (arch-choice.ts)
    expect(info.arch).toMatchObject({ grids: 7, context: 8, armLayers: 1, armWidth: 8, macsPerPixel: macsOf(compactArch()) });
    expect(info.arch?.synthesis[0]).toBe('1x1 7→12 relu');
    const head = probe(bytes.subarray(0, 48), { headerOnly: true });
    expect(head.profile).toBe('perimage');
    expect((head as { arch?: unknown }).arch).toBeUndefined();
  });

  it('alpha round trip: lossless alpha, colour as the encoder reconstructed it', async () => {
    const img = Uint8ClampedArray.from(rgba);
    for (let i = 0; i < W * H; i++) img[4 * i + 3] = (i * 7) & 255;
    const b = await codec.encode({ width: W, height: H, data: img }, { profile: 'perimage', quality: 4, effort: EFFORT, backend: 'wasm' });
    expect(probe(b).hasAlpha).toBe(true);
    const out = await codec.decode(b);
    const ref = await encodePerImage({ width: W, height: H, data: img }, { quality: 4, steps: 16, backend: 'wasm' });
    const rgb = (await createPerImageCore(CORE)).synthesize(ref.params, ref.grids, W, H);
    for (let i = 0; i < W * H; i++) {
      expect(out.data[4 * i + 3]).toBe(img[4 * i + 3]);
      for (let c = 0; c < 3; c++) expect(out.data[4 * i + c]).toBe(rgb[4 * i + c]);
    }
  }, 300_000);

  it('limits and abort apply to v2 decode and encode', async () => {
    expect(await codeOf(codec.decode(bytes, { limits: { maxPixels: 100 } }))).toBe('LIMIT_EXCEEDED');
    expect(await codeOf(codec.encode({ width: W, height: H, data: rgba }, { profile: 'perimage', effort: EFFORT, backend: 'wasm', limits: { maxPixels: 100 } }))).toBe('LIMIT_EXCEEDED');
    expect(await codeOf(codec.decode(bytes, { signal: AbortSignal.abort() }))).toBe('ABORTED');
    const ac = new AbortController();
    const p = codec.encode({ width: W, height: H, data: rgba }, {
      profile: 'perimage', effort: 0.1, backend: 'wasm', signal: ac.signal, onProgress: (e) => e.stage === 'optimize' && e.done > 0 && ac.abort(),
    });
    expect(await codeOf(p)).toBe('ABORTED');
    // a corrupt params section: CORRUPT_STREAM, never a trap (CRC resealed by the v2 writer)
    const { parsePerImageContainer, writePerImageContainer } = await import('../src/profiles/perimage/container.js');
    const f = parsePerImageContainer(bytes);
    const params = f.params.slice();
    params[0] = 9; // L outside 1…8
    const bad = writePerImageContainer({ width: W, height: H, quality: 4, params, latents: f.latents, alpha: null });
    expect(await codeOf(codec.decode(bad))).toBe('CORRUPT_STREAM');
    expect(await codeOf(() => probe(bad))).toBe('CORRUPT_STREAM');
  }, 300_000);
});

describe('profiles and weights', () => {
  it('a codec of the core alone (as init({ wasm }) in a browser) decodes v2; a version-1 file is NOT_INITIALIZED naming the weights', async () => {
    const rw = makeRandomWeights({ seed: 3 });
    const v1codec = await NimgCodec.create({ wasm: CORE, weights: { manifest: rw.manifestJson, bin: rw.bin }, backend: 'wasm', threads: 1 });
    setDefaultAssets(null);
    const coreOnly = await NimgCodec.create({ wasm: CORE, threads: 1 });
    try {
      const v2 = await codec.encode({ width: W, height: H, data: rgba }, { profile: 'perimage', quality: 4, effort: EFFORT, backend: 'wasm' });
      const a = await coreOnly.decode(v2);
      const b = await codec.decode(v2);
      expect(Buffer.compare(Buffer.from(a.data), Buffer.from(b.data))).toBe(0);
      const v1 = await v1codec.encode({ width: W, height: H, data: rgba }, { quality: 3 });
      expect(probe(v1).profile).toBe('amortized');
      expect(v1[8]).toBe(1);
      let err: unknown;
      await coreOnly.decode(v1).catch((e) => (err = e));
      expect(isNimgError(err) && err.code).toBe('NOT_INITIALIZED');
      expect((err as Error).message).toMatch(/weights/);
      expect(await codeOf(coreOnly.encode({ width: W, height: H, data: rgba }))).toBe('NOT_INITIALIZED');
      // the codec with weights decodes both versions
      expect((await v1codec.decode(v1)).width).toBe(W);
      expect(Buffer.compare(Buffer.from((await v1codec.decode(v2)).data), Buffer.from(a.data))).toBe(0);
    } finally {
      setDefaultAssets({ loadCoreWasm, loadWeights: () => (weightLoads++, loadWeights()) });
      v1codec.dispose();
      coreOnly.dispose();
    }
  }, 120_000);

  it('bad options → BAD_INPUT', async () => {
    const img = { width: W, height: H, data: rgba };
    expect(await codeOf(codec.encode(img, { profile: 'x' as never }))).toBe('BAD_INPUT');
    for (const effort of [0, -0.5, 1.5, Number.NaN, Infinity, '0.5' as unknown as number]) {
      expect(await codeOf(codec.encode(img, { profile: 'perimage', backend: 'wasm', effort })), String(effort)).toBe('BAD_INPUT');
    }
    expect(await codeOf(codec.encode(img, { effort: 0.5 }))).toBe('BAD_INPUT'); // effort is perimage's
    expect(await codeOf(codec.encode(img, { profile: 'perimage', backend: 'wasm', refine: 5 }))).toBe('BAD_INPUT');
    expect(await codeOf(codec.encode(img, { profile: 'perimage', onProgress: 5 as never }))).toBe('BAD_INPUT');
  });

  it("no GPU: profile 'perimage' with backend 'auto' is refused, naming the CPU estimate and the fast profile", async () => {
    const { probeWebGpuAdapter } = await import('../src/backend/index.js');
    const a = await probeWebGpuAdapter();
    if (a.found && !a.software) return; // a machine with a GPU runs it (perimage-encoder-webgpu.test.ts)
    let err: unknown;
    await codec.encode({ width: W, height: H, data: rgba }, { profile: 'perimage', backend: 'auto' }).catch((e) => (err = e));
    expect(isNimgError(err) && err.code).toBe('BACKEND_UNAVAILABLE');
    const msg = (err as Error).message;
    expect(msg).toMatch(/about \d+(\.\d)? (s|min|h)\b/);
    expect(msg).toMatch(/8000 steps/);
    expect(msg).toMatch(/profile: 'amortized'/);
    expect(msg).toMatch(/backend: 'wasm'/);
  }, 120_000);
});
