/**
 * The element-wise operations of a refinement step (src/model/refine-ops.ts):
 * - the noise: a pure function of (key, index), uniform on (0, 1), different per seed,
 *   stream and step; on WebGPU the device draws exactly the same u32s as JavaScript;
 * - the fused WGSL programs (SGA rounding with and without the z clamp, the rate gradients,
 *   Adam) equal the tfjs ops they replace, on the same WebGPU backend, to float rounding.
 * The WebGPU part runs when an adapter exists (SwiftShader in CI); skipped otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, probeWebGpuAdapter } from '../src/backend/index.js';
import {
  adamFused, adamStep, noiseFused, noiseKey, noiseUniform, rateGrads, rateGradsFused, sgaFused, sgaRound,
} from '../src/model/refine-ops.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { interpolateGain } from '../src/codec.js';
import { createCore } from '../src/core/index.js';
import { coreModelFromWeights } from '../src/core/model.js';
import { loadDefaultWeights } from '../src/model/node-weights.js';
import { refineLatent } from '../src/model/refine.js';
import { refineJoint } from '../src/model/refine-z.js';
import { setFusedRefine } from '../src/model/refine-ops.js';
import { createTransforms } from '../src/model/transforms.js';
import { ROOT, encoderFront, rand, sampleCrop } from './refine-helpers.js';

function maxRelDiff(a: Float32Array | Int32Array | Uint8Array, b: Float32Array | Int32Array | Uint8Array, floor = 1e-3): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(floor, Math.abs(b[i])));
  return m;
}

describe('refinement noise', () => {
  it('is uniform on (0, 1), deterministic, and differs by seed, stream and step', () => {
    const k = noiseKey(1, 0, 0);
    const u = noiseUniform(100_000, k);
    let sum = 0;
    let min = 1;
    let max = 0;
    const bins = new Array(10).fill(0);
    for (const v of u) {
      sum += v;
      min = Math.min(min, v);
      max = Math.max(max, v);
      bins[Math.floor(v * 10)]++;
    }
    expect(min).toBeGreaterThan(0);
    expect(max).toBeLessThan(1);
    expect(sum / u.length).toBeCloseTo(0.5, 2);
    for (const b of bins) expect(Math.abs(b - 10_000)).toBeLessThan(500);
    expect(noiseUniform(1000, k)).toEqual(u.subarray(0, 1000));
    const keys = [noiseKey(1, 0, 0), noiseKey(2, 0, 0), noiseKey(1, 1, 0), noiseKey(1, 0, 1)];
    expect(new Set(keys).size).toBe(4);
    // neighbouring elements and neighbouring steps are not correlated
    const v = noiseUniform(100_000, noiseKey(1, 0, 1));
    let c = 0;
    let cn = 0;
    for (let i = 0; i < u.length - 1; i++) {
      c += (u[i] - 0.5) * (v[i] - 0.5);
      cn += (u[i] - 0.5) * (u[i + 1] - 0.5);
    }
    expect(Math.abs(c / u.length) * 12).toBeLessThan(0.02);
    expect(Math.abs(cn / u.length) * 12).toBeLessThan(0.02);
  });

  it('sgaFused off WebGPU (tfjs WASM) is sgaRound with that noise, and the z clamp holds values and zeroes their slope', async () => {
    await initBackend('wasm');
    await tf.setBackend('wasm');
    const r0 = rand(600, 11); // in [-1, 1)
    const x = tf.tensor(Float32Array.from(r0, (v, i) => (i % 3 ? 300 : 20) * v), [1, 4, 6, 25]);
    const key = noiseKey(3, 1, 7);
    const a = sgaFused(x, null, 0.3, key, 255);
    const b = sgaRound(x, 0.3, tf.tensor(noiseUniform(600, key), x.shape));
    const [av, ad, bv, bd] = await Promise.all([a.rh.data(), a.dr.data(), b.rh.data(), b.dr.data()]);
    let clamped = 0;
    for (let i = 0; i < 600; i++) {
      if (Math.abs(bv[i]) > 255) {
        clamped++;
        expect(av[i]).toBe(Math.sign(bv[i]) * 255);
        expect(ad[i]).toBe(0);
      } else {
        expect(av[i]).toBe(bv[i]);
        expect(ad[i]).toBe(bd[i]);
      }
    }
    expect(clamped).toBeGreaterThan(50);
    tf.dispose([x, a.rh, a.dr, b.rh, b.dr]);
  });
});

const adapter = await probeWebGpuAdapter();
if (!adapter.found) console.warn(`[refine-ops] WebGPU part SKIPPED: no adapter (${adapter.description})`);

describe.skipIf(!adapter.found)(`fused refinement programs on WebGPU (adapter: ${adapter.description})`, () => {
  let before = '';
  beforeAll(async () => {
    before = tf.getBackend();
    await initBackend('webgpu');
    await tf.setBackend('webgpu');
  });
  afterAll(async () => {
    if (before) await tf.setBackend(before);
  });

  // an odd shape (not a multiple of the workgroup) of latent-like values
  const shape = [1, 5, 7, 33];
  const n = 5 * 7 * 33;
  // values offset + scale * [-1/2, 1/2)
  const t = (seed: number, scale: number, offset = 0) => tf.tensor(Float32Array.from(rand(n, seed), (v) => offset + (scale / 2) * v), shape);

  it('draws exactly the JavaScript noise', async () => {
    for (const key of [noiseKey(1, 0, 0), noiseKey(9, 1, 149), 0xffffffff]) {
      const g = noiseFused(shape, key);
      expect(Array.from(await g.data())).toEqual(Array.from(noiseUniform(n, key)));
      g.dispose();
    }
  });

  it('SGA rounding (y - mu, and z with the clamp) equals the tfjs ops', async () => {
    const y = t(1, 40);
    const mu = t(2, 6);
    const z = t(3, 700);
    const key = noiseKey(5, 0, 3);
    for (const tau of [0.5, 0.05]) {
      const f = sgaFused(y, mu, tau, key);
      const r = sgaRound(tf.sub(y, mu), tau, tf.tensor(noiseUniform(n, key), shape));
      expect(maxRelDiff(await f.rh.data(), await r.rh.data())).toBeLessThan(1e-5);
      expect(maxRelDiff(await f.dr.data(), await r.dr.data(), 1e-2)).toBeLessThan(1e-3);
      const fz = sgaFused(z, null, tau, key, 255);
      const rz = sgaRound(z, tau, tf.tensor(noiseUniform(n, key), shape));
      const [fv, fd, rv, rd] = await Promise.all([fz.rh.data(), fz.dr.data(), rz.rh.data(), rz.dr.data()]);
      let outside = 0;
      for (let i = 0; i < n; i++) {
        if (Math.abs(rv[i]) > 255.001) {
          outside++;
          expect(fv[i]).toBe(Math.sign(rv[i]) * 255);
          expect(fd[i]).toBe(0);
        } else if (Math.abs(rv[i]) < 254.999) {
          expect(Math.abs(fv[i] - rv[i])).toBeLessThan(1e-3);
        }
      }
      expect(outside).toBeGreaterThan(100);
    }
  });

  it('rate gradients equal the tfjs ops', async () => {
    const r = t(4, 12);
    const sigma = tf.abs(t(5, 8, 4.2));
    const f = rateGradsFused(r, sigma, true);
    const g = rateGrads(r, sigma);
    expect(maxRelDiff(await f.dr.data(), await g.dr.data(), 1e-2)).toBeLessThan(1e-3);
    expect(maxRelDiff(await f.dsigma!.data(), await g.dsigma.data(), 1e-2)).toBeLessThan(1e-3);
    expect(rateGradsFused(r, sigma, false).dsigma).toBeUndefined();
  });

  it('both phases of refinement reach the same J with the fused programs as with the tfjs ops', async () => {
    const weights = await loadDefaultWeights();
    const model = coreModelFromWeights(weights);
    const core = await createCore(new Uint8Array(readFileSync(path.join(ROOT, 'build/nimg-core.wasm'))));
    core.setModel(model);
    const tr = await createTransforms(weights, { backend: 'webgpu' });
    try {
      // small and few steps: SwiftShader takes seconds per step even at 64 x 64
      const [W, H, q] = [64, 64, 3];
      const f = await encoderFront(core, tr, weights, await sampleCrop(W, H, 70, 50), W, H, q);
      const base = {
        x: f.x, width: W, height: H, h: f.g.h, w: f.g.w, ys: f.ys,
        gainDec: interpolateGain(weights.tensors.get('gain.dec')!.data as Float32Array, 8, model.M, q),
        lambda: weights.manifest.quality.lambdas[q - 1], iterations: 3,
      };
      const { muQ, idx } = core.hyperSynthesis(f.zhat, f.g.hz, f.g.wz);
      const sc = weights.manifest.entropy.scales;
      const yIn = { ...base, mu: Float32Array.from(muQ, (v) => v / 2 ** model.meanFracBits), sigma: Float32Array.from(idx, (i) => sc[i]) };
      const jm = { ...model, scales: sc };
      const runs = [];
      for (const on of [false, true]) {
        setFusedRefine(on);
        runs.push({ y: await refineLatent(tr.prepared, yIn), j: await refineJoint(tr.prepared, jm, { ...base, z: f.z }) });
      }
      setFusedRefine(true);
      const [off, on] = runs;
      for (const r of runs) {
        expect(r.y.jAfter).toBeLessThan(r.y.jBefore);
        expect(r.j.jAfter).toBeLessThan(r.j.jBefore);
      }
      // same start, and the same progress to within a tenth (same noise, float rounding apart)
      expect(on.y.jBefore).toBeCloseTo(off.y.jBefore, 5);
      expect(on.j.jBefore).toBeCloseTo(off.j.jBefore, 5);
      const gain = (r: { jBefore: number; jAfter: number }) => r.jBefore - r.jAfter;
      expect(Math.abs(gain(on.y) - gain(off.y))).toBeLessThan(0.1 * gain(off.y));
      expect(Math.abs(gain(on.j) - gain(off.j))).toBeLessThan(0.1 * gain(off.j));
    } finally {
      setFusedRefine(true);
      tr.dispose();
    }
  }, 600_000);

  it('Adam equals the tfjs ops, with the gradient scale', async () => {
    const v = t(6, 20);
    const m = t(7, 0.1);
    const s = tf.abs(t(8, 0.01));
    const g = t(9, 3);
    for (const tt of [1, 17]) {
      const f = adamFused(v, m, s, g, 1 / 512, 0.02, tt);
      const r = adamStep(v, m, s, tf.mul(g, 1 / 512), 0.02, tt);
      for (let i = 0; i < 3; i++) expect(maxRelDiff(await f[i].data(), await r[i].data(), 1e-4)).toBeLessThan(1e-5);
    }
  });
});
