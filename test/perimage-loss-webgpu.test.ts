/**
 * The training loss as one op (src/profiles/perimage/encoder/loss-gpu.ts) against the same
 * fused parts as separate tape ops (setFusedLoss(false): the tape adds their gradients, the
 * loss is tfjs's mul + add, the relaxation of the canvas its own op), both on tfjs WebGPU (SwiftShader in CI; skipped without an
 * adapter): loss, mse, bits and the gradients w.r.t. theta and the canvas, for every
 * relaxation (softnoise and straight-through folded into the op, noise and round composed
 * outside it), two floors of log2 b, an upstream gradient other than 1 (the ARM's programs
 * scale it by λ themselves), one member (train's lossTerms) and 3 members with their own λ
 * and upstream gradients (train-batch's batchLossTerms). A gradient part dropped, added
 * twice or sent to the wrong place (the taps, the ARM block, the canvas gaps) shows. And the
 * op leaves no tensor behind.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { defaultArch } from '../src/profiles/perimage/types.js';
import { canvasMask, initTheta, makeLayout, prng } from '../src/profiles/perimage/encoder/model.js';
import { PerImageNet } from '../src/profiles/perimage/encoder/forward.js';
import { ensureGradients } from '../src/profiles/perimage/encoder/grads.js';
import { setFusedLoss } from '../src/profiles/perimage/encoder/loss-gpu.js';
import { lossTerms, type Relaxation } from '../src/profiles/perimage/encoder/train.js';
import { batchLossTerms } from '../src/profiles/perimage/encoder/train-batch.js';
import { relErr, webgpuAdapter } from './webgpu-helpers.js';

const adapter = await webgpuAdapter('perimage-loss-webgpu');

const W = 21, H = 13;
const modes: Relaxation[] = [{ kind: 'softnoise', key: 5, T: 0.2 }, { kind: 'noise', key: 9 }, { kind: 'ste' }, { kind: 'round' }];

describe.skipIf(!adapter.found)(`perimage loss as one op on webgpu (${adapter.description})`, () => {
  it.each([1, 3])('%i member(s): equals the parts as tape ops (values, d theta, d canvas)', async (K) => {
    await initBackend('webgpu');
    ensureGradients();
    const lay = makeLayout(defaultArch(), W, H);
    const { Hc, Wc, nTheta } = lay;
    const r = prng(31 + K);
    const mask1 = canvasMask(lay);
    const theta = Float32Array.from({ length: K * nTheta }, (_, i) => initTheta(lay, 1 + Math.floor(i / nTheta), [0.5, 0.4, 0.6])[i % nTheta] + (r() - 0.5) * 0.1);
    // values in the gaps too: their gradient is the ARM's context one only
    const canvas = Float32Array.from({ length: K * Hc * Wc }, (_, i) => (mask1[i % (Hc * Wc)] ? (r() - 0.5) * 12 : (r() - 0.5) * 2));
    const target = Float32Array.from({ length: W * H * 3 }, () => r());
    const lams = [2e-3, 3e-2, 1e-1].slice(0, K).map((l) => l / (W * H));
    const dys = [1.7, -0.6, 2.3].slice(0, K);
    const net = new PerImageNet(lay, K);
    const mask = tf.tensor4d(mask1, [1, Hc, Wc, 1]);
    const tg = tf.tensor2d(target, [W * H, 3]);
    const lamT = tf.tensor1d(lams);
    const evalAll = async (mode: Relaxation, log2bMin: number) => {
      const out = tf.tidy(() => {
        let side: tf.Tensor[] = [];
        const f = (a: tf.Tensor, b: tf.Tensor) => {
          const t = K === 1
            ? lossTerms(net, a as tf.Tensor1D, b as tf.Tensor4D, mask, tg, lams[0] * W * H, mode, log2bMin)
            : batchLossTerms(net, a as tf.Tensor1D, b as tf.Tensor4D, mask, tg, lamT, mode, log2bMin);
          side = [tf.keep(tf.add(t.mse, 0)), tf.keep(tf.add(t.bits, 0))];
          return t.loss as tf.Scalar;
        };
        const dy = K === 1 ? tf.scalar(dys[0]) : tf.tensor1d(dys);
        const { value, grads } = tf.valueAndGrads(f)([tf.tensor1d(theta), tf.tensor4d(canvas, [K, Hc, Wc, 1])], dy as tf.Scalar);
        return [value, ...side, ...grads];
      });
      const v = (await Promise.all(out.map((t) => t.data()))) as Float32Array[];
      tf.dispose(out);
      return v;
    };
    try {
      for (const mode of modes) {
        for (const log2bMin of [lay.log2bMin, -5]) {
          const before = tf.memory().numTensors;
          const fus = await evalAll(mode, log2bMin);
          // (the first call uploads train()'s λ scalar, kept by the net while λ stays)
          if (mode !== modes[0] || log2bMin !== lay.log2bMin) expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
          setFusedLoss(false);
          let ref: Float32Array[];
          try {
            ref = await evalAll(mode, log2bMin);
          } finally {
            setFusedLoss(true);
          }
          const what = `${mode.kind} ${log2bMin}`;
          // loss: fused multiply-add in one program (WGSL may contract), else the same terms
          expect(relErr(ref[0], fus[0]), `loss ${what}`).toBeLessThan(1e-6);
          expect(relErr(ref[1], fus[1]), `mse ${what}`).toBeLessThan(1e-7);
          expect(relErr(ref[2], fus[2]), `bits ${what}`).toBeLessThan(1e-7);
          expect(relErr(ref[3], fus[3]), `d theta ${what}`).toBeLessThan(1e-6);
          // member by member, and per block: the ARM, the taps and the synthesis
          for (let k = 0; k < K; k++) {
            const o = lay.offsets, t0 = k * nTheta;
            for (const [a, b] of [[0, o[lay.tapsIndex]], [o[lay.tapsIndex], o[lay.tapsIndex] + 4], [o[lay.synthIndex], nTheta]]) {
              expect(relErr(ref[3], fus[3], t0 + a, t0 + b), `d theta ${what} member ${k} [${a}, ${b})`).toBeLessThan(1e-6);
              expect(ref[3].subarray(t0 + a, t0 + b).some((v) => v !== 0), `block [${a}, ${b}) has a gradient`).toBe(true);
            }
          }
          if (mode.kind === 'round') expect(fus[4].every((v) => v === 0)).toBe(true);
          else {
            expect(relErr(ref[4], fus[4]), `d canvas ${what}`).toBeLessThan(1e-6);
            expect(fus[4].some((v) => v !== 0)).toBe(true);
          }
        }
      }
    } finally {
      tf.dispose([mask, tg, lamT]);
      net.dispose();
    }
  }, 600_000);
});
