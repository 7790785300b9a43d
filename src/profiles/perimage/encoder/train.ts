/**
 * The per-image optimisation: Adam on (theta, latent canvas) for
 *     loss = MSE(x̂, x) + λ · bits / (H·W)
 * Phase 1 (the first `noiseFrac` of the steps): the latents see a relaxation of rounding in
 * both the rate and the synthesis: by default 'softnoise' (softround.ts: soft rounding, uniform
 * noise, soft rounding, its temperature annealed linearly from softT[0] to softT[1] over the
 * phase), or 'noise' (additive U(−0.5, 0.5), the usual proxy). Phase 2: straight-through
 * rounding (value round(y), gradient 1), so the network adapts to the integers it will really
 * get, at a lower learning rate. Each phase has its own cosine schedule. After each step the
 * latents are clamped to [−127, 127].
 * Phase 2 moving the latents raises the real loss (best.ts says why): by default the latents
 * stay as phase 1 left them (steLatentScale 0) and only the networks adapt; and the trainer
 * ends with the best parameters phase 2 saw (checked every `bestEvery` steps), not the last.
 * PyTorch reference (train/perimage/sweep.py, 128x128 crop of training photo 100075, lambda
 * 1.5e-3, rounded loss MSE + lambda*bpp with float networks, lower is better):
 *   steps | latents move in phase 2 (old) | best kept only | latents fixed in phase 2
 *   2000  | 9.55e-4                       | 9.05e-4        | 9.03e-4
 *   8000  | 9.71e-4                       | 7.72e-4        | 7.50e-4
 * (bench/results/perimage-gpu/sweep-cpu.jsonl; clearing Adam's moments at the switch instead
 * was worse than the old recipe: 1.04e-3 and 1.08e-3 at 2000 steps. At 1000 steps, on two
 * other crops, fixed latents were 1.0-2.2% worse than moving ones: the short-encode cost of a
 * default chosen for the default 8000 steps.)
 *
 * The noise is refine-ops' counter hash (drawn on the device on WebGPU, uploaded on other
 * backends): the same seed gives the same noise on every backend.
 * Nothing is read back except the loss terms every `progressEvery` steps.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NimgError } from '../../../errors.js';
import { noiseFused, noiseKey } from '../../../model/refine-ops.js';
import { AdamState } from './adam.js';
import { armBitsFused, armFusedActive } from './arm-gpu.js';
import { PerImageNet } from './forward.js';
import { ensureGradients } from './grads.js';
import { laplaceBits } from './rate.js';
import { softNoise } from './softround.js';
import { canvasMask, LOG2B_MIN_BASE, type Layout } from './model.js';
import { relaxFused, type LossTerms } from './loss-gpu.js';
import { BestOfPhase2 } from './best.js';
import type { SoapSettings } from './soap.js';

export interface TrainSettings {
  steps: number;
  lambda: number;
  seed: number;
  /** Adam step of phase 1 for the network (cosine to 0 over the phase) */
  lr: number;
  /** Adam step of phase 1 for the latents */
  lrLatent: number;
  /** share of the steps in phase 1 (noise) */
  noiseFrac: number;
  /** phase 2's learning rate, relative to lr */
  steLrScale: number;
  /** phase 2's learning rate of the latents, relative to lrLatent (0: the latents stay as
   * phase 1 left them; see DEFAULT_TRAIN) */
  steLatentScale: number;
  /** phase 1's relaxation of the latents (softround.ts) */
  relax: 'noise' | 'softnoise';
  /** softnoise's temperature at the start and at the end of phase 1 (linear between) */
  softT: readonly [number, number];
  /** phase 2: offer the parameters to BestOfPhase2 (best.ts) at the switch, every bestEvery
   * steps (on the progressEvery grid when the two are equal) and after the last step, and end
   * with the best; 0: end with the last */
  bestEvery: number;
  /**
   * the floor of log2 b in phase 1 when the file's floor is lower (FINE_SCALES, lay.log2bMin
   * = −5): phase 2, whose latents stay fixed, trains with the file's, so the context model
   * learns the narrow tables of the zeros it is sure of. Why not from the first step: the
   * rate's pull on a latent off its centre grows as 1/b (32 bits a unit at −5, 8 at −3) and
   * beats the distortion's while the latents are still small. 128x128 crop of training photo
   * 100075, 2000 steps, tfjs WASM, file bpp / dB at λ 1.2e-2 and 1.5e-3: base set 0.501 / 28.30
   * and 0.767 / 32.34; fine floor from the first step (−8, as first drafted) 0.402 / 19.11 (every
   * latent 0) and 0.711 / 32.22; from the first step at −5 0.429 / 25.63 and 0.707 / 31.96;
   * from phase 2 0.474 / 28.30 and 0.764 / 32.34 (bench/results/perimage-gpu/NOTES.md)
   */
  phase1Log2bMin: number;
  /** the share of phase 1 after which the file's floor applies already (1: from phase 2 on) */
  fileFloorFrom: number;
  /** SOAP instead of Adam for the weight matrices of the chosen networks (soap.ts; a study
   * option: null, plain Adam for everything, is the default) */
  soap: SoapSettings | null;
  progressEvery: number;
  onProgress?: (done: number, total: number, info: TrainProgress) => void;
  signal?: AbortSignal;
}

