/**
 * Shared setup of the refinement tests (model-refine, model-refine-z): a seeded float
 * source, crops of the sample photo, and the plain encoder's front half on a crop.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { interpolateGain } from '../src/codec.js';
import type { Core } from '../src/core/types.js';
import { latentGeometry } from '../src/format/container.js';
import { decodeImageFile } from '../src/image/index.js';
import type { ModelWeights, Transforms } from '../src/model/types.js';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/** deterministic pseudo-random floats in [-1, 1) */
export function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** (f(x + e at element i) - f(x - e at element i)) / 2e: the central difference of f along element i */
export function centralDiff(f: (x: Float32Array) => number, x: Float32Array, i: number, e: number): number {
  const xp = Float32Array.from(x);
  const xm = Float32Array.from(x);
  xp[i] += e;
  xm[i] -= e;
  return (f(xp) - f(xm)) / (2 * e);
}

/** RGBA of the W x H crop of src/node/sample.png whose top-left corner is (x0, y0) */
export async function sampleCrop(W: number, H: number, x0: number, y0: number): Promise<Uint8ClampedArray> {
  const full = await decodeImageFile(new Uint8Array(readFileSync(path.join(ROOT, 'src/node/sample.png'))));
  const data = new Uint8ClampedArray(W * H * 4);
  for (let y = 0; y < H; y++) data.set(full.data.subarray(((y + y0) * full.width + x0) * 4, ((y + y0) * full.width + x0 + W) * 4), y * W * 4);
  return data;
}

/** the plain encoder up to the rounding of z, at quality q: padded image, gained latent, z and its rounding */
export async function encoderFront(core: Core, t: Transforms, weights: ModelWeights, data: Uint8ClampedArray, W: number, H: number, q: number) {
  const g = latentGeometry(W, H);
  const M = weights.manifest.arch.M;
  const x = core.toPlanar(data, W, H, 4, g.padW, g.padH);
  const ys = await t.analysis(x, g.padH, g.padW);
  const gEnc = interpolateGain(weights.tensors.get('gain.enc')!.data as Float32Array, 8, M, q);
  for (let c = 0; c < M; c++) for (let i = c * g.h * g.w; i < (c + 1) * g.h * g.w; i++) ys[i] *= gEnc[c];
  const z = await t.hyperAnalysis(ys, g.h, g.w);
  return { g, x, ys, z, zhat: core.quantizeZ(z) };
}
