/**
 * Quantization and pre/post-processing of the WASM core: ties to even, NaN, clamps, SIMD
 * tails (odd sizes), RGB/RGBA input, edge replication, byte round trip; equality with the
 * TS reference.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { WasmCore } from '../src/core/index.js';
import { createNodeCore } from '../src/core/node-loader.js';
import { dequantizeLatentRef, quantizeLatentRef, quantizeZRef, roundHalfEven, toPlanarRef, toRgbaRef } from '../src/core/reference.js';
import { makeRng, randomCoreModel } from './fixtures/core-model.js';

let core: WasmCore;
beforeAll(async () => {
  core = await createNodeCore();
  core.setModel(await randomCoreModel({ seed: 1 }));
});

const SPECIAL = [0, -0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.5, 254.5, 255.5, -254.5, -255.5, 256, -256, 1e9, -1e9, Infinity, -Infinity, NaN, 0.49999997, 1e-30, -1e-30];

function floats(rng: () => number, n: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rng();
    a[i] = r < 0.2 ? SPECIAL[Math.floor(rng() * SPECIAL.length)] : r < 0.4 ? Math.round((rng() - 0.5) * 2 * scale) + 0.5 : (rng() - 0.5) * 2 * scale;
  }
  return a;
}

describe('roundHalfEven (reference)', () => {
  it('rounds ties to even', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49, 0.51].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 0, 1]);
  });
});

describe('quantizeZ', () => {
  it('ties to even, clamps to ±255, NaN → 0', () => {
    const z = Float32Array.from([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 254.5, 255.5, 300, -300, Infinity, -Infinity, NaN, 3.4999998, -0]);
    expect(Array.from(core.quantizeZ(z))).toEqual([0, 2, 2, 0, -2, -2, 254, 255, 255, -255, 255, -255, 0, 3, 0]);
  });
  it('matches the reference for every length 0..40 (SIMD body + scalar tail) and a big array', () => {
    const rng = makeRng(1);
    for (let n = 0; n <= 40; n++) {
      const z = floats(rng, n, 400);
      expect(core.quantizeZ(z)).toEqual(quantizeZRef(z));
    }
    const z = floats(rng, 100_003, 300);
    expect(core.quantizeZ(z)).toEqual(quantizeZRef(z));
  });
});

describe('quantizeLatent / dequantizeLatent', () => {
  it('k = round_half_even(ys - mu_q/16), clamped to ±2^24, NaN → 0', () => {
    const ys = Float32Array.from([0.5, 1.5, 0, 0, 2, NaN, 1e30, -Infinity, 16777216.5, 0.25, 3]);
    const mu = Int32Array.from([0, 0, 8, 24, 40, 0, 0, 0, 0, -4, -8]);
    // 0.5→0, 1.5→2, -0.5→0, -1.5→-2, 2-2.5=-0.5→0, NaN→0, clamp, clamp, 16777216 (f32) → 2^24, 0.25+0.25=0.5→0, 3+0.5=3.5→4
    expect(Array.from(core.quantizeLatent(ys, mu))).toEqual([0, 2, 0, -2, 0, 0, 2 ** 24, -(2 ** 24), 2 ** 24, 0, 4]);
  });
  it('matches the reference (random, all lengths 0..40)', () => {
    const rng = makeRng(2);
    for (let n = 0; n <= 40; n++) {
      const ys = floats(rng, n, 50);
      const mu = Int32Array.from({ length: n }, () => Math.round((rng() - 0.5) * 65535));
      expect(core.quantizeLatent(ys, mu)).toEqual(quantizeLatentRef(ys, mu, 4));
    }
    const n = 50_001;
    const ys = floats(rng, n, 1e4);
    const mu = Int32Array.from({ length: n }, () => Math.round((rng() - 0.5) * 65535));
    expect(core.quantizeLatent(ys, mu)).toEqual(quantizeLatentRef(ys, mu, 4));
  });
  it('dequantize: (k + mu_q/16) * g[c], per channel, odd HW', () => {
    const k = Int32Array.from([3, -1, 0, 2 ** 24, 5, 7]);
    const mu = Int32Array.from([8, 0, -24, 0, 1, -1]);
    const g = Float32Array.from([2, 0.5]);
    const out = core.dequantizeLatent(k, mu, g, 2, 3);
    expect(Array.from(out)).toEqual([7, -2, -3, 2 ** 23, Math.fround((5 + 1 / 16) * 0.5), Math.fround((7 - 1 / 16) * 0.5)]);
    const rng = makeRng(3);
    for (const [C, HW] of [
      [1, 1],
      [3, 5],
      [7, 13],
      [24, 96],
      [5, 1001],
    ]) {
      const kk = Int32Array.from({ length: C * HW }, () => Math.round((rng() - 0.5) * 100));
      const mm = Int32Array.from({ length: C * HW }, () => Math.round((rng() - 0.5) * 2000));
      const gg = Float32Array.from({ length: C }, () => rng() * 3);
      expect(core.dequantizeLatent(kk, mm, gg, C, HW)).toEqual(dequantizeLatentRef(kk, mm, gg, C, HW, 4));
    }
  });
});

describe('toPlanar / toRgba', () => {
  it('bytes → f32(byte/255), planar, edge replication, RGB and RGBA, odd sizes', () => {
    const rng = makeRng(4);
    for (const [w, h, pw, ph] of [
      [1, 1, 1, 1],
      [1, 1, 64, 64],
      [3, 5, 64, 64],
      [7, 2, 9, 3],
      [13, 9, 16, 16],
      [64, 64, 64, 64],
      [65, 3, 128, 64],
    ]) {
      for (const ch of [3, 4] as const) {
        const px = Uint8Array.from({ length: w * h * ch }, () => Math.floor(rng() * 256));
        const got = core.toPlanar(px, w, h, ch, pw, ph);
        expect(got).toEqual(toPlanarRef(px, w, h, ch, pw, ph));
        // explicit edge replication checks
        const at = (c: number, y: number, x: number) => got[(c * ph + y) * pw + x];
        expect(at(0, ph - 1, pw - 1)).toBe(Math.fround(px[((h - 1) * w + (w - 1)) * ch] / 255));
        expect(at(1, 0, pw - 1)).toBe(Math.fround(px[(w - 1) * ch + 1] / 255));
        expect(at(2, ph - 1, 0)).toBe(Math.fround(px[(h - 1) * w * ch + 2] / 255));
      }
    }
  });

  it('bytes → planar → bytes is the identity (all 256 values, RGB and RGBA), alpha 255', () => {
    const w = 37;
    const h = 29;
    const rng = makeRng(5);
    for (const ch of [3, 4] as const) {
      const px = Uint8Array.from({ length: w * h * ch }, (_, i) => (i < 768 ? i & 255 : Math.floor(rng() * 256)));
      const planar = core.toPlanar(px, w, h, ch, 64, 64);
      const back = core.toRgba(planar, 64, 64, w, h);
      expect(back).toBeInstanceOf(Uint8ClampedArray);
      for (let p = 0; p < w * h; p++) {
        for (let c = 0; c < 3; c++) expect(back[p * 4 + c]).toBe(px[p * ch + c]);
        expect(back[p * 4 + 3]).toBe(255);
      }
    }
  });

  it('toRgba clamps, rounds half to even, NaN → 0, crops; equals the reference', () => {
    const pw = 7;
    const ph = 2;
    const vals = [-0.1, 1.2, NaN, 0.5, 0.25, 0.75, Infinity, -Infinity, 1, 0, 127.5 / 255, 0.002, 0.998, 0.6];
    const planar = new Float32Array(3 * pw * ph);
    for (let i = 0; i < planar.length; i++) planar[i] = vals[i % vals.length];
    const out = core.toRgba(planar, pw, ph, 5, 2);
    expect(out).toEqual(toRgbaRef(planar, pw, ph, 5, 2));
    // red channel of the first row: -0.1→0, 1.2→255, NaN→0, 0.5→127.5→128 (even), 0.25→63.75→64
    expect([0, 1, 2, 3, 4].map((x) => out[x * 4])).toEqual([0, 255, 0, 128, 64]);
    const rng = makeRng(6);
    for (const [w, h, pw2, ph2] of [
      [1, 1, 1, 1],
      [5, 3, 8, 4],
      [33, 17, 64, 64],
    ]) {
      const pl = Float32Array.from({ length: 3 * pw2 * ph2 }, () => rng() * 1.4 - 0.2);
      expect(core.toRgba(pl, pw2, ph2, w, h)).toEqual(toRgbaRef(pl, pw2, ph2, w, h));
    }
  });

  it('validates shapes (BAD_INPUT)', () => {
    const px = new Uint8Array(3 * 3 * 4);
    expect(() => core.toPlanar(px, 3, 3, 3, 4, 4)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => core.toPlanar(px, 3, 3, 4, 2, 4)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => core.toPlanar(px, 3, 3, 5 as 4, 4, 4)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => core.toRgba(new Float32Array(10), 2, 2, 2, 2)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => core.toRgba(new Float32Array(12), 2, 2, 3, 2)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
  });
});