export const DEFAULT_TRAIN: Readonly<Omit<TrainSettings, 'steps' | 'lambda'>> = Object.freeze({
  seed: 1, lr: 1e-2, lrLatent: 1e-2, noiseFrac: 0.75, steLrScale: 0.1, steLatentScale: 0, relax: 'softnoise', softT: [0.3, 0.1] as const, bestEvery: 50, progressEvery: 50,
  phase1Log2bMin: LOG2B_MIN_BASE, fileFloorFrom: 1, soap: null,
});

export interface TrainProgress {
  phase: 'noise' | 'ste';
  loss: number;
  /** latent bits per pixel under the float ARM (relaxed latents in phase 1) */
  bpp: number;
  /** PSNR of the float reconstruction (dB, [0, 1] RGB, no 8-bit rounding) */
  psnr: number;
}

export interface TrainState {
  theta: Float32Array;
  canvas: Float32Array;
  history: { step: number; loss: number; bpp: number; psnr: number; phase: 'noise' | 'ste' }[];
}

/** Straight-through rounding: round(x) forward, identity backward. */
export const steRound = tf.customGrad(((x: tf.Tensor) => ({ value: tf.round(x), gradFunc: (dy: tf.Tensor) => dy })) as unknown as Parameters<typeof tf.customGrad>[0]);

/**
 * Σ mask · bits of the (masked) canvas q under the ARM of theta: on WebGPU the fused op of
 * arm-gpu.ts, elsewhere (or switched off) the tfjs ops, the reference. In a tidy.
 * REQUIRES: mask is canvasMask(net.lay) (the fused op has the grid rectangles built in).
 */
export function latentBits(net: PerImageNet, theta: tf.Tensor1D, q: tf.Tensor4D, mask: tf.Tensor4D, log2bMin = net.lay.log2bMin): tf.Scalar {
  if (armFusedActive()) return armBitsFused(net.lay, theta, q, 1, log2bMin) as tf.Scalar;
  const P = net.lay.Hc * net.lay.Wc;
  const { mu, log2b } = net.arm(net.split(theta), q, log2bMin);
  return tf.sum(tf.mul(laplaceBits(tf.reshape(q, [P]), mu, log2b), tf.reshape(mask, [P]))) as tf.Scalar;
}

export type Relaxation = { kind: 'noise'; key: number } | { kind: 'softnoise'; key: number; T: number } | { kind: 'ste' } | { kind: 'round' };

/**
 * The latents the model sees, masked to the grids: canvas + U(−½, ½), the soft-rounded
 * version of that (softround.ts; both one draw of `key`, broadcast over stacked members),
 * straight-through rounding, or plain rounding. In a tidy.
 */
