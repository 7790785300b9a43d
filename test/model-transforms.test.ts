import { vi, describe, expect, it, afterAll } from 'vitest';

// generous: CI machines here are small and shared
vi.setConfig({ testTimeout: 30_000 });
import * as tf from '@tensorflow/tfjs-core';
import { parseWeights, floatTensor } from '../src/model/weights.js';
import { createTransforms, type TiledTransforms } from '../src/model/transforms.js';
import type { ModelWeights } from '../src/model/types.js';
import { makeTestWeights, maxAbs, maxAbsDiff, psnr, randomPlanar, refAnalysis, refHyper, refSynthesis, testImage } from './model-reference.js';

async function tinyWeights(opts: Parameters<typeof makeTestWeights>[0] = {}): Promise<ModelWeights> {
  const { manifestJson, bin } = makeTestWeights({ N: 8, M: 12, Nz: 8, ...opts });
  return parseWeights(manifestJson, bin);
}

const toF64 = (a: Float32Array) => Float64Array.from(a);

describe.each(['wasm', 'cpu'] as const)('transforms vs naive NCHW reference (%s)', (backend) => {
  let w: ModelWeights;
  let t: TiledTransforms;
  const get = (name: string) => floatTensor(w, name);
  afterAll(() => t?.dispose());

  it('analysis (stride-2 5x5, padding 2, GDN) matches', async () => {
    w = await tinyWeights({ seed: 3 });
    t = await createTransforms(w, { backend, threads: 1, tileSize: Infinity });
    expect(t.backend).toBe(backend);
    const H = 64, W = 128;
    const x = testImage(H, W, 1);
    const y = await t.analysis(x, H, W);
    const ref = refAnalysis(get, w.manifest.arch, { c: 3, h: H, w: W, d: toF64(x) });
    expect([ref.c, ref.h, ref.w]).toEqual([12, 4, 8]);
    expect(y.length).toBe(ref.d.length);
    expect(maxAbsDiff(y, ref.d) / maxAbs(ref.d)).toBeLessThan(1e-5);
  });

  it('hyper-analysis (ReLU) matches', async () => {
    const h = 8, wd = 12;
    const ys = randomPlanar(12, h, wd, 5, -3, 3);
    const z = await t.hyperAnalysis(ys, h, wd);
    const ref = refHyper(get, w.manifest.arch, { c: 12, h, w: wd, d: toF64(ys) });
    expect([ref.c, ref.h, ref.w]).toEqual([8, 2, 3]);
    expect(maxAbsDiff(z, ref.d) / maxAbs(ref.d)).toBeLessThan(1e-5);
  });

  it('synthesis (sub-pixel conv + PixelShuffle order, IGDN) matches', async () => {
    const h = 3, wd = 5;
    const yh = randomPlanar(12, h, wd, 7, -2, 2);
    const x = await t.synthesis(yh, h, wd);
    const ref = refSynthesis(get, w.manifest.arch, { c: 12, h, w: wd, d: toF64(yh) });
    expect([ref.c, ref.h, ref.w]).toEqual([3, 48, 80]);
    expect(maxAbsDiff(x, ref.d) / maxAbs(ref.d)).toBeLessThan(1e-5);
  });
});

describe('weights stored as float16 and int8+scale', () => {
  it('are widened / dequantized before the network', async () => {
    const w = await tinyWeights({ seed: 9, float16: ['ga.0.w', 'gs.1.w', 'ga.1.gdn.gamma'], int8: ['ga.2.w', 'gs.0.w', 'ha.1.w'] });
    expect(w.tensors.get('ga.0.w')!.dtype).toBe('float32');
    expect(w.tensors.get('ga.2.w')!.dtype).toBe('int8');
    const t = await createTransforms(w, { backend: 'wasm', threads: 1, tileSize: Infinity });
    try {
      const get = (name: string) => floatTensor(w, name);
      const x = testImage(64, 64, 2);
      const y = await t.analysis(x, 64, 64);
      const ref = refAnalysis(get, w.manifest.arch, { c: 3, h: 64, w: 64, d: toF64(x) });
      expect(maxAbsDiff(y, ref.d) / maxAbs(ref.d)).toBeLessThan(1e-5);
      const yh = randomPlanar(12, 4, 4, 3, -2, 2);
      const xs = await t.synthesis(yh, 4, 4);
      const rs = refSynthesis(get, w.manifest.arch, { c: 12, h: 4, w: 4, d: toF64(yh) });
      expect(maxAbsDiff(xs, rs.d) / maxAbs(rs.d)).toBeLessThan(1e-5);
    } finally {
      t.dispose();
    }
  });
});

