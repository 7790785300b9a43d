/**
 * Encoder-side latent refinement (the `refine` encode option).
 *
 * The decoder is fixed, but the encoder may send any integer latent. g_a's output is a good
 * guess, not the best latent for this image: gradient steps on
 *     J = bits(y) + lambda * 255^2 * SSE(g_s(yhat), x)          (per pixel)
 * with z, and so every mean and scale from the integer h_s, held fixed, find a latent that
 * costs less at the same distortion (Campos et al. 2019, "Content adaptive optimization";
 * the rounding is relaxed with Yang, Bamler and Mandt's 2020 annealed stochastic rounding,
 * SGA). Measured in PyTorch on Kodak (train/refine.py): 8-10% less rate at equal PSNR for
 * 100-1000 steps. The bitstream and the decoder do not change. This is the second phase of
 * the `refine` option; the first moves z as well (src/model/refine-z.ts).
 *
 * Only the choice of integers depends on float arithmetic here, so results may differ by
 * backend, but every file stays exactly decodable. Each tile keeps its refined integers only
 * if they lower J (hard-rounded, measured here) below g_a's: refinement never makes a tile
 * worse by this measure.
 *
 * Large images are refined tile by tile (block coordinate descent): a core of T x T latents
 * moves, a halo of HALO latents around it is held fixed, and the distortion counts the
 * pixels the core can reach (g_s's receptive field is under 2 latents each side).
 */
import * as tf from '@tensorflow/tfjs-core';
import { NimgError } from '../errors.js';
import { depthToSpace2, type ConvLayer, type GdnLayer, type PreparedNet } from './net.js';
import type { RefineImage, RefineInput, RefineResult, RefineSettings } from './refine-types.js';

export type { RefineImage, RefineInput, RefineResult, RefineSettings } from './refine-types.js';
import { adamFused, bitsOf, noiseKey, rateGradsFused, sgaFused } from './refine-ops.js';

// the element-wise operations live in refine-ops.ts (tfjs ops, or fused WGSL on WebGPU)
export { adamStep, bitsOf, rateGrads, sgaRound } from './refine-ops.js';

export const DEFAULT_REFINE: Readonly<RefineSettings> = Object.freeze({ tile: 32, lr: 0.02, anneal: 3, seed: 1 });


/** g_s's reach in latents each side (3x3 at 1x, 2x, 4x, 8x: 1 + 1/2 + 1/4 + 1/8 < 2). */
const REACH = 2;
/** latents held fixed around a core: the pixels the core reaches need REACH more. */
const HALO = 2 * REACH;

interface DiffConv { w: tf.Tensor4D; wT: tf.Tensor4D; b: tf.Tensor1D }
interface DiffGdn { g: tf.Tensor4D; gT: tf.Tensor4D; beta: tf.Tensor1D }

/** [kh, kw, in, out] → the filter of the input gradient of a stride-1 'same' conv: [kh, kw, out, in], rotated 180°. */
export function backpropFilter(w: Float32Array, shape: readonly number[]): Float32Array {
  const [kh, kw, inC, out] = shape;
  const r = new Float32Array(w.length);
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      const src = ((kh - 1 - ky) * kw + (kw - 1 - kx)) * inC * out;
      const dst = (ky * kw + kx) * out * inC;
      for (let i = 0; i < inC; i++) for (let o = 0; o < out; o++) r[dst + o * inC + i] = w[src + i * out + o];
    }
  }
  return r;
}

/**
 * g_s forward with its intermediates kept, and the backward pass to its input written out
 * by hand (tfjs-core's Node build registers no gradients, and a tape would keep more).
 * Layer l: a = conv_l(x) (4C channels), d = depthToSpace(a), and for l < 3 the IGDN
 * x' = d * sqrt(n), n = beta + Gamma d^2 (1x1 conv). Backward of the IGDN:
 * dd = dx' * sqrt(n) + d * Gamma^T (dx' * d / sqrt(n)). A stride-1 'same' conv's input
 * gradient is a conv with the rotated, transposed filter; depthToSpace's is spaceToDepth.
 */
export class DiffSynthesis {
  private readonly convs: DiffConv[];
  private readonly gdns: DiffGdn[];
  private readonly all: tf.Tensor[] = [];

