/**
 * K members of the same image trained at once: K values of λ (a rate–distortion curve), one
 * model each, in ONE optimiser step with the dispatches of one member on WebGPU.
 *
 * Why: on WebGPU a step costs the fixed price of its ~38 dispatches, not arithmetic, so K
 * separate trainings of the same image cost K times a batch of K that shares every
 * dispatch (members.ts, and the `members` of Up2Chain, ArmRate, SynthGpu).
 *
 * Meaning: identical to K calls of `train()` (train.ts) with `{ ...settings, lambda:
 * lambdas[k] }` and the same seed — same schedule, phases and noise. The state is stacked
 * on the device (theta [K·nTheta], canvas [K, Hc, Wc, 1] and their Adam moments; Adam and
 * the clamp are elementwise, so they run on the stacks as they are), and the loss is
 *     Σ_k (mse_k + λ_k · bits_k / (H·W))
 * whose gradient w.r.t. member k's tensors is exactly member k's own loss gradient (members
 * never interact). Noise: all members share the seed, so one draw of train()'s noise (the
 * same key per step) is added to every member's canvas — what each train() would draw.
 * Per-member loss terms are read back every progressEvery steps only.
 *
 * Other backends (WASM, CPU), or WebGPU with a fused part switched off or an arch the fused
 * synthesis does not take: a plain loop over train(), member by member (no batching gain
 * there: those backends' cost is arithmetic, which batching does not remove).
 */
import * as tf from '@tensorflow/tfjs-core';
import { noiseKey } from '../../../model/refine-ops.js';
import { armBitsFused } from './arm-gpu.js';
import { PerImageNet } from './forward.js';
import { ensureGradients } from './grads.js';
import { canvasMask, type Layout } from './model.js';
import { AdamState } from './adam.js';
import { adamStep, checkAbort, fusedLossTerms, psnrOf, relaxedCanvas, scheduleAt, train, type Relaxation, type TrainProgress, type TrainSettings, type TrainState } from './train.js';
import { BestOfPhase2 } from './best.js';

export interface TrainBatchSettings extends Omit<TrainSettings, 'lambda' | 'onProgress'> {
  /** λ of every member (K = lambdas.length) */
  lambdas: number[];
  /** progress of member k (train()'s onProgress, with the member index) */
  onMemberProgress?: (member: number, done: number, total: number, info: TrainProgress) => void;
}

/** True when trainBatch batches on this backend (else it loops over train()). */
export function batchActive(lay: Layout): boolean {
  const net = new PerImageNet(lay);
  try {
    return net.membersSupported();
  } finally {
    net.dispose();
  }
}

/**
 * Per-member loss terms of K members: mse [K], bits [K] and the loss of every member
 * [K] (mse_k + λ_k·bits_k/(H·W); `lambdaPerPixel` [K] holds λ_k/(H·W)), under the relaxation
 * `mode` (one noise draw for all members: the one train() draws with the same key).
 * theta [K·nTheta], canvas [K, Hc, Wc, 1], mask [1, Hc, Wc, 1]. In a tidy.
 * REQUIRES net.members === lambdaPerPixel.size and net.membersSupported().
 */
export function batchLossTerms(
  net: PerImageNet, theta: tf.Tensor1D, canvas: tf.Tensor4D, mask: tf.Tensor4D, target: tf.Tensor2D, lambdaPerPixel: tf.Tensor1D, mode: Relaxation,
  log2bMin = net.lay.log2bMin,
): { loss: tf.Tensor1D; mse: tf.Tensor1D; bits: tf.Tensor1D } {
  const fused = fusedLossTerms(net, theta, canvas, mask, target, lambdaPerPixel, mode, log2bMin);
  if (fused) return fused as { loss: tf.Tensor1D; mse: tf.Tensor1D; bits: tf.Tensor1D };
  const q = relaxedCanvas(net.lay, canvas, mask, mode);
  const bits = armBitsFused(net.lay, theta, q, net.members, log2bMin) as tf.Tensor1D;
  const mse = net.synthMse(theta, q, target) as tf.Tensor1D;
  const loss = tf.add(mse, tf.mul(bits, lambdaPerPixel)) as tf.Tensor1D;
  return { loss, mse, bits };
}

/**
 * Train K members from thetas[k] / canvases[k] with λ = lambdas[k]; returns K TrainStates,
 * as K train() calls would (see the header). REQUIRES: as train(); K >= 1.
 */
