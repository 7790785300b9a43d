/**
 * The member axis of the per-image training on tfjs WebGPU (SwiftShader in CI:
 * VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json; skipped without an adapter):
 * K members in one dispatch per program (members.ts) must be exactly K one-member runs.
 *   - the fused ops (Up2Chain, the ARM + rate, SynthGpu mse and rgb) with K = 3 members of
 *     DIFFERENT random data against 3 one-member calls: values and gradients (of a random
 *     combination of the members' outputs, so every member gets its own upstream gradient),
 *     compared member by member — a member reading another's block (an offset bug) fails;
 *   - trainBatch (train-batch.ts) of 3 members (different λ and initial thetas, both
 *     phases) against 3 train() runs with the same seed: the same thetas and canvases.
 * The batched path runs the same per-member arithmetic, so the tolerance is float rounding.
 */
import { describe, expect, it } from 'vitest';
import { relErr, webgpuAdapter } from './webgpu-helpers.js';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { defaultArch } from '../src/profiles/perimage/types.js';
import { canvasMask, initTheta, makeLayout, prng, type Layout } from '../src/profiles/perimage/encoder/model.js';
import { ensureGradients } from '../src/profiles/perimage/encoder/grads.js';
import { Up2Chain } from '../src/profiles/perimage/encoder/up2-gpu.js';
import { ArmRate, setArmWorkgroupCap } from '../src/profiles/perimage/encoder/arm-gpu.js';
import { SynthGpu } from '../src/profiles/perimage/encoder/synth-gpu.js';
import { DEFAULT_TRAIN, rgbaToRows, train } from '../src/profiles/perimage/encoder/train.js';
import { batchActive, trainBatch } from '../src/profiles/perimage/encoder/train-batch.js';

const adapter = await webgpuAdapter('perimage-batch-webgpu');

const K = 3;
const W = 21;
const H = 13;


const rand = (r: () => number, n: number, scale: number, shift = 0.5) => Float32Array.from({ length: n }, () => (r() - shift) * scale);
const cat = (xs: Float32Array[]) => {
  const out = new Float32Array(xs.reduce((a, x) => a + x.length, 0));
  let o = 0;
  for (const x of xs) {
    out.set(x, o);
    o += x.length;
  }
  return out;
};

/**
 * Evaluate `f(inputs)` → outputs [K·…] or [K] with K members, and member by member with 1;
 * returns [batched values+grads, per-member values+grads concatenated]. `wts`: per member
 * the weights of a random linear functional of its output (its upstream gradient).
 */
async function compare(
  lay: Layout, inputsK: Float32Array[][], shapes1: number[][], op: (k: number) => (...xs: tf.Tensor[]) => tf.Tensor, outSize1: number,
): Promise<{ batch: Float32Array[]; single: Float32Array[] }> {
  const r = prng(lay.width * 7 + outSize1);
  const wts = Array.from({ length: K }, () => rand(r, outSize1, 2));
  const run = async (kk: number, xs: Float32Array[], w: Float32Array) => {
    const f = op(kk);
    const out = tf.tidy(() => {
      const ts = xs.map((x, i) => tf.tensor(x, [kk * shapes1[i][0], ...shapes1[i].slice(1)]));
      const wt = tf.tensor1d(w);
      const lin = (...a: tf.Tensor[]) => tf.sum(tf.mul(tf.reshape(f(...a), [-1]), wt)) as tf.Scalar;
      const g = tf.grads(lin)(ts);
      return [tf.reshape(f(...ts), [-1]), ...g.map((t) => tf.reshape(t, [-1]))];
    });
    const v = (await Promise.all(out.map((t) => t.data()))) as Float32Array[];
    tf.dispose(out);
    return v;
  };
  const batch = await run(K, inputsK.map((m) => cat(m)), cat(wts));
  const per: Float32Array[][] = [];
  for (let k = 0; k < K; k++) per.push(await run(1, inputsK.map((m) => m.slice(k, k + 1)[0]), wts[k]));
  const single = batch.map((_, i) => cat(per.map((p) => p[i])));
  return { batch, single };
}

/** member by member (K blocks of each output): batched against one-member */
function expectMembers(res: { batch: Float32Array[]; single: Float32Array[] }, tol: number) {
  res.batch.forEach((b, i) => {
    const s = res.single[i];
    expect(b.length, `output ${i} size`).toBe(s.length);
    const n = b.length / K;
    for (let k = 0; k < K; k++) expect(relErr(s, b, k * n, (k + 1) * n), `output ${i}, member ${k}`).toBeLessThan(tol);
  });
}

