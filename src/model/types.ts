/**
 * Contract of the float transforms (tfjs). Tensors cross this boundary as planar
 * (NCHW, batch 1) Float32Arrays; layout changes stay inside.
 */
import type { AbortCheck } from '../abort.js';

export type BackendName = 'webgpu' | 'wasm' | 'cpu';
export type BackendChoice = 'auto' | BackendName;

export interface TensorEntry {
  dtype: 'float32' | 'float16' | 'int8' | 'int32';
  shape: number[];
  data: Float32Array | Int8Array | Int32Array; // float16 is widened to Float32Array at load
}

export interface WeightsManifest {
  format: 'nimg-weights';
  version: number;
  model_id: string;
  sha256: string;
  arch: { N: number; M: number; Nz: number; hs_hidden: number[]; stride: number };
  quality: { levels: number; lambdas: number[] };
  entropy: { precision: number; mean_frac_bits: number; num_scales: number; scales: number[] };
  tensors: Record<string, { dtype: TensorEntry['dtype']; shape: number[]; offset: number; length: number }>;
  [k: string]: unknown;
}

export interface ModelWeights {
  manifest: WeightsManifest;
  /** first 8 bytes of sha256(bin), 16 hex digits */
  hash: string;
  tensors: Map<string, TensorEntry>;
}

export interface Transforms {
  readonly backend: BackendName;
  /** x: [3, H, W] in [0,1], H and W multiples of arch.stride → y: [M, H/16, W/16] */
  /** `abort` is checked before each tile: the work stops at the next tile boundary */
  analysis(x: Float32Array, H: number, W: number, abort?: AbortCheck): Promise<Float32Array>;
  /** ys: [M, h, w] (gained latent) → z: [Nz, h/4, w/4] */
  hyperAnalysis(ys: Float32Array, h: number, w: number, abort?: AbortCheck): Promise<Float32Array>;
  /** yhat: [M, h, w] → x: [3, 16h, 16w] */
  synthesis(yhat: Float32Array, h: number, w: number, abort?: AbortCheck): Promise<Float32Array>;
  /**
   * Optional fused decoder tail (WebGPU, one tile): g_s, then the top-left width x height
   * crop to RGBA8 (alpha 255) on the device, exactly as the core's toRgba; undefined when
   * it does not apply (the caller runs synthesis + toRgba).
   */
  synthesisRgba?(yhat: Float32Array, h: number, w: number, width: number, height: number): Promise<Uint8ClampedArray | undefined>;
  /**
   * As analysisHyper, from RGBA8 pixels width x height (4 bytes each) padded to padW x padH
   * by edge replication on the device, exactly as the core's toPlanar.
   */
  analysisHyperRgba?(
    rgba: Uint8Array | Uint8ClampedArray, width: number, height: number, padW: number, padH: number, gain: Float32Array,
  ): Promise<{ ys: Float32Array; z: Float32Array } | undefined>;
  /**
   * Optional fused encoder front (WebGPU, image in one tile): g_a, then ys = y · gain (per
   * channel), then h_a on ys while it stays on the device. Same results as analysis →
   * multiply on the CPU → hyperAnalysis (an f32 multiply either way); resolves to
   * undefined when it does not apply (the caller then runs the three steps).
   */
  analysisHyper?(x: Float32Array, H: number, W: number, gain: Float32Array): Promise<{ ys: Float32Array; z: Float32Array } | undefined>;
  /**
   * Optional: encoder-side latent refinement (src/model/refine.ts) on this backend's main
   * thread; absent where the backend cannot take gradients.
   */
  refine?(input: import('./refine-types.js').RefineInput, settings?: Partial<import('./refine-types.js').RefineSettings>): Promise<import('./refine-types.js').RefineResult>;
  /** Optional, with refine: the joint y and z phase (src/model/refine-z.ts). */
  refineJoint?(
    model: import('./refine-types.js').JointModel, input: import('./refine-types.js').JointInput, settings?: Partial<import('./refine-types.js').RefineSettings>,
  ): Promise<import('./refine-types.js').JointResult>;
  dispose(): void;
}