  constructor(p: PreparedNet) {
    const keep = <T extends tf.Tensor>(t: T): T => {
      this.all.push(t);
      return t;
    };
    this.convs = p.gs.convs.map((c: ConvLayer) => {
      if (c.stride !== 1 || c.shape[0] !== c.shape[1] || c.shape[0] % 2 !== 1) throw new NimgError('MODEL_MISMATCH', 'refine: g_s convs must be odd, square, stride 1');
      return {
        w: keep(tf.tensor4d(c.w, c.shape)),
        wT: keep(tf.tensor4d(backpropFilter(c.w, c.shape), [c.shape[0], c.shape[1], c.shape[3], c.shape[2]])),
        b: keep(tf.tensor1d(c.b)),
      };
    });
    this.gdns = p.gs.igdns.map((g: GdnLayer) => ({
      g: keep(tf.tensor4d(g.gamma, [1, 1, g.C, g.C])),
      gT: keep(tf.tensor4d(backpropFilter(g.gamma, [1, 1, g.C, g.C]), [1, 1, g.C, g.C])),
      beta: keep(tf.tensor1d(g.beta)),
    }));
  }

  /** [1, h, w, M] → [1, 16h, 16w, 3]; `saved` gets what backward needs (call inside a tidy). */
  forward(y: tf.Tensor4D, saved?: tf.Tensor4D[]): tf.Tensor4D {
    let x = y;
    for (let l = 0; l < 4; l++) {
      const c = this.convs[l];
      const d = depthToSpace2(tf.fused.conv2d({ x, filter: c.w, strides: 1, pad: 'same', bias: c.b }));
      if (l === 3) return d;
      const g = this.gdns[l];
      const r = tf.sqrt(tf.fused.conv2d({ x: tf.square(d), filter: g.g, strides: 1, pad: 'valid', bias: g.beta }));
      saved?.push(d, r);
      x = tf.mul(d, r) as tf.Tensor4D;
    }
    return x;
  }

  /** gradient w.r.t. the input of forward() from the output's gradient (inside a tidy). */
  backward(gOut: tf.Tensor4D, saved: tf.Tensor4D[]): tf.Tensor4D {
    let g = gOut;
    for (let l = 3; l >= 0; l--) {
      if (l < 3) {
        const d = saved[2 * l];
        const r = saved[2 * l + 1];
        const inner = tf.conv2d(tf.div(tf.mul(g, d), r) as tf.Tensor4D, this.gdns[l].gT, 1, 'valid');
        g = tf.add(tf.mul(g, r), tf.mul(d, inner)) as tf.Tensor4D;
      }
      g = tf.conv2d(spaceToDepth2(g), this.convs[l].wT, 1, 'same');
    }
    return g;
  }

  dispose(): void {
    for (const t of this.all) t.dispose();
  }
}

/** the inverse of net.ts's depthToSpace2 (and so its gradient); call inside a tidy */
export function spaceToDepth2(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h2, w2, C] = x.shape;
  const h = h2 / 2;
  const w = w2 / 2;
  return tf.reshape(tf.transpose(tf.reshape(x, [n * h, 2, w, 2 * C]), [0, 2, 1, 3]), [n, h, w, 4 * C]);
}

/**
 * Counts the gradient steps of one refinement for RefineImage.onStep; `step` after each
 * step, `skip(n)` for a tile's steps that need not run.
 */
export function progressCounter(total: number, report?: (done: number, total: number) => void): { step: () => void; skip: (n: number) => void } {
  let done = 0;
  const add = (n: number) => {
    done += n;
    report?.(done, total);
  };
  return { step: () => add(1), skip: add };
}

/** The cosine learning rate and the SGA temperature at step t of iters (both phases share them). */
export function schedule(st: RefineSettings, t: number, iters: number): { lr: number; tau: number } {
  return {
    lr: st.lr * 0.5 * (1 + Math.cos((Math.PI * t) / iters)),
    tau: Math.max(0.5 * Math.exp((-st.anneal * t) / iters), 1e-3),
  };
}

/** NHWC window [y0, y1) x [x0, x1) of a planar [C, h, w] array. */
export function cropWindow(src: Float32Array, C: number, h: number, w: number, y0: number, y1: number, x0: number, x1: number): Float32Array {
  const hh = y1 - y0;
  const ww = x1 - x0;
  const out = new Float32Array(hh * ww * C);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < hh; y++) {
      const s = c * h * w + (y0 + y) * w + x0;
      for (let x = 0; x < ww; x++) out[(y * ww + x) * C + c] = src[s + x];
    }
  }
  return out;
}

