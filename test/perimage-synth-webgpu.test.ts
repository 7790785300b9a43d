/**
 * The fused synthesis + MSE (src/profiles/perimage/encoder/synth-gpu.ts) against tfjs
 * autodiff of the tfjs-op layers of forward.ts (setFusedSynth(false)), both on tfjs WebGPU
 * (SwiftShader in CI: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json; skipped
 * without an adapter): the MSE, the RGB rows, and the gradients w.r.t. F_0 and every
 * synthesis tensor (each on its own, so a small tensor's error is not hidden by a large
 * one's) of the MSE and of a random linear functional of the rows (the 'rgb' backward).
 * Odd sizes, so the 3x3 borders matter; random weights and biases, so ReLUs are both
 * active and inactive. Architectures: the default (1x1 run, then 3x3 residual relu and a
 * last 3x3 residual without activation, whose gradient is read in place); 1x1, 1x1, 3x3
 * non-residual relu last (its gradient gets a program); and a 3x3 first followed by a 1x1
 * run with a residual 1x1 (the gather into a 1x1 run recomputed per pixel); and five
 * alternating segments (several parameter-gradient programs).
 */
import { describe, expect, it } from 'vitest';
import { relErr, webgpuAdapter } from './webgpu-helpers.js';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { compactArch } from '../src/profiles/perimage/encoder/arch-choice.js';
import { defaultArch, type PerImageArch } from '../src/profiles/perimage/types.js';
import { makeLayout, prng } from '../src/profiles/perimage/encoder/model.js';
import { PerImageNet } from '../src/profiles/perimage/encoder/forward.js';
import { ensureGradients } from '../src/profiles/perimage/encoder/grads.js';
import { SynthGpu, setFusedSynth } from '../src/profiles/perimage/encoder/synth-gpu.js';

const adapter = await webgpuAdapter('perimage-synth-webgpu');


const ARCHS: Record<string, PerImageArch> = {
  default: defaultArch(),
  compact: compactArch(),
  '1x1,1x1,3x3': {
    ...defaultArch(), L: 4,
    synthesis: [
      { kind: '1x1', out: 12, act: 'relu', residual: false },
      { kind: '1x1', out: 5, act: 'none', residual: false },
      { kind: '3x3', out: 3, act: 'relu', residual: false },
    ],
  },
  '3x3 first': {
    ...defaultArch(), L: 3,
    synthesis: [
      { kind: '3x3', out: 3, act: 'relu', residual: true },
      { kind: '1x1', out: 6, act: 'relu', residual: false },
      { kind: '1x1', out: 6, act: 'relu', residual: true },
      { kind: '1x1', out: 3, act: 'none', residual: false },
    ],
  },
  // the widest shape studied (bench/perimage-queue.ts --arch-study wide): 40 channels
  wide: {
    ...defaultArch(), N: 24, Wh: 24,
    synthesis: [
      { kind: '1x1', out: 40, act: 'relu', residual: false },
      { kind: '1x1', out: 3, act: 'none', residual: false },
      { kind: '3x3', out: 3, act: 'relu', residual: true },
      { kind: '3x3', out: 3, act: 'none', residual: true },
    ],
  },
  // 5 segments: the parameter gradients need more inputs than one program binds, so
  // several partial programs (and their reduction) run
  'T R T R T': {
    ...defaultArch(), L: 3,
    synthesis: [
      { kind: '3x3', out: 3, act: 'relu', residual: true },
      { kind: '1x1', out: 8, act: 'relu', residual: false },
      { kind: '1x1', out: 3, act: 'none', residual: false },
      { kind: '3x3', out: 3, act: 'relu', residual: true },
      { kind: '1x1', out: 3, act: 'relu', residual: true },
      { kind: '3x3', out: 3, act: 'none', residual: true },
    ],
  },
};

