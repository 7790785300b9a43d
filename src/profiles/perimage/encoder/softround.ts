/**
 * The 'softnoise' relaxation of the latents in the first training phase:
 *     q = sr_T(sr_T(y) + u − ½),   u ~ U(0, 1) (the counter noise of refine-ops, draw `key`)
 * with the soft rounding of Agustsson & Theis (2020)
 *     sr_T(y) = ⌊y⌋ + ½ + c · tanh((y − ⌊y⌋ − ½) / T),   c = 1 / (2 tanh(1 / (2T)))
 * which is continuous, equals rounding as T → 0 and nears the identity as T grows.
 *
 * Why: with plain additive noise (y + u − ½) the synthesis trains on values the decoder never
 * sees, and the latents end far from integers; rounding then costs quality that the short
 * straight-through phase does not win back. Soft rounding on both sides of the noise, with T
 * annealed towards rounding, narrows that gap. Measured with the PyTorch reference
 * (train/perimage/sweep.py --recipe softnoise, same steps and lambdas): 2000 steps on a
 * 192x192 crop of a BSDS500 training photo, λ = 1e-3: 0.982 → 0.705 bpp at +0.18 dB; λ = 4e-3:
 * 0.462 → 0.399 bpp at +0.12 dB (bench/results/perimage-gpu/NOTES.md).
 *
 * The gradient is dq/dy = sr_T'(z) · sr_T'(y), z = sr_T(y) + u − ½, sr_T'(v) = c (1 − tanh²) / T.
 * On WebGPU the value and the derivative are one program each (tanh's argument clamped to ±15,
 * where f32 tanh is ±1 already: some WGSL tanh overflow to NaN beyond) (the tfjs chain would be ~12
 * element-wise dispatches forward and as many backward); elsewhere tfjs ops, the reference,
 * with the same formulas in the same order. Stacked members ([K, Hc, Wc, 1]) share one noise
 * draw: element i reads the noise of i mod `span`.
 * The trainer masks q to the grids (q · mask, mask [span] of 0 and 1): on WebGPU the mask is
 * applied inside the two programs (q · m, dq/dy · m), which spares the multiply forward and
 * its gradient's multiply backward (two dispatches a step); the values are the same (a
 * product with 0 or 1 is exact in any order).
 */
import * as tf from '@tensorflow/tfjs-core';
import { flatProgram, gpuKernelsAvailable, run } from '../../../model/gpu-kernels.js';
import { noiseFused, WGSL_NOISE } from '../../../model/refine-ops.js';

let fusedAllowed = true;
/** Turn the fused programs off (true: back on) — for tests and A/B runs; on by default. */
export function setFusedSoftround(on: boolean): void {
  fusedAllowed = on;
}
const fused = (): boolean => fusedAllowed && gpuKernelsAvailable();
/** True when the two WGSL programs run here (WebGPU, not switched off): softNoiseParts may be used. */
export const softroundFusedActive = fused;

/** c of sr_T: 1 / (2 tanh(1 / (2T))) */
const scaleOf = (T: number): number => 1 / (2 * Math.tanh(1 / (2 * T)));

/** sr_T(v) and sr_T'(v) as tfjs ops. In a tidy. */
function softRoundOps(v: tf.Tensor, T: number): { value: tf.Tensor; slope: tf.Tensor } {
  const c = scaleOf(T);
  const f = tf.floor(v);
  const th = tf.tanh(tf.div(tf.sub(tf.sub(v, f), 0.5), T));
  return { value: tf.add(tf.add(f, 0.5), tf.mul(th, c)), slope: tf.mul(tf.sub(1, tf.square(th)), c / T) };
}

/** q and dq/dy with tfjs ops (every backend). REQUIRES: y's size is a multiple of span. */
function softNoiseOps(y: tf.Tensor, T: number, key: number, span: number): { q: tf.Tensor; d: tf.Tensor } {
  const u = tf.reshape(noiseFused([span], key), [1, ...y.shape.slice(1)]);
  const a = softRoundOps(y, T);
  const b = softRoundOps(tf.sub(tf.add(a.value, u), 0.5), T);
  return { q: b.value, d: tf.mul(b.slope, a.slope) };
}

/**
 * q and dq/dy as two WGSL programs (tfjs WebGPU), both times mask[i mod span] when there is
 * one. Off the tape: softNoise wraps them in its gradient, the loss op of loss-gpu.ts applies
 * dq/dy in its own last program. REQUIRES: softroundFusedActive(); T as softNoise's.
 */
export function softNoiseParts(y: tf.Tensor, T: number, key: number, span: number, mask?: tf.Tensor): { q: tf.Tensor; d: tf.Tensor } {
  const m = mask ? ' * M[index % uniforms.span]' : '';
  const body = (out: 'q' | 'd') => `${WGSL_NOISE}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let c = uniforms.c;
          let y = Y[index];
          let f = floor(y);
          let th = tanh(clamp((y - f - 0.5) / uniforms.T, -15.0, 15.0));
          let z = f + 0.5 + th * c + noiseU(u32(index % uniforms.span)) - 0.5;
          let f2 = floor(z);
          let th2 = tanh(clamp((z - f2 - 0.5) / uniforms.T, -15.0, 15.0));
          ${out === 'q'
            ? `setOutputAtIndex(index, (f2 + 0.5 + th2 * c)${m});`
            : `setOutputAtIndex(index, (((1.0 - th2 * th2) * (c / uniforms.T)) * ((1.0 - th * th) * (c / uniforms.T)))${m});`}
        }
      }`;
  const U = 'T : f32, c : f32, key : u32, span : i32, ';
  const uni = [
    { type: 'float32' as const, data: [T] }, { type: 'float32' as const, data: [scaleOf(T)] },
    { type: 'uint32' as const, data: [key] }, { type: 'int32' as const, data: [span] },
  ];
  const names = mask ? ['Y', 'M'] : ['Y'];
  const inputs = mask ? [y, mask] : [y];
  const tag = mask ? 'm' : '';
  return {
    q: run(flatProgram(`nimg_softnoise_q${tag}`, names, y.shape.slice(), body('q'), U), inputs, 'float32', uni),
    d: run(flatProgram(`nimg_softnoise_d${tag}`, names, y.shape.slice(), body('d'), U), inputs, 'float32', uni),
  };
}

/**
 * The softnoise relaxation of y (value q, gradient dy · dq/dy), times `mask` when given (no
 * gradient for the mask). In a tidy.
 * REQUIRES: T in [0.01, 10]; y.size a multiple of span (span = the elements of one member);
 * mask, if any, holds span values of 0 or 1 and broadcasts against y (tf.mul's rules).
 */
export function softNoise(y: tf.Tensor, T: number, key: number, span: number, mask?: tf.Tensor): tf.Tensor {
  if (!(T >= 0.01 && T <= 10)) throw new Error(`softNoise: temperature ${T} outside [0.01, 10]`);
  const gpu = fused();
  const f = tf.customGrad(((x: tf.Tensor, save: (ts: tf.Tensor[]) => void) => {
    const { q, d } = gpu ? softNoiseParts(x, T, key, span, mask) : softNoiseOps(x, T, key, span);
    save([d]);
    return { value: q, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, saved[0]) };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  // the tfjs path masks as a separate op, as it always did
  return mask && !gpu ? tf.mul(f(y), mask) : f(y);
}
