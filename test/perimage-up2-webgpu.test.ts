/**
 * The fused up2 chain (src/profiles/perimage/encoder/up2-gpu.ts) against the tfjs-op chain
 * of forward.ts, both on tfjs WebGPU (SwiftShader in CI: VK_ICD_FILENAMES=
 * /usr/lib/chromium/vk_swiftshader_icd.json; skipped without an adapter): F_0 and the
 * gradients of a random linear functional of F_0 w.r.t. the canvas (every grid) and the 4
 * taps, on odd sizes where the crops and the edge replication matter. Taps away from
 * bicubic and distinct, so a tap gradient sent to the wrong tap (e.g. the odd outputs'
 * mirror) shows. And the chain reading the taps from theta in place (applyTheta) against
 * the taps-alone one: the same F_0 and canvas gradient, the taps' gradient at their offset in
 * a full-size theta gradient that is 0 everywhere else (members too).
 */
import { describe, expect, it } from 'vitest';
import { relErr, webgpuAdapter } from './webgpu-helpers.js';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { defaultArch } from '../src/profiles/perimage/types.js';
import { canvasMask, makeLayout, prng } from '../src/profiles/perimage/encoder/model.js';
import { PerImageNet } from '../src/profiles/perimage/encoder/forward.js';
import { ensureGradients } from '../src/profiles/perimage/encoder/grads.js';
import { Up2Chain, up2FusedActive } from '../src/profiles/perimage/encoder/up2-gpu.js';

const adapter = await webgpuAdapter('perimage-up2-webgpu');


describe.skipIf(!adapter.found)(`fused up2 chain on webgpu (${adapter.description})`, () => {
  const cases: [number, number, number][] = [[37, 23, 7], [24, 16, 7], [37, 23, 8], [13, 9, 2], [5, 3, 3],
    // wider than 2 × 32 at level 1: several column blocks per row in the tap-gradient programs
    [131, 9, 4]];
  it.each(cases)('%ix%i, L=%i: forward and gradients match the tfjs ops', async (W, H, L) => {
    await initBackend('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    expect(up2FusedActive()).toBe(true);
    ensureGradients();
    const lay = makeLayout({ ...defaultArch(), L }, W, H);
    const r = prng(W * 131 + H * 7 + L);
    const canvas = Float32Array.from(canvasMask(lay), (m) => m * Math.round((r() - 0.5) * 40));
    // gaps get values too: the fused gradient must be 0 there, as the reference's is
    for (let i = 0; i < canvas.length; i += 5) if (canvas[i] === 0) canvas[i] = 3;
    const taps = [-0.07, 0.31, 0.83, -0.12];
    const weight = Float32Array.from({ length: W * H * L }, () => r() - 0.5);
    const net = new PerImageNet(lay);
    const wt = tf.tensor2d(weight, [W * H, L]);
    const eval1 = async (reference: boolean) => {
      const out = tf.tidy(() => {
        const f = (t: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(net.features(t as tf.Tensor1D, c as tf.Tensor4D, reference), wt)) as tf.Scalar;
        const F = net.features(tf.tensor1d(taps), tf.tensor4d(canvas, [1, lay.Hc, lay.Wc, 1]), reference);
        const { grads } = tf.valueAndGrads(f)([tf.tensor1d(taps), tf.tensor4d(canvas, [1, lay.Hc, lay.Wc, 1])]);
        return [F, ...grads];
      });
      const v = (await Promise.all(out.map((t) => t.data()))) as Float32Array[];
      expect(out[0].shape).toEqual([W * H, L]);
      tf.dispose(out);
      return v;
    };
    const ref = await eval1(true);
    const fus = await eval1(false);
    net.dispose();
    wt.dispose();
    expect(relErr(ref[0], fus[0])).toBeLessThan(1e-5);
    // taps: each one on its own (a swapped pair would pass a max-norm test of the vector)
    for (let q = 0; q < 4; q++) expect(Math.abs(ref[1][q] - fus[1][q])).toBeLessThan(1e-4 * Math.abs(ref[1][q]) + 1e-3);
    expect(relErr(ref[2], fus[2])).toBeLessThan(1e-5);
    // and the reference's gaps carry no gradient, so the fused one's must not either
    const mask = canvasMask(lay);
    for (let i = 0; i < mask.length; i++) if (!mask[i]) expect(fus[2][i]).toBe(0);
  }, 120_000);

  it.each([[37, 23, 7, 1], [13, 9, 2, 1], [24, 16, 7, 3]])('%ix%i, L=%i, %i members: taps read from theta = taps alone', async (W, H, L, K) => {
    await initBackend('webgpu');
    ensureGradients();
    const lay = makeLayout({ ...defaultArch(), L }, W, H);
    const { nTheta, Hc, Wc } = lay;
    const off = lay.offsets[lay.tapsIndex];
    const r = prng(W + 17 * L + K);
    const canvas = Float32Array.from({ length: K * Hc * Wc }, (_, i) => canvasMask(lay)[i % (Hc * Wc)] * Math.round((r() - 0.5) * 40));
    const theta = Float32Array.from({ length: K * nTheta }, () => r() - 0.5);
    const taps = Float32Array.from({ length: K * 4 }, (_, i) => theta[Math.floor(i / 4) * nTheta + off + (i % 4)]);
    const weight = Float32Array.from({ length: K * W * H * L }, () => r() - 0.5);
    const chain = new Up2Chain(lay, K);
    const run = async (fromTheta: boolean) => {
      const out = tf.tidy(() => {
        const wt = tf.tensor2d(weight, [K * W * H, L]);
        const t = fromTheta ? tf.tensor1d(theta) : K === 1 ? tf.tensor1d(taps) : tf.tensor2d(taps, [K, 4]);
        const c = tf.tensor4d(canvas, [K, Hc, Wc, 1]);
        const F = (a: tf.Tensor, b: tf.Tensor) => (fromTheta ? chain.applyTheta(b as tf.Tensor4D, a) : chain.apply(b as tf.Tensor4D, a));
        const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(F(a, b), wt)) as tf.Scalar)([t, c]);
        return [F(t, c), value, ...grads];
      });
      const v = (await Promise.all(out.map((x) => x.data()))) as Float32Array[];
      tf.dispose(out);
      return v;
    };
    const a = await run(false);
    const b = await run(true);
    expect(b[0]).toEqual(a[0]);
    expect(b[1]).toEqual(a[1]);
    expect(b[3]).toEqual(a[3]);
    expect(b[2].length).toBe(K * nTheta);
    for (let i = 0; i < K * nTheta; i++) {
      const j = i % nTheta;
      if (j >= off && j < off + 4) expect(b[2][i]).toBe(a[2][Math.floor(i / nTheta) * 4 + j - off]);
      else expect(b[2][i]).toBe(0);
    }
    expect(a[2].some((v) => v !== 0)).toBe(true);
  }, 120_000);
});
