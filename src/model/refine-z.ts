/**
 * Joint refinement of the latent y and the hyper-latent z: the first phase of the `refine`
 * encode option (src/model/refine.ts holds the second, y alone, and the shared pieces).
 *
 * z picks every mean and scale through the integer h_s, so moving it changes what y costs
 * and how it reconstructs. The integer h_s has no gradient, so this phase differentiates a
 * float copy of it, the "surrogate": the same integer weights, biases and requantisation
 * multipliers, the same rounding and clamps in the forward pass, straight-through gradients
 * (the form h_s was trained in, train/model.py IntHyperSynthesis). z's code length is the
 * integer tables' own, linear between the two integers around a relaxed value.
 *
 * The surrogate's float arithmetic can differ from the integer h_s at exact rounding ties,
 * so nothing here decides the bitstream: this phase hands over integer z and a starting y;
 * the codec then derives means and scales from that z with the real integer h_s and runs
 * the y phase under them, which codes exactly what it chose.
 *
 * Measured in PyTorch on 6 Kodak images x 4 levels (train/refine.py, train/logs/refine/s6):
 * 150 steps, 2/3 of them joint then 1/3 on y alone, 10.8% less rate at equal PSNR than the
 * plain encoder, against 8.6% for 150 steps on y alone.
 *
 * Tiles: z cores of tile/4 cells with a halo of ZH cells; each window is refined as if it
 * were an image of its own (every y and z in it moves, the visible pixels of the window
 * count), and only the core's z and y are kept. h_s reaches about 1.5 z cells, so the core's
 * means and scales see their real neighbourhood. A tile keeps its result only if the
 * hard-rounded J of the window (z bits + y bits + distortion, surrogate means and scales)
 * goes down.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NimgError } from '../errors.js';
import { roundHalfEven } from '../core/reference.js';
import type { CoreModel } from '../core/types.js';
import type { JointInput, JointModel, JointResult } from './refine-types.js';

export type { JointInput, JointModel, JointResult } from './refine-types.js';
import { depthToSpace2, type PreparedNet } from './net.js';
import {
  DEFAULT_REFINE, DiffSynthesis, backpropFilter, cropWindow, progressCounter, schedule, spaceToDepth2,
  type RefineImage, type RefineSettings,
} from './refine.js';
import { adamFused, bitsOf, noiseKey, rateGradsFused, sgaFused } from './refine-ops.js';

/** |z| bound of the codec (the core's quantizeZ clamps to it). */
export const Z_CLAMP = 255;
/** z cells held around a z core (h_s's reach is 1.5 cells). */
const ZH = 2;
const ZVALUES = 2 * Z_CLAMP + 1;




/**
 * Code length in bits of every z value -Z_CLAMP..Z_CLAMP under each channel's table, as the
 * coder spends it: -log2(freq / 2^precision) inside the table; outside, the escape symbol
 * plus e's order-0 Exp-Golomb bits (assembly/rans.ts). [Nz * ZVALUES], channel-major.
 */
export function zCostTable(t: CoreModel['z'], Nz: number): Float32Array {
  const out = new Float32Array(Nz * ZVALUES);
  const top = 2 ** t.precision;
  for (let c = 0; c < Nz; c++) {
    const a = t.ptr[c];
    const n = t.ptr[c + 1] - a - 1;
    const lo = t.offset[c];
    const hi = lo + n - 2;
    const esc = -Math.log2((t.cdf[a + n] - t.cdf[a + n - 1]) / top);
    for (let v = -Z_CLAMP; v <= Z_CLAMP; v++) {
      let bits: number;
      if (v >= lo && v <= hi) bits = -Math.log2((t.cdf[a + v - lo + 1] - t.cdf[a + v - lo]) / top);
      else {
        const e = v < lo ? 2 * (lo - 1 - v) : 2 * (v - hi - 1) + 1;
        bits = esc + 2 * Math.floor(Math.log2(e + 1)) + 1;
      }
      out[c * ZVALUES + v + Z_CLAMP] = bits;
    }
  }
  return out;
}

interface SConv { w: tf.Tensor4D; wT: tf.Tensor4D; b: tf.Tensor1D; ratio: tf.Tensor1D }

