/**
 * STAND-IN per-image files for developing and testing the CPU speed bench
 * (bench/perimage-cpu-speed.ts) before the real GPU-encoded Kodak files exist.
 *
 *   npx tsx bench/perimage-standin.ts [--dir ../shared/data/kodak] [--out .out/perimage-standin] [--ls -560] [--images N]
 *       [--arch default|c5|wide|arm24|syn32|syn40]
 *
 * THESE ARE NOT ENCODES. No optimisation runs (a CPU encode of the default architecture costs
 * ~8 s a step on WASM, thousands of steps an image). Each file has the DEFAULT architecture
 * (SPEC.md §1: L = 7 grids, ARM N = 16, D = 2, Wh = 16, synthesis 1522 MAC/px in all), so a
 * decode does exactly the work of a real file of that size: one ARM evaluation and one rANS
 * step per latent, the same upsampling and synthesis. The content is structured, not learnt:
 *   - grids: a Laplacian pyramid of the image's luma (2×2 box averages), each level's residual
 *     quantized with a coarser step on finer levels (mostly zeros there, as in real files);
 *   - ARM: small random weights, the output bias of log2 b set by --ls (Q8) so the rate lands
 *     near the 0.5 bpp of the files the issue asks for;
 *   - synthesis: small random weights (the decoded picture is not the photo).
 * --arch NAME swaps the default decoder for another, to time what a candidate architecture
 * costs the CPU decode before adopting it: `c5` (the default with the smaller synthesis the
 * PyTorch reference calls c5: 1x1 L→32 relu, 32→3, the two 3x3 residual layers, 482 instead of
 * 978 multiply-adds a pixel) or a study architecture of bench/perimage-arches.ts (wide, arm24,
 * syn32, syn40). --synth is the older name of the option.
 * The output directory gets a STAND_IN marker file; the speed bench reads it and marks its
 * JSON "stand_in_files": true (and does not write the committed result from it).
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodePng } from '../src/image/png.js';
import { writePerImageContainer } from '../src/profiles/perimage/container.js';
import { createPerImageCore, type PerImageCore } from '../src/profiles/perimage/core.js';
import { defaultArch, gridSize, type LatentGrids, type PerImageArch, type PerImageParams } from '../src/profiles/perimage/types.js';
import { makeRng, randomParams } from '../test/fixtures/perimage-random.js';
import { opt } from './args.js';
import { STUDY_ARCHES, synth } from './perimage-arches.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** quantization gain of pyramid level k (0 = finest): coarse levels carry more of the picture */
const GAIN = [3, 6, 12, 20, 30, 40, 60];

/** luma of RGBA in [0, 1] */
function luma(rgba: ArrayLike<number>, w: number, h: number): Float32Array {
  const y = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) y[i] = (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255;
  return y;
}

/** 2×2 box average to ceil(w/2) × ceil(h/2), edges replicated */
function down(src: Float32Array, w: number, h: number): Float32Array {
  const w2 = Math.ceil(w / 2), h2 = Math.ceil(h / 2);
  const o = new Float32Array(w2 * h2);
  for (let y = 0; y < h2; y++)
    for (let x = 0; x < w2; x++) {
      const y0 = 2 * y, y1 = Math.min(2 * y + 1, h - 1), x0 = 2 * x, x1 = Math.min(2 * x + 1, w - 1);
      o[y * w2 + x] = (src[y0 * w + x0] + src[y0 * w + x1] + src[y1 * w + x0] + src[y1 * w + x1]) / 4;
    }
  return o;
}

/** nearest-neighbour 2× up of a (w2 × h2) level to w × h */
function upNearest(src: Float32Array, w2: number, w: number, h: number): Float32Array {
  const o = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) o[y * w + x] = src[(y >> 1) * w2 + (x >> 1)];
  return o;
}