export function relaxedCanvas(lay: Layout, canvas: tf.Tensor4D, mask: tf.Tensor4D, mode: Relaxation): tf.Tensor4D {
  let q: tf.Tensor4D;
  // softNoise applies the mask itself (inside its programs on WebGPU)
  if (mode.kind === 'softnoise') return softNoise(canvas, mode.T, mode.key, lay.Hc * lay.Wc, mask) as tf.Tensor4D;
  if (mode.kind === 'noise') q = tf.add(canvas, tf.sub(noiseFused([1, lay.Hc, lay.Wc, 1], mode.key), 0.5));
  else if (mode.kind === 'ste') q = steRound(canvas) as tf.Tensor4D;
  else q = tf.round(canvas);
  return tf.mul(q, mask);
}

/**
 * The loss terms as ONE op where the backend runs it fused (loss-gpu.ts, WebGPU), for one
 * member (lamPerPixel a number) or K ([K]): the relaxation folded into the op where it can
 * be (softnoise, straight-through), else applied first. null where the parts run as separate
 * ops; the callers then compose them. In a tidy.
 */
export function fusedLossTerms(
  net: PerImageNet, theta: tf.Tensor1D, canvas: tf.Tensor4D, mask: tf.Tensor4D, target: tf.Tensor2D, lamPerPixel: number | tf.Tensor,
  mode: Relaxation, log2bMin: number,
): LossTerms | null {
  if (!net.lossFusedActive()) return null;
  const relax = relaxFused(net.lay, canvas, mask, mode);
  if (relax) return net.lossFused(theta, canvas, target, lamPerPixel, log2bMin, relax);
  return net.lossFused(theta, relaxedCanvas(net.lay, canvas, mask, mode), target, lamPerPixel, log2bMin);
}

/**
 * The loss terms of one forward pass; `mode` picks the latent relaxation, `log2bMin` the floor
 * of the ARM's log2 b (default: the file's). In a tidy.
 */
export function lossTerms(
  net: PerImageNet, theta: tf.Tensor1D, canvas: tf.Tensor4D, mask: tf.Tensor4D, target: tf.Tensor2D, lambda: number,
  mode: Relaxation, log2bMin = net.lay.log2bMin,
): { loss: tf.Scalar; mse: tf.Scalar; bits: tf.Scalar } {
  const { width, height } = net.lay;
  const fused = fusedLossTerms(net, theta, canvas, mask, target, lambda / (width * height), mode, log2bMin);
  if (fused) return fused as { loss: tf.Scalar; mse: tf.Scalar; bits: tf.Scalar };
  const q = relaxedCanvas(net.lay, canvas, mask, mode);
  const bits = latentBits(net, theta, q, mask, log2bMin);
  const mse = net.synthMse(theta, q, target) as tf.Scalar;
  const loss = tf.add(mse, tf.mul(bits, lambda / (width * height))) as tf.Scalar;
  return { loss, mse, bits };
}

/** RGBA bytes → [H·W, 3] in [0, 1] */
export function rgbaToRows(data: ArrayLike<number>, width: number, height: number): Float32Array {
  const x = new Float32Array(width * height * 3);
  for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) x[i * 3 + c] = data[i * 4 + c] / 255;
  return x;
}

export const psnrOf = (mse: number): number => 10 * Math.log10(1 / Math.max(mse, 1e-12));

export function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new NimgError('ABORTED', 'perimage encode aborted');
}

/**
 * Step t's phase, learning-rate factor (a cosine within each phase, phase 2 scaled by
 * steLrScale), the relaxation of the latents (noise draw `key`) and whether the parameters
 * the step starts from are offered as phase 2's best (`offer`: the switch, and the steps t of
 * phase 2 with (t + 1) % bestEvery = 0 — the grid of the progress readbacks when bestEvery =
 * progressEvery, so an offer costs no GPU sync of its own), and the floor of log2 b of the
 * step (phase 1: not below phase1Log2bMin; phase 2: the file's, `fileLog2bMin`).
 */
