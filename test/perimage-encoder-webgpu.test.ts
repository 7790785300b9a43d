/**
 * The per-image encoder on tfjs WebGPU (SwiftShader in CI: VK_ICD_FILENAMES=
 * /usr/lib/chromium/vk_swiftshader_icd.json; skipped without an adapter). Small image and
 * few steps: SwiftShader is far slower than WASM.
 * - the loss terms of one state agree with tfjs WASM's (the same model on both backends,
 *   the same counter-hash noise);
 * - a few training steps lower the loss.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, probeWebGpuAdapter } from '../src/backend/index.js';
import { defaultArch } from '../src/profiles/perimage/types.js';
import { canvasMask, initTheta, makeLayout, prng } from '../src/profiles/perimage/encoder/model.js';
import { PerImageNet } from '../src/profiles/perimage/encoder/forward.js';
import { ensureGradients } from '../src/profiles/perimage/encoder/grads.js';
import { DEFAULT_TRAIN, lossTerms, rgbaToRows, train } from '../src/profiles/perimage/encoder/train.js';
import { sampleCrop } from './refine-helpers.js';

const adapter = await probeWebGpuAdapter();
if (!adapter.found) console.warn(`[perimage-encoder-webgpu] SKIPPED: no WebGPU adapter (${adapter.description})`);

describe.skipIf(!adapter.found)(`perimage encoder on webgpu (${adapter.description})`, () => {
  it('loss terms and gradients agree with WASM; training lowers the loss', async () => {
    const W = 24, H = 16;
    const rgba = await sampleCrop(W, H, 150, 150);
    const lay = makeLayout(defaultArch(), W, H);
    const r = prng(4);
    const theta = Float32Array.from(initTheta(lay, 2, [0.5, 0.5, 0.5]), (v) => v + (r() - 0.5) * 0.2);
    const canvas = Float32Array.from(canvasMask(lay), (m) => m * (r() - 0.5) * 8);
    const x = rgbaToRows(rgba, W, H);
    ensureGradients();
    const terms = async (backend: 'wasm' | 'webgpu') => {
      await initBackend(backend);
      const net = new PerImageNet(lay);
      const mask = tf.tensor4d(canvasMask(lay), [1, lay.Hc, lay.Wc, 1]);
      const tg = tf.tensor2d(x, [W * H, 3]);
      const out = tf.tidy(() => {
        const f = (a: tf.Tensor, b: tf.Tensor) => lossTerms(net, a as tf.Tensor1D, b as tf.Tensor4D, mask, tg, 1e-3, { kind: 'noise', key: 7 }).loss;
        const { value, grads } = tf.valueAndGrads(f)([tf.tensor1d(theta), tf.tensor4d(canvas, [1, lay.Hc, lay.Wc, 1])]);
        return [value, ...grads];
      });
      const v = await Promise.all(out.map((t) => t.data()));
      tf.dispose([...out, mask, tg]);
      net.dispose();
      return v as Float32Array[];
    };
    const a = await terms('wasm');
    const b = await terms('webgpu');
    expect(Math.abs(a[0][0] - b[0][0])).toBeLessThan(1e-4 * Math.abs(a[0][0]));
    for (const i of [1, 2]) {
      let err = 0;
      let mag = 0;
      for (let j = 0; j < a[i].length; j++) {
        err = Math.max(err, Math.abs(a[i][j] - b[i][j]));
        mag = Math.max(mag, Math.abs(a[i][j]));
      }
      expect(err).toBeLessThan(1e-3 * mag);
    }
    // a few steps only (SwiftShader: ~4.5 s a step at this size, dispatch-bound); the
    // quantization search (~110 forward passes) is exercised on WASM
    expect(tf.getBackend()).toBe('webgpu');
    const st = await train(lay, x, initTheta(lay, 1, [0.5, 0.5, 0.5]), new Float32Array(lay.Hc * lay.Wc), {
      ...DEFAULT_TRAIN, steps: 8, lambda: 1e-3, lr: 3e-2, lrLatent: 3e-2, noiseFrac: 1, progressEvery: 1,
    });
    const h = st.history;
    expect(h.length).toBe(8);
    expect(h[7].loss).toBeLessThan(0.8 * h[0].loss);
    for (const v of st.theta) expect(Number.isFinite(v)).toBe(true);
  }, 300_000);
});
