/**
 * The per-image trainer's optimiser state: theta and the latent canvas on the device with
 * their Adam moments (one member, or K stacked), and one Adam step of both, the canvas then
 * clamped to [−127, 127].
 *
 * On tfjs WebGPU the step is three programs: the new theta, the new (clamped) canvas, and
 * the new moments of both, which live packed in ONE tensor [m_θ | m_c | s_θ | s_c]. Why: the
 * step is host-bound (the fixed cost of each dispatch, not arithmetic), and Adam as
 * refine-ops' adamFused (three programs per tensor: value, m, s) plus the clamp was 7 of a
 * training step's ~52 dispatches. Every program has one output, so three is the least
 * without slicing a packed value (a slice is a dispatch too). The formulas are adamFused's
 * (refine-ops.ts, same literals and order; the gradient scale there is 1 here), so both
 * paths agree to float rounding. Elsewhere (WASM, CPU, or switched off): adamFused per
 * tensor and tf.clipByValue, as before.
 */
import * as tf from '@tensorflow/tfjs-core';
import { flatProgram, gpuKernelsAvailable, run } from '../../../model/gpu-kernels.js';
import { adamFused } from '../../../model/refine-ops.js';
import type { Layout } from './model.js';
import { SoapState, type SoapSettings } from './soap.js';

let fusedAllowed = true;
/** Turn the fused Adam off (true: back on) — for tests and A/B runs; on by default. */
export function setFusedAdam(on: boolean): void {
  fusedAllowed = on;
}
const fused = (): boolean => fusedAllowed && gpuKernelsAvailable();

/** the canvas's range after every step (the latents the file can hold) */
const LATENT_MAX = 127;

/** The new (theta, canvas) and moments of one step, made inside the step's tidy. */
export type AdamNext = {
  th: tf.Tensor;
  lat: tf.Tensor;
  /** fused: [packed moments]; else [m_θ, s_θ, m_c, s_c] */
  mom: tf.Tensor[];
  /** with SOAP: its next statistics (SoapState.next) */
  soap?: tf.Tensor1D;
};

/** Adam's moment updates and the value step, as adamFused writes them (WGSL; m, s, g in scope). */
const WGSL_ADAM = `
          let m1 = m * 0.9 + g * ${1 - 0.9};
          let s1 = s * 0.999 + (g * g) * ${1 - 0.999};`;

/**
 * The three programs of one fused step. V: theta or canvas, M: the packed moments, G/GT/GL:
 * gradients; nT, nL: elements of theta and the canvas (every member).
 */
function programs(nT: number, nL: number) {
  const U = 'c1 : f32, c2 : f32, ';
  // the sizes are baked into the code: they must be in the shader key (tfjs caches pipelines by it)
  const key = `${nT}_${nL}`;
  // value of part `off` (0: theta, nT: canvas) at index i: m at off + i, s at nT + nL + off + i
  const value = (name: string, off: number, n: number, clampTo: number) => flatProgram(name, ['V', 'M', 'G'], [n], `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let g = G[index];
          let m = M[${off} + index];
          let s = M[${nT + nL + off} + index];${WGSL_ADAM}
          let v1 = V[index] - (m1 * uniforms.c1) / (sqrt(s1 * uniforms.c2) + 1e-8);
          setOutputAtIndex(index, ${clampTo ? `clamp(v1, ${-clampTo}.0, ${clampTo}.0)` : 'v1'});
        }
      }`, U);
  const n = nT + nL;
  const moments = flatProgram(`nimg_adam2_mom_${key}`, ['M', 'GT', 'GL'], [2 * n], `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let j = index % ${n};
          var g = 0.0;
          if (j < ${nT}) { g = GT[j]; } else { g = GL[j - ${nT}]; }
          let m = M[j];
          let s = M[${n} + j];${WGSL_ADAM}
          setOutputAtIndex(index, select(m1, s1, index >= ${n}));
        }
      }`);
  return { th: value(`nimg_adam2_th_${key}`, 0, nT, 0), lat: value(`nimg_adam2_lat_${key}`, nT, nL, LATENT_MAX), moments };
}