/**
 * The integer h_s in float (NHWC), with its backward pass. Layers 0 and 1 have their output
 * channels reordered from PyTorch's pixel-shuffle order (c*4 + dy*2 + dx) to depthToSpace's
 * ((dy*2 + dx)*C + c), so net.ts's depthToSpace2 does the shuffle.
 */
export class HsSurrogate {
  private readonly layers: SConv[];
  private readonly all: tf.Tensor[] = [];
  private readonly M: number;
  private readonly meanDiv: number;
  private readonly maxIdx: number;
  private readonly logS0: number;
  private readonly logStep: number;

  constructor(model: JointModel) {
    const keep = <T extends tf.Tensor>(t: T): T => {
      this.all.push(t);
      return t;
    };
    if (model.hs.length !== 3 || model.hs[2].k !== 1 || model.hs[2].cout !== 2 * model.M) throw new NimgError('MODEL_MISMATCH', 'refine: h_s must be conv, conv, 1x1 conv to 2M');
    const S = model.numScales;
    if (!(model.scales.length === S && S >= 2)) throw new NimgError('MODEL_MISMATCH', 'refine: scale table size');
    this.M = model.M;
    this.meanDiv = 2 ** model.meanFracBits;
    this.maxIdx = S - 1;
    // the scale table is geometric (train/model.py scale_table): sigma(i) = s0 * step^i
    this.logS0 = Math.log(model.scales[0]);
    this.logStep = (Math.log(model.scales[S - 1]) - this.logS0) / (S - 1);
    this.layers = model.hs.map((L, li) => {
      const { cin, cout, k } = L;
      const C = cout / 4;
      // destination channel of source channel o
      const dst = (o: number): number => (li < 2 ? (o % 4) * C + Math.floor(o / 4) : o);
      const w = new Float32Array(k * k * cin * cout);
      const b = new Float32Array(cout);
      const ratio = new Float32Array(cout);
      for (let o = 0; o < cout; o++) {
        const d = dst(o);
        b[d] = L.b[o];
        ratio[d] = L.m[o] / 2 ** L.sh[o];
        for (let i = 0; i < cin; i++) {
          for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) w[((ky * k + kx) * cin + i) * cout + d] = L.w[((o * cin + i) * k + ky) * k + kx];
        }
      }
      const shape = [k, k, cin, cout] as const;
      return {
        w: keep(tf.tensor4d(w, [k, k, cin, cout])),
        wT: keep(tf.tensor4d(backpropFilter(w, shape), [k, k, cout, cin])),
        b: keep(tf.tensor1d(b)),
        ratio: keep(tf.tensor1d(ratio)),
      };
    });
  }

  /**
   * zh [1, hz, wz, Nz] → mean and scale [1, 4hz, 4wz, M]. `round` false drops the roundings
   * (a smooth function, for gradient checks). `saved` gets what backward needs. In a tidy.
   */
  forward(zh: tf.Tensor4D, round: boolean, saved?: tf.Tensor[]): { mu: tf.Tensor4D; sigma: tf.Tensor4D } {
    const rq = (v: tf.Tensor): tf.Tensor => (round ? tf.floor(tf.add(v, 0.5)) : v); // requant: round half up
    const inRange = (q: tf.Tensor, lo: number, hi: number): tf.Tensor => tf.cast(tf.logicalAnd(tf.greaterEqual(q, lo), tf.lessEqual(q, hi)), 'float32');
    let x: tf.Tensor4D = zh;
    for (let l = 0; l < 2; l++) {
      const L = this.layers[l];
      const q = rq(tf.mul(tf.add(tf.conv2d(x, L.w, 1, 'same'), L.b), L.ratio));
      saved?.push(inRange(q, 0, 255));
      x = depthToSpace2(tf.clipByValue(q, 0, 255) as tf.Tensor4D);
    }
    const L = this.layers[2];
    const v = tf.mul(tf.add(tf.conv2d(x, L.w, 1, 'same'), L.b), L.ratio) as tf.Tensor4D;
    const [n, hh, ww] = v.shape;
    const qm = rq(tf.slice(v, [0, 0, 0, 0], [n, hh, ww, this.M]));
    const qi = rq(tf.slice(v, [0, 0, 0, this.M], [n, hh, ww, this.M]));
    const mu = tf.div(tf.clipByValue(qm, -32768, 32767), this.meanDiv) as tf.Tensor4D;
    const sigma = tf.exp(tf.add(tf.mul(tf.clipByValue(qi, 0, this.maxIdx), this.logStep), this.logS0)) as tf.Tensor4D;
    saved?.push(inRange(qm, -32768, 32767), inRange(qi, 0, this.maxIdx), sigma);
    return { mu, sigma };
  }

  /** gradient w.r.t. zh from the gradients of mean and scale (straight through the roundings). In a tidy. */
  backward(gMu: tf.Tensor, gSigma: tf.Tensor, saved: tf.Tensor[]): tf.Tensor4D {
    const [mask0, mask1, maskMu, maskIdx, sigma] = saved;
    const gm = tf.mul(gMu, tf.div(maskMu, this.meanDiv));
    const gi = tf.mul(tf.mul(gSigma, sigma), tf.mul(maskIdx, this.logStep));
    let g = tf.conv2d(tf.mul(tf.concat([gm, gi], 3), this.layers[2].ratio) as tf.Tensor4D, this.layers[2].wT, 1, 'same');
    const masks = [mask0, mask1];
    for (let l = 1; l >= 0; l--) {
      const L = this.layers[l];
      g = tf.conv2d(tf.mul(tf.mul(spaceToDepth2(g), masks[l]), L.ratio) as tf.Tensor4D, L.wT, 1, 'same');
    }
    return g;
  }

  dispose(): void {
    for (const t of this.all) t.dispose();
  }
}

