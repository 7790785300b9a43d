/**
 * The fused ARM + rate (src/profiles/perimage/encoder/arm-gpu.ts) against the tfjs ops of
 * forward.ts `arm` + rate.ts + the masked sum (setFusedArm(false)), both on tfjs WebGPU
 * (SwiftShader in CI: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json; skipped
 * without an adapter): bits and the gradients w.r.t. theta (ARM part; zero elsewhere) and
 * the canvas q, on odd sizes, several grids and architectures (D = 0 … 3, N = 8 … 24).
 * Random ARM weights large enough that every clamp is hit on both sides (hidden < 0 and
 * > 128, log2b < −3 and > 6.875), latents up to ±127 (far tails: the ln P floor) and
 * non-integer ones, and values in the gaps (the gradient there is the context one, as the
 * reference's). The test counts those regimes so it cannot silently stop covering them.
 */
import { describe, expect, it } from 'vitest';
import { relErr, webgpuAdapter } from './webgpu-helpers.js';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { defaultArch, type PerImageArch } from '../src/profiles/perimage/types.js';
import { canvasMask, CONTEXT, makeLayout, prng } from '../src/profiles/perimage/encoder/model.js';
import { PerImageNet } from '../src/profiles/perimage/encoder/forward.js';
import { ensureGradients } from '../src/profiles/perimage/encoder/grads.js';
import { laplaceBitsScalar } from '../src/profiles/perimage/encoder/rate.js';
import { latentBits } from '../src/profiles/perimage/encoder/train.js';
import { armFusedActive, setArmWorkgroupCap, setFusedArm } from '../src/profiles/perimage/encoder/arm-gpu.js';

const adapter = await webgpuAdapter('perimage-arm-webgpu');


/** The regimes the float64 CPU model of the ARM visits on this input (coverage, not values). */
function regimes(arch: PerImageArch, lay: ReturnType<typeof makeLayout>, th: Float32Array, q: Float32Array, mask: Float32Array) {
  const { N, D, Wh } = arch;
  const c = { hidLow: 0, hidHigh: 0, lsLow: 0, lsHigh: 0, floor: 0, inner: 0, tail: 0 };
  for (let y = 0; y < lay.Hc; y++) {
    for (let x = 0; x < lay.Wc; x++) {
      if (!mask[y * lay.Wc + x]) continue;
      let h = CONTEXT.slice(0, N).map(([dy, dx]) => (y + dy >= 0 && x + dx >= 0 && x + dx < lay.Wc ? q[(y + dy) * lay.Wc + x + dx] : 0));
      for (let l = 0; l <= D; l++) {
        const out = l < D ? Wh : 2;
        const w = lay.offsets[2 * l], b = lay.offsets[2 * l + 1];
        const a = Array.from({ length: out }, (_, o) => h.reduce((s, v, j) => s + th[w + o * h.length + j] * v, th[b + o]));
        if (l < D) {
          for (const v of a) if (v < 0) c.hidLow++; else if (v > 128) c.hidHigh++;
          h = a.map((v) => Math.min(Math.max(v, 0), 128));
        } else {
          if (a[1] < -3) c.lsLow++;
          if (a[1] > 6.875) c.lsHigh++;
          const ls = Math.min(Math.max(a[1], -3), 6.875);
          const qv = q[y * lay.Wc + x];
          if (laplaceBitsScalar(qv, a[0], ls) > 29.89) c.floor++; // at the floor (−log2 1e-9 = 29.897)
          else if (Math.abs(qv - a[0]) < 0.5) c.inner++;
          else c.tail++;
        }
      }
    }
  }
  return c;
}

