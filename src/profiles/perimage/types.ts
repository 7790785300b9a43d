/**
 * Data types of the per-image profile, shared by its encoder (src/profiles/perimage/encoder/),
 * its decoder (the core, assembly/perimage/, through src/profiles/perimage/core.ts) and the
 * tests. The format is specified in SPEC.md beside this file (FORMAT.md §9 once it lands).
 */

/** One synthesis layer (SPEC §1 "Synthesis"). `in` follows from the previous layer. */
export interface SynthesisLayer {
  kind: '1x1' | '3x3';
  out: number;
  act: 'none' | 'relu';
  residual: boolean;
}

/** The architecture bytes of the params section (SPEC §3). */
export interface PerImageArch {
  /** number of latent grids, 1…8 */
  L: number;
  /** context size of the ARM: 8 | 16 | 24 */
  N: number;
  /** hidden layers of the ARM, 0…3 */
  D: number;
  /** hidden width of the ARM: 8 | 16 | 24 | 32 */
  Wh: number;
  synthesis: SynthesisLayer[];
}

/**
 * One quantized parameter tensor: value = k · 2^e (Q8 for the ARM) or k · 2^-e (float
 * tensors), coded with the centred table T[0][s] (SPEC §2–3).
 */
export interface QuantTensor {
  k: Int32Array;
  e: number;
  s: number;
}

/**
 * Everything the params section carries, in tensor order: ARM (W, b per layer, output layer
 * last), the 4 upsampling taps, then synthesis (W, b per layer).
 */
export interface PerImageParams {
  arch: PerImageArch;
  tensors: QuantTensor[];
  /**
   * The latent stream's scale set (SPEC §1 "Table choice"): true = FINE_SCALES (log2 b from
   * −8), false or absent = the base set (from −3). Not in the params section: the container
   * carries it as a required header flag (FORMAT.md §9.1).
   */
  fineScales?: boolean;
}

/** The latent grids, finest first: grids[k] has ceil(H/2^k) × ceil(W/2^k) values in [-127, 127]. */
export type LatentGrids = Int16Array[];

/** Grid k's size for an image of width × height. */
export function gridSize(width: number, height: number, k: number): { w: number; h: number } {
  const d = 2 ** k;
  return { w: Math.ceil(width / d), h: Math.ceil(height / d) };
}

/** The tensor shapes, in tensor order, for an architecture (element counts). */
export function tensorSizes(arch: PerImageArch): number[] {
  const sizes: number[] = [];
  let inArm = arch.N;
  for (let l = 0; l < arch.D; l++) {
    sizes.push(arch.Wh * inArm, arch.Wh);
    inArm = arch.Wh;
  }
  sizes.push(2 * inArm, 2);
  sizes.push(4);
  let c = arch.L;
  for (const layer of arch.synthesis) {
    const k = layer.kind === '3x3' ? 9 : 1;
    sizes.push(layer.out * c * k, layer.out);
    c = layer.out;
  }
  return sizes;
}

/** The default architecture (SPEC §1 defaults). */
export function defaultArch(): PerImageArch {
  return {
    L: 7,
    N: 16,
    D: 2,
    Wh: 16,
    synthesis: [
      { kind: '1x1', out: 24, act: 'relu', residual: false },
      { kind: '1x1', out: 24, act: 'relu', residual: false },
      { kind: '1x1', out: 3, act: 'none', residual: false },
      { kind: '3x3', out: 3, act: 'relu', residual: true },
      { kind: '3x3', out: 3, act: 'none', residual: true },
    ],
  };
}
