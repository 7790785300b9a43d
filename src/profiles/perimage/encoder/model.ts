/**
 * The trainable state of a per-image encode: where every parameter lives, how the latent
 * grids are packed, and the initial values.
 *
 * Two tensors hold everything, so one optimiser step is a few fused programs rather than one
 * chain per small tensor (tfjs dispatch, not arithmetic, sets the step time of a network
 * this small):
 *   theta   all network parameters, flat, in SPEC §2 tensor order (ARM W, b per layer, the
 *           4 up-sampling taps, synthesis W, b per layer), float values (ARM weights in
 *           plain units, i.e. Q8 integer / 256);
 *   canvas  all L latent grids packed into one [Hc, Wc] plane with zero gaps of GAP rows /
 *           columns between them, so the ARM's causal context of every grid is ONE
 *           convolution over the canvas (gaps and padding read as 0, as SPEC §1 asks for
 *           positions outside a grid).
 */
import { tensorSizes, gridSize, type PerImageArch } from '../types.js';

/** gap between packed grids: the ARM context reaches 4 rows up and 4 columns either side */
export const GAP = 4;

/** bicubic (a = -0.75) taps of SPEC §1 up2: the initial value of the learnt taps */
export const BICUBIC_TAPS: readonly number[] = [-0.03515625, 0.26171875, 0.87890625, -0.10546875];

export interface GridPlace {
  /** top-left corner of grid k in the canvas */
  y: number;
  x: number;
  h: number;
  w: number;
}

export interface Layout {
  arch: PerImageArch;
  width: number;
  height: number;
  /** canvas size */
  Hc: number;
  Wc: number;
  grids: GridPlace[];
  /** element count and start in theta of every tensor, SPEC §2 order */
  sizes: number[];
  offsets: number[];
  /** total parameters */
  nTheta: number;
  /** index of the taps tensor and of the first synthesis tensor */
  tapsIndex: number;
  synthIndex: number;
  /** the file's scale set (container flag FINE_SCALES) and the lowest log2 b it codes */
  fineScales: boolean;
  log2bMin: number;
}

/** lowest log2 b of the base scale set and of the full one (SPEC §1 "Table choice") */
export const LOG2B_MIN_BASE = -3;
export const LOG2B_MIN_FINE = -5;

/** Pack the grids of a width x height image: grid 0 on the left, grids 1.. stacked to its right. */
export function makeLayout(arch: PerImageArch, width: number, height: number, fineScales = false): Layout {
  const grids: GridPlace[] = [];
  const g0 = gridSize(width, height, 0);
  grids.push({ y: 0, x: 0, h: g0.h, w: g0.w });
  let Hc = g0.h;
  let Wc = g0.w;
  if (arch.L > 1) {
    const x1 = g0.w + GAP;
    let y = 0;
    for (let k = 1; k < arch.L; k++) {
      const g = gridSize(width, height, k);
      grids.push({ y, x: x1, h: g.h, w: g.w });
      y += g.h + GAP;
    }
    Hc = Math.max(Hc, y - GAP);
    Wc = x1 + grids[1].w;
  }
  const sizes = tensorSizes(arch);
  const offsets: number[] = [];
  let o = 0;
  for (const s of sizes) {
    offsets.push(o);
    o += s;
  }
  const tapsIndex = 2 * (arch.D + 1);
  return {
    arch, width, height, Hc, Wc, grids, sizes, offsets, nTheta: o, tapsIndex, synthIndex: tapsIndex + 1,
    fineScales, log2bMin: fineScales ? LOG2B_MIN_FINE : LOG2B_MIN_BASE,
  };
}

/** 1 on grid cells, 0 in the gaps: [Hc * Wc] */
export function canvasMask(lay: Layout): Float32Array {
  const m = new Float32Array(lay.Hc * lay.Wc);
  for (const g of lay.grids) for (let y = 0; y < g.h; y++) m.fill(1, (g.y + y) * lay.Wc + g.x, (g.y + y) * lay.Wc + g.x + g.w);
  return m;
}

/** Canvas values → the grids, finest first (rounding and clamping are the caller's). */
export function unpackGrids(lay: Layout, canvas: Float32Array): Float32Array[] {
  return lay.grids.map((g) => {
    const out = new Float32Array(g.h * g.w);
    for (let y = 0; y < g.h; y++) out.set(canvas.subarray((g.y + y) * lay.Wc + g.x, (g.y + y) * lay.Wc + g.x + g.w), y * g.w);
    return out;
  });
}

/** The grids → canvas values (gaps 0). */
export function packGrids(lay: Layout, grids: ArrayLike<number>[]): Float32Array {
  const c = new Float32Array(lay.Hc * lay.Wc);
  lay.grids.forEach((g, k) => {
    for (let y = 0; y < g.h; y++) for (let x = 0; x < g.w; x++) c[(g.y + y) * lay.Wc + g.x + x] = grids[k][y * g.w + x];
  });
  return c;
}