describe('tiling leaves no seams', () => {
  it('tiled == untiled for g_a, h_a, g_s (PSNR > 60 dB, wasm)', async () => {
    const w = await tinyWeights({ seed: 11, N: 16, M: 24, Nz: 16 });
    const whole = await createTransforms(w, { backend: 'wasm', threads: 1, tileSize: Infinity });
    const tiled = await createTransforms(w, { backend: 'wasm', threads: 1, tileSize: 64 });
    try {
      const H = 192, W = 320; // 3 x 5 tiles of 64 px for g_a / g_s
      const x = testImage(H, W, 4);
      const a = await whole.analysis(x, H, W);
      const b = await tiled.analysis(x, H, W);
      expect(psnr(a, b)).toBeGreaterThan(60);
      expect(maxAbsDiff(a, b) / maxAbs(a)).toBeLessThan(1e-4);

      const h = 24, wd = 40; // hyper: 64 px tiles = 1 z cell... use 24x40 latent: 6 x 10 z, tiles of 1 z cell
      const ys = randomPlanar(24, h, wd, 8, -3, 3);
      const za = await whole.hyperAnalysis(ys, h, wd);
      const zb = await tiled.hyperAnalysis(ys, h, wd);
      expect(psnr(za, zb)).toBeGreaterThan(60);

      const yh = randomPlanar(24, 12, 20, 9, -2, 2);
      const sa = await whole.synthesis(yh, 12, 20);
      const sb = await tiled.synthesis(yh, 12, 20);
      expect(psnr(sa, sb)).toBeGreaterThan(60);
      expect(maxAbsDiff(sa, sb) / maxAbs(sa)).toBeLessThan(1e-4);
    } finally {
      whole.dispose();
      tiled.dispose();
    }
  });
});

describe('resources', () => {
  it('no tensors leak across calls; dispose frees the weights', async () => {
    const w = await tinyWeights({ seed: 12 });
    const before = tf.memory().numTensors;
    const t = await createTransforms(w, { backend: 'wasm', threads: 1, tileSize: 64 });
    const after = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      await t.analysis(testImage(128, 128, i), 128, 128);
      await t.hyperAnalysis(randomPlanar(12, 8, 8, i), 8, 8);
      await t.synthesis(randomPlanar(12, 8, 8, i), 8, 8);
      expect(tf.memory().numTensors).toBe(after);
    }
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('tiling bounds peak memory', async () => {
    const w = await tinyWeights({ seed: 14, N: 16, M: 24, Nz: 16 });
    const whole = await createTransforms(w, { backend: 'wasm', threads: 1, tileSize: Infinity });
    const tiled = await createTransforms(w, { backend: 'wasm', threads: 1, tileSize: 64 });
    try {
      const x = testImage(512, 512, 1);
      const peak = async (t: typeof whole) => (await tf.profile(async () => { await t.analysis(x, 512, 512); return []; })).peakBytes;
      const pw = await peak(whole);
      const pt = await peak(tiled);
      expect(pt).toBeLessThan(pw / 8);
    } finally {
      whole.dispose();
      tiled.dispose();
    }
  });

  it('rejects bad shapes with BAD_INPUT', async () => {
    const w = await tinyWeights({ seed: 13 });
    const t = await createTransforms(w, { backend: 'wasm', threads: 1 });
    try {
      await expect(t.analysis(new Float32Array(3 * 60 * 64), 60, 64)).rejects.toMatchObject({ code: 'BAD_INPUT' });
      await expect(t.synthesis(new Float32Array(5), 1, 1)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    } finally {
      t.dispose();
    }
  });
});