/**
 * Refine the latent of one image. Runs on the active tfjs backend (the caller activates it).
 * REQUIRES: every array has the documented size; iterations >= 1; x in [0, 1].
 */
export async function refineLatent(p: PreparedNet, inp: RefineInput, settings: Partial<RefineSettings> = {}): Promise<RefineResult> {
  const st = { ...DEFAULT_REFINE, ...settings };
  const M = p.arch.M;
  const { h, w, width, height } = inp;
  const H = 16 * h;
  const W = 16 * w;
  if (inp.ys.length !== M * h * w || inp.mu.length !== M * h * w || inp.sigma.length !== M * h * w || inp.x.length !== 3 * H * W || inp.gainDec.length !== M) {
    throw new NimgError('INTERNAL', 'refine: array sizes do not match the latent geometry');
  }
  if (!(Number.isInteger(inp.iterations) && inp.iterations >= 1)) throw new NimgError('INTERNAL', `refine: iterations ${inp.iterations}`);
  const out = Float32Array.from(inp.ys);
  const gs = new DiffSynthesis(p);
  const gd = tf.tensor1d(inp.gainDec);
  const T = Math.max(1, Math.floor(st.tile));
  // training scores MSE per colour sample: lambda * 255^2 * SSE / (3 * pixels)
  const lam = (inp.lambda * 255 * 255) / 3;
  let tiles = 0;
  let improved = 0;
  let jBefore = 0;
  let jAfter = 0;
  const steps = progressCounter(Math.ceil(h / T) * Math.ceil(w / T) * inp.iterations, inp.onStep);
  try {
    for (let ty = 0; ty < h; ty += T) {
      for (let tx = 0; tx < w; tx += T) {
        tiles++;
        const cy1 = Math.min(h, ty + T);
        const cx1 = Math.min(w, tx + T);
        // latent window (core + fixed halo) and the pixel region the core reaches
        const wy0 = Math.max(0, ty - HALO);
        const wy1 = Math.min(h, cy1 + HALO);
        const wx0 = Math.max(0, tx - HALO);
        const wx1 = Math.min(w, cx1 + HALO);
        const py0 = 16 * Math.max(0, ty - REACH);
        const py1 = Math.min(height, 16 * Math.min(h, cy1 + REACH));
        const px0 = 16 * Math.max(0, tx - REACH);
        const px1 = Math.min(width, 16 * Math.min(w, cx1 + REACH));
        if (py1 <= py0 || px1 <= px0) {
          steps.skip(inp.iterations);
          continue; // the core reaches only padding: nothing to gain
        }
        const hh = wy1 - wy0;
        const ww = wx1 - wx0;
        const npix = (py1 - py0) * (px1 - px0);
        const mask = new Float32Array(hh * ww);
        for (let y = ty; y < cy1; y++) for (let x = tx; x < cx1; x++) mask[(y - wy0) * ww + (x - wx0)] = 1;
        const pmask = new Float32Array(16 * hh * 16 * ww);
        for (let y = py0; y < py1; y++) pmask.fill(1, (y - 16 * wy0) * 16 * ww + (px0 - 16 * wx0), (y - 16 * wy0) * 16 * ww + (px1 - 16 * wx0));
        const r = await refineTile(
          gs, gd, st, lam, npix, inp.iterations, steps.step,
          // tiles are disjoint, so `out` still holds g_a's latent in this core, and the tiles
          // refined so far around it
          cropWindow(out, M, h, w, wy0, wy1, wx0, wx1),
          cropWindow(inp.mu, M, h, w, wy0, wy1, wx0, wx1),
          cropWindow(inp.sigma, M, h, w, wy0, wy1, wx0, wx1),
          cropWindow(inp.x, 3, H, W, 16 * wy0, 16 * wy1, 16 * wx0, 16 * wx1),
          [hh, ww, M], mask, pmask,
        );
        jBefore += r.jBefore;
        jAfter += Math.min(r.jBefore, r.jAfter);
        if (r.jAfter < r.jBefore) {
          improved++;
          for (let c = 0; c < M; c++) {
            for (let y = ty; y < cy1; y++) {
              for (let x = tx; x < cx1; x++) {
                const i = c * h * w + y * w + x;
                out[i] = inp.mu[i] + r.k[((y - wy0) * ww + (x - wx0)) * M + c];
              }
            }
          }
        }
      }
    }
  } finally {
    gs.dispose();
    gd.dispose();
  }
  return { ys: out, tiles, improved, jBefore, jAfter };
}

