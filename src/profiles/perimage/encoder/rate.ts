/**
 * The rate of the latents under the ARM's Laplace(μ, b): −log2 of the mass of the unit bin
 * [q − 0.5, q + 0.5], in bits, differentiable in q, μ and log2 b.
 *
 * With a = |q − μ| and β = 1/b = 2^(−log2 b):
 *   a ≥ 0.5: ln P = −(a − 0.5)·β + ln(1 − e^{−β}) + ln ½   (log domain: the far tails,
 *            where P underflows float32, keep an exact, finite cost and slope);
 *   a < 0.5: P = 1 − ½·(E1 + E2), E1 = e^{−(0.5−a)β}, E2 = e^{−(0.5+a)β}.
 * ln P is floored at ln 1e-9 (30 bits; flat below, as in the amortized profile: the tables
 * code such values with escapes anyway).
 *
 * One custom-gradient op (tf.customGrad) with the derivatives written out:
 *   tail:  ∂lnP/∂a = −β,               ∂lnP/∂β = −(a − 0.5) + e^{−β}/(1 − e^{−β})
 *   inner: ∂lnP/∂a = −½β(E1 − E2)/P,   ∂lnP/∂β = ½((0.5 − a)E1 + (0.5 + a)E2)/P
 *   ∂a/∂q = sign(q − μ) = −∂a/∂μ,  ∂β/∂log2b = −ln2·β,  bits = −lnP / ln2.
 * Why: through the tape these ~20 element-wise ops cost ~60 kernels a step; on WebGPU the
 * forward is one WGSL program and the backward three, elsewhere the same formulas as tfjs
 * ops (still fewer than the tape's).
 */
import * as tf from '@tensorflow/tfjs-core';
import { flatProgram, gpuKernelsAvailable, run } from '../../../model/gpu-kernels.js';

/** ln P floor (30 bits); exported for the fused ARM (arm-gpu.ts), which must floor alike */
export const LN_FLOOR = Math.log(1e-9);

// ---- tfjs-op versions (every backend) ----

function partsOps(q: tf.Tensor, mu: tf.Tensor, ls: tf.Tensor) {
  const d = tf.sub(q, mu);
  const a = tf.abs(d);
  const beta = tf.exp(tf.mul(ls, -Math.LN2));
  const eb = tf.exp(tf.neg(beta));
  const a1 = tf.maximum(a, 0.5);
  const lnTail = tf.add(tf.mul(tf.sub(a1, 0.5), tf.neg(beta)), tf.add(tf.log(tf.sub(1, eb)), Math.log(0.5)));
  const a2 = tf.minimum(a, 0.5);
  const e1 = tf.exp(tf.mul(tf.sub(a2, 0.5), beta));
  const e2 = tf.exp(tf.mul(tf.add(a2, 0.5), tf.neg(beta)));
  const p = tf.sub(1, tf.mul(tf.add(e1, e2), 0.5));
  const inner = tf.less(a, 0.5);
  const lnP = tf.where(inner, tf.log(tf.maximum(p, 1e-9)), lnTail);
  return { d, a, beta, eb, e1, e2, p, inner, lnP };
}

function bitsOps(q: tf.Tensor, mu: tf.Tensor, ls: tf.Tensor): tf.Tensor {
  return tf.mul(tf.maximum(partsOps(q, mu, ls).lnP, LN_FLOOR), -1 / Math.LN2);
}

/** [d bits/dq, d bits/dlog2b] (d bits/dμ = −d bits/dq) */
function gradOps(q: tf.Tensor, mu: tf.Tensor, ls: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const { d, a, beta, eb, e1, e2, p, inner, lnP } = partsOps(q, mu, ls);
  const live = tf.cast(tf.greater(lnP, LN_FLOOR), 'float32');
  const pc = tf.maximum(p, 1e-9);
  const dA = tf.where(inner, tf.div(tf.mul(tf.mul(beta, tf.sub(e1, e2)), -0.5), pc), tf.neg(beta));
  const dB = tf.where(
    inner,
    tf.div(tf.mul(tf.add(tf.mul(tf.sub(0.5, a), e1), tf.mul(tf.add(a, 0.5), e2)), 0.5), pc),
    tf.add(tf.neg(tf.sub(a, 0.5)), tf.div(eb, tf.sub(1, eb))),
  );
  const gq = tf.mul(tf.mul(dA, tf.sign(d)), tf.mul(live, -1 / Math.LN2));
  const gls = tf.mul(tf.mul(dB, beta), live);
  return [gq, gls];
}