describe.skipIf(!adapter.found)(`fused synthesis on webgpu (${adapter.description})`, () => {
  const cases: [number, number, string][] = [];
  for (const a of Object.keys(ARCHS)) for (const [w, h] of [[37, 23], [13, 9], [5, 3]]) if (a !== 'T R T R T' || w === 13) cases.push([w, h, a]);
  it.each(cases)('%ix%i, %s: mse, rows and gradients match the tfjs ops', async (W, H, archName) => {
    await initBackend('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    ensureGradients();
    const lay = makeLayout(ARCHS[archName], W, H);
    const r = prng(W * 131 + H * 7 + archName.length);
    // synthesis part random (half the pre-activations negative); the ARM / taps part too:
    // its gradient must come out 0 from both paths
    const theta = Float32Array.from({ length: lay.nTheta }, () => (r() - 0.5) * 1.2);
    const F0 = Float32Array.from({ length: W * H * lay.arch.L }, () => (r() - 0.5) * 4);
    const target = Float32Array.from({ length: W * H * 3 }, () => r());
    const weight = Float32Array.from({ length: W * H * 3 }, () => r() - 0.5);
    const net = new PerImageNet(lay);
    expect(new SynthGpu(lay).problem).toBe('');
    const tg = tf.tensor2d(target, [W * H, 3]);
    const wt = tf.tensor2d(weight, [W * H, 3]);
    // the fused programs must really run (and only when on)
    const be = tf.backend() as unknown as { runWebGPUProgram: (p: { shaderKey: string }, ...a: unknown[]) => unknown };
    const origRun = be.runWebGPUProgram;
    let fusedRuns = 0;
    be.runWebGPUProgram = function (this: unknown, p: { shaderKey: string }, ...a: unknown[]) {
      if (p.shaderKey.startsWith('nimg_syn')) fusedRuns++;
      return origRun.call(this, p, ...a);
    };
    const eval1 = async (fused: boolean) => {
      setFusedSynth(fused);
      fusedRuns = 0;
      try {
        const out = tf.tidy(() => {
          const th = tf.tensor1d(theta);
          const f0 = tf.tensor2d(F0, [W * H, lay.arch.L]);
          const mse = (t: tf.Tensor, f: tf.Tensor) => net.synthMseRows(t as tf.Tensor1D, f as tf.Tensor2D, tg) as tf.Scalar;
          const lin = (t: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(net.synthRows(t as tf.Tensor1D, f as tf.Tensor2D), wt)) as tf.Scalar;
          const a = tf.valueAndGrads(mse)([th, f0]);
          const b = tf.grads(lin)([th, f0]);
          return [a.value, net.synthRows(th, f0), ...a.grads, ...b];
        });
        const v = (await Promise.all(out.map((t) => t.data()))) as Float32Array[];
        expect(out[1].shape).toEqual([W * H, 3]);
        expect(out[2].shape).toEqual([lay.nTheta]);
        expect(out[3].shape).toEqual([W * H, lay.arch.L]);
        tf.dispose(out);
        if (fused) expect(fusedRuns).toBeGreaterThan(0);
        else expect(fusedRuns).toBe(0);
        return v;
      } finally {
        setFusedSynth(true);
      }
    };
    const ref = await eval1(false);
    const fus = await eval1(true);
    be.runWebGPUProgram = origRun;
    net.dispose();
    tf.dispose([tg, wt]);
    expect(Math.abs(ref[0][0] - fus[0][0])).toBeLessThan(1e-5 * ref[0][0]);
    expect(relErr(ref[1], fus[1])).toBeLessThan(1e-5);
    for (const [g, d] of [[2, 3], [4, 5]]) {
      // theta: every synthesis tensor on its own; outside the synthesis exactly 0
      for (let t = lay.synthIndex; t < lay.sizes.length; t++) {
        const o = lay.offsets[t];
        expect(relErr(ref[g], fus[g], o, o + lay.sizes[t]), `tensor ${t}`).toBeLessThan(2e-4);
      }
      for (let i = 0; i < lay.offsets[lay.synthIndex]; i++) expect(fus[g][i]).toBe(0);
      expect(relErr(ref[d], fus[d])).toBeLessThan(2e-4);
    }
  }, 120_000);
});