/** z code length of integer-valued z (NHWC, channels last) summed, and of a relaxed z with its slope. In a tidy. */
function zBits(table: tf.Tensor1D, chanOff: tf.Tensor, zh: tf.Tensor): { bits: tf.Tensor; slope: tf.Tensor } {
  const fl = tf.clipByValue(tf.floor(zh), -Z_CLAMP, Z_CLAMP - 1);
  const i0 = tf.cast(tf.reshape(tf.add(tf.add(fl, Z_CLAMP), chanOff), [-1]), 'int32');
  const c0 = tf.reshape(tf.gather(table, i0), zh.shape);
  const c1 = tf.reshape(tf.gather(table, tf.add(i0, tf.scalar(1, 'int32'))), zh.shape);
  const slope = tf.sub(c1, c0);
  return { bits: tf.sum(tf.add(c0, tf.mul(tf.sub(zh, fl), slope))), slope };
}

/**
 * Refine y and z of one image together (see the file comment). Runs on the active tfjs
 * backend (the caller activates it).
 * REQUIRES: every array has the documented size; h = 4hz, w = 4wz; iterations >= 1.
 */
export async function refineJoint(p: PreparedNet, model: JointModel, inp: JointInput, settings: Partial<RefineSettings> = {}): Promise<JointResult> {
  const st = { ...DEFAULT_REFINE, ...settings };
  const { M, Nz } = model;
  const { h, w, width, height } = inp;
  const hz = h / 4;
  const wz = w / 4;
  if (!(Number.isInteger(hz) && Number.isInteger(wz)) || inp.ys.length !== M * h * w || inp.z.length !== Nz * hz * wz
    || inp.x.length !== 3 * 256 * h * w || inp.gainDec.length !== M || p.arch.M !== M) {
    throw new NimgError('INTERNAL', 'refine: array sizes do not match the latent geometry');
  }
  if (!(Number.isInteger(inp.iterations) && inp.iterations >= 1)) throw new NimgError('INTERNAL', `refine: iterations ${inp.iterations}`);
  const yOut = Float32Array.from(inp.ys);
  // clamped as the core's quantizeZ clamps (NaN → 0); refined tiles write integers here, the
  // rest keeps h_a's values, rounded at the end exactly as the plain encoder rounds them
  const zOut = Float32Array.from(inp.z, (v) => (Number.isNaN(v) ? 0 : Math.min(Z_CLAMP, Math.max(-Z_CLAMP, v))));
  const Tz = Math.max(1, Math.floor(st.tile / 4));
  const lam = (inp.lambda * 255 * 255) / 3;
  const gs = new DiffSynthesis(p);
  const hs = new HsSurrogate(model);
  const gd = tf.tensor1d(inp.gainDec);
  const table = tf.tensor1d(zCostTable(model.z, Nz));
  const chanOff = tf.tensor4d(Float32Array.from({ length: Nz }, (_, c) => c * ZVALUES), [1, 1, 1, Nz]);
  const res = { tiles: 0, improved: 0, jBefore: 0, jAfter: 0 };
  const steps = progressCounter(Math.ceil(hz / Tz) * Math.ceil(wz / Tz) * inp.iterations, inp.onStep);
  try {
    for (let ty = 0; ty < hz; ty += Tz) {
      for (let tx = 0; tx < wz; tx += Tz) {
        const cy1 = Math.min(hz, ty + Tz);
        const cx1 = Math.min(wz, tx + Tz);
        // the core's own pixels: nothing to gain where they are all padding
        if (64 * ty >= height || 64 * tx >= width) {
          steps.skip(inp.iterations);
          continue;
        }
        res.tiles++;
        const wy0 = Math.max(0, ty - ZH);
        const wy1 = Math.min(hz, cy1 + ZH);
        const wx0 = Math.max(0, tx - ZH);
        const wx1 = Math.min(wz, cx1 + ZH);
        const hh = wy1 - wy0;
        const ww = wx1 - wx0;
        const visH = Math.min(height, 64 * wy1) - 64 * wy0;
        const visW = Math.min(width, 64 * wx1) - 64 * wx0;
        const pmask = new Float32Array(64 * hh * 64 * ww);
        for (let y = 0; y < visH; y++) pmask.fill(1, y * 64 * ww, y * 64 * ww + visW);
        const r = await jointTile(
          gs, hs, gd, table, chanOff, st, lam, visH * visW, inp.iterations, steps.step,
          cropWindow(yOut, M, h, w, 4 * wy0, 4 * wy1, 4 * wx0, 4 * wx1),
          cropWindow(zOut, Nz, hz, wz, wy0, wy1, wx0, wx1),
          cropWindow(inp.x, 3, 16 * h, 16 * w, 64 * wy0, 64 * wy1, 64 * wx0, 64 * wx1),
          [hh, ww, M, Nz], pmask,
        );
        res.jBefore += r.jBefore;
        res.jAfter += Math.min(r.jBefore, r.jAfter);
        if (!(r.jAfter < r.jBefore)) continue;
        res.improved++;
        for (let c = 0; c < Nz; c++) {
          for (let y = ty; y < cy1; y++) for (let x = tx; x < cx1; x++) zOut[(c * hz + y) * wz + x] = r.z[((y - wy0) * ww + (x - wx0)) * Nz + c];
        }
        const W4 = 4 * ww;
        for (let c = 0; c < M; c++) {
          for (let y = 4 * ty; y < 4 * cy1; y++) {
            for (let x = 4 * tx; x < 4 * cx1; x++) yOut[(c * h + y) * w + x] = r.y[((y - 4 * wy0) * W4 + (x - 4 * wx0)) * M + c];
          }
        }
      }
    }
  } finally {
    for (const t of [gd, table, chanOff]) t.dispose();
    gs.dispose();
    hs.dispose();
  }
  return { ys: yOut, z: Int32Array.from(zOut, roundHalfEven), ...res };
}

