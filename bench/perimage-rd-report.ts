/**
 * Kodak rate-distortion rows of the per-image profile from REAL files: the .nimg files the GPU
 * encoder wrote (bench/perimage-gpu.ts `jobs`; rows in bench/results/perimage-rows/NAME.json,
 * files in bench/results/files/perimage/NAME.nimg) are decoded here on the CPU with the core
 * (decodePayload) and measured against the Kodak PNGs: PSNR (8-bit RGB) and MS-SSIM
 * (bench/metrics.ts, the definitions of kodak-rd.json). bpp is the file size.
 *
 * Beside each row: the PSNR / MS-SSIM that the amortized profile (nimg) and WebP reach on
 * the same image at the same bpp (bench/results/kodak-rd-per-image.json, interpolated
 * linearly in log(bpp); null outside their measured range).
 *
 *   npx tsx bench/perimage-rd-report.ts [--kodak DIR] [--out bench/results/kodak-rd-perimage.json]
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodePng } from './images.js';
import { msssimRgb, psnrRgb } from './metrics.js';
import { createPerImageCore } from '../src/profiles/perimage/core.js';
import { parsePerImageContainer } from '../src/profiles/perimage/container.js';

const argv = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};
const ROWS = 'bench/results/perimage-rows';
const FILES = 'bench/results/files/perimage';
const kodakDir = opt('kodak', process.env.NIMG_KODAK ?? '../shared/data/kodak');
const outPath = opt('out', 'bench/results/kodak-rd-perimage.json');

interface Row {
  name: string; image: string; width: number; height: number; quality: number; lambda: number; steps: number;
  bytes: number; bpp: number; encodeSeconds: number; trainSeconds: number; quantizeSeconds: number; msPerStep: number;
  psnrQuantized: number; gridsRoundTrip: boolean; backend: string; gpu: string | null; concurrency: number; finished: string;
}
type Curve = { bpp: number; psnr: number; ms_ssim: number }[];
const perImage = JSON.parse(readFileSync('bench/results/kodak-rd-per-image.json', 'utf8')) as Record<string, { images: Record<string, Curve> }>;

/** the curve's value at bpp, linear in log(bpp) between its two neighbours; null outside */
function at(curve: Curve | undefined, bpp: number, key: 'psnr' | 'ms_ssim'): number | null {
  if (!curve) return null;
  const c = [...curve].sort((a, b) => a.bpp - b.bpp);
  for (let i = 0; i + 1 < c.length; i++) {
    if (bpp >= c[i].bpp && bpp <= c[i + 1].bpp) {
      const t = Math.log(bpp / c[i].bpp) / Math.log(c[i + 1].bpp / c[i].bpp);
      return +(c[i][key] + t * (c[i + 1][key] - c[i][key])).toFixed(4);
    }
  }
  return null;
}

