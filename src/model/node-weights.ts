/**
 * Node-only: read a weight set from disk. The default is the shipped
 * `weights/nimg-v1.json` + `weights/nimg-v1.bin` of this package.
 */
import { readFile } from 'node:fs/promises';
import { NimgError } from '../errors.js';
import type { ModelWeights } from './types.js';
import { parseWeights } from './weights.js';
import { DEFAULT_WEIGHTS_MANIFEST } from '../node/assets.js';

export const DEFAULT_WEIGHTS_JSON = DEFAULT_WEIGHTS_MANIFEST;

/** Path of the .bin next to a manifest: same name, `.bin` extension. */
export function binPathFor(manifestPath: string): string {
  return manifestPath.replace(/\.json$/i, '') + '.bin';
}

/**
 * Load and verify weights from `manifestPath` (default: the shipped nimg-v1.json) and
 * `binPath` (default: the manifest's name with .bin).
 */
export async function loadWeightsFromFile(manifestPath: string = DEFAULT_WEIGHTS_JSON, binPath: string = binPathFor(manifestPath)): Promise<ModelWeights> {
  let json: string;
  let bin: Uint8Array;
  try {
    [json, bin] = await Promise.all([readFile(manifestPath, 'utf8'), readFile(binPath)]);
  } catch (e) {
    throw new NimgError('BAD_INPUT', `cannot read weights ${manifestPath} / ${binPath}: ${(e as Error).message}`, { cause: e });
  }
  return parseWeights(json, new Uint8Array(bin.buffer, bin.byteOffset, bin.byteLength));
}

/** The default shipped weights (cached per process). */
let cached: Promise<ModelWeights> | null = null;
export function loadDefaultWeights(): Promise<ModelWeights> {
  cached ??= loadWeightsFromFile().catch((e) => {
    cached = null;
    throw e;
  });
  return cached;
}
