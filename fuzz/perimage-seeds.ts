/**
 * Seed files of the per-image (container v2) fuzz target: valid files built with the core's
 * own coders (encodeParams / encodeLatents) from small random-but-valid parameter sets and
 * latent grids — no GPU, no training — plus the real CPU encode committed as a test fixture
 * (test/fixtures/perimage/cpu-default-24x16.json). Images are tiny (1×1 … 40×24) so a decode
 * costs well under a millisecond and a long run reaches hundreds of thousands of decodes.
 *
 * The set covers: the default architecture (SPEC §1), random architectures (every L, N, D,
 * Wh; 1x1 and 3x3 layers, residuals), "extreme" weights (ARM weights at ±1023 and biases at
 * ±2^20 after k·2^e, float weights at |k| = 2^20 with small exponents: products overflow to
 * ±Inf and NaN in the synthesis), exponents at their limits (ARM e = 8, float e = 24), grids
 * at ±127 (escapes), and an alpha stream.
 */
import { readFileSync } from 'node:fs';
import { encodeAlpha } from '../src/format/alpha.js';
import { writePerImageContainer } from '../src/profiles/perimage/container.js';
import type { PerImageCore } from '../src/profiles/perimage/core.js';
import { defaultArch, type PerImageParams } from '../src/profiles/perimage/types.js';
import { makeRng as testRng, randomArch, randomGrids, randomParams } from '../test/fixtures/perimage-random.js';

export interface PerImageSeedSpec {
  w: number;
  h: number;
  arch: 'default' | 'random';
  /** randomParams options */
  extreme?: boolean;
  /** largest |q| of the grids and their spread */
  maxAbs?: number;
  spread?: number;
  /** set every float tensor's exponent to 24 and ARM's to 8 where the values allow */
  limitExponents?: boolean;
  alpha?: boolean;
}

const SPECS: PerImageSeedSpec[] = [
  { w: 24, h: 16, arch: 'default' },
  { w: 17, h: 9, arch: 'default', maxAbs: 127, spread: 30 },
  { w: 1, h: 1, arch: 'default' },
  { w: 40, h: 24, arch: 'random' },
  { w: 13, h: 31, arch: 'random' },
  { w: 32, h: 8, arch: 'random', extreme: true },
  { w: 9, h: 9, arch: 'random', extreme: true, maxAbs: 127, spread: 40 },
  { w: 20, h: 12, arch: 'default', extreme: true },
  { w: 16, h: 16, arch: 'random', limitExponents: true },
  { w: 16, h: 11, arch: 'default', alpha: true },
  { w: 7, h: 30, arch: 'random', alpha: true },
];

/**
 * Push exponents to their format limits without breaking the value bounds: ARM tensors get
 * e = 8 with k shrunk to fit (|k·256| ≤ 1023 / 2^20), float tensors e = 24 (values 2^-24 · k:
 * tiny weights whose products are subnormal floats).
 */
function limitExponents(p: PerImageParams): PerImageParams {
  const nArm = 2 * (p.arch.D + 1);
  const tensors = p.tensors.map((t, i) => {
    if (i < nArm) {
      const lim = (i % 2 === 0 ? 1023 : 2 ** 20) >> 8;
      return { ...t, e: 8, k: t.k.map((v) => Math.max(-lim, Math.min(lim, v >> 4))) };
    }
    if (i === nArm) return t; // the taps keep their scale: the upsampling stays meaningful
    return { ...t, e: 24 };
  });
  return { arch: p.arch, tensors };
}

/** The seeds (v2 files) made with `core`. */
export async function perimageSeeds(core: PerImageCore): Promise<Uint8Array[]> {
  const rng = testRng(1234);
  const out: Uint8Array[] = [];
  for (const s of SPECS) {
    const arch = s.arch === 'random' ? randomArch(rng) : defaultArch();
    let params = randomParams(rng, arch, s.extreme ? { extreme: true } : { armScale: 24, armBias: 300 });
    if (s.limitExponents) params = limitExponents(params);
    const grids = randomGrids(rng, arch.L, s.w, s.h, s.maxAbs ?? 40, s.spread ?? 1.2);
    const paramsBytes = core.encodeParams(params);
    const latents = core.encodeLatents(params, grids, s.w, s.h);
    let alpha: Uint8Array | null = null;
    if (s.alpha) {
      const rgba = new Uint8Array(s.w * s.h * 4);
      for (let i = 0; i < s.w * s.h; i++) rgba[4 * i + 3] = (i * 37) & 255;
      alpha = await encodeAlpha(rgba, s.w, s.h);
    }
    out.push(writePerImageContainer({ width: s.w, height: s.h, quality: 1 + (out.length % 8), params: paramsBytes, latents, alpha }));
  }
  // a real encode (the TypeScript encoder on CPU, committed by its author as a fixture)
  const fx = JSON.parse(readFileSync(new URL('../test/fixtures/perimage/cpu-default-24x16.json', import.meta.url), 'utf8')) as { file: string };
  out.push(new Uint8Array(Buffer.from(fx.file, 'base64')));
  return out;
}
