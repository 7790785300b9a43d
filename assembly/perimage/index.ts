/**
 * Exports of the per-image profile (profile 2, src/profiles/perimage/SPEC.md), used through
 * src/profiles/perimage/core.ts. Each call starts with resetCall() then piInit() (tables), then
 * installs the model of the call (piDecodeParams or piSetModel), then grids, then the work.
 */

import { allocGrids, decodeLatentStream, encodeLatentStream, latentCount, loadGrids, storeGrids } from './latents';
import { synthesize } from './synth';
import { lapInit, lapMeta, lapSelect } from './tables';

export { lapCdfs as piTableCdfs, lapPtrs as piTablePtrs, lapCdfCount as piTableCdfCount } from './tables';
export { piDecodeParams, piEncodeParams, piSetModel, piHeaderLen, piParamCount, piTensorCount, piK, piOut, piOutLength } from './params';
export { piArmEval } from './arm';
export { setBandRows as piSetBandRows, setUpsampleOnly as piSetUpsampleOnly } from './synth';

/** Build the Laplace tables if needed. Call right after resetCall(), before any allocation. */
export function piInit(): i32 {
  return lapInit();
}

/**
 * Select the scale set of this call's latent stream: 1 = FINE_SCALES (log2 b from −5), 0 = the
 * base set (from −3). piInit() selects the base set, so a call that does not ask gets it.
 */
export function piSelectScales(fine: i32): void {
  lapSelect(fine != 0);
}

/** meta array of the 768 tables (for tests) */
export function piTablesMeta(): usize {
  return lapMeta();
}

/** Allocate the zeroed grids of a width × height image for the current model. */
export function piAllocGrids(width: u32, height: u32): i32 {
  return allocGrids(width, height);
}

export function piLatentCount(): u32 {
  return latentCount();
}

/** Load unpadded grids (i16, finest first); BAD_INPUT on a value outside [−127, 127]. */
export function piLoadGrids(src: usize): i32 {
  return loadGrids(src);
}

/** Copy the grids out (i16, finest first, piLatentCount() values). */
export function piStoreGrids(dst: usize): void {
  storeGrids(dst);
}

/** Encode the loaded grids (stream at getOutPtr()/getOutLen()); bitsPtr (L f64) or 0. */
export function piEncodeLatents(bitsPtr: usize): i32 {
  return encodeLatentStream(bitsPtr);
}

/** Decode a latent stream into the allocated grids. */
export function piDecodeLatents(p: usize, len: u32): i32 {
  return decodeLatentStream(p, len);
}

/** Upsampling + synthesis of the grids into RGBA8 at out (width·height·4 bytes). */
export function piSynthesize(out: usize): i32 {
  return synthesize(out);
}


