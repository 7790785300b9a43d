/**
 * The data types of encoder refinement (refine.ts: y alone; refine-z.ts: y and z together),
 * apart from their tfjs code so that the public declarations (model/types.ts → codec.ts)
 * reach no tfjs types: a consumer's `tsc` then never loads tfjs-core's declarations, which
 * need the DOM library and @types/long.
 */
import type { CoreModel } from '../core/types.js';

export interface RefineImage {
  /** padded image [3, H, W] in [0, 1] (the core's toPlanar), H = 16h, W = 16w */
  x: Float32Array;
  /** visible size in pixels: only these pixels count in the distortion */
  width: number;
  height: number;
  /** latent size */
  h: number;
  w: number;
  /** starting gained latent [M, h, w] (g_a's, or the joint phase's for the y phase) */
  ys: Float32Array;
  /** decoder gain [M] */
  gainDec: Float32Array;
  /** lambda of the quality (MSE on [0,1] scaled by 255^2) */
  lambda: number;
  /** gradient steps per tile (>= 1) */
  iterations: number;
  /**
   * Called after each gradient step with the steps done and the steps of the whole image
   * (tiles x iterations; a tile with nothing to refine counts as done at once): progress
   * for long encodes (EncodeOptions.onProgress).
   */
  onStep?: (done: number, total: number) => void;
}

export interface RefineInput extends RefineImage {
  /** means [M, h, w] (muQ / 2^frac) and scales [M, h, w] of the Gaussian of each element */
  mu: Float32Array;
  sigma: Float32Array;
}

export interface RefineSettings {
  /** core tile size in latents (default 32 = 512 px) */
  tile: number;
  /** Adam step at the start; cosine decay to 0 over the iterations */
  lr: number;
  /** SGA temperature: 0.5 * exp(-anneal * t / iterations) */
  anneal: number;
  /** seed of the rounding noise (same seed, same backend: same output) */
  seed: number;
}

export interface RefineResult {
  /** latent to quantise: mu + k with the chosen integers k, [M, h, w] */
  ys: Float32Array;
  tiles: number;
  /** tiles whose refined integers were kept (J lower than g_a's) */
  improved: number;
  /** estimated J per pixel summed over tiles, before and after (same units as training) */
  jBefore: number;
  jAfter: number;
}

/** What the joint phase needs of the model: the integer h_s, the z tables, the scale table. */
export type JointModel = Pick<CoreModel, 'M' | 'Nz' | 'numScales' | 'meanFracBits' | 'hs' | 'z'> & { scales: readonly number[] };

/** The image as for the y phase (h = 4hz, w = 4wz), with z instead of its means and scales. */
export interface JointInput extends RefineImage {
  /**
   * h_a's hyper-latent [Nz, h/4, w/4], before rounding (the plain encoder codes its rounding):
   * where a value sits between two integers decides how easily it moves to the other one.
   */
  z: Float32Array;
}

export interface JointResult {
  /** starting latent for the y phase [M, h, w] (continuous) */
  ys: Float32Array;
  /** the refined hyper-latent [Nz, h/4, w/4], in [-Z_CLAMP, Z_CLAMP] */
  z: Int32Array;
  tiles: number;
  improved: number;
  /** estimated J per pixel (z and y bits, distortion) summed over tiles, before and after */
  jBefore: number;
  jAfter: number;
}