describe.skipIf(!adapter.found)(`fused ARM + rate on webgpu (${adapter.description})`, () => {
  const seen = { hidLow: 0, hidHigh: 0, lsLow: 0, lsHigh: 0, floor: 0, inner: 0, tail: 0 };
  // the last field caps the per-position program's workgroups (2048: the default): a low cap
  // makes each thread take several positions in turn, as at large image sizes
  const cases: [number, number, Partial<PerImageArch>, number][] = [
    [37, 23, {}, 2048],
    [13, 9, { L: 3 }, 2048],
    [5, 3, { L: 2 }, 2048],
    [37, 23, { L: 7, N: 24, D: 3, Wh: 32 }, 2048],
    [29, 11, { L: 4, N: 8, D: 0, Wh: 8 }, 2048],
    [21, 17, { L: 5, N: 24, D: 1, Wh: 24 }, 2048],
    [37, 23, {}, 3],
    [21, 17, { L: 5, N: 24, D: 3, Wh: 32 }, 2],
  ];
  it.each(cases)('%ix%i %j (workgroup cap %s): bits and gradients match the tfjs ops', async (W, H, over, cap) => {
    await initBackend('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    ensureGradients();
    const arch = { ...defaultArch(), ...over };
    const lay = makeLayout(arch, W, H);
    const r = prng(W * 131 + H * 7 + arch.L * 3 + arch.D);
    const mask = canvasMask(lay);
    // latents: mostly small non-integers, some large, some at the clamp (±127)
    const q = Float32Array.from(mask, (m) => {
      const u = r();
      const v = u < 0.75 ? (r() - 0.5) * 6 : u < 0.9 ? (r() - 0.5) * 60 : u < 0.97 ? Math.round((r() - 0.5) * 254) : (r() < 0.5 ? -127 : 127);
      return m * v;
    });
    // some gap cells hold values: read as context, so they get a gradient (masked later in lossTerms)
    for (let i = 0; i < q.length; i += 7) if (!mask[i]) q[i] = 2.5;
    // ARM: hidden weights ±0.6 and biases ±6 (pre-activations on both sides of [0, 128]);
    // output: μ row ±0.02 (±0.1 on the raw context if D = 0), log2b row ±2/Wh with bias 1 ± 4 (log2b on both sides of [−3, 6.875])
    const th = new Float32Array(lay.nTheta);
    for (let i = 0; i < th.length; i++) th[i] = (r() - 0.5) * 0.2;
    const { D } = arch;
    for (let l = 0; l < D; l++) {
      for (let i = lay.offsets[2 * l]; i < lay.offsets[2 * l + 1]; i++) th[i] = (r() - 0.5) * 1.2;
      for (let i = lay.offsets[2 * l + 1]; i < lay.offsets[2 * l + 2]; i++) th[i] = (r() - 0.5) * 12;
    }
    const inO = D > 0 ? arch.Wh : arch.N;
    const wo = lay.offsets[2 * D];
    for (let j = 0; j < inO; j++) {
      th[wo + j] = (r() - 0.5) * (D > 0 ? 0.04 : 0.2);
      th[wo + inO + j] = (r() - 0.5) * (D > 0 ? 4 / inO : 0.3);
    }
    th[wo + 2 * inO] = (r() - 0.5) * 4;
    th[wo + 2 * inO + 1] = 1 + (r() - 0.5) * 8;
    const c = regimes(arch, lay, th, q, mask);
    for (const k of Object.keys(c) as (keyof typeof c)[]) seen[k] += c[k];
    // the larger cases on their own cover every regime
    if (lay.Hc * lay.Wc > 500) for (const k of Object.keys(c) as (keyof typeof c)[]) if (D > 0 || !k.startsWith('hid')) expect(c[k], k).toBeGreaterThan(0);

    const net = new PerImageNet(lay);
    const maskT = tf.tensor4d(mask, [1, lay.Hc, lay.Wc, 1]);
    const eval1 = async (fused: boolean) => {
      setFusedArm(fused);
      setArmWorkgroupCap(cap);
      expect(armFusedActive()).toBe(fused);
      const before = tf.memory().numTensors;
      try {
        const out = tf.tidy(() => {
          const fn = (t: tf.Tensor, c: tf.Tensor) => latentBits(net, t as tf.Tensor1D, c as tf.Tensor4D, maskT);
          const { value, grads } = tf.valueAndGrads(fn)([tf.tensor1d(th), tf.tensor4d(q, [1, lay.Hc, lay.Wc, 1])]);
          return [value, ...grads];
        });
        const v = (await Promise.all(out.map((t) => t.data()))) as Float32Array[];
        expect(out[1].shape).toEqual([lay.nTheta]);
        expect(out[2].shape).toEqual([1, lay.Hc, lay.Wc, 1]);
        tf.dispose(out);
        // nothing left behind (the forward's saved buffer goes with the tape)
        expect(tf.memory().numTensors).toBe(before);
        return v;
      } finally {
        setFusedArm(true);
        setArmWorkgroupCap();
      }
    };
    const ref = await eval1(false);
    const fus = await eval1(true);
    net.dispose();
    maskT.dispose();
    expect(Math.abs(fus[0][0] - ref[0][0])).toBeLessThan(2e-5 * Math.abs(ref[0][0]));
    const nArm = lay.offsets[2 * D + 2];
    // every ARM tensor on its own (a gradient sent to the wrong layer or to b for W shows)
    for (let t = 0; t < 2 * D + 2; t++) {
      const a = ref[1].subarray(lay.offsets[t], lay.offsets[t + 1]);
      const b = fus[1].subarray(lay.offsets[t], lay.offsets[t + 1]);
      expect(relErr(a, b), `ARM tensor ${t}`).toBeLessThan(2e-4);
    }
    for (let i = nArm; i < lay.nTheta; i++) expect(fus[1][i]).toBe(0);
    expect(relErr(ref[2], fus[2])).toBeLessThan(2e-4);
    // and position by position (the max-norm test above could hide errors on small entries)
    let mag = 0;
    for (const v of ref[2]) mag = Math.max(mag, Math.abs(v));
    let bad = 0;
    for (let i = 0; i < ref[2].length; i++) if (Math.abs(ref[2][i] - fus[2][i]) > 1e-3 * Math.abs(ref[2][i]) + 1e-5 * mag) bad++;
    expect(bad).toBe(0);
  }, 120_000);

  it('the cases together hit every clamp on both sides, the ln P floor and both rate branches', () => {
    for (const [k, v] of Object.entries(seen)) expect(v, k).toBeGreaterThan(0);
  });
});