/** mulberry32: a small seeded generator, so an initialisation is the same on every backend. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The synthesis's initial hidden-layer bias; PerImageEncodeOptions.synHiddenBias studies
 * others. 0.1 was tried because the PyTorch reference stalled at the mean colour from small
 * biases; this encoder (RGB bias at the mean colour) does not stall at 0.01, and 0.1 was level
 * or 2–2.5 points worse in BD-rate on four training photos (bench/results/perimage-gpu/NOTES.md,
 * session 2026-12-07 seventh).
 */
export const SYN_HIDDEN_BIAS = 0.01;

/**
 * Initial parameters (Cool-chic-like):
 * - ARM hidden layers: uniform ±1/sqrt(in) (PyTorch's Linear default), biases 0.01 so the
 *   ReLUs start alive; output layer weights 0 and biases (μ = 0, log2 b = 0): every latent
 *   starts as Laplace(0, 1), and the context enters as soon as the output layer moves.
 * - taps: bicubic.
 * - synthesis: uniform ±1/sqrt(fan-in) for layers that change the channel count, biases
 *   synHiddenBias (default SYN_HIDDEN_BIAS; a ReLU on 0 passes no gradient, and the latents
 *   start at 0, so at 0 the synthesis can stay at the mean colour); residual layers
 *   start at 0 (identity); the bias of the layer that first gives 3 channels is the
 *   image's mean colour, so the first steps fit detail rather than the DC.
 */
export function initTheta(lay: Layout, seed: number, meanRgb: readonly number[], synHiddenBias = SYN_HIDDEN_BIAS): Float32Array {
  const { arch, offsets, sizes } = lay;
  const th = new Float32Array(lay.nTheta);
  const rnd = prng(seed ^ 0x5eed);
  const uni = (o: number, n: number, a: number) => {
    for (let i = 0; i < n; i++) th[o + i] = (2 * rnd() - 1) * a;
  };
  let t = 0;
  let inArm = arch.N;
  for (let l = 0; l < arch.D; l++) {
    uni(offsets[t], sizes[t], 1 / Math.sqrt(inArm));
    th.fill(0.01, offsets[t + 1], offsets[t + 1] + sizes[t + 1]);
    inArm = arch.Wh;
    t += 2;
  }
  // output layer: W = 0, b = (0, 0)
  t += 2;
  th.set(BICUBIC_TAPS, offsets[t]);
  t++;
  let c = arch.L;
  let rgbDone = false;
  for (const layer of arch.synthesis) {
    const k = layer.kind === '3x3' ? 9 : 1;
    if (layer.residual) {
      // identity start: W = 0, b = 0
    } else {
      uni(offsets[t], sizes[t], 1 / Math.sqrt(c * k));
      if (layer.out === 3 && !rgbDone) {
        for (let i = 0; i < 3; i++) th[offsets[t + 1] + i] = meanRgb[i];
        rgbDone = true;
      } else {
        th.fill(synHiddenBias, offsets[t + 1], offsets[t + 1] + sizes[t + 1]);
      }
    }
    c = layer.out;
    t += 2;
  }
  return th;
}

/** SPEC §1 context offsets (dy, dx), in order; the ARM uses the first N. */
export const CONTEXT: readonly (readonly [number, number])[] = [
  [0, -1], [-1, 0], [-1, -1], [-1, 1], [0, -2], [-2, 0], [-1, -2], [-1, 2],
  [-2, -1], [-2, 1], [0, -3], [-3, 0], [-2, -2], [-2, 2], [-1, -3], [-1, 3],
  [-3, -1], [-3, 1], [-2, -3], [-2, 3], [-3, -2], [-3, 2], [0, -4], [-4, 0],
];

/** Check an architecture against SPEC §1/§3 ranges (the encoder refuses what no decoder reads). */
export function archProblems(arch: PerImageArch): string[] {
  const p: string[] = [];
  if (!(arch.L >= 1 && arch.L <= 8)) p.push(`L ${arch.L}`);
  if (![8, 16, 24].includes(arch.N)) p.push(`N ${arch.N}`);
  if (!(arch.D >= 0 && arch.D <= 3)) p.push(`D ${arch.D}`);
  if (![8, 16, 24, 32].includes(arch.Wh)) p.push(`Wh ${arch.Wh}`);
  const S = arch.synthesis.length;
  if (!(S >= 1 && S <= 8)) p.push(`S ${S}`);
  let c = arch.L;
  for (const l of arch.synthesis) {
    if (!(l.out >= 1 && l.out <= 64)) p.push(`out ${l.out}`);
    if (l.residual && l.out !== c) p.push('residual with in != out');
    c = l.out;
  }
  if (c !== 3) p.push('last synthesis layer must have 3 outputs');
  const n = tensorSizes(arch).reduce((a, b) => a + b, 0);
  if (n > 65536) p.push(`parameter count ${n} > 65536`);
  return p;
}
