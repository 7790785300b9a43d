/**
 * The element-wise parts of a refinement step (src/model/refine.ts, refine-z.ts): SGA
 * rounding with its noise, the rate and its gradients, Adam. As tfjs ops (sgaRound, bitsOf,
 * rateGrads, adamStep) and, through the *Fused functions, as one WGSL program per output on
 * tfjs WebGPU (the tfjs ops elsewhere). Why: a joint step issued about 250 small
 * kernels, whose dispatch on the CPU (not the GPU's work) set its time, and these chains
 * were over half of them. Drawing the noise on the CPU (tf.randomUniform) also cost an upload
 * of a latent-sized tensor per step.
 *
 * The noise is a counter-based hash of (key, element index), the same u32 arithmetic in
 * WGSL and in JavaScript, so every backend draws the same noise for the same seed. The float
 * formulas are written in the same order as the tfjs ops, so both paths agree to float rounding; only the choice of integers depends on
 * them, never the decodability of the file.
 */
import * as tf from '@tensorflow/tfjs-core';
import { flatProgram, gpuKernelsAvailable, run } from './gpu-kernels.js';

let fusedAllowed = true;
/** Turn the fused programs off (true: back on) — for A/B benchmarks and tests; on by default. */
export function setFusedRefine(on: boolean): void {
  fusedAllowed = on;
}
const fused = (): boolean => fusedAllowed && gpuKernelsAvailable();

// ---- the tfjs versions (every backend; the reference for the fused programs) ----

/**
 * One Adam step (beta 0.9 / 0.999, eps 1e-8) at step tt >= 1: returns [v', m', s'].
 * Call inside a tidy.
 */
export function adamStep(v: tf.Tensor, m: tf.Tensor, s: tf.Tensor, g: tf.Tensor, lr: number, tt: number): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const b1 = 0.9;
  const b2 = 0.999;
  const m1 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
  const s1 = tf.add(tf.mul(s, b2), tf.mul(tf.square(g), 1 - b2));
  const step = tf.div(tf.mul(m1, lr / (1 - b1 ** tt)), tf.add(tf.sqrt(tf.mul(s1, 1 / (1 - b2 ** tt))), 1e-8));
  return [tf.sub(v, step), m1, s1];
}


/** The bin mass P of residual r under N(0, sigma) and its parts, shared by bitsOf and rateGrads (in a tidy). */
function binMass(r: tf.Tensor, sigma: tf.Tensor): { s: tf.Tensor; t1: tf.Tensor; t0: tf.Tensor; p: tf.Tensor; pc: tf.Tensor } {
  const a = tf.abs(r);
  const s = tf.mul(sigma, Math.SQRT2);
  const t1 = tf.div(tf.sub(0.5, a), s);
  const t0 = tf.div(tf.sub(-0.5, a), s);
  const p = tf.mul(tf.sub(tf.erf(t1), tf.erf(t0)), 0.5);
  return { s, t1, t0, p, pc: tf.maximum(p, 1e-9) };
}

/**
 * Per element: -log2 P(r) for a (relaxed or integer) residual r under N(0, sigma) with unit
 * bins, and its derivative d/dr when `withGrad`. P = (erf(t1) - erf(t0)) / 2 with
 * t1 = (0.5 - |r|) / (sigma sqrt 2), t0 = (-0.5 - |r|) / (sigma sqrt 2): both at most
 * 0.5 / (sigma sqrt 2), where float32 erf keeps its precision. Below P = 1e-9 (far tails,
 * which the tables code with escapes anyway) the cost is flat.
 */
