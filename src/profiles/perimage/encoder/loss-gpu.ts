/**
 * The training loss of K members, loss_k = mse_k + lam_k · bits_k (lam_k = λ_k / (H·W)), as
 * ONE differentiable op of (theta, q) on tfjs WebGPU: the fused ARM (arm-gpu.ts), up2 chain
 * (up2-gpu.ts) and synthesis (synth-gpu.ts) run inside it, off the tape.
 *
 * Why: as separate tape ops, theta (read by all three parts) and the relaxed canvas q (by
 * the ARM and the chain) receive several gradients that the tape adds with one dispatch each
 * (3 a step), and the loss's multiply and add and the bits' upstream gradient dy · lam are
 * dispatches too (3). Here each part's last backward program takes the running gradient as
 * an input and adds its own — synthesis → up2 taps → ARM for theta, up2 scatter → ARM for
 * q — the ARM's programs multiply dy by lam themselves, and the loss is one program: 5
 * dispatches fewer a step. The sums are the tape's: the parts' theta gradients are disjoint
 * (each is exactly 0 outside its own parameters) and float addition commutes.
 *
 * The relaxation of the canvas can come in too (relaxFused: softnoise's two programs, or the
 * straight-through rounding times the mask in one): the op is then differentiable in the
 * canvas itself, and the ARM's last program multiplies by dq/dy (softnoise's derivative,
 * or the mask), which the relaxation's own gradient would otherwise do in a dispatch —
 * one fewer a step, two in phase 2 (round and mask multiply forward were two programs).
 *
 * The mse and bits come out too (kept inside the op, handed to the caller's scope) for the
 * progress reports.
 */
import * as tf from '@tensorflow/tfjs-core';
import { flatProgram, run } from '../../../model/gpu-kernels.js';
import { armRate, type QRelax } from './arm-gpu.js';
import type { Layout } from './model.js';
import { softNoiseParts, softroundFusedActive } from './softround.js';
import type { Relaxation } from './train.js';
import type { SynthGpu } from './synth-gpu.js';
import type { Up2Chain } from './up2-gpu.js';

let fusedAllowed = true;
/** Turn the one-op loss off (true: back on; the parts then run as separate tape ops) — for tests and A/B runs; on by default. */
export function setFusedLoss(on: boolean): void {
  fusedAllowed = on;
}
/** True unless switched off (the parts' own switches and the backend are PerImageNet.lossFused's to check). */
export const fusedLossAllowed = (): boolean => fusedAllowed;

export interface LossTerms {
  loss: tf.Tensor;
  mse: tf.Tensor;
  bits: tf.Tensor;
}

/** A relaxed, masked canvas q made off the tape, with its derivative dq/dy (QRelax). */
export interface Relaxed extends QRelax {
  q: tf.Tensor;
}

/**
 * The relaxation `mode` of the canvas y [K, Hc, Wc, 1], masked (mask [1, Hc, Wc, 1] of 0 and
 * 1), off the tape for FusedLoss: softnoise (softround.ts's programs; null when they are
 * switched off) or straight-through (round(y) · mask, derivative the mask); null for the
 * modes the caller composes with tfjs ops (noise; round, whose gradient is 0). The same
 * values as train.ts relaxedCanvas. REQUIRES: tfjs WebGPU. In a tidy.
 */
export function relaxFused(lay: Layout, y: tf.Tensor, mask: tf.Tensor, mode: Relaxation): Relaxed | null {
  const span = lay.Hc * lay.Wc;
  if (mode.kind === 'softnoise') {
    if (!softroundFusedActive()) return null;
    return { ...softNoiseParts(y, mode.T, mode.key, span, mask), shared: false };
  }
  if (mode.kind !== 'ste') return null;
  const code = `
      fn main(index : i32) {
        if (index < uniforms.size) { setOutputAtIndex(index, round(Y[index]) * M[index % ${span}]); }
      }`;
  return { q: run(flatProgram(`nimg_ste_mask_${span}`, ['Y', 'M'], y.shape.slice(), code), [y, mask]), d: mask, shared: true };
}

