/**
 * WebGPU path. Runs when a WebGPU adapter exists (hardware, or SwiftShader in CI:
 * `apt-get install -y chromium libvulkan1` and
 * `VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json`); skipped otherwise.
 * Small images only: SwiftShader is 30-100x slower than WASM.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { probeWebGpuAdapter } from '../src/backend/index.js';
import { parseWeights, floatTensor } from '../src/model/weights.js';
import { createTransforms } from '../src/model/transforms.js';
import { createNodeCore } from '../src/core/node-loader.js';
import { byteToUnitTable, rgbaToNhwcGpu } from '../src/model/gpu-kernels.js';
import { makeTestWeights, maxAbs, maxAbsDiff, psnr, randomPlanar, refAnalysis, refSynthesis, testImage } from './model-reference.js';

const adapter = await probeWebGpuAdapter();
if (!adapter.found) {
  console.warn(`[backend-webgpu] SKIPPED: no WebGPU adapter (${adapter.description}). ` +
    'To run: apt-get install -y chromium libvulkan1; export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json');
}

describe.skipIf(!adapter.found)(`webgpu transforms (adapter: ${adapter.description})`, () => {
  it('match the naive reference and are seamless when tiled', async () => {
    const { manifestJson, bin } = makeTestWeights({ seed: 21, N: 8, M: 12, Nz: 8 });
    const w = await parseWeights(manifestJson, bin);
    const get = (n: string) => floatTensor(w, n);
    const whole = await createTransforms(w, { backend: 'webgpu', tileSize: Infinity });
    const tiled = await createTransforms(w, { backend: 'webgpu', tileSize: 64 });
    expect(whole.backend).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    try {
      const H = 64, W = 128;
      const x = testImage(H, W, 3);
      const y = await whole.analysis(x, H, W);
      const ref = refAnalysis(get, w.manifest.arch, { c: 3, h: H, w: W, d: Float64Array.from(x) });
      expect(maxAbsDiff(y, ref.d) / maxAbs(ref.d)).toBeLessThan(1e-4);
      expect(psnr(y, await tiled.analysis(x, H, W))).toBeGreaterThan(60);

      const yh = randomPlanar(12, 4, 6, 5, -2, 2);
      const s = await whole.synthesis(yh, 4, 6);
      const rs = refSynthesis(get, w.manifest.arch, { c: 12, h: 4, w: 6, d: Float64Array.from(yh) });
      expect(maxAbsDiff(s, rs.d) / maxAbs(rs.d)).toBeLessThan(1e-4);
      expect(psnr(s, await tiled.synthesis(yh, 4, 6))).toBeGreaterThan(60);

      const ys = randomPlanar(12, 8, 8, 6, -3, 3);
      expect(psnr(await whole.hyperAnalysis(ys, 8, 8), await tiled.hyperAnalysis(ys, 8, 8))).toBeGreaterThan(60);
    } finally {
      whole.dispose();
      tiled.dispose();
    }
  }, 120_000);

  it('fused paths (RGBA8/planar -> g_a+gain+h_a on the device, g_s -> RGBA8 on the device) equal the unfused ones', async () => {
    const { manifestJson, bin } = makeTestWeights({ seed: 5, N: 8, M: 12, Nz: 8 });
    const w = await parseWeights(manifestJson, bin);
    const t = await createTransforms(w, { backend: 'webgpu' });
    const core = await createNodeCore();
    try {
      const H = 64, W = 128, M = 12;
      const x = testImage(H, W, 7);
      const gain = Float32Array.from({ length: M }, (_, c) => 0.5 + c / 7);
      const fused = await t.analysisHyper!(x, H, W, gain);
      expect(fused).toBeDefined();
      const ys = await t.analysis(x, H, W);
      const hw = (H / 16) * (W / 16);
      for (let c = 0; c < M; c++) for (let i = c * hw; i < (c + 1) * hw; i++) ys[i] *= gain[c];
      const z = await t.hyperAnalysis(ys, H / 16, W / 16);
      // SwiftShader's conv results may vary in the last bit between calls: compare closely
      expect(maxAbsDiff(fused!.ys, ys) / maxAbs(ys)).toBeLessThan(1e-5);
      expect(maxAbsDiff(fused!.z, z) / maxAbs(z)).toBeLessThan(1e-5);

      // from RGBA bytes (90x61, padded to 128x64 on the device): the conversion equals the
      // core's toPlanar exactly, the results the planar path's
      const cw = 90, ch = 61;
      const rgba = new Uint8ClampedArray(cw * ch * 4).map((_, i) => (i * 37 + (i >> 7)) & 255);
      const planarX = core.toPlanar(rgba, cw, ch, 4, W, H);
      const lut = tf.tensor1d(byteToUnitTable());
      const px = tf.tensor2d(new Int32Array(rgba.buffer), [ch, cw], 'int32');
      const conv = tf.transpose(rgbaToNhwcGpu(px, lut, cw, ch, W, H), [0, 3, 1, 2]);
      expect(Buffer.from(((await conv.data()) as Float32Array).buffer).equals(Buffer.from(planarX.buffer))).toBe(true);
      tf.dispose([lut, px, conv]);
      const fr = await t.analysisHyperRgba!(rgba, cw, ch, W, H, gain);
      const fp = await t.analysisHyper!(planarX, H, W, gain);
      expect(maxAbsDiff(fr!.ys, fp!.ys) / maxAbs(fp!.ys)).toBeLessThan(1e-5);
      expect(maxAbsDiff(fr!.z, fp!.z) / maxAbs(fp!.z)).toBeLessThan(1e-5);

      const yh = randomPlanar(M, 4, 6, 9, -2, 2);
      const planar = await t.synthesis(yh, 4, 6);
      for (const [cw, ch] of [[96, 64], [90, 61]]) {
        const rgba = await t.synthesisRgba!(yh, 4, 6, cw, ch);
        expect(rgba).toBeDefined();
        expect(Buffer.from(rgba!).equals(Buffer.from(core.toRgba(planar, 96, 64, cw, ch)))).toBe(true);
      }
    } finally {
      t.dispose();
    }
  }, 120_000);
});