export function bitsOf(r: tf.Tensor, sigma: tf.Tensor, withGrad: boolean): { bits: tf.Tensor; grad?: tf.Tensor } {
  const { s, t1, t0, p, pc } = binMass(r, sigma);
  const bits = tf.mul(tf.log(pc), -1 / Math.LN2);
  if (!withGrad) return { bits };
  // dP/d|r| = -(exp(-t1^2) - exp(-t0^2)) / (s sqrt(pi)); d bits = -dP / (P ln 2)
  const dp = tf.div(tf.sub(tf.exp(tf.neg(tf.square(t1))), tf.exp(tf.neg(tf.square(t0)))), tf.mul(s, -Math.sqrt(Math.PI)));
  const live = tf.cast(tf.greater(p, 1e-9), 'float32');
  const grad = tf.mul(tf.mul(tf.div(dp, tf.mul(pc, -Math.LN2)), tf.sign(r)), live);
  return { bits, grad };
}

/**
 * d bits / d r and d bits / d sigma of bitsOf (the joint y+z phase moves sigma through h_s).
 * With s = sigma sqrt 2, dt/dsigma = -t/sigma, so
 * dP/dsigma = -(t1 exp(-t1^2) - t0 exp(-t0^2)) / (sigma sqrt(pi)); d bits = -dP / (P ln 2).
 */
export function rateGrads(r: tf.Tensor, sigma: tf.Tensor): { dr: tf.Tensor; dsigma: tf.Tensor } {
  const { s, t1, t0, p, pc } = binMass(r, sigma);
  const e1 = tf.exp(tf.neg(tf.square(t1)));
  const e0 = tf.exp(tf.neg(tf.square(t0)));
  // d bits / dP, zero where the cost is flat
  const dbdp = tf.mul(tf.div(tf.cast(tf.greater(p, 1e-9), 'float32'), pc), -1 / Math.LN2);
  const dpda = tf.div(tf.sub(e1, e0), tf.mul(s, -Math.sqrt(Math.PI)));
  const dpds = tf.div(tf.sub(tf.mul(t1, e1), tf.mul(t0, e0)), tf.mul(sigma, -Math.sqrt(Math.PI)));
  return { dr: tf.mul(tf.mul(dbdp, dpda), tf.sign(r)), dsigma: tf.mul(dbdp, dpds) };
}

/**
 * SGA: floor(r) + a relaxed Bernoulli between floor and ceil, q = sigmoid(logit) with
 * logit = (atanh(d) - atanh(1 - d)) / tau + logistic noise, d = r - floor(r) (the two-way
 * Gumbel-softmax: the difference of two Gumbels is logistic). tau → 0 makes it hard
 * rounding. Returns the relaxed value and d(value)/dr (floor passes no gradient).
 */
export function sgaRound(r: tf.Tensor, tau: number, u: tf.Tensor): { rh: tf.Tensor; dr: tf.Tensor } {
  const fl = tf.floor(r);
  const d = tf.clipByValue(tf.sub(r, fl), 1e-6, 1 - 1e-6);
  const e = tf.sub(1, d);
  const logit = tf.add(tf.div(tf.sub(tf.atanh(d), tf.atanh(e)), tau), tf.log(tf.div(u, tf.sub(1, u))));
  const q = tf.sigmoid(logit);
  // d logit / dr = (1 / (1 - d^2) + 1 / (1 - e^2)) / tau
  const dl = tf.div(tf.add(tf.reciprocal(tf.sub(1, tf.square(d))), tf.reciprocal(tf.sub(1, tf.square(e)))), tau);
  return { rh: tf.add(fl, q), dr: tf.mul(tf.mul(q, tf.sub(1, q)), dl) };
}

// ---- the noise ----

/** murmur3's 32-bit finaliser: a bijection on u32 that mixes every input bit into every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Key of one noise draw: `stream` tells apart draws of the same step (0: y, 1: z). */
export function noiseKey(seed: number, stream: number, step: number): number {
  return fmix32((fmix32(seed >>> 0) + Math.imul(stream, 0x27d4eb2f) + Math.imul(step, 0x165667b1)) >>> 0);
}

/** Element i of draw `key`, as a u32. */
function noiseBits(key: number, i: number): number {
  return fmix32((fmix32((Math.imul(i, 0x9e3779b1) ^ key) >>> 0) + key) >>> 0);
}