export class FusedLoss {
  /** lam of train() (one member, a number): uploaded once while it stays the same */
  private lamScalar: { v: number; t: tf.Tensor } | null = null;

  constructor(readonly lay: Layout, readonly members: number, private readonly chain: Up2Chain, private readonly syn: SynthGpu) {}

  /**
   * The loss terms of theta [K·nTheta] and x [K, Hc, Wc, 1] (shapes: a scalar each for K = 1,
   * else [K]); differentiable in theta and x. x is the relaxed, masked canvas q, or with
   * `relax` the canvas whose relaxation relax is (relaxFused of x). In a tidy.
   * REQUIRES: the fused ARM, chain and synthesis are active; lay.arch.L > 1.
   */
  apply(theta: tf.Tensor, x: tf.Tensor, target: tf.Tensor, lam: number | tf.Tensor, log2bMin: number, relax?: Relaxed): LossTerms {
    const lamT = typeof lam === 'number' ? this.scalar(lam) : lam;
    const arm = armRate(this.lay, this.members, log2bMin);
    let side: { mse: tf.Tensor; bits: tf.Tensor } | null = null;
    const nF = this.lay.arch.L - 1;
    let nX = 0;
    const f = tf.customGrad(((th: tf.Tensor, xx: tf.Tensor, save: tf.GradSaveFunc) => {
      const qq = relax ? relax.q : xx;
      const { bits, G } = arm.parts(th, qq);
      const Fs = this.chain.partsTheta(qq, th);
      const { mse, Xs } = this.syn.mseParts(Fs[0], th, target);
      nX = Xs.length;
      side = { mse: tf.keep(mse), bits: tf.keep(bits) };
      // (relax.d too: made in the forward's scope, disposed after it unless saved)
      save([th, qq, G, ...Fs, ...Xs, ...(relax ? [relax.d] : [])]);
      return {
        value: this.lossOf(mse, bits, lamT),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [th1, q1, G1] = saved;
          const Fs1 = saved.slice(3, 3 + nF);
          const Xs1 = saved.slice(3 + nF, 3 + nF + nX);
          const [dF0, dThSyn] = this.syn.mseGrads(dy, Fs1[0], th1, Xs1);
          const [dqUp2, dThUp2] = this.chain.gradsTheta(dF0, q1, th1, Fs1, dThSyn);
          const grads = arm.grads(G1, dy, lamT, dThUp2, dqUp2, relax ? { d: saved[3 + nF + nX], shared: relax.shared } : undefined);
          tf.dispose([dF0, dThSyn, dqUp2, dThUp2]);
          return grads;
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (th: tf.Tensor, xx: tf.Tensor) => tf.Tensor;
    const loss = f(theta, x);
    const s = side as unknown as { mse: tf.Tensor; bits: tf.Tensor };
    // clones share the data: tracked by the caller's tidy, unlike the kept originals
    const out = { loss, mse: tf.clone(s.mse), bits: tf.clone(s.bits) };
    tf.dispose([s.mse, s.bits]);
    return out;
  }

  /** mse + bits · lam, one program (members elementwise) */
  private lossOf(mse: tf.Tensor, bits: tf.Tensor, lam: tf.Tensor): tf.Tensor {
    const code = `
      fn main(index : i32) {
        if (index < uniforms.size) { setOutputAtIndex(index, M[index] + B[index] * LAM[index]); }
      }`;
    return tf.reshape(run(flatProgram('nimg_loss', ['M', 'B', 'LAM'], [this.members], code), [mse, bits, lam]), mse.shape);
  }

  private scalar(v: number): tf.Tensor {
    if (this.lamScalar?.v !== v) {
      this.lamScalar?.t.dispose();
      this.lamScalar = { v, t: tf.keep(tf.scalar(v)) };
    }
    return this.lamScalar.t;
  }

  dispose(): void {
    this.lamScalar?.t.dispose();
    this.lamScalar = null;
  }
}