export function scheduleAt(
  t: number, steps: number, st: Pick<TrainSettings, 'noiseFrac' | 'steLrScale' | 'steLatentScale' | 'relax' | 'softT' | 'bestEvery' | 'phase1Log2bMin' | 'fileFloorFrom'>, key: number,
  fileLog2bMin: number,
): { phase: 'noise' | 'ste'; sched: number; schedLatent: number; relax: Relaxation; offer: boolean; log2bMin: number } {
  const n1 = Math.max(1, Math.round(steps * st.noiseFrac));
  const n2 = steps - n1;
  // Adam's moments carry over between the phases (clearing them at the switch was worse in
  // the PyTorch reference: the first steps after a reset move every latent by a full step)
  if (t >= n1) {
    const c = 0.5 * (1 + Math.cos((Math.PI * (t - n1)) / Math.max(1, n2)));
    const offer = st.bestEvery > 0 && (t === n1 || (t + 1) % st.bestEvery === 0);
    return { phase: 'ste', sched: st.steLrScale * c, schedLatent: st.steLatentScale * c, relax: { kind: 'ste' }, offer, log2bMin: fileLog2bMin };
  }
  const sched = 0.5 * (1 + Math.cos((Math.PI * t) / n1));
  const T = st.softT[0] + ((st.softT[1] - st.softT[0]) * t) / n1;
  const relax: Relaxation = st.relax === 'softnoise' ? { kind: 'softnoise', key, T } : { kind: 'noise', key };
  const log2bMin = t >= st.fileFloorFrom * n1 ? fileLog2bMin : Math.max(fileLog2bMin, st.phase1Log2bMin);
  return { phase: 'noise', sched, schedLatent: sched, relax, offer: false, log2bMin };
}

/**
 * One optimiser step inside a tidy scope: the loss's gradients w.r.t. theta and the canvas
 * (`dy`: the upstream gradient, made once by the caller) and the Adam update, not yet
 * committed. With `report`, kept copies of the loss terms come back too: valueAndGrads
 * disposes the tensors its tape saved (mse and bits are inputs of the loss's add/mul), even
 * kept ones, after the backward pass. train() and trainBatch() share it.
 */
export function adamStep(
  state: AdamState,
  loss: (theta: tf.Tensor1D, canvas: tf.Tensor4D) => LossTerms,
  dy: tf.Tensor,
  lr: number,
  lrLatent: number,
  t: number,
  report: boolean,
): { next: ReturnType<AdamState['next']>; loss: tf.Tensor; mse?: tf.Tensor; bits?: tf.Tensor } {
  return tf.tidy(() => {
    let terms: { mse: tf.Tensor; bits: tf.Tensor } | null = null;
    const vg = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => {
      const r = loss(a as tf.Tensor1D, b as tf.Tensor4D);
      if (report) terms = { mse: tf.keep(tf.add(r.mse, 0)), bits: tf.keep(tf.add(r.bits, 0)) };
      return r.loss;
    });
    const { value, grads } = vg([state.th, state.lat], dy);
    const kept = terms as { mse: tf.Tensor; bits: tf.Tensor } | null;
    return { next: state.next(grads, lr, lrLatent, t + 1), loss: value, mse: kept?.mse, bits: kept?.bits };
  });
}

/**
 * Train from `theta0` / `canvas0` (model.ts layout). Runs on the active tfjs backend.
 * REQUIRES: target is rgbaToRows of the image; steps >= 1.
 */