/** One window: Adam on all of its y and z, SGA rounding of both. */
async function jointTile(
  gs: DiffSynthesis, hs: HsSurrogate, gd: tf.Tensor1D, table: tf.Tensor1D, chanOff: tf.Tensor, st: RefineSettings,
  lam: number, npix: number, iters: number, onStep: () => void, y0: Float32Array, z0: Float32Array, x0: Float32Array,
  [hh, ww, M, Nz]: [number, number, number, number], pmask0: Float32Array,
): Promise<{ y: Float32Array; z: Float32Array; jBefore: number; jAfter: number }> {
  const held: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    held.push(t);
    return t;
  };
  // optimiser state, replaced each step: [y, m_y, s_y, z, m_z, s_z]
  let state: tf.Tensor[] = [];
  try {
    const target = keep(tf.tensor4d(x0, [1, 64 * hh, 64 * ww, 3]));
    const pmask = keep(tf.tensor4d(pmask0, [1, 64 * hh, 64 * ww, 1]));

    /** J per pixel of the window with hard-rounded z and y. */
    const hardJ = async (vy: tf.Tensor, vz: tf.Tensor): Promise<number> => {
      const j = tf.tidy(() => {
        const zi = tf.clipByValue(tf.round(vz), -Z_CLAMP, Z_CLAMP) as tf.Tensor4D;
        const { mu, sigma } = hs.forward(zi, true);
        const k = tf.round(tf.sub(vy, mu));
        const bits = tf.add(zBits(table, chanOff, zi).bits, tf.sum(bitsOf(k, sigma, false).bits));
        const xh = gs.forward(tf.mul(tf.add(k, mu), gd) as tf.Tensor4D);
        const sse = tf.sum(tf.mul(tf.squaredDifference(xh, target), pmask));
        return tf.div(tf.add(bits, tf.mul(sse, lam)), npix);
      });
      try {
        return (await j.data())[0];
      } finally {
        j.dispose();
      }
    };

    const v = tf.tensor4d(y0, [1, 4 * hh, 4 * ww, M]);
    const vz = tf.tensor4d(z0, [1, hh, ww, Nz]);
    state = [v, tf.zerosLike(v), tf.zerosLike(v), vz, tf.zerosLike(vz), tf.zerosLike(vz)];
    const before = await hardJ(v, vz);
    for (let t = 0; t < iters; t++) {
      const { lr, tau } = schedule(st, t, iters);
      const [y, my, sy, z, mz, sz] = state;
      const next = tf.tidy((): tf.Tensor[] => {
        // z's relaxed value, clamped to the coded range; dzr is zero where the clamp holds it
        const { rh: zr, dr: dzr } = sgaFused(z, null, tau, noiseKey(st.seed, 1, t), Z_CLAMP);
        const zh = zr as tf.Tensor4D;
        const { slope } = zBits(table, chanOff, zh);
        const saved: tf.Tensor[] = [];
        const { mu, sigma } = hs.forward(zh, true, saved);
        const { rh, dr } = sgaFused(y, mu, tau, noiseKey(st.seed, 0, t));
        const rate = rateGradsFused(rh, sigma, true) as { dr: tf.Tensor; dsigma: tf.Tensor };
        const gsSaved: tf.Tensor4D[] = [];
        const xh = gs.forward(tf.mul(tf.add(rh, mu), gd) as tf.Tensor4D, gsSaved);
        const gOut = tf.mul(tf.mul(tf.sub(xh, target), pmask), 2 * lam) as tf.Tensor4D;
        // dJ/d(rh + mu): the distortion's; y moves rh only, mu moves both rh (through y - mu) and rh + mu
        const gyh = tf.mul(gs.backward(gOut, gsSaved), gd);
        const gY = tf.mul(tf.add(rate.dr, gyh), dr);
        const gMu = tf.sub(gyh, gY);
        const gZ = tf.mul(tf.add(hs.backward(gMu, rate.dsigma, saved), slope), dzr);
        return [...adamFused(y, my, sy, gY, 1 / npix, lr, t + 1), ...adamFused(z, mz, sz, gZ, 1 / npix, lr, t + 1)];
      });
      for (const x of state) x.dispose();
      state = next;
      onStep();
      if (t % 8 === 7) await state[0].data();
    }
    const after = await hardJ(state[0], state[3]);
    const zi = tf.tidy(() => tf.clipByValue(tf.round(state[3]), -Z_CLAMP, Z_CLAMP));
    held.push(zi);
    const [yv, zv] = await Promise.all([state[0].data(), zi.data()]);
    if (!Number.isFinite(after)) return { y: y0, z: z0, jBefore: before, jAfter: Infinity };
    return { y: yv as Float32Array, z: zv as Float32Array, jBefore: before, jAfter: after };
  } finally {
    for (const t of [...held, ...state]) if (!t.isDisposed) t.dispose();
  }
}