/**
 * The uniform noise of draw `key` for n elements (what the WGSL `noiseU` computes): the top 23
 * bits of each u32, + 1/2, over 2^23, so in (0, 1), never 0 or 1.
 */
export function noiseUniform(n: number, key: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((noiseBits(key, i) >>> 9) + 0.5) / 8388608;
  return out;
}

/** WGSL of the counter noise: noiseU(i) is element i of draw uniforms.key (as noiseUniform). */
export const WGSL_NOISE = `
      fn fmix32(x0 : u32) -> u32 {
        var h = x0;
        h = h ^ (h >> 16u);
        h = h * 0x85ebca6bu;
        h = h ^ (h >> 13u);
        h = h * 0xc2b2ae35u;
        h = h ^ (h >> 16u);
        return h;
      }
      fn noiseU(i : u32) -> f32 {
        let b = fmix32(fmix32((i * 0x9e3779b1u) ^ uniforms.key) + uniforms.key);
        return (f32(b >> 9u) + 0.5) / 8388608.0;
      }`;

/** The noise of draw `key` as a tensor: on WebGPU drawn on the device, elsewhere uploaded from noiseUniform. */
export function noiseFused(shape: number[], key: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (!fused()) return tf.tensor(noiseUniform(n, key), shape);
  const code = `${WGSL_NOISE}
      fn main(index : i32) {
        if (index < uniforms.size) { setOutputAtIndex(index, noiseU(u32(index))); }
      }`;
  return run(flatProgram('nimg_noise', [], shape.slice(), code, 'key : u32, '), [], 'float32', [{ type: 'uint32', data: [key] }]);
}

/**
 * SGA rounding of r = x - sub (sub may be null): the relaxed value rh and d rh / dr (see
 * sgaRound). With `clamp` (z): the value is clamped to [-clamp, clamp] and the
 * derivative is zero where |rh| > clamp. In a tidy.
 */
export function sgaFused(x: tf.Tensor, sub: tf.Tensor | null, tau: number, key: number, clamp = 0): { rh: tf.Tensor; dr: tf.Tensor } {
  if (!fused()) {
    const r = sub ? tf.sub(x, sub) : x;
    const { rh, dr } = sgaRound(r, tau, noiseFused(x.shape, key));
    if (!clamp) return { rh, dr };
    const inside = tf.cast(tf.lessEqual(tf.abs(rh), clamp), 'float32');
    return { rh: tf.clipByValue(rh, -clamp, clamp), dr: tf.mul(dr, inside) };
  }
  const body = (out: 'v' | 'd') => `${WGSL_NOISE}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let r = X[index]${sub ? ' - S[index]' : ''};
          let fl = floor(r);
          let d = clamp(r - fl, 1e-6, 1.0 - 1e-6);
          let e = 1.0 - d;
          let u = noiseU(u32(index));
          let logit = (atanh(d) - atanh(e)) / uniforms.tau + log(u / (1.0 - u));
          let q = 1.0 / (1.0 + exp(-logit));
          let rh = fl + q;
          ${out === 'v'
            ? `setOutputAtIndex(index, ${clamp ? `clamp(rh, ${-clamp}.0, ${clamp}.0)` : 'rh'});`
            : `let dl = (1.0 / (1.0 - d * d) + 1.0 / (1.0 - e * e)) / uniforms.tau;
          setOutputAtIndex(index, q * (1.0 - q) * dl${clamp ? ` * f32(abs(rh) <= ${clamp}.0)` : ''});`}
        }
      }`;
  const names = sub ? ['X', 'S'] : ['X'];
  const inputs = sub ? [x, sub] : [x];
  const uni = [{ type: 'float32' as const, data: [tau] }, { type: 'uint32' as const, data: [key] }];
  const tag = `${sub ? 's' : 'x'}${clamp}`;
  return {
    rh: run(flatProgram(`nimg_sga_v_${tag}`, names, x.shape.slice(), body('v'), 'tau : f32, key : u32, '), inputs, 'float32', uni),
    dr: run(flatProgram(`nimg_sga_d_${tag}`, names, x.shape.slice(), body('d'), 'tau : f32, key : u32, '), inputs, 'float32', uni),
  };
}

// Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7), the approximation tfjs's own
// erf kernels use, so the fused and the tfjs rate gradients agree
const WGSL_RATE = `
      fn erfAS(v : f32) -> f32 {
        let a = abs(v);
        let t = 1.0 / (1.0 + 0.3275911 * a);
        let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
        return sign(v) * y;
      }`;

/**
 * d bits / dr and d bits / dsigma of the Gaussian bin cost (rateGrads), one
 * program each; `withSigma` false skips the second. In a tidy.
 */
export function rateGradsFused(r: tf.Tensor, sigma: tf.Tensor, withSigma: boolean): { dr: tf.Tensor; dsigma?: tf.Tensor } {
  if (!fused()) return rateGrads(r, sigma);
  const body = (out: 'r' | 's') => `${WGSL_RATE}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let v = R[index];
          let sg = G[index];
          let a = abs(v);
          let s = sg * ${Math.SQRT2};
          let t1 = (0.5 - a) / s;
          let t0 = (-0.5 - a) / s;
          let p = (erfAS(t1) - erfAS(t0)) * 0.5;
          let pc = max(p, 1e-9);
          let dbdp = f32(p > 1e-9) / pc * ${-1 / Math.LN2};
          let e1 = exp(-(t1 * t1));
          let e0 = exp(-(t0 * t0));
          ${out === 'r'
            ? `setOutputAtIndex(index, dbdp * ((e1 - e0) / (s * ${-Math.sqrt(Math.PI)})) * sign(v));`
            : `setOutputAtIndex(index, dbdp * ((t1 * e1 - t0 * e0) / (sg * ${-Math.sqrt(Math.PI)})));`}
        }
      }`;
  const dr = run(flatProgram('nimg_rate_dr', ['R', 'G'], r.shape.slice(), body('r')), [r, sigma]);
  if (!withSigma) return { dr };
  return { dr, dsigma: run(flatProgram('nimg_rate_ds', ['R', 'G'], r.shape.slice(), body('s')), [r, sigma]) };
}

/**
 * One Adam step (beta 0.9 / 0.999, eps 1e-8) at step tt >= 1 on the gradient g * gScale:
 * [v', m', s'] (adamStep). In a tidy.
 */
export function adamFused(
  v: tf.Tensor, m: tf.Tensor, s: tf.Tensor, g: tf.Tensor, gScale: number, lr: number, tt: number,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (!fused()) return adamStep(v, m, s, gScale === 1 ? g : tf.mul(g, gScale), lr, tt);
  // every program reads every input: WebGPU's automatic layout drops unused bindings, and
  // tfjs binds all of them
  const body = (out: 'v' | 'm' | 's') => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let g = G[index] * uniforms.gs;
          let m1 = M[index] * 0.9 + g * ${1 - 0.9};
          let s1 = S[index] * 0.999 + (g * g) * ${1 - 0.999};
          let v1 = V[index] - (m1 * uniforms.c1) / (sqrt(s1 * uniforms.c2) + 1e-8);
          setOutputAtIndex(index, ${out}1);
        }
      }`;
  const uni = [{ type: 'float32' as const, data: [gScale] }, { type: 'float32' as const, data: [lr / (1 - 0.9 ** tt)] }, { type: 'float32' as const, data: [1 / (1 - 0.999 ** tt)] }];
  const U = 'gs : f32, c1 : f32, c2 : f32, ';
  const names = ['V', 'M', 'S', 'G'];
  const inputs = [v, m, s, g];
  return (['v', 'm', 's'] as const).map((o) => run(flatProgram(`nimg_adam_${o}`, names, v.shape.slice(), body(o), U), inputs, 'float32', uni)) as [tf.Tensor, tf.Tensor, tf.Tensor];
}
