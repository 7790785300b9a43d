/**
 * Refinement's joint y and z phase (src/model/refine-z.ts): the float surrogate of the
 * integer h_s against the integer reference, its backward pass against finite differences,
 * the rate's scale derivative, z's code-length table against the real coder, and the phase
 * itself on a real crop (J goes down, z really moves, the codec codes the new z).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { NimgCodec, interpolateGain, refineYSteps } from '../src/codec.js';
import { createCore } from '../src/core/index.js';
import { coreModelFromWeights } from '../src/core/model.js';
import { hyperSynthesisRef } from '../src/core/reference.js';
import type { Core, CoreModel } from '../src/core/types.js';
import { parseContainer } from '../src/format/container.js';
import { loadDefaultWeights } from '../src/model/node-weights.js';
import { bitsOf, rateGrads } from '../src/model/refine.js';
import { HsSurrogate, Z_CLAMP, refineJoint, zCostTable, type JointModel } from '../src/model/refine-z.js';
import { createTransforms } from '../src/model/transforms.js';
import type { ModelWeights } from '../src/model/types.js';
import { ROOT, centralDiff, encoderFront, rand, sampleCrop } from './refine-helpers.js';

/** planar [C, h, w] → NHWC */
function toNhwc(a: ArrayLike<number>, C: number, h: number, w: number): Float32Array {
  const out = new Float32Array(C * h * w);
  for (let c = 0; c < C; c++) for (let i = 0; i < h * w; i++) out[i * C + c] = a[c * h * w + i];
  return out;
}

let weights: ModelWeights;
let model: CoreModel;
let joint: JointModel;
let core: Core;

beforeAll(async () => {
  await initBackend('wasm');
  weights = await loadDefaultWeights();
  model = coreModelFromWeights(weights);
  joint = { ...model, scales: weights.manifest.entropy.scales };
  core = await createCore(new Uint8Array(readFileSync(path.join(ROOT, 'build/nimg-core.wasm'))));
  core.setModel(model);
}, 60_000);

/** a z of the real distribution: h_a of a crop of the sample photo at quality q */
async function realZ(q: number, W: number, H: number) {
  const data = await sampleCrop(W, H, 70, 50);
  const t = await createTransforms(weights, { backend: 'wasm', threads: 1 });
  try {
    return { ...(await encoderFront(core, t, weights, data, W, H, q)), data, prepared: t.prepared, t };
  } catch (e) {
    t.dispose();
    throw e;
  }
}

describe('refine-z: h_s surrogate', () => {
  it('its rounded forward gives the integer h_s\'s means and scales', async () => {
    const hs = new HsSurrogate(joint);
    try {
      // a real z and one with every value from -255 to 255
      const r = await realZ(3, 192, 128);
      r.t.dispose();
      const spread = Int32Array.from({ length: model.Nz * 12 }, (_, i) => ((i * 211) % 511) - 255);
      for (const [zhat, hz, wz] of [[r.zhat, r.g.hz, r.g.wz], [spread, 3, 4]] as const) {
        const ref = hyperSynthesisRef(model, zhat, hz, wz);
        const [mu, sigma] = tf.tidy(() => {
          const o = hs.forward(tf.tensor4d(toNhwc(zhat, model.Nz, hz, wz), [1, hz, wz, model.Nz]), true);
          return [o.mu.dataSync(), o.sigma.dataSync()];
        });
        const M = model.M;
        const HW = 16 * hz * wz;
        let muOff = 0;
        let sigOff = 0;
        for (let c = 0; c < M; c++) {
          for (let i = 0; i < HW; i++) {
            if (mu[i * M + c] * 16 !== ref.muQ[c * HW + i]) muOff++;
            const s = joint.scales[ref.idx[c * HW + i]];
            if (Math.abs(sigma[i * M + c] - s) > 1e-4 * s) sigOff++;
          }
        }
        // float32 may differ from the integers only at exact rounding ties
        expect(muOff).toBeLessThanOrEqual(M * HW * 1e-3);
        expect(sigOff).toBeLessThanOrEqual(M * HW * 1e-3);
      }
    } finally {
      hs.dispose();
    }
  }, 120_000);

  it('its backward is the derivative of its smooth forward (finite differences)', () => {
    const hs = new HsSurrogate(joint);
    try {
      const [hz, wz, Nz, M] = [2, 2, model.Nz, model.M];
      const z0 = rand(hz * wz * Nz, 5).map((v) => 3 * v);
      const A = rand(16 * hz * wz * M, 9);
      const B = rand(16 * hz * wz * M, 13);
      // f(z) = sum(A * mu + B * sigma) through the unrounded surrogate
      const f = (z: Float32Array): number => tf.tidy(() => {
        const o = hs.forward(tf.tensor4d(z, [1, hz, wz, Nz]), false);
        const sh = [1, 4 * hz, 4 * wz, M] as [number, number, number, number];
        return tf.add(tf.sum(tf.mul(o.mu, tf.tensor4d(A, sh))), tf.sum(tf.mul(o.sigma, tf.tensor4d(B, sh)))).dataSync()[0];
      });
      const grad = tf.tidy(() => {
        const saved: tf.Tensor[] = [];
        hs.forward(tf.tensor4d(z0, [1, hz, wz, Nz]), false, saved);
        const sh = [1, 4 * hz, 4 * wz, M] as [number, number, number, number];
        return hs.backward(tf.tensor4d(A, sh), tf.tensor4d(B, sh), saved).dataSync() as Float32Array;
      });
      expect(grad.length).toBe(z0.length);
      let checked = 0;
      for (const i of [0, 7, Nz + 3, 2 * Nz + 64, 3 * Nz + 127, 40, 90]) {
        const fd = centralDiff(f, z0, i, 1e-2);
        expect(Math.abs(fd - grad[i])).toBeLessThan(0.03 * Math.abs(grad[i]) + 0.02);
        if (Math.abs(grad[i]) > 0.1) checked++;
      }
      expect(checked).toBeGreaterThanOrEqual(4); // real, non-trivial derivatives
    } finally {
      hs.dispose();
    }
  });
});

