/**
 * Contract of the bit-exact core (assembly/, wrapped by src/core/). Everything here must give
 * identical results on every machine: integers only, except the pre/post-processing and the
 * (de)quantization, whose float arithmetic is IEEE-exact and fixed (no relaxed SIMD, no FMA).
 * All methods throw NimgError (never a TypeError/RangeError/trap); after a trap the
 * wrapper rebuilds its instance.
 */
export interface EntropyTables {
  precision: number; // CDFs sum to 1 << precision
  cdf: Int32Array; // concatenated tables
  ptr: Int32Array; // [T+1]: table t is cdf[ptr[t] .. ptr[t+1])
  offset: Int32Array; // [T]: value of symbol 0 of table t
}

export interface HsLayer {
  cin: number;
  cout: number;
  k: 1 | 3;
  w: Int8Array; // [cout, cin, k, k]
  b: Int32Array; // [cout]
  m: Int32Array; // [cout]
  sh: Int32Array; // [cout]
}

export interface CoreModel {
  M: number; // latent channels
  Nz: number; // hyper-latent channels
  numScales: number;
  meanFracBits: number; // mu = mu_q / 2^meanFracBits
  hs: HsLayer[]; // 3 layers, see weights/README.md
  gauss: EntropyTables; // numScales tables
  z: EntropyTables; // Nz tables
}

export interface Core {
  setModel(model: CoreModel): void;
  /** RGBA (4) or RGB (3) bytes → planar float32 [3, padH, padW] in [0,1], edge-replicated. */
  toPlanar(pixels: Uint8Array | Uint8ClampedArray, width: number, height: number, channels: 3 | 4, padW: number, padH: number): Float32Array;
  /** planar float32 [3, padH, padW] (nominal [0,1]) → RGBA bytes width x height, alpha 255. */
  toRgba(planar: Float32Array, padW: number, padH: number, width: number, height: number): Uint8ClampedArray;
  /** zhat int32 [Nz, hz, wz] → mu_q and scale index, each int32 [M, 4hz, 4wz]. */
  hyperSynthesis(zhat: Int32Array, hz: number, wz: number): { muQ: Int32Array; idx: Int32Array };
  /** round_half_even(z) clamped to [-255, 255] (NaN → 0). */
  quantizeZ(z: Float32Array): Int32Array;
  /** k = round_half_even(ys - mu_q/2^f), clamped to ±2^24, NaN → 0. */
  quantizeLatent(ys: Float32Array, muQ: Int32Array): Int32Array;
  /** yhat[c][p] = (k + mu_q/2^f) * gainDec[c]; C channels of HW elements. */
  dequantizeLatent(k: Int32Array, muQ: Int32Array, gainDec: Float32Array, C: number, HW: number): Float32Array;
  /** z stream: zhat [Nz, HW], table = channel. */
  encodeZ(zhat: Int32Array, HW: number): Uint8Array;
  decodeZ(bytes: Uint8Array, HW: number): Int32Array;
  /** y stream: symbol k[i] with Gaussian table idx[i]. */
  encodeY(k: Int32Array, idx: Int32Array): Uint8Array;
  decodeY(bytes: Uint8Array, idx: Int32Array): Int32Array;
}
