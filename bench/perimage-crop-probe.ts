/**
 * One per-image encode of a crop of a photo on the CPU (tfjs WASM), with the encoder's current
 * training recipe or the one before the phase-2 fix: a check, on the CPU machine, that the
 * TypeScript encoder follows what the PyTorch reference (train/perimage/sweep.py) measured.
 * Prints one JSON line: the float model's PSNR and latent bpp with rounded latents, its loss
 * (MSE + lambda * latent bpp, the quantity both recipes minimise), and the file-level numbers.
 *   npx tsx bench/perimage-crop-probe.ts --image ../shared/data/train/bsds500/train/100075.jpg
 *       [--crop 128 (top-left square, as sweep.py --crop)] [--steps 2000] [--lambda 1.5e-3] [--recipe r2|r1]
 *       [--fine-scales 1|0 (default: the encoder's; 0 = the base scale set, recipe r3)] [--seed 1]
 *       [--phase1-log2b-min -3 (train.ts phase1Log2bMin; -8: the fine floor from the first step)]
 *       [--file-floor-from 1 (train.ts fileFloorFrom: share of phase 1 after which the file's floor applies)]
 *       [--arch auto|default|compact (auto: the encoder's choice by size and lambda, arch-choice.ts)]
 * fileBpp / filePsnr: the real file (params section + latent stream from the core, 48-byte
 * header) and the PSNR of its 8-bit decode against the crop.
 * r1: phase 2 moves the latents (0.1x) and the last parameters are returned; r2: the defaults.
 * Both run with the encoder's log2 b clamp gradient (forward.ts LOG2B_GRAD, printed): runs before
 * it became 'inward' (recipe r3 in bench/perimage-rd-report.ts) had the plain clamp's.
 */
import { readFileSync } from 'node:fs';
import { decodeImageFile } from '../src/image/index.js';
import { encodePerImage } from '../src/profiles/perimage/encoder/index.js';
import { opt } from './args.js';
import { psnrRgb } from './metrics.js';
import { createPerImageCore } from '../src/profiles/perimage/core.js';
import { writePerImageContainer } from '../src/profiles/perimage/container.js';
import { LOG2B_GRAD } from '../src/profiles/perimage/encoder/forward.js';
import { DEFAULT_TRAIN } from '../src/profiles/perimage/encoder/train.js';
import { archOfName } from '../src/profiles/perimage/encoder/arch-choice.js';

const file = opt('image', '');
if (!file) throw new Error('--image FILE');
const S = +opt('crop', '128'), steps = +opt('steps', '2000'), lambda = +opt('lambda', '1.5e-3'), recipe = opt('recipe', 'r2');
const img = await decodeImageFile(new Uint8Array(readFileSync(file)));
if (img.width < S || img.height < S) throw new Error(`${file}: smaller than ${S}x${S}`);
const data = new Uint8ClampedArray(S * S * 4);
for (let y = 0; y < S; y++) data.set(img.data.subarray(y * img.width * 4, (y * img.width + S) * 4), y * S * 4);
const train: { steLatentScale?: number; bestEvery?: number; phase1Log2bMin?: number; fileFloorFrom?: number } = recipe === 'r1' ? { steLatentScale: 0.1, bestEvery: 0 } : {};
const p1 = opt('phase1-log2b-min', '');
if (p1) train.phase1Log2bMin = +p1;
const ff = opt('file-floor-from', '');
if (ff) train.fileFloorFrom = +ff;
const t0 = performance.now();
const fine = opt('fine-scales', '');
const seed = +opt('seed', '1');
const archOpt = opt('arch', 'auto');
const arch = archOpt === 'default' || archOpt === 'compact' ? archOfName(archOpt) : 'auto';
const { stats, params, grids } = await encodePerImage({ width: S, height: S, data }, { quality: 4, lambda, steps, backend: 'wasm', train, seed, arch, ...(fine ? { fineScales: fine === '1' } : {}) });
const latentBpp = stats.latentBits / (S * S);
const core = await createPerImageCore();
const paramsSection = core.encodeParams(params);
const fileBytes = writePerImageContainer({
  width: S, height: S, quality: 4, params: paramsSection, latents: core.encodeLatents(params, grids, S, S), alpha: null, fineScales: params.fineScales,
}).length;
const filePsnr = psnrRgb(core.synthesize(params, grids, S, S), data, S, S);
console.log(JSON.stringify({
  image: file.split('/').pop(), crop: S, steps, lambda, recipe, seed, arch: stats.arch, paramsBytes: paramsSection.length, fineScales: params.fineScales === true, phase1Log2bMin: train.phase1Log2bMin ?? DEFAULT_TRAIN.phase1Log2bMin, fileFloorFrom: train.fileFloorFrom ?? DEFAULT_TRAIN.fileFloorFrom, log2bGrad: LOG2B_GRAD, seconds: +((performance.now() - t0) / 1000).toFixed(1),
  psnrFloat: +stats.psnrFloat.toFixed(3), latentBpp: +latentBpp.toFixed(4), lossFloat: +(10 ** (-stats.psnrFloat / 10) + lambda * latentBpp).toExponential(4),
  psnrQuantized: +stats.psnrQuantized.toFixed(3), bppEstimate: +stats.bppEstimate.toFixed(4),
  fileBpp: +((fileBytes * 8) / (S * S)).toFixed(4), filePsnr: +filePsnr.toFixed(3),
}));
