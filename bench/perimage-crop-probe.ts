/**
 * One per-image encode of a crop of a photo on the CPU (tfjs WASM), with the encoder's current
 * training recipe or the one before the phase-2 fix: a check, on the CPU machine, that the
 * TypeScript encoder follows what the PyTorch reference (train/perimage/sweep.py) measured.
 * Prints one JSON line: the float model's PSNR and latent bpp with rounded latents, its loss
 * (MSE + lambda * latent bpp, the quantity both recipes minimise), and the file-level numbers.
 *   npx tsx bench/perimage-crop-probe.ts --image ../shared/data/train/bsds500/train/100075.jpg
 *       [--crop 128 (top-left square, as sweep.py --crop)] [--steps 2000] [--lambda 1.5e-3] [--recipe r2|r1]
 * r1: phase 2 moves the latents (0.1x) and the last parameters are returned; r2: the defaults.
 * Both run with the encoder's log2 b clamp gradient (forward.ts LOG2B_GRAD, printed): runs before
 * it became 'inward' (recipe r3 in bench/perimage-rd-report.ts) had the plain clamp's.
 */
import { readFileSync } from 'node:fs';
import { decodeImageFile } from '../src/image/index.js';
import { encodePerImage } from '../src/profiles/perimage/encoder/index.js';
import { opt } from './args.js';
import { LOG2B_GRAD } from '../src/profiles/perimage/encoder/forward.js';

const file = opt('image', '');
if (!file) throw new Error('--image FILE');
const S = +opt('crop', '128'), steps = +opt('steps', '2000'), lambda = +opt('lambda', '1.5e-3'), recipe = opt('recipe', 'r2');
const img = await decodeImageFile(new Uint8Array(readFileSync(file)));
if (img.width < S || img.height < S) throw new Error(`${file}: smaller than ${S}x${S}`);
const data = new Uint8ClampedArray(S * S * 4);
for (let y = 0; y < S; y++) data.set(img.data.subarray(y * img.width * 4, (y * img.width + S) * 4), y * S * 4);
const train: { steLatentScale?: number; bestEvery?: number } = recipe === 'r1' ? { steLatentScale: 0.1, bestEvery: 0 } : {};
const t0 = performance.now();
const { stats } = await encodePerImage({ width: S, height: S, data }, { quality: 4, lambda, steps, backend: 'wasm', train });
const latentBpp = stats.latentBits / (S * S);
console.log(JSON.stringify({
  image: file.split('/').pop(), crop: S, steps, lambda, recipe, log2bGrad: LOG2B_GRAD, seconds: +((performance.now() - t0) / 1000).toFixed(1),
  psnrFloat: +stats.psnrFloat.toFixed(3), latentBpp: +latentBpp.toFixed(4), lossFloat: +(10 ** (-stats.psnrFloat / 10) + lambda * latentBpp).toExponential(4),
  psnrQuantized: +stats.psnrQuantized.toFixed(3), bppEstimate: +stats.bppEstimate.toFixed(4),
}));