describe('refine-z: rate terms', () => {
  it('d bits / d sigma and d bits / d r match finite differences of bitsOf', () => {
    const r = Float32Array.from([0, 0.3, -0.7, 1.2, 2.5, -4, 0.5, 6]);
    const s = Float32Array.from([0.2, 0.5, 1, 2, 0.8, 3, 10, 1.5]);
    const bits = (rr: Float32Array, ss: Float32Array) => tf.tidy(() => bitsOf(tf.tensor1d(rr), tf.tensor1d(ss), false).bits.dataSync() as Float32Array);
    const g = tf.tidy(() => {
      const o = rateGrads(tf.tensor1d(r), tf.tensor1d(s));
      return { dr: o.dr.dataSync() as Float32Array, ds: o.dsigma.dataSync() as Float32Array };
    });
    const ref = tf.tidy(() => bitsOf(tf.tensor1d(r), tf.tensor1d(s), true).grad!.dataSync() as Float32Array);
    const e = 1e-2;
    for (let i = 0; i < r.length; i++) {
      expect(g.dr[i]).toBeCloseTo(ref[i], 4);
      const up = bits(r, s.map((v, j) => (j === i ? v + e : v)))[i];
      const dn = bits(r, s.map((v, j) => (j === i ? v - e : v)))[i];
      expect(Math.abs(g.ds[i] - (up - dn) / (2 * e))).toBeLessThan(0.02 * Math.abs(g.ds[i]) + 0.01);
    }
    expect(Math.abs(g.ds[3])).toBeGreaterThan(0.1);
  });

  it('z\'s code-length table is what the coder spends (escapes included)', async () => {
    const cost = zCostTable(model.z, model.Nz);
    const [hz, wz] = [8, 8];
    const n = hz * wz;
    const real = (await realZ(2, 512, 512)).zhat;
    const cases: Int32Array[] = [real, new Int32Array(model.Nz * n), new Int32Array(model.Nz * n).fill(200), Int32Array.from({ length: model.Nz * n }, (_, i) => ((i * 37) % 41) - 20)];
    for (const z of cases) {
      const cells = z.length / model.Nz;
      let bits = 0;
      for (let c = 0; c < model.Nz; c++) for (let i = 0; i < cells; i++) bits += cost[c * (2 * Z_CLAMP + 1) + z[c * cells + i] + Z_CLAMP];
      const coded = core.encodeZ(z, cells).length * 8;
      expect(Math.abs(coded - bits)).toBeLessThan(0.01 * bits + 64);
    }
  }, 120_000);
});

describe('refine-z: the joint phase', () => {
  it('lowers J with one tile and with four, moves z, and returns integers in range', async () => {
    const r = await realZ(3, 100, 90); // latent 8 x 8, z 2 x 2
    try {
      const input = {
        x: r.x, width: 100, height: 90, h: r.g.h, w: r.g.w, ys: r.ys, z: r.z,
        gainDec: interpolateGain(weights.tensors.get('gain.dec')!.data as Float32Array, 8, model.M, 3),
        lambda: weights.manifest.quality.lambdas[2],
        iterations: 12,
      };
      const zBefore = Float32Array.from(r.z);
      const one = await refineJoint(r.prepared, joint, input, { tile: 32 });
      const four = await refineJoint(r.prepared, joint, input, { tile: 4 });
      expect(one.tiles).toBe(1);
      expect(four.tiles).toBe(4);
      for (const o of [one, four]) {
        expect(o.improved).toBeGreaterThan(0);
        expect(o.jAfter).toBeLessThan(0.99 * o.jBefore);
        expect(o.z.some((v, i) => v !== r.zhat[i])).toBe(true); // z moved off the plain encoder's
        expect(o.z.every((v) => Number.isInteger(v) && Math.abs(v) <= Z_CLAMP)).toBe(true);
      }
      expect(input.z).toEqual(zBefore); // inputs are not modified
    } finally {
      r.t.dispose();
    }
  }, 180_000);
});

describe('refine-z: in the codec', () => {
  let codec: NimgCodec;
  beforeAll(async () => {
    codec = await NimgCodec.create({ backend: 'wasm', threads: 1 });
  }, 60_000);
  afterAll(() => codec?.dispose());

  it('refine codes a refined z (its own stream), and splits the steps 2/3 joint, 1/3 y', async () => {
    const r = await realZ(4, 112, 96);
    r.t.dispose();
    const img = { width: 112, height: 96, data: r.data };
    const plain = parseContainer(await codec.encode(img, { quality: 4 }));
    const refined = parseContainer(await codec.encode(img, { quality: 4, refine: 9 }));
    expect(Buffer.compare(Buffer.from(plain.z), Buffer.from(refined.z))).not.toBe(0);
    expect([1, 2, 3, 9, 150].map(refineYSteps)).toEqual([0, 1, 1, 3, 50]);
  }, 120_000);
});
