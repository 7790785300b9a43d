/**
 * Node-only helpers to load build/nimg-core.wasm (built by `npm run asbuild`). Kept apart so
 * that src/core/index.ts imports no Node module statically (edge/browser bundles).
 */
import { readFile } from 'node:fs/promises';
import { NimgError } from '../errors.js';
import { createCore, type WasmCore } from './index.js';
import { DEFAULT_CORE_WASM } from '../node/assets.js';

export { DEFAULT_CORE_WASM };

export async function loadCoreWasm(path: string | URL = DEFAULT_CORE_WASM): Promise<Uint8Array<ArrayBuffer>> {
  try {
    const b = await readFile(path);
    const u = new Uint8Array(b.byteLength);
    u.set(b);
    return u;
  } catch (e) {
    throw new NimgError('BACKEND_UNAVAILABLE', `cannot read the nimg core ${String(path)} (run \`npm run asbuild\`): ${String(e)}`, { cause: e });
  }
}

/** Compile the core file once and create a core from it. */
export async function createNodeCore(path?: string | URL): Promise<WasmCore> {
  return createCore(await WebAssembly.compile(await loadCoreWasm(path)));
}
