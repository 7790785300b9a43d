/**
 * Encoder-side latent refinement (src/model/refine.ts, the `refine` encode option):
 * the hand-written gradients against finite differences, and the codec-level contract
 * (real weights, real core): refined files decode with the unchanged decoder, cost less
 * by the training objective J = bpp + lambda * 255^2 * MSE measured on the real bytes and
 * pixels, are deterministic, and bad option values are BAD_INPUT.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { NimgCodec, MAX_REFINE, type ImageLike } from '../src/codec.js';
import type { ModelWeights } from '../src/model/types.js';
import { prepareNet } from '../src/model/net.js';
import { loadDefaultWeights } from '../src/model/node-weights.js';
import { DiffSynthesis, bitsOf, refineLatent, sgaRound, type RefineInput } from '../src/model/refine.js';
import { createCore } from '../src/core/index.js';
import { coreModelFromWeights } from '../src/core/model.js';
import { createTransforms } from '../src/model/transforms.js';
import { interpolateGain } from '../src/codec.js';
import { ROOT, centralDiff, encoderFront, rand, sampleCrop } from './refine-helpers.js';

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

describe('refine: gradients', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('g_s backward equals the finite-difference derivative of its forward (real weights)', async () => {
    const prepared = prepareNet(await loadDefaultWeights());
    const M = prepared.arch.M;
    const gs = new DiffSynthesis(prepared);
    try {
      const [h, w] = [2, 3];
      const y0 = rand(h * w * M, 7).map((v) => 4 * v); // latent-sized values
      const R = rand(16 * h * 16 * w * 3, 11); // f(y) = sum(g_s(y) * R)
      const f = (y: Float32Array): number =>
        tf.tidy(() => tf.sum(tf.mul(gs.forward(tf.tensor4d(y, [1, h, w, M])), tf.tensor4d(R, [1, 16 * h, 16 * w, 3]))).dataSync()[0]);
      const grad = tf.tidy(() => {
        const saved: tf.Tensor4D[] = [];
        gs.forward(tf.tensor4d(y0, [1, h, w, M]), saved);
        return gs.backward(tf.tensor4d(R, [1, 16 * h, 16 * w, 3]), saved).dataSync() as Float32Array;
      });
      expect(grad.length).toBe(y0.length);
      for (const seed of [3, 5]) {
        const d = rand(y0.length, seed);
        const eps = 1e-2;
        const fd = (f(y0.map((v, i) => v + eps * d[i])) - f(y0.map((v, i) => v - eps * d[i]))) / (2 * eps);
        const an = dot(grad, d);
        expect(Math.abs(an)).toBeGreaterThan(1); // a real, non-trivial derivative
        expect(Math.abs(fd - an)).toBeLessThan(0.02 * Math.abs(an));
      }
      // and per element, for a few latents
      for (const i of [0, 5, M + 17, 3 * M + 100]) {
        const fd = centralDiff(f, y0, i, 0.05);
        expect(Math.abs(fd - grad[i])).toBeLessThan(0.03 * Math.abs(grad[i]) + 0.05);
      }
    } finally {
      gs.dispose();
    }
  });

  it('rate bits and their derivative: -log2 of the Gaussian bin mass, FD-checked', () => {
    const r = [0, 0.3, -0.7, 1.4, -2.6, 5];
    const sig = [0.11, 0.5, 1, 2.3, 0.8, 7];
    const { bits, grad } = tf.tidy(() => {
      const b = bitsOf(tf.tensor1d(r), tf.tensor1d(sig), true);
      return { bits: b.bits.dataSync(), grad: (b.grad as tf.Tensor).dataSync() };
    });
    const phi = (t: number) => 0.5 * (1 + erf(t / Math.SQRT2));
    const exact = (x: number, s: number) => -Math.log2(phi((Math.abs(x) + 0.5) / s) - phi((Math.abs(x) - 0.5) / s));
    for (let i = 0; i < r.length; i++) {
      expect(bits[i]).toBeCloseTo(exact(r[i], sig[i]), 3);
      if (r[i] !== 0) {
        const e = 1e-3;
        const fd = (exact(r[i] + e, sig[i]) - exact(r[i] - e, sig[i])) / (2 * e);
        expect(Math.abs(grad[i] - fd)).toBeLessThan(0.01 * Math.abs(fd) + 1e-3);
      }
    }
  });

  it('SGA rounding: between floor and ceil, hard at low temperature, derivative FD-checked', () => {
    const r = [0.2, 1.7, -0.4, -2.95, 3.5];
    const out = (tau: number, x: number[]) =>
      tf.tidy(() => {
        const { rh, dr } = sgaRound(tf.tensor1d(x), tau, tf.fill([x.length], 0.5)); // u = 0.5: no noise
        return { rh: Array.from(rh.dataSync()), dr: Array.from(dr.dataSync()) };
      });
    const hot = out(0.5, r);
    r.forEach((v, i) => {
      expect(hot.rh[i]).toBeGreaterThanOrEqual(Math.floor(v));
      expect(hot.rh[i]).toBeLessThanOrEqual(Math.floor(v) + 1);
    });
    const cold = out(1e-3, r.filter((v) => Math.abs(v - Math.round(v)) < 0.45));
    r.filter((v) => Math.abs(v - Math.round(v)) < 0.45).forEach((v, i) => expect(cold.rh[i]).toBeCloseTo(Math.round(v), 5));
    const e = 1e-3;
    const up = out(0.5, r.map((v) => v + e)).rh;
    const dn = out(0.5, r.map((v) => v - e)).rh;
    r.forEach((_, i) => expect(Math.abs(hot.dr[i] - (up[i] - dn[i]) / (2 * e))).toBeLessThan(0.02 * Math.abs(hot.dr[i]) + 1e-3));
  });
});

/** erf for the checks (Abramowitz-Stegun 7.1.26 is what tfjs uses; use a better one here) */
function erf(x: number): number {
  // series / continued fraction via the complementary error function (Numerical Recipes erfc, |error| < 1.2e-7)
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r : r - 1;
}

