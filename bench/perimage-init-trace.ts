/**
 * Training traces of the encoder's study options on one crop of a training photo, on tfjs
 * WASM (this machine's CPU, no device): the initial synthesis bias (PerImageEncodeOptions.
 * synHiddenBias), the seed (--seed: the initialisation and the noise) and SOAP for the
 * weight matrices (--soap syn | arm | arm,syn: TrainSettings.soap, encoder/soap.ts). The
 * training curve (PSNR and latent bpp every 50 steps) is in the row, so a start that sits at
 * the image's mean colour shows as a flat PSNR before it climbs, seeds show how far starts
 * spread, and an optimiser how fast it gets where.
 *   npx tsx bench/perimage-init-trace.ts --image PHOTO [--bias 0.01] [--crop 0,0,256,256]
 *       [--lambda 5e-4] [--steps 2000] [--seed 1] [--soap syn [--soap-lr 1]] [--out rows.jsonl] [--tag T]
 * Appends one JSON row to --out: image, crop, λ, steps, seed, bias, soap, the estimated bpp
 * (latents + parameters) and the latents' alone, PSNR of the quantized and of the float
 * model, seconds, and `curve`: [step, psnr, bpp] triples.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { opt } from './args.js';
import { loadImage } from './load-image.js';
import { encodePerImage } from '../src/profiles/perimage/encoder/index.js';
import { soapSettingsOf } from '../src/profiles/perimage/encoder/soap.js';

const file = opt('image')!;
const crop = opt('crop', '0,0,256,256')!.split(',').map(Number);
const lambda = +opt('lambda', '5e-4')!;
const steps = +opt('steps', '2000')!;
const bias = +opt('bias', '0.01')!;
const seed = +opt('seed', '1')!;
const soapOn = opt('soap', '')!;
const soap = soapOn ? soapSettingsOf(soapOn, +opt('soap-lr', '1')!) : null;
const img = await loadImage(file, crop);
const curve: [number, number, number][] = [];
const t0 = performance.now();
const r = await encodePerImage(img, {
  quality: 4, lambda, steps, backend: 'wasm', synHiddenBias: bias, seed, train: { soap },
  onProgress: (done, _total, p) => {
    curve.push([done, +p.psnr.toFixed(3), +p.bpp.toFixed(4)]);
    if (done % 250 === 0) console.log(`${path.basename(file)} b${bias} seed ${seed} step ${done} psnr ${p.psnr.toFixed(2)} bpp ${p.bpp.toFixed(4)}`);
  },
});
const row = {
  tag: opt('tag', ''), image: path.basename(file), crop, lambda, steps, seed, synHiddenBias: bias, ...(soap ? { soap } : {}),
  bppEstimate: +r.stats.bppEstimate.toFixed(5), latentBpp: +(r.stats.latentBits / (img.width * img.height)).toFixed(5), psnrQuantized: +r.stats.psnrQuantized.toFixed(3), psnrFloat: +r.stats.psnrFloat.toFixed(3),
  seconds: +((performance.now() - t0) / 1000).toFixed(1), msPerStep: +r.stats.msPerStep.toFixed(1), curve,
};
appendFileSync(opt('out', 'init-trace.jsonl')!, `${JSON.stringify(row)}\n`);
console.log(JSON.stringify({ ...row, curve: undefined }));
