/**
 * The smallest real decoder of per-image (.nimg v2) files a page or an edge worker would ship:
 * bench/perimage-payload.ts bundles this entry to measure the JavaScript that decoding costs.
 * `wasm`: the compiled nimg-core.wasm (a WebAssembly.Module, or its bytes).
 */
// the package's decode-only entry (nimg/perimage-decoder), as an application imports it
import { createPerImageCore, decodePerImageFile, type PerImageCore } from '../src/perimage-decoder.js';

let core: Promise<PerImageCore> | null = null;

export async function decodeV2(wasm: WebAssembly.Module | Uint8Array, bytes: Uint8Array): Promise<{ width: number; height: number; data: Uint8ClampedArray }> {
  core ??= createPerImageCore(wasm);
  const { width, height, data } = await decodePerImageFile(await core, bytes);
  return { width, height, data };
}