describe('refine: the encode option', () => {
  let codec: NimgCodec;
  let img: ImageLike;
  beforeAll(async () => {
    codec = await NimgCodec.create({ backend: 'wasm', threads: 1 });
    // a 112x96 crop (padded to 128x128: the padding must not count)
    img = { width: 112, height: 96, data: await sampleCrop(112, 96, 60, 40) };
  }, 60_000);
  afterAll(() => codec?.dispose());

  const J = (bytes: Uint8Array, dec: Uint8ClampedArray, q: number): number => {
    let se = 0;
    for (let i = 0; i < dec.length; i += 4) for (let c = 0; c < 3; c++) se += ((dec[i + c] - img.data[i + c]) / 255) ** 2;
    const mse = se / (3 * img.width * img.height);
    return (bytes.length * 8) / (img.width * img.height) + codec.lambdaAt(q) * 255 * 255 * mse;
  };

  it('refined files decode with the same decoder and cost less (J on real bytes and pixels)', async () => {
    for (const q of [2, 6]) {
      const base = await codec.encode(img, { quality: q });
      const stats: Record<string, unknown> = {};
      const ref = await codec.encode(img, { quality: q, refine: 40, stats });
      expect(stats.refineMs).toBeGreaterThan(0);
      expect(Buffer.compare(Buffer.from(base), Buffer.from(ref))).not.toBe(0);
      const jb = J(base, (await codec.decode(base)).data, q);
      const jr = J(ref, (await codec.decode(ref)).data, q);
      expect(jr).toBeLessThan(0.99 * jb);
    }
  }, 120_000);

  it('refine 0 is the plain encoder; the same refine gives the same bytes', async () => {
    const plain = await codec.encode(img, { quality: 4 });
    expect(await codec.encode(img, { quality: 4, refine: 0 })).toEqual(plain);
    const a = await codec.encode(img, { quality: 4, refine: 6 });
    const b = await codec.encode(img, { quality: 4, refine: 6 });
    expect(b).toEqual(a);
  }, 60_000);

  it('bad refine values → BAD_INPUT', async () => {
    for (const bad of [-1, 1.5, NaN, MAX_REFINE + 1, '10', null]) {
      await expect(codec.encode(img, { refine: bad as unknown as number })).rejects.toMatchObject({ name: 'NimgError', code: 'BAD_INPUT' });
    }
  });
});

describe('refine: tiles', () => {
  it('small tiles (9, each with its halo) lower J like one tile; only whole integers move; the input stays', async () => {
    const weights: ModelWeights = await loadDefaultWeights();
    const core = await createCore(new Uint8Array(readFileSync(path.join(ROOT, 'build/nimg-core.wasm'))));
    core.setModel(coreModelFromWeights(weights));
    const t = await createTransforms(weights, { backend: 'wasm', threads: 1 });
    try {
      const [W, H] = [100, 90]; // latent 8 x 8 (padded to 128 x 128); visible 7 x 6 latents' worth
      const M = weights.manifest.arch.M;
      const q = 3;
      const { g, x, ys, zhat } = await encoderFront(core, t, weights, await sampleCrop(W, H, 70, 50), W, H, q);
      const { muQ, idx } = core.hyperSynthesis(zhat, g.hz, g.wz);
      const scales = weights.manifest.entropy.scales;
      const input: RefineInput = {
        x, width: W, height: H, h: g.h, w: g.w, ys,
        mu: Float32Array.from(muQ, (v) => v / 16),
        sigma: Float32Array.from(idx, (i) => scales[i]),
        gainDec: interpolateGain(weights.tensors.get('gain.dec')!.data as Float32Array, 8, M, q),
        lambda: weights.manifest.quality.lambdas[q - 1],
        iterations: 12,
      };
      const before = Float32Array.from(ys);
      const one = await refineLatent(t.prepared, input, { tile: 32 });
      const six = await refineLatent(t.prepared, input, { tile: 3 });
      expect(one.tiles).toBe(1);
      expect(six.tiles).toBe(9); // 8x8 latents in tiles of 3: 3 x 3, all reaching visible pixels
      for (const r of [one, six]) {
        expect(r.improved).toBeGreaterThan(0);
        expect(r.jAfter).toBeLessThan(0.99 * r.jBefore);
        let moved = 0;
        for (let i = 0; i < r.ys.length; i++) {
          if (r.ys[i] !== ys[i]) {
            moved++;
            const k = r.ys[i] - input.mu[i];
            expect(k).toBe(Math.round(k)); // mu + k with an integer k: the core codes exactly k
          }
        }
        expect(moved).toBeGreaterThan(0);
      }
      expect(input.ys).toEqual(before); // refineLatent returns a new array
    } finally {
      t.dispose();
    }
  }, 180_000);
});
