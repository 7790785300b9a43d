/**
 * Seamless tiling. Every op (g_a, h_a, g_s) is tiled on a *coarse* grid whose cell is
 * aligned to the op's total stride: the latent grid for g_a (16 px) and g_s (16 px out),
 * the hyper-latent grid for h_a (4 latent px). A tile is a core rectangle of coarse
 * cells plus a halo of `halo` cells on each side that is not at the image border; the
 * halo is computed from the layer stack so that the core's outputs are exactly those of
 * the untiled network (up to float summation order): tiles leave no seams.
 */
import type { NetOp, PreparedNet } from './net.js';

/** One layer as seen by the receptive-field analysis. */
export type RfLayer = { kind: 'conv'; k: number; stride: number; pad: number } | { kind: 'up'; factor: number };

/** The layer stacks of the three ops (pointwise layers — GDN, ReLU — do not widen the field). */
export function opLayers(op: NetOp): RfLayer[] {
  const c5s2: RfLayer = { kind: 'conv', k: 5, stride: 2, pad: 2 };
  const c3: RfLayer = { kind: 'conv', k: 3, stride: 1, pad: 1 };
  const up: RfLayer = { kind: 'up', factor: 2 };
  if (op === 'analysis') return [c5s2, c5s2, c5s2, c5s2];
  if (op === 'hyper') return [c3, c5s2, c5s2];
  return [c3, up, c3, up, c3, up, c3, up];
}

/**
 * Receptive field of one output sample, in input samples (g_a: 61 px; g_s: 5 latent
 * px; h_a: 15 latent px), the input step per output sample, and the contamination depth: how many output samples next to a tile edge
 * are wrong when the data beyond that edge is replaced by the conv's zero padding.
 */
export function receptiveField(layers: RfLayer[]): { rf: number; jump: number; badLeft: number; badRight: number } {
  let rf = 1; // in input samples
  let scaleIn = 1; // input samples per sample of the current layer
  let badL = 0;
  let badR = 0;
  for (const l of layers) {
    if (l.kind === 'conv') {
      rf += (l.k - 1) * scaleIn;
      scaleIn *= l.stride;
      // output o reads inputs [s*o - p, s*o - p + k - 1]
      badL = Math.ceil((badL + l.pad) / l.stride);
      badR = Math.ceil((badR + l.k - l.pad) / l.stride) - 1;
    } else {
      scaleIn /= l.factor;
      badL *= l.factor;
      badR *= l.factor;
    }
  }
  return { rf: Math.ceil(rf), jump: scaleIn, badLeft: badL, badRight: badR };
}

/** Geometry of an op on its coarse grid: input and output samples per coarse cell. */
export function coarseScale(op: NetOp): { sIn: number; sOut: number } {
  if (op === 'analysis') return { sIn: 16, sOut: 1 };
  if (op === 'hyper') return { sIn: 4, sOut: 1 };
  return { sIn: 1, sOut: 16 };
}

/** Halo in coarse cells that makes tiles exact for `op` (the larger of the two sides). */
export function haloCells(op: NetOp): number {
  const h = haloSides(op);
  return Math.max(h.before, h.after);
}

/**
 * Per-side halo in coarse cells: `before` (above / left of a tile) covers the outputs
 * contaminated from a cut on that side (badLeft), `after` those from the other (badRight).
 */
export function haloSides(op: NetOp): { before: number; after: number } {
  const { badLeft, badRight } = receptiveField(opLayers(op));
  const { sOut } = coarseScale(op);
  return { before: Math.ceil(badLeft / sOut), after: Math.ceil(badRight / sOut) };
}

export interface Tile {
  /** core, coarse cells [y0, y1) x [x0, x1) */
  y0: number; y1: number; x0: number; x1: number;
  /** extended (core + halo, clipped to the image) */
  ey0: number; ey1: number; ex0: number; ex1: number;
}

function splits(n: number, maxCells: number): number[] {
  const k = Math.max(1, Math.ceil(n / Math.max(1, maxCells)));
  const b: number[] = [];
  for (let i = 0; i <= k; i++) b.push(Math.round((i * n) / k));
  return b;
}

/**
 * Balanced grid of tiles over Hc x Wc coarse cells, each core at most maxCells per side.
 * `halo`: cells added before / after each core (one number: both sides).
 */
export function planTiles(Hc: number, Wc: number, maxCells: number, halo: number | { before: number; after: number }): Tile[] {
  const hb = typeof halo === 'number' ? halo : halo.before;
  const ha = typeof halo === 'number' ? halo : halo.after;
  const ys = splits(Hc, maxCells);
  const xs = splits(Wc, maxCells);
  const tiles: Tile[] = [];
  for (let i = 0; i + 1 < ys.length; i++) {
    for (let j = 0; j + 1 < xs.length; j++) {
      const y0 = ys[i], y1 = ys[i + 1], x0 = xs[j], x1 = xs[j + 1];
      tiles.push({
        y0, y1, x0, x1,
        ey0: Math.max(0, y0 - hb), ey1: Math.min(Hc, y1 + ha),
        ex0: Math.max(0, x0 - hb), ex1: Math.min(Wc, x1 + ha),
      });
    }
  }
  return tiles;
}

/** Planar [C, H, W] → NHWC of rows [r0, r1), cols [c0, c1). */
export function extractNHWC(src: Float32Array, C: number, H: number, W: number, r0: number, r1: number, c0: number, c1: number): Float32Array {
  const h = r1 - r0, w = c1 - c0;
  const out = new Float32Array(h * w * C);
  for (let c = 0; c < C; c++) {
    const plane = c * H * W;
    for (let y = 0; y < h; y++) {
      let s = plane + (r0 + y) * W + c0;
      let d = y * w * C + c;
      for (let x = 0; x < w; x++, s++, d += C) out[d] = src[s];
    }
  }
  return out;
}

/**
 * NHWC tile [th, tw, C] → planar dst [C, H, W]: copies tile rows [ty0, ty0+h), cols
 * [tx0, tx0+w) to dst rows [dy0, ...), cols [dx0, ...).
 */
export function placeNHWC(
  tile: Float32Array, th: number, tw: number, C: number,
  ty0: number, tx0: number, h: number, w: number,
  dst: Float32Array, H: number, W: number, dy0: number, dx0: number,
): void {
  void th;
  for (let c = 0; c < C; c++) {
    const plane = c * H * W;
    for (let y = 0; y < h; y++) {
      let s = ((ty0 + y) * tw + tx0) * C + c;
      let d = plane + (dy0 + y) * W + dx0;
      for (let x = 0; x < w; x++, s += C, d++) dst[d] = tile[s];
    }
  }
}

export type { NetOp, PreparedNet };
