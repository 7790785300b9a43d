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
});