// ---- WGSL versions (tfjs WebGPU) ----

/** `parts(q, mu, ls)` in WGSL; shared with arm-gpu.ts so both fused paths compute the same terms */
export const WGSL_PARTS = `
      struct Parts { a : f32, s : f32, beta : f32, eb : f32, e1 : f32, e2 : f32, p : f32, lnP : f32, inner : bool }
      fn parts(q : f32, mu : f32, ls : f32) -> Parts {
        var r : Parts;
        let d = q - mu;
        r.a = abs(d);
        r.s = sign(d);
        r.beta = exp(ls * ${-Math.LN2});
        r.eb = exp(-r.beta);
        let a2 = min(r.a, 0.5);
        r.e1 = exp((a2 - 0.5) * r.beta);
        r.e2 = exp(-((a2 + 0.5) * r.beta));
        r.p = 1.0 - (r.e1 + r.e2) * 0.5;
        r.inner = r.a < 0.5;
        let lnTail = (max(r.a, 0.5) - 0.5) * -r.beta + (log(1.0 - r.eb) + ${Math.log(0.5)});
        r.lnP = select(lnTail, log(max(r.p, 1e-9)), r.inner);
        return r;
      }`;

function wgsl(out: 'bits' | 'gq' | 'gls'): string {
  const body = {
    bits: `setOutputAtIndex(index, max(r.lnP, ${LN_FLOOR}) * ${-1 / Math.LN2});`,
    gq: `let live = f32(r.lnP > ${LN_FLOOR});
          let dA = select(-r.beta, (r.beta * (r.e1 - r.e2)) * -0.5 / max(r.p, 1e-9), r.inner);
          setOutputAtIndex(index, DY[index] * dA * r.s * live * ${-1 / Math.LN2});`,
    gls: `let live = f32(r.lnP > ${LN_FLOOR});
          let dB = select(-(r.a - 0.5) + r.eb / (1.0 - r.eb), ((0.5 - r.a) * r.e1 + (r.a + 0.5) * r.e2) * 0.5 / max(r.p, 1e-9), r.inner);
          setOutputAtIndex(index, DY[index] * dB * r.beta * live);`,
  }[out];
  return `${WGSL_PARTS}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let r = parts(Q[index], MU[index], LS[index]);
          ${body}
        }
      }`;
}

let fusedAllowed = true;
/** Turn the WGSL programs off (tests, A/B); on by default. */
export function setFusedRate(on: boolean): void {
  fusedAllowed = on;
}

const rateOp = tf.customGrad(((q: tf.Tensor, mu: tf.Tensor, ls: tf.Tensor, save: tf.GradSaveFunc) => {
  const gpu = fusedAllowed && gpuKernelsAvailable();
  const value = gpu ? run(flatProgram('nimg_pi_bits', ['Q', 'MU', 'LS'], q.shape.slice(), wgsl('bits')), [q, mu, ls]) : bitsOps(q, mu, ls);
  save([q, mu, ls]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sq, smu, sls] = saved;
      if (gpu) {
        const names = ['Q', 'MU', 'LS', 'DY'];
        const gq = run(flatProgram('nimg_pi_bits_gq', names, sq.shape.slice(), wgsl('gq')), [sq, smu, sls, dy]);
        const gls = run(flatProgram('nimg_pi_bits_gls', names, sq.shape.slice(), wgsl('gls')), [sq, smu, sls, dy]);
        return [gq, tf.neg(gq), gls];
      }
      const [gq0, gls0] = gradOps(sq, smu, sls);
      const gq = tf.mul(gq0, dy);
      return [gq, tf.neg(gq), tf.mul(gls0, dy)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

/** Per-element bits of q under Laplace(mu, 2^log2b); all three of one shape. In a tidy. */
export function laplaceBits(q: tf.Tensor, mu: tf.Tensor, log2b: tf.Tensor): tf.Tensor {
  return (rateOp as unknown as (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.Tensor)(q, mu, log2b);
}

/** The same in float64 on the CPU (tests). */
export function laplaceBitsScalar(q: number, mu: number, log2b: number): number {
  const b = 2 ** log2b;
  const a = Math.abs(q - mu);
  const p = a >= 0.5
    ? 0.5 * Math.exp(-(a - 0.5) / b) * -Math.expm1(-1 / b)
    : 1 - 0.5 * Math.exp(-(0.5 - a) / b) - 0.5 * Math.exp(-(0.5 + a) / b);
  return -Math.log2(Math.max(p, 1e-9));
}