describe.skipIf(!adapter.found)(`K members on webgpu (${adapter.description})`, () => {
  const lay = makeLayout(defaultArch(), W, H);
  const P = lay.Hc * lay.Wc;
  const L = lay.arch.L;

  it('Up2Chain: K members = K single calls (F_0, d canvas, d taps)', async () => {
    await initBackend('webgpu');
    ensureGradients();
    const r = prng(11);
    const canv = Array.from({ length: K }, () => rand(r, P, 20));
    const taps = Array.from({ length: K }, () => rand(r, 4, 1));
    const chains = new Map([[1, new Up2Chain(lay, 1)], [K, new Up2Chain(lay, K)]]);
    const res = await compare(lay, [canv, taps], [[1, lay.Hc, lay.Wc, 1], [1, 4]],
      (kk) => (c, t) => chains.get(kk)!.apply(c as tf.Tensor4D, kk === 1 ? tf.reshape(t, [4]) : t), W * H * L);
    expectMembers(res, 1e-5);
  }, 300_000);

  it.each([0, 2])('ARM + rate (workgroup cap %i): K members = K single calls (bits, d theta, d q)', async (cap) => {
    await initBackend('webgpu');
    ensureGradients();
    if (cap) setArmWorkgroupCap(cap);
    try {
      const r = prng(23 + cap);
      const mask = canvasMask(lay);
      const thetas = Array.from({ length: K }, () => rand(r, lay.nTheta, 0.6));
      const qs = Array.from({ length: K }, () => rand(r, P, 8).map((v, i) => Math.round(v) * mask[i]));
      const ops = new Map([[1, new ArmRate(lay, 1)], [K, new ArmRate(lay, K)]]);
      const res = await compare(lay, [thetas, qs], [[lay.nTheta], [1, lay.Hc, lay.Wc, 1]],
        (kk) => (t, q) => ops.get(kk)!.apply(t as tf.Tensor1D, q as tf.Tensor4D), 1);
      expectMembers(res, 1e-5);
    } finally {
      setArmWorkgroupCap();
    }
  }, 300_000);

  it.each(['mse', 'rgb'])('SynthGpu %s: K members = K single calls (value, d F_0, d theta)', async (mode) => {
    await initBackend('webgpu');
    ensureGradients();
    const r = prng(mode.length);
    const thetas = Array.from({ length: K }, () => rand(r, lay.nTheta, 1.2));
    const F0s = Array.from({ length: K }, () => rand(r, W * H * L, 4));
    const tg = tf.tensor2d(rand(r, W * H * 3, 1, 0), [W * H, 3]);
    const syn = new Map([[1, new SynthGpu(lay, 1)], [K, new SynthGpu(lay, K)]]);
    expect(syn.get(K)!.problem).toBe('');
    const res = await compare(lay, [thetas, F0s], [[lay.nTheta], [W * H, L]],
      (kk) => (t, f) => (mode === 'mse' ? syn.get(kk)!.mse(f as tf.Tensor2D, t as tf.Tensor1D, tg) : syn.get(kk)!.rgb(f as tf.Tensor2D, t as tf.Tensor1D)),
      mode === 'mse' ? 1 : W * H * 3);
    tg.dispose();
    expectMembers(res, 1e-5);
  }, 300_000);

  it('trainBatch of 3 λ = 3 train() runs (thetas, canvases, history)', async () => {
    await initBackend('webgpu');
    expect(batchActive(lay)).toBe(true);
    const r = prng(5);
    const img = Uint8ClampedArray.from({ length: W * H * 4 }, () => Math.floor(r() * 256));
    const x = rgbaToRows(img, W, H);
    const lambdas = [2e-3, 2e-2, 1e-1];
    // different starts too: member k must train from its own theta / canvas
    const thetas = lambdas.map((_, k) => initTheta(lay, k + 1, [0.5, 0.4, 0.3]));
    const canvases = lambdas.map((_, k) => rand(prng(k + 70), P, 4).map((v, i) => v * canvasMask(lay)[i]));
    const st = { ...DEFAULT_TRAIN, steps: 4, noiseFrac: 0.5, progressEvery: 2, seed: 9 };
    const bat = await trainBatch(lay, x, thetas, canvases, { ...st, lambdas });
    expect(bat.length).toBe(K);
    for (let k = 0; k < K; k++) {
      const one = await train(lay, x, thetas[k], canvases[k], { ...st, lambda: lambdas[k] });
      expect(relErr(one.theta, bat[k].theta), `theta ${k}`).toBeLessThan(1e-5);
      expect(relErr(one.canvas, bat[k].canvas), `canvas ${k}`).toBeLessThan(1e-5);
      // it moved from its start (so the comparison means something)
      expect(relErr(thetas[k], one.theta)).toBeGreaterThan(1e-3);
      expect(bat[k].history.map((h) => h.step)).toEqual(one.history.map((h) => h.step));
      bat[k].history.forEach((h, i) => {
        expect(h.phase).toBe(one.history[i].phase);
        expect(Math.abs(h.bpp - one.history[i].bpp)).toBeLessThan(1e-4 * Math.max(1, one.history[i].bpp));
        expect(Math.abs(h.psnr - one.history[i].psnr)).toBeLessThan(1e-3);
        expect(Math.abs(h.loss - one.history[i].loss)).toBeLessThan(1e-5 * Math.max(1, one.history[i].loss));
      });
    }
  }, 600_000);
});