/** quantized Laplacian pyramid of the luma: L grids, finest first, values in [−127, 127] */
export function pyramidGrids(rgba: ArrayLike<number>, width: number, height: number, L: number): LatentGrids {
  const levels: Float32Array[] = [luma(rgba, width, height)];
  for (let k = 1; k < L; k++) {
    const { w, h } = gridSize(width, height, k - 1);
    levels.push(down(levels[k - 1], w, h));
  }
  const q = (v: number, g: number) => Math.max(-127, Math.min(127, Math.round(v * g)));
  const grids: LatentGrids = [];
  for (let k = 0; k < L; k++) {
    const { w, h } = gridSize(width, height, k);
    const g = new Int16Array(w * h);
    if (k === L - 1) for (let i = 0; i < g.length; i++) g[i] = q(levels[k][i] - 0.5, GAIN[Math.min(k, GAIN.length - 1)]);
    else {
      const up = upNearest(levels[k + 1], gridSize(width, height, k + 1).w, w, h);
      for (let i = 0; i < g.length; i++) g[i] = q(levels[k][i] - up[i], GAIN[Math.min(k, GAIN.length - 1)]);
    }
    grids.push(g);
  }
  return grids;
}

/**
 * decoders a stand-in may carry: the default, `c5` (the default with the smaller synthesis of
 * train/perimage/encode.py's ARCHES) and the study architectures of bench/perimage-arches.ts
 */
export const STAND_IN_ARCHES: Readonly<Record<string, PerImageArch>> = {
  default: defaultArch(),
  c5: { ...defaultArch(), synthesis: synth(32) },
  ...STUDY_ARCHES,
};

/** the decoder a stand-in of that name carries; an unknown name throws, listing the known ones */
export function standInArch(archName: string): PerImageArch {
  const arch = STAND_IN_ARCHES[archName];
  if (!arch) throw new Error(`--arch ${archName}: one of ${Object.keys(STAND_IN_ARCHES).join(', ')}`);
  return arch;
}

/** params of the named decoder: small random weights, log2 b's output bias = lsBias (Q8) */
export function standInParams(seed: number, lsBias: number, archName = 'default'): PerImageParams {
  const arch = standInArch(archName);
  const p = randomParams(makeRng(seed), arch, { armScale: 6, armBias: 64 });
  const outB = 2 * arch.D + 1; // the ARM output layer's bias tensor: [mu, log2 b]
  p.tensors[outB] = { k: Int32Array.of(0, lsBias), e: 0, s: 40 };
  return p;
}

export function standInFile(core: PerImageCore, rgba: ArrayLike<number>, width: number, height: number, lsBias: number, seed = 1, archName = 'default'): Uint8Array {
  const params = standInParams(seed, lsBias, archName);
  const grids = pyramidGrids(rgba, width, height, params.arch.L);
  return writePerImageContainer({ width, height, quality: 4, params: core.encodeParams(params), latents: core.encodeLatents(params, grids, width, height), alpha: null });
}

async function main(): Promise<void> {
  const dir = path.resolve(ROOT, opt('dir', path.join('..', 'shared', 'data', 'kodak')));
  const out = path.resolve(ROOT, opt('out', path.join('.out', 'perimage-standin')));
  if (path.resolve(out) === path.resolve(ROOT, 'bench', 'results', 'files', 'perimage')) {
    throw new Error('stand-in files must not go where the real encodes are committed (bench/results/files/perimage)');
  }
  const lsBias = Number(opt('ls', '-560'));
  const n = Number(opt('images', '24'));
  const archName = opt('arch', opt('synth', 'default')!)!;
  standInArch(archName); // an unknown name fails before any file is written
  const core = await createPerImageCore();
  mkdirSync(out, { recursive: true });
  const names = readdirSync(dir).filter((f) => /^kodim\d\d\.png$/.test(f)).sort().slice(0, n);
  let bits = 0, px = 0;
  for (const f of names) {
    const img = await decodePng(readFileSync(path.join(dir, f)));
    const file = standInFile(core, img.data, img.width, img.height, lsBias, 1, archName);
    writeFileSync(path.join(out, f.replace('.png', '.nimg')), file);
    bits += file.length * 8;
    px += img.width * img.height;
    console.error(`${f}: ${img.width}x${img.height}, ${file.length} bytes, ${((file.length * 8) / (img.width * img.height)).toFixed(3)} bpp`);
  }
  const archText = archName === 'default' ? 'default architecture' : `the ${archName} architecture`;
  writeFileSync(path.join(out, 'STAND_IN'), `Stand-in per-image files made by bench/perimage-standin.ts: ${archText}, structured (not encoded) params and latents. For speed-bench development only; never results.\n`);
  console.log(JSON.stringify({ out: path.relative(ROOT, out), files: names.length, bpp: Math.round((bits / px) * 1000) / 1000, lsBias, arch: archName }));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
