/**
 * nimg bit-exact core (WebAssembly, AssemblyScript, standard SIMD only).
 * Raw exports, used through src/core/index.ts with pointers into the arena (arena.ts).
 * Every fallible export returns a status code (status.ts); nothing relies on assert/abort.
 */
export { alloc, resetCall, resetModel, commitModel, arenaUsed } from './arena';
export { getErrIndex } from './status';
export { buildTables, getBuildStatus, encodeSyms, decodeSyms, getOutPtr, getOutLen } from './rans';
export { quantizeZ, quantizeLatent, dequantizeLatent } from './quant';
export { toPlanar, toRgba } from './pixels';
export { hsReset, hsSetLayer, hsFinish, hyperSynthesis, hsNz, unpackHs } from './hs';

/** Test hook: traps (unreachable), so the wrapper's trap recovery can be tested. */
export function debugTrap(): void {
  unreachable();
}

/** Build identification (bump when the stream format or arithmetic changes). */
export function coreVersion(): i32 {
  return 1;
}

// Profile 2, "perimage" (src/profiles/perimage/SPEC.md)
export {
  piInit, piSelectScales, piTablesMeta, piTableCdfs, piTablePtrs, piTableCdfCount,
  piDecodeParams, piEncodeParams, piSetModel, piHeaderLen, piParamCount, piTensorCount, piK, piOut, piOutLength,
  piArmEval, piAllocGrids, piLatentCount, piLoadGrids, piStoreGrids, piEncodeLatents, piDecodeLatents, piSynthesize, piSetBandRows, piSetUpsampleOnly,
} from './perimage/index';
