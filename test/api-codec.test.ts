/**
 * Public API glue (src/codec.ts) with random weights. Uses the real WASM core when it is built
 * (build/nimg-core.wasm) and, independently, a plain-JS stand-in core (reference arithmetic,
 * raw int32 "entropy coding") so the glue is tested even without a core build.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { NimgCodec, interpolateGain, probe, type ImageLike } from '../src/codec.js';
import { NimgError } from '../src/errors.js';
import type { Core, CoreModel } from '../src/core/types.js';
import { makeRandomWeights } from './fixtures/random-weights.js';
import * as ref from '../src/core/reference.js';
import { crc32 } from '../src/format/crc32.js';

function fakeCore(): Core {
  let model: CoreModel | null = null;
  const pack = (a: Int32Array) => new Uint8Array(a.slice().buffer);
  const unpack = (b: Uint8Array, n: number) => {
    if (b.length !== 4 * n) throw new NimgError('CORRUPT_STREAM', `fake stream: ${b.length} bytes, expected ${4 * n}`);
    return new Int32Array(b.slice().buffer);
  };
  return {
    setModel(m) {
      model = m;
    },
    toPlanar: ref.toPlanarRef,
    toRgba: ref.toRgbaRef,
    hyperSynthesis: (zhat, hz, wz) => ref.hyperSynthesisRef(model!, zhat, hz, wz),
    quantizeZ: ref.quantizeZRef,
    quantizeLatent: (ys, mu) => ref.quantizeLatentRef(ys, mu, model!.meanFracBits),
    dequantizeLatent: (k, mu, g, C, HW) => ref.dequantizeLatentRef(k, mu, g, C, HW, model!.meanFracBits),
    encodeZ: (zhat) => pack(zhat),
    decodeZ: (b, HW) => unpack(b, model!.Nz * HW),
    encodeY: (k) => pack(k),
    decodeY: (b, idx) => unpack(b, idx.length),
  };
}

const WASM = new URL('../build/nimg-core.wasm', import.meta.url);
const cores: [string, () => Promise<{ core?: Core; wasm?: Uint8Array }>][] = [['js stand-in core', async () => ({ core: fakeCore() })]];
if (existsSync(WASM) && existsSync(new URL('../src/core/index.ts', import.meta.url))) {
  cores.push(['WASM core', async () => ({ wasm: new Uint8Array(readFileSync(WASM)) })]);
} else {
  console.warn('[api-codec] build/nimg-core.wasm or src/core/index.ts missing: only the JS stand-in core is tested');
}

function photo(w: number, h: number, alpha = false): ImageLike {
  const data = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = 4 * (y * w + x);
      data[i] = 128 + 100 * Math.sin(x / 7);
      data[i + 1] = 128 + 100 * Math.cos(y / 5);
      data[i + 2] = (x * y) & 255;
      data[i + 3] = alpha ? (x + y) & 255 : 255;
    }
  return { width: w, height: h, data };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof NimgError)) throw new Error(`not a NimgError: ${String(e)}`);
    return e.code;
  }
  return 'OK';
}

const rw = makeRandomWeights({ seed: 3, N: 8, M: 12, Nz: 8, hsHidden: [8, 8] });
const weights = { manifest: rw.manifestJson, bin: rw.bin };

describe('interpolateGain', () => {
  const L = 8, M = 3;
  const t = new Float32Array(L * M).map((_, i) => 2 ** (Math.floor(i / M) / 2) * (1 + (i % M)));
  it('is exact at the levels and geometric in between', () => {
    expect([...interpolateGain(t, L, M, 1)]).toEqual([...t.subarray(0, M)]);
    expect([...interpolateGain(t, L, M, 8)]).toEqual([...t.subarray(7 * M, 8 * M)]);
    expect([...interpolateGain(t, L, M, 3)]).toEqual([...t.subarray(2 * M, 3 * M)]);
    const g = interpolateGain(t, L, M, 3.5);
    for (let c = 0; c < M; c++) expect(g[c]).toBeCloseTo(Math.sqrt(t[2 * M + c] * t[3 * M + c]), 5);
  });
});

for (const [name, make] of cores) {
  describe(`codec with random weights, ${name}`, () => {
    let codec: NimgCodec;
    beforeAll(async () => {
      codec = await NimgCodec.create({ ...(await make()), weights, backend: 'wasm', threads: 1 });
    }, 60_000);
    afterAll(() => codec?.dispose());

    it('round-trips an odd-sized image: size, header, determinism', async () => {
      const img = photo(70, 45);
      const stats: Record<string, unknown> = {};
      const a = await codec.encode(img, { quality: 3.3, stats });
      const b = await codec.encode(img, { quality: 3.3 });
      expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
      expect(stats.backend).toBe('wasm');
      expect(stats.totalMs).toBeGreaterThan(0);
      const info = probe(a);
      expect(info).toMatchObject({ width: 70, height: 45, quality: 845 / 256, hasAlpha: false, modelId: codec.modelId, weightsHash: codec.weightsHash });
      expect(info.profile === 'amortized' && info.padded).toEqual({ width: 128, height: 64 });
      const out = await codec.decodeWithStats(a);
      expect(out.image.width).toBe(70);
      expect(out.image.height).toBe(45);
      expect(out.image.data).toBeInstanceOf(Uint8ClampedArray);
      expect(out.image.data.length).toBe(70 * 45 * 4);
      for (let i = 3; i < out.image.data.length; i += 4) expect(out.image.data[i]).toBe(255);
      const again = await codec.decode(a);
      expect(Buffer.compare(Buffer.from(again.data), Buffer.from(out.image.data))).toBe(0);
    }, 60_000);

    it('accepts RGB input and a Uint8Array; rounds quality to 1/256', async () => {
      const img = photo(20, 10);
      const rgb = new Uint8Array(20 * 10 * 3);
      for (let i = 0; i < 200; i++) rgb.set(img.data.subarray(4 * i, 4 * i + 3), 3 * i);
      const a = await codec.encode({ width: 20, height: 10, data: rgb }, { quality: 8 });
      const b = await codec.encode({ width: 20, height: 10, data: new Uint8Array(img.data.buffer) }, { quality: 8 });
      expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
      expect(probe(a).quality).toBe(8);
      expect(probe(await codec.encode(img, { quality: 1.0001 })).quality).toBe(1);
    }, 60_000);

    it('keeps alpha losslessly', async () => {
      const img = photo(33, 17, true);
      const bytes = await codec.encode(img);
      expect(probe(bytes).hasAlpha).toBe(true);
      const out = await codec.decode(bytes);
      for (let i = 3; i < img.data.length; i += 4) expect(out.data[i]).toBe(img.data[i]);
    }, 60_000);

    it('rejects bad images and options with BAD_INPUT / LIMIT_EXCEEDED', async () => {
      const img = photo(8, 8);
      expect(await codeOf(codec.encode(null as unknown as ImageLike))).toBe('BAD_INPUT');
      expect(await codeOf(codec.encode({ width: 8, height: 8, data: new Uint8ClampedArray(10) }))).toBe('BAD_INPUT');
      expect(await codeOf(codec.encode({ width: 0, height: 8, data: new Uint8ClampedArray(0) }))).toBe('BAD_INPUT');
      expect(await codeOf(codec.encode({ width: 8, height: 8, data: new Float32Array(256) as unknown as Uint8Array }))).toBe('BAD_INPUT');
      expect(await codeOf(codec.encode(img, { quality: 9 }))).toBe('BAD_INPUT');
      expect(await codeOf(codec.encode(img, { quality: NaN }))).toBe('BAD_INPUT');
      expect(await codeOf(codec.encode(img, { backend: 'gpu' as 'wasm' }))).toBe('BAD_INPUT');
      expect(await codeOf(codec.encode(img, { limits: { maxPixels: 10 } }))).toBe('LIMIT_EXCEEDED');
      expect(await codeOf(codec.encode({ width: 20000, height: 1, data: new Uint8ClampedArray(80000) }))).toBe('LIMIT_EXCEEDED');
    });

    it('decoder: every corruption → NimgError, never TypeError/RangeError/trap', async () => {
      const bytes = await codec.encode(photo(40, 30, true), { quality: 4 });
      expect(await codeOf(codec.decode(new Uint8Array(0)))).toBe('TRUNCATED');
      expect(await codeOf(codec.decode(new Uint8Array(100)))).toBe('BAD_SIGNATURE');
      expect(await codeOf(codec.decode('x' as unknown as Uint8Array))).toBe('BAD_INPUT');
      for (const n of [1, 8, 9, 40, 67, 68, 69, bytes.length >> 1, bytes.length - 1]) {
        expect(await codeOf(codec.decode(bytes.subarray(0, n)))).toBe('TRUNCATED');
      }
      for (let i = 0; i < bytes.length; i += 7) {
        const b = bytes.slice();
        b[i] ^= 0x04;
        expect(['CHECKSUM_MISMATCH', 'BAD_SIGNATURE', 'UNSUPPORTED_VERSION']).toContain(await codeOf(codec.decode(b)));
      }
      // Payload garbage with valid CRCs: the stream decoders must fail cleanly (or decode garbage).
      for (let trial = 0; trial < 12; trial++) {
        const b = bytes.slice();
        const dv = new DataView(b.buffer);
        for (let i = 68; i < b.length; i++) if ((i * 31 + trial) % 5 === 0) b[i] = (b[i] * 7 + trial) & 255;
        dv.setUint32(60, crc32(b, 68, b.length), true);
        dv.setUint32(64, crc32(b, 0, 64), true);
        expect(['OK', 'CORRUPT_STREAM']).toContain(await codeOf(codec.decode(b)));
      }
      // A file from another weight set.
      const other = bytes.slice();
      other[28] ^= 1;
      new DataView(other.buffer).setUint32(64, crc32(other, 0, 64), true);
      expect(await codeOf(codec.decode(other))).toBe('MODEL_MISMATCH');
      // 100000 x 100000 → LIMIT_EXCEEDED, immediately.
      const huge = bytes.slice();
      new DataView(huge.buffer).setUint32(36, 100000, true);
      new DataView(huge.buffer).setUint32(40, 100000, true);
      new DataView(huge.buffer).setUint32(64, crc32(huge, 0, 64), true);
      const t0 = performance.now();
      expect(await codeOf(codec.decode(huge))).toBe('LIMIT_EXCEEDED');
      expect(performance.now() - t0).toBeLessThan(100);
    }, 120_000);
  });
}

describe('init errors', () => {
  it('bad weights → BAD_INPUT / MODEL_MISMATCH', async () => {
    expect(await codeOf(NimgCodec.create({ core: fakeCore(), weights: { manifest: '{', bin: rw.bin } }))).toBe('BAD_INPUT');
    const bin = rw.bin.slice();
    bin[100] ^= 1;
    expect(await codeOf(NimgCodec.create({ core: fakeCore(), weights: { manifest: rw.manifestJson, bin } }))).toBe('MODEL_MISMATCH');
    expect(await codeOf(NimgCodec.create({ core: fakeCore(), weights: { manifest: rw.manifestJson } as never }))).toBe('BAD_INPUT');
    expect(await codeOf(NimgCodec.create({ core: fakeCore(), weights, backend: 'metal' as 'wasm' }))).toBe('BAD_INPUT');
    expect(await codeOf(NimgCodec.create({ core: fakeCore(), weights, limits: { maxPixels: -1 } }))).toBe('BAD_INPUT');
  });
});
