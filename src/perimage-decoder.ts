/**
 * `nimg/perimage-decoder`: the decode-only entry for per-image (container v2) files. It holds
 * the integer context model's driver, the container reader and the alpha stream, and nothing
 * of the amortized profile: no tfjs, no weights. A page or an edge worker that serves only
 * v2 files ships this and `nimg-core.wasm` (bench/results/perimage-payload.json measures the
 * bytes). The full API (`nimg`) decodes the same files through its dispatcher.
 *
 *   const core = await createPerImageCore(wasmModuleOrBytes);
 *   const { width, height, data } = await decodePerImageFile(core, bytes, { limits, signal });
 */
export { createPerImageCore, type PerImageCore, type ParamsLimits } from './profiles/perimage/core.js';
export { decodePerImageFile, type PerImageDecodeOptions, type PerImageDecoded, type PerImageDecodeStats } from './profiles/perimage/decode-file.js';
export { NimgError, isNimgError, type NimgErrorCode } from './errors.js';
export type { Limits } from './limits.js';
