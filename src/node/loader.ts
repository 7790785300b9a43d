/**
 * Node-only: default assets read from the package (src/node/assets.ts says where) or from
 * the environment:
 *   core WASM  nimg-core.wasm                 (env NIMG_CORE_WASM overrides the path)
 *   weights    nimg-v1.json + .bin            (env NIMG_WEIGHTS = path of a manifest .json;
 *                                              its .bin is the same path ending in .bin)
 * Registered as the codec's default by src/node/defaults.ts.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { NimgError } from '../errors.js';
import { DEFAULT_CORE_WASM, DEFAULT_WEIGHTS_MANIFEST } from './assets.js';

export { PACKAGE_ROOT, DEFAULT_CORE_WASM, DEFAULT_WEIGHTS_MANIFEST } from './assets.js';

export function coreWasmPath(): string {
  return process.env.NIMG_CORE_WASM ? path.resolve(process.env.NIMG_CORE_WASM) : DEFAULT_CORE_WASM;
}

export function weightsPaths(): { manifest: string; bin: string } {
  const manifest = process.env.NIMG_WEIGHTS ? path.resolve(process.env.NIMG_WEIGHTS) : DEFAULT_WEIGHTS_MANIFEST;
  return { manifest, bin: manifest.replace(/\.json$/i, '') + '.bin' };
}

export async function loadCoreWasm(): Promise<Uint8Array> {
  const p = coreWasmPath();
  if (!existsSync(p)) {
    throw new NimgError('NOT_INITIALIZED', `nimg core not found at ${p}: run \`npm run asbuild\` (or pass init({ wasm }))`);
  }
  return new Uint8Array(await readFile(p));
}

export async function loadWeights(): Promise<{ manifest: string; bin: Uint8Array }> {
  const { manifest, bin } = weightsPaths();
  for (const f of [manifest, bin]) {
    if (!existsSync(f)) throw new NimgError('NOT_INITIALIZED', `weights file not found: ${f} (set NIMG_WEIGHTS or pass init({ weights }))`);
  }
  const [m, b] = await Promise.all([readFile(manifest, 'utf8'), readFile(bin)]);
  return { manifest: m, bin: new Uint8Array(b.buffer, b.byteOffset, b.byteLength) };
}
