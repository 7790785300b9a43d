/**
 * The rate of the latents under the ARM's Laplace(μ, b): −log2 of the mass of the unit bin
 * [q − 0.5, q + 0.5], in bits, differentiable in q, μ and log2 b.
 *
 * With a = |q − μ|:
 *   a ≥ 0.5: P = ½·e^{−(a−0.5)/b}·(1 − e^{−1/b}), taken in the log domain, so the far tails
 *            (where P underflows float32) keep an exact, finite cost and slope;
 *   a < 0.5: P = 1 − ½·e^{−(0.5−a)/b} − ½·e^{−(0.5+a)/b}.
 * Each branch sees its argument clamped to its own side of 0.5 so the branch not taken can
 * produce no Inf/NaN (tf.where passes gradients of both). P is floored at 1e-9 (30 bits) like
 * the amortized profile's rate: the tables code such values with escapes anyway.
 */
import * as tf from '@tensorflow/tfjs-core';

const LN_FLOOR = Math.log(1e-9);

/** Per-element bits of q under Laplace(mu, 2^log2b). In a tidy. */
export function laplaceBits(q: tf.Tensor, mu: tf.Tensor, log2b: tf.Tensor): tf.Tensor {
  const a = tf.abs(tf.sub(q, mu));
  const invb = tf.exp(tf.mul(log2b, -Math.LN2));
  const a1 = tf.maximum(a, 0.5);
  const lnTail = tf.add(tf.mul(tf.sub(a1, 0.5), tf.neg(invb)), tf.add(tf.log(tf.sub(1, tf.exp(tf.neg(invb)))), Math.log(0.5)));
  const a2 = tf.minimum(a, 0.5);
  const pIn = tf.sub(1, tf.mul(tf.add(tf.exp(tf.mul(tf.sub(a2, 0.5), invb)), tf.exp(tf.mul(tf.add(a2, 0.5), tf.neg(invb)))), 0.5));
  const lnIn = tf.log(tf.maximum(pIn, 1e-9));
  const lnP = tf.maximum(tf.where(tf.less(a, 0.5), lnIn, lnTail), LN_FLOOR);
  return tf.mul(lnP, -1 / Math.LN2);
}

/** The same in float64 on the CPU (tests, and the exact-table estimates of quantize.ts). */
export function laplaceBitsScalar(q: number, mu: number, log2b: number): number {
  const b = 2 ** log2b;
  const a = Math.abs(q - mu);
  const p = a >= 0.5
    ? 0.5 * Math.exp(-(a - 0.5) / b) * -Math.expm1(-1 / b)
    : 1 - 0.5 * Math.exp(-(0.5 - a) / b) - 0.5 * Math.exp(-(0.5 + a) / b);
  return -Math.log2(Math.max(p, 1e-9));
}