const core = await createPerImageCore();
const rows = readdirSync(ROWS).filter((n) => n.endsWith('.json')).sort().map((n) => JSON.parse(readFileSync(path.join(ROWS, n), 'utf8')) as Row);
type Side = { psnr: number | null; ms_ssim: number | null };
const out: Array<Record<string, unknown> & { image: string; lambda: number; steps: number; bpp: number; psnr: number; ms_ssim: number; encode_seconds: number; same_bpp: { nimg_amortized: Side; webp: Side } }> = [];
for (const r of rows) {
  const bytes = new Uint8Array(readFileSync(path.join(FILES, `${r.name}.nimg`)));
  if (bytes.length !== r.bytes) throw new Error(`${r.name}: ${bytes.length} bytes, the row says ${r.bytes}`);
  const f = parsePerImageContainer(bytes);
  const t0 = performance.now();
  const { rgba } = core.decodePayload(f.params, f.latents, f.header.width, f.header.height);
  const decodeMs = performance.now() - t0;
  const ref = decodePng(new Uint8Array(readFileSync(path.join(kodakDir, r.image))));
  if (ref.width !== f.header.width || ref.height !== f.header.height) throw new Error(`${r.name}: size differs from ${r.image}`);
  const psnr = psnrRgb(rgba, ref.data, ref.width, ref.height);
  const ms = msssimRgb(rgba, ref.data, ref.width, ref.height);
  const bpp = (bytes.length * 8) / (ref.width * ref.height);
  out.push({
    name: r.name, image: r.image, lambda: r.lambda, quality_header: +f.header.quality.toFixed(4), steps: r.steps,
    bytes: bytes.length, bpp: +bpp.toFixed(6), psnr: +psnr.toFixed(4), ms_ssim: +ms.toFixed(6),
    psnr_encoder_float_model: r.psnrQuantized, grids_round_trip_on_device: r.gridsRoundTrip,
    encode_seconds: r.encodeSeconds, train_seconds: r.trainSeconds, quantize_seconds: r.quantizeSeconds, ms_per_step: r.msPerStep,
    processes_sharing_gpu: r.concurrency, gpu: r.gpu, backend: r.backend, encoded: r.finished,
    cpu_decode_ms: +decodeMs.toFixed(0),
    same_bpp: {
      nimg_amortized: { psnr: at(perImage.nimg?.images[r.image], bpp, 'psnr'), ms_ssim: at(perImage.nimg?.images[r.image], bpp, 'ms_ssim') },
      webp: { psnr: at(perImage.webp?.images[r.image], bpp, 'psnr'), ms_ssim: at(perImage.webp?.images[r.image], bpp, 'ms_ssim') },
    },
  });
  console.log(`${r.name}: ${bpp.toFixed(4)} bpp, PSNR ${psnr.toFixed(3)} dB, MS-SSIM ${ms.toFixed(5)} (nimg at same bpp ${out[out.length - 1].same_bpp.nimg_amortized.psnr}, webp ${out[out.length - 1].same_bpp.webp.psnr})`);
}
const images = [...new Set(out.map((o) => o.image))].sort();
const rates = [...new Set(out.map((o) => `lambda=${o.lambda} steps=${o.steps}`))];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const groups = rates.map((k) => {
  const g = out.filter((o) => `lambda=${o.lambda} steps=${o.steps}` === k);
  const d = (sel: (o: (typeof out)[number]) => number | null) => {
    const v = g.map(sel).filter((x): x is number => x !== null);
    return v.length === g.length ? +mean(v).toFixed(4) : null;
  };
  return {
    rate: k, n_images: g.length, bpp: +mean(g.map((o) => o.bpp)).toFixed(5), psnr: +mean(g.map((o) => o.psnr)).toFixed(4), ms_ssim: +mean(g.map((o) => o.ms_ssim)).toFixed(6),
    psnr_minus_nimg_amortized_same_bpp: d((o) => (o.same_bpp.nimg_amortized.psnr === null ? null : o.psnr - o.same_bpp.nimg_amortized.psnr)),
    psnr_minus_webp_same_bpp: d((o) => (o.same_bpp.webp.psnr === null ? null : o.psnr - o.same_bpp.webp.psnr)),
    encode_seconds_mean: +mean(g.map((o) => o.encode_seconds)).toFixed(1),
  };
});
const report = {
  subject: 'nimg profile 2 (perimage), TypeScript encoder on tfjs WebGPU (Dawn/Vulkan), real v2 files decoded on the CPU by the core',
  partial: true,
  why_partial: 'one device session (30 min of GPU time) measured 68 ms/step solo on an H100 and no gain from processes side by side (17 steps/s aggregate for 2 and 4 processes), so an 8000-step (default) encode takes ~9 min: these rows use 2000 steps (a quarter of the default effort) at one lambda, 6 of 24 images',
  images, rates,
  not_computed: 'BD-rates vs AVIF 4:4:4 / AVIF 4:2:0 / WebP: they need a curve (several rates) per image; one rate is covered',
  groups, rows: out,
  metrics: 'bpp = file bytes*8/pixels; PSNR on 8-bit RGB; MS-SSIM as bench/results/kodak-rd.json (bench/metrics.ts); same_bpp = the other codec on the same image interpolated linearly in log(bpp) from kodak-rd-per-image.json',
  date: new Date().toISOString(),
};
writeFileSync(outPath, `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(groups));