export class AdamState {
  th: tf.Tensor1D;
  lat: tf.Tensor4D;
  private mom: tf.Tensor[];
  private readonly fused: boolean;
  private readonly progs: ReturnType<typeof programs> | null;
  /** SOAP on the chosen weight matrices of theta (soap.ts), which then ignore Adam's update */
  readonly soap: SoapState | null;

  /** soap: the layout and settings when the weight matrices train with SOAP (canvasShape[0] members) */
  constructor(theta0: Float32Array, canvas0: Float32Array, canvasShape: [number, number, number, number], soap?: { lay: Layout; settings: SoapSettings } | null) {
    this.th = tf.tensor1d(theta0);
    this.lat = tf.tensor4d(canvas0, canvasShape);
    this.fused = fused();
    this.progs = this.fused ? programs(this.th.size, this.lat.size) : null;
    this.mom = this.fused ? [tf.zeros([2 * (this.th.size + this.lat.size)])] : [this.th, this.th, this.lat, this.lat].map((t) => tf.zerosLike(t));
    this.soap = soap ? new SoapState(soap.lay, canvasShape[0], soap.settings) : null;
  }

  /** Before step t (0-based): refresh SOAP's eigenbases when due (a read-back; nothing without SOAP). */
  async beforeStep(t: number): Promise<void> {
    if (this.soap?.dueAt(t)) await this.soap.refresh();
  }

  /** One Adam update from the gradients [dtheta, dcanvas] at step tt >= 1 (call inside the step's tidy and return the result from it). */
  next(grads: tf.Tensor[], lr: number, lrLatent: number, tt: number): AdamNext {
    const n = this.adamNext(grads, lr, lrLatent, tt);
    if (!this.soap) return n;
    const s = this.soap.next(this.th, n.th, grads[0], lr, tt);
    return { ...n, th: s.th, soap: s.S };
  }

  private adamNext(grads: tf.Tensor[], lr: number, lrLatent: number, tt: number): AdamNext {
    const p = this.progs;
    if (!p) {
      const [th, mth, sth] = adamFused(this.th, this.mom[0], this.mom[1], grads[0], 1, lr, tt);
      const [lat, mlat, slat] = adamFused(this.lat, this.mom[2], this.mom[3], grads[1], 1, lrLatent, tt);
      return { th, lat: tf.clipByValue(lat, -LATENT_MAX, LATENT_MAX), mom: [mth, sth, mlat, slat] };
    }
    // adamFused's uniforms: lr / (1 − β1^t), 1 / (1 − β2^t)
    const uni = (l: number) => [{ type: 'float32' as const, data: [l / (1 - 0.9 ** tt)] }, { type: 'float32' as const, data: [1 / (1 - 0.999 ** tt)] }];
    const [M] = this.mom;
    return {
      th: run(p.th, [this.th, M, grads[0]], 'float32', uni(lr)),
      lat: tf.reshape(run(p.lat, [this.lat, M, grads[1]], 'float32', uni(lrLatent)), this.lat.shape),
      mom: [run(p.moments, [M, grads[0], grads[1]])],
    };
  }

  /** References to theta and the canvas (tfjs clones share the data), alive after commit releases them: for BestOfPhase2.offer. */
  refs(): [tf.Tensor1D, tf.Tensor4D] {
    return [tf.clone(this.th), tf.clone(this.lat)];
  }

  /** Take the tensors of `next` (after the tidy), releasing the old ones. */
  commit(n: AdamNext): void {
    tf.dispose([this.th, this.lat, ...this.mom]);
    this.th = n.th as tf.Tensor1D;
    this.lat = n.lat as tf.Tensor4D;
    this.mom = n.mom;
    if (this.soap && n.soap) this.soap.commit(n.soap);
  }

  /** theta and the canvas, read back */
  async read(): Promise<[Float32Array, Float32Array]> {
    const [a, b] = await Promise.all([this.th.data(), this.lat.data()]);
    return [a as Float32Array, b as Float32Array];
  }

  dispose(): void {
    tf.dispose([this.th, this.lat, ...this.mom]);
    this.soap?.dispose();
  }
}