export async function trainBatch(lay: Layout, target0: Float32Array, thetas: Float32Array[], canvases: Float32Array[], st: TrainBatchSettings): Promise<TrainState[]> {
  const K = st.lambdas.length;
  if (thetas.length !== K || canvases.length !== K) throw new Error('trainBatch: one theta and one canvas per λ');
  ensureGradients();
  if (K === 1 || !batchActive(lay)) {
    const out: TrainState[] = [];
    for (let k = 0; k < K; k++) {
      const { lambdas: _l, onMemberProgress: cb, ...rest } = st;
      out.push(await train(lay, target0, thetas[k], canvases[k], {
        ...rest, lambda: st.lambdas[k], onProgress: cb ? (d, t, i) => cb(k, d, t, i) : undefined,
      }));
    }
    return out;
  }
  const net = new PerImageNet(lay, K);
  const { Hc, Wc, nTheta } = lay;
  const npix = lay.width * lay.height;
  const target = tf.tensor2d(target0, [npix, 3]);
  const mask = tf.tensor4d(canvasMask(lay), [1, Hc, Wc, 1]);
  const stackT = new Float32Array(K * nTheta);
  const stackC = new Float32Array(K * Hc * Wc);
  for (let k = 0; k < K; k++) {
    stackT.set(thetas[k], k * nTheta);
    stackC.set(canvases[k], k * Hc * Wc);
  }
  const state = new AdamState(stackT, stackC, [K, Hc, Wc, 1], st.soap && { lay, settings: st.soap });
  // the upstream gradient of the per-member losses [K]: differentiating Σ_k loss_k without
  // the Sum (one reduction dispatch a step less), made once (tfjs would fill its own each step)
  const ones = tf.ones([K]) as tf.Tensor1D;
  // uploaded once, not in every step
  const lamPx = tf.tensor1d(st.lambdas.map((l) => l / npix));
  const history: TrainState['history'][] = Array.from({ length: K }, () => []);
  // phase 2's best parameters, member by member (train()'s, see best.ts)
  const best = st.bestEvery > 0 ? new BestOfPhase2(K) : null;
  const lossOf = (m: ArrayLike<number>, b: ArrayLike<number>) => st.lambdas.map((lam, k) => m[k] + (lam * b[k]) / npix);
  try {
    for (let t = 0; t < st.steps; t++) {
      checkAbort(st.signal);
      await state.beforeStep(t);
      const { phase, sched, schedLatent, relax, offer, log2bMin } = scheduleAt(t, st.steps, st, noiseKey(st.seed, 2, t), lay.log2bMin);
      const progress = (t + 1) % st.progressEvery === 0 || t === st.steps - 1;
      const report = progress || (offer && best !== null);
      const out = adamStep(state, (th, lat) => batchLossTerms(net, th, lat, mask, target, lamPx, relax, log2bMin), ones, st.lr * sched, st.lrLatent * schedLatent, t, report);
      const snap = offer && best ? state.refs() : null;
      state.commit(out.next);
      if (report) {
        const [m, b] = await Promise.all([out.mse!.data(), out.bits!.data()]);
        // train()'s loss value: mse + λ·bits/(H·W), here in f64 from the read-back terms
        const loss = lossOf(m, b);
        if (snap) best!.offer(snap[0], snap[1], loss);
        for (let k = 0; k < K && progress; k++) {
          const info: TrainProgress = { phase, loss: loss[k], bpp: b[k] / npix, psnr: psnrOf(m[k]) };
          history[k].push({ step: t + 1, ...info });
          st.onMemberProgress?.(k, t + 1, st.steps, info);
        }
      } else if (t % 8 === 7) {
        await new Promise((r) => setTimeout(r, 0));
      }
      tf.dispose([out.loss, ...(out.mse ? [out.mse, out.bits!] : [])]);
    }
    checkAbort(st.signal);
    if (best) {
      // the last update was never evaluated: offer it with its rounded losses
      const [mt, bt] = tf.tidy(() => {
        const r = batchLossTerms(net, state.th, state.lat, mask, target, lamPx, { kind: 'round' });
        return [r.mse, r.bits];
      });
      const [m, b] = await Promise.all([mt.data(), bt.data()]);
      tf.dispose([mt, bt]);
      best.offer(...state.refs(), lossOf(m, b));
    }
    const [theta, canvas] = (await best?.read()) ?? (await state.read());
    return Array.from({ length: K }, (_, k) => ({
      theta: Float32Array.from(theta.subarray(k * nTheta, (k + 1) * nTheta)),
      canvas: Float32Array.from(canvas.subarray(k * Hc * Wc, (k + 1) * Hc * Wc)),
      history: history[k],
    }));
  } finally {
    state.dispose();
    best?.dispose();
    tf.dispose([target, mask, ones, lamPx]);
    net.dispose();
  }
}