export async function train(lay: Layout, target0: Float32Array, theta0: Float32Array, canvas0: Float32Array, st: TrainSettings): Promise<TrainState> {
  ensureGradients();
  const net = new PerImageNet(lay);
  const target = tf.tensor2d(target0, [lay.width * lay.height, 3]);
  const mask = tf.tensor4d(canvasMask(lay), [1, lay.Hc, lay.Wc, 1]);
  const npix = lay.width * lay.height;
  const state = new AdamState(theta0, canvas0, [1, lay.Hc, lay.Wc, 1], st.soap && { lay, settings: st.soap });
  const best = st.bestEvery > 0 ? new BestOfPhase2(1) : null;
  const history: TrainState['history'] = [];
  // the loss's upstream gradient, made once (tfjs would make and upload its own every step)
  const one = tf.scalar(1);
  try {
    for (let t = 0; t < st.steps; t++) {
      checkAbort(st.signal);
      await state.beforeStep(t);
      const { phase, sched, schedLatent, relax, offer, log2bMin } = scheduleAt(t, st.steps, st, noiseKey(st.seed, 2, t), lay.log2bMin);
      const progress = (t + 1) % st.progressEvery === 0 || t === st.steps - 1;
      const report = progress || (offer && best !== null);
      const out = adamStep(state, (th, lat) => lossTerms(net, th, lat, mask, target, st.lambda, relax, log2bMin), one, st.lr * sched, st.lrLatent * schedLatent, t, report);
      const snap = offer && best ? state.refs() : null;
      state.commit(out.next);
      if (report) {
        const [l, m, b] = await Promise.all([out.loss.data(), out.mse!.data(), out.bits!.data()]);
        if (snap) best!.offer(snap[0], snap[1], [l[0]]);
        if (progress) {
          const info: TrainProgress = { phase, loss: l[0], bpp: b[0] / npix, psnr: psnrOf(m[0]) };
          history.push({ step: t + 1, ...info });
          st.onProgress?.(t + 1, st.steps, info);
        }
      } else if (t % 8 === 7) {
        // let the backend flush and the event loop run (abort signals, UI)
        await new Promise((r) => setTimeout(r, 0));
      }
      tf.dispose([out.loss, ...(out.mse ? [out.mse, out.bits!] : [])]);
    }
    checkAbort(st.signal);
    if (best) {
      // the last update was never evaluated: offer it with its rounded loss
      const l = tf.tidy(() => lossTerms(net, state.th, state.lat, mask, target, st.lambda, { kind: 'round' }).loss);
      const v = await l.data();
      l.dispose();
      best.offer(...state.refs(), [v[0]]);
    }
    const [theta, canvas] = (await best?.read()) ?? (await state.read());
    return { theta: Float32Array.from(theta), canvas: Float32Array.from(canvas), history };
  } finally {
    state.dispose();
    best?.dispose();
    tf.dispose([target, mask, one]);
    net.dispose();
  }
}

/**
 * Loss terms of given parameters with hard-rounded latents (no gradient): what the float
 * decoder would see. Holds the image, mask and latents on the device, so each evaluation
 * uploads only theta (quantize.ts runs one per candidate exponent).
 */
export class Evaluator {
  private readonly net: PerImageNet;
  private readonly target: tf.Tensor2D;
  private readonly mask: tf.Tensor4D;
  private readonly canvas: tf.Tensor4D;

  constructor(readonly lay: Layout, target0: Float32Array, canvas: Float32Array, readonly lambda: number) {
    this.net = new PerImageNet(lay);
    this.target = tf.tensor2d(target0, [lay.width * lay.height, 3]);
    this.mask = tf.tensor4d(canvasMask(lay), [1, lay.Hc, lay.Wc, 1]);
    this.canvas = tf.tensor4d(canvas, [1, lay.Hc, lay.Wc, 1]);
  }

  async run(theta: Float32Array): Promise<{ mse: number; bits: number; psnr: number; loss: number }> {
    const r = tf.tidy(() => {
      const t = lossTerms(this.net, tf.tensor1d(theta), this.canvas, this.mask, this.target, this.lambda, { kind: 'round' });
      return tf.stack([t.mse, t.bits, t.loss]);
    });
    const v = await r.data();
    r.dispose();
    return { mse: v[0], bits: v[1], loss: v[2], psnr: psnrOf(v[0]) };
  }

  dispose(): void {
    tf.dispose([this.target, this.mask, this.canvas]);
    this.net.dispose();
  }
}

/** One-off Evaluator run. */
export async function evaluateRounded(lay: Layout, target0: Float32Array, theta: Float32Array, canvas: Float32Array, lambda: number): Promise<{ mse: number; bits: number; psnr: number; loss: number }> {
  const ev = new Evaluator(lay, target0, canvas, lambda);
  try {
    return await ev.run(theta);
  } finally {
    ev.dispose();
  }
}