/** One tile: Adam on the window latent (steps masked to the core), SGA rounding. */
async function refineTile(
  gs: DiffSynthesis, gd: tf.Tensor1D, st: RefineSettings, lam: number, npix: number, iters: number, onStep: () => void,
  start: Float32Array, mu0: Float32Array, sig0: Float32Array, x0: Float32Array,
  [hh, ww, M]: [number, number, number], mask0: Float32Array, pmask0: Float32Array,
): Promise<{ k: Float32Array; jBefore: number; jAfter: number }> {
  const held: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    held.push(t);
    return t;
  };
  // the optimiser state, replaced each step (disposed in `finally` whatever happens)
  let v: tf.Tensor4D | null = null;
  let m: tf.Tensor | null = null;
  let s: tf.Tensor | null = null;
  try {
    const mu = keep(tf.tensor4d(mu0, [1, hh, ww, M]));
    const sigma = keep(tf.tensor4d(sig0, [1, hh, ww, M]));
    const target = keep(tf.tensor4d(x0, [1, 16 * hh, 16 * ww, 3]));
    const mask = keep(tf.tensor4d(mask0, [1, hh, ww, 1]));
    const pmask = keep(tf.tensor4d(pmask0, [1, 16 * hh, 16 * ww, 1]));

    /** J per pixel of the region with integer residuals k = round(v - mu), and k. */
    const hardJ = async (vv: tf.Tensor4D): Promise<{ j: number; k: Float32Array }> => {
      const [j, k] = tf.tidy(() => {
        const kk = tf.round(tf.sub(vv, mu)) as tf.Tensor4D;
        const bits = tf.sum(tf.mul(bitsOf(kk, sigma, false).bits, mask));
        const xh = gs.forward(tf.mul(tf.add(kk, mu), gd) as tf.Tensor4D);
        const sse = tf.sum(tf.mul(tf.squaredDifference(xh, target), pmask));
        return [tf.div(tf.add(bits, tf.mul(sse, lam)), npix), kk];
      });
      try {
        const [jv, kv] = await Promise.all([j.data(), k.data()]);
        return { j: jv[0], k: kv as Float32Array };
      } finally {
        j.dispose();
        k.dispose();
      }
    };

    v = tf.tensor4d(start, [1, hh, ww, M]);
    const before = await hardJ(v);
    m = tf.zerosLike(v);
    s = tf.zerosLike(v);
    for (let t = 0; t < iters; t++) {
      const { lr, tau } = schedule(st, t, iters);
      const v0: tf.Tensor4D = v;
      const m0: tf.Tensor = m;
      const s0: tf.Tensor = s;
      const [nv, nm, ns] = tf.tidy((): tf.Tensor[] => {
        const { rh, dr } = sgaFused(v0, mu, tau, noiseKey(st.seed, 0, t));
        const rate = rateGradsFused(rh, sigma, false).dr;
        const saved: tf.Tensor4D[] = [];
        const xh = gs.forward(tf.mul(tf.add(rh, mu), gd) as tf.Tensor4D, saved);
        const gOut = tf.mul(tf.mul(tf.sub(xh, target), pmask), 2 * lam) as tf.Tensor4D;
        const dist = tf.mul(gs.backward(gOut, saved), gd);
        const g = tf.mul(tf.mul(tf.add(tf.mul(rate, mask), dist), dr), mask);
        return adamFused(v0, m0, s0, g, 1 / npix, lr, t + 1);
      });
      v0.dispose();
      m0.dispose();
      s0.dispose();
      v = nv as tf.Tensor4D;
      m = nm;
      s = ns;
      onStep();
      // let the backend flush (and the page breathe) every few steps
      if (t % 8 === 7) await v.data();
    }
    const after = await hardJ(v);
    if (!Number.isFinite(after.j)) return { k: before.k, jBefore: before.j, jAfter: Infinity };
    return { k: after.k, jBefore: before.j, jAfter: after.j };
  } finally {
    for (const t of [...held, v, m, s]) if (t && !t.isDisposed) t.dispose();
  }
}
