/**
 * Kodak rate-distortion rows of the per-image profile from REAL files: the .nimg files the GPU
 * encoder wrote (bench/perimage-gpu.ts `jobs`; rows in bench/results/perimage-rows/NAME.json,
 * files in bench/results/files/perimage/NAME.nimg) are decoded here on the CPU with the core
 * (decodePayload; the mid-rate files, lambda 1.5e-3, are kodimNN.nimg: the row's `file`) and measured against the Kodak PNGs: PSNR (8-bit RGB) and MS-SSIM
 * (bench/metrics.ts, the definitions of kodak-rd.json). bpp is the file size.
 *
 * Beside each row: the PSNR / MS-SSIM that the amortized profile (nimg) and WebP reach on
 * the same image at the same bpp (bench/results/kodak-rd-per-image.json, interpolated
 * linearly in log(bpp); null outside their measured range).
 *
 * BD-rates (keys of kodak-rd.json: bd_rate_psnr.avif444 / .avif / .webp, bd_rate_msssim.*) of
 * the curve of each number of steps and recipe (recipeOf) against the peers' per-image curves averaged over the same
 * images; the headline keys are the curve with the most images (then the newer recipe).
 *
 *   npx tsx bench/perimage-rd-report.ts [--kodak DIR] [--out bench/results/kodak-rd-perimage.json] [--why-partial TEXT]
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodePng } from './images.js';
import { msssimRgb, psnrRgb } from './metrics.js';
import { bdRate, type RdPoint } from './bdrate.js';
import { loadAnchors } from './anchors.js';
import { colorFor, rdSvg, type Series } from './plot.js';
import { createPerImageCore } from '../src/profiles/perimage/core.js';
import { parsePerImageContainer } from '../src/profiles/perimage/container.js';
import { estimateEncodeSeconds } from '../src/profiles/perimage/encoder/estimate.js';
import { DEFAULT_STEPS } from '../src/profiles/perimage/encoder/index.js';
import { opt } from './args.js';
import { curveName, headlineFirst, recipeOf, type RecipeFields } from './perimage-curves.js';

const ROWS = 'bench/results/perimage-rows';
/** timing runs only: one encode alone on the GPU, not a point of any curve (its rows would double an image's rate) */
const SOLO = 'bench/results/perimage-gpu/solo';
const FILES = 'bench/results/files/perimage';
const kodakDir = opt('kodak', process.env.NIMG_KODAK ?? '../shared/data/kodak');
const outPath = opt('out', 'bench/results/kodak-rd-perimage.json');

interface Row extends RecipeFields {
  name: string; file?: string; image: string; width: number; height: number; quality: number; lambda: number; steps: number;
  bytes: number; bpp: number; encodeSeconds: number; trainSeconds: number; quantizeSeconds: number; msPerStep: number;
  psnrQuantized: number; gridsRoundTrip: boolean; backend: string; gpu: string | null; concurrency: number; members?: number; finished: string;
}
type Curve = { quality_setting: number; bpp: number; psnr: number; ms_ssim: number }[];
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
/** the rows NAME.json of a folder, in name order (none if it is missing) */
const readRows = (dir: string): Row[] =>
  existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.json')).sort().map((n) => JSON.parse(readFileSync(path.join(dir, n), 'utf8')) as Row) : [];
const rows = readRows(ROWS);
type Side = { psnr: number | null; ms_ssim: number | null };
const out: Array<Record<string, unknown> & { image: string; lambda: number; steps: number; recipe: string; curve: string; bpp: number; psnr: number; ms_ssim: number; encode_seconds: number; same_bpp: { nimg_amortized: Side; webp: Side } }> = [];
for (const r of rows) {
  const bytes = new Uint8Array(readFileSync(path.join(FILES, r.file ?? `${r.name}.nimg`)));
  if (bytes.length !== r.bytes) throw new Error(`${r.name}: ${bytes.length} bytes, the row says ${r.bytes}`);
  const f = parsePerImageContainer(bytes);
  const t0 = performance.now();
  const { rgba } = core.decodePayload(f.params, f.latents, f.header.width, f.header.height, { fineScales: f.header.fineScales });
  const decodeMs = performance.now() - t0;
  const ref = decodePng(new Uint8Array(readFileSync(path.join(kodakDir, r.image))));
  if (ref.width !== f.header.width || ref.height !== f.header.height) throw new Error(`${r.name}: size differs from ${r.image}`);
  const psnr = psnrRgb(rgba, ref.data, ref.width, ref.height);
  const ms = msssimRgb(rgba, ref.data, ref.width, ref.height);
  const bpp = (bytes.length * 8) / (ref.width * ref.height);
  const recipe = recipeOf(r);
  out.push({
    name: r.name, image: r.image, lambda: r.lambda, quality_header: +f.header.quality.toFixed(4), steps: r.steps, recipe, curve: curveName(r.steps, recipe),
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
const rates = [...new Set(out.map((o) => `lambda=${o.lambda} ${o.curve}`))];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const groups = rates.map((k) => {
  const g = out.filter((o) => `lambda=${o.lambda} ${o.curve}` === k);
  const d = (sel: (o: (typeof out)[number]) => number | null) => {
    const v = g.map(sel).filter((x): x is number => x !== null);
    return v.length === g.length ? +mean(v).toFixed(4) : null;
  };
  return {
    rate: k, lambda: g[0].lambda, steps: g[0].steps, recipe: g[0].recipe, curve: g[0].curve, images: g.map((o) => o.image).sort(), n_images: g.length,
    bpp: +mean(g.map((o) => o.bpp)).toFixed(5), psnr: +mean(g.map((o) => o.psnr)).toFixed(4), ms_ssim: +mean(g.map((o) => o.ms_ssim)).toFixed(6),
    psnr_minus_nimg_amortized_same_bpp: d((o) => (o.same_bpp.nimg_amortized.psnr === null ? null : o.psnr - o.same_bpp.nimg_amortized.psnr)),
    psnr_minus_webp_same_bpp: d((o) => (o.same_bpp.webp.psnr === null ? null : o.psnr - o.same_bpp.webp.psnr)),
    encode_seconds_mean: +mean(g.map((o) => o.encode_seconds)).toFixed(1),
  };
});

// ---- BD-rates. The curve of one number of steps and one recipe: the rates (lambdas) whose rows cover the same
// images, each point the mean over those images (as kodak-rd.json averages per quality setting);
// each peer's curve is its per-image points (kodak-rd-per-image.json, the same bench settings as
// kodak-rd.json) averaged over the SAME images, quality setting by quality setting.
const PEERS = ['avif444', 'avif', 'webp', 'nimg'];
const peerCurve = (codec: string, imgs: string[]): RdPoint[] | null => {
  const per = perImage[codec]?.images;
  if (!per || imgs.some((i) => !per[i])) return null;
  const qs = per[imgs[0]].map((pt) => pt.quality_setting);
  return qs.map((q) => {
    const pts = imgs.map((i) => per[i].find((pt) => pt.quality_setting === q)!);
    return { bpp: mean(pts.map((pt) => pt.bpp)), psnr: mean(pts.map((pt) => pt.psnr)), ms_ssim: mean(pts.map((pt) => pt.ms_ssim)) };
  });
};
const r5 = (v: number) => (Number.isFinite(v) ? +v.toFixed(5) : null);
/** the curve `curve` (curveName) on the images `imgs`: per rate, the mean over those images */
const curveOn = (curve: string, imgs: string[]): RdPoint[] => groups.filter((g) => g.curve === curve).map((g) => {
  const rows = out.filter((o) => o.curve === curve && o.lambda === g.lambda && imgs.includes(o.image));
  return { bpp: mean(rows.map((o) => o.bpp)), psnr: mean(rows.map((o) => o.psnr)), ms_ssim: mean(rows.map((o) => o.ms_ssim)) };
}).sort((a, b) => a.bpp - b.bpp);
const curveKeys = [...new Map(groups.map((g) => [g.curve, { curve: g.curve, steps: g.steps, recipe: g.recipe }])).values()]
  .sort((a, b) => a.recipe.localeCompare(b.recipe) || a.steps - b.steps);
const curves = curveKeys.map(({ curve, steps, recipe }) => {
  // the images every rate of this curve has
  const imgs = groups.filter((g) => g.curve === curve).map((g) => g.images).reduce((a, b) => a.filter((i) => b.includes(i)));
  const pts = curveOn(curve, imgs);
  const bd = (metric: 'psnr' | 'msssim', method: 'poly' | 'pchip') => Object.fromEntries(PEERS.map((c) => {
    const ref = peerCurve(c, imgs);
    return [c, ref && pts.length >= 4 ? r5(bdRate(ref, pts, { metric, method })) : null];
  }));
  return {
    curve, steps, recipe, n_rates: pts.length, images: imgs, n_images: imgs.length,
    points: pts.map((p) => ({ bpp: r5(p.bpp), psnr: +p.psnr!.toFixed(4), ms_ssim: +p.ms_ssim!.toFixed(6) })),
    bd_rate_psnr: bd('psnr', 'poly'), bd_rate_psnr_pchip: bd('psnr', 'pchip'),
    bd_rate_msssim: bd('msssim', 'poly'), bd_rate_msssim_pchip: bd('msssim', 'pchip'),
    missing_peers: PEERS.filter((c) => !peerCurve(c, imgs)),
  };
});
// ---- rate against encode time: each curve against the curve of the most images (the
// reference) on the images both have (every step count has its own image set: the longer
// encodes cover only EFFORT_IMAGES of bench/perimage-queue.ts), and against AVIF 4:4:4 on those
// images; seconds = the H100 estimate of estimate.ts for a 768x512 image (the measured step of
// one encode alone on the GPU, plus the quantization search), not a timed encode.
const main = [...curves].sort(headlineFirst)[0];
const effortTable = main && curves.length > 1 ? curves.map((c) => {
  const imgs = c.images.filter((i) => main.images.includes(i));
  const pts = curveOn(c.curve, imgs);
  const ref = curveOn(main.curve, imgs);
  const avif444 = peerCurve('avif444', imgs);
  return {
    curve: c.curve, steps: c.steps, recipe: c.recipe, effort: +(c.steps / DEFAULT_STEPS).toFixed(4), est_seconds_h100_768x512: +estimateEncodeSeconds(768, 512, c.steps, 'webgpu').toFixed(1),
    images: imgs, n_images: imgs.length,
    bd_rate_psnr_vs_reference: r5(bdRate(ref, pts, { metric: 'psnr', method: 'pchip' })),
    bd_rate_psnr_vs_avif444: avif444 ? r5(bdRate(avif444, pts, { metric: 'psnr', method: 'pchip' })) : null,
    reference_bd_rate_psnr_vs_avif444: avif444 ? r5(bdRate(avif444, ref, { metric: 'psnr', method: 'pchip' })) : null,
  };
}) : [];
// encodes that ran alone on the GPU (one lambda, no other job): measured encode seconds
const soloEncodes = [...rows, ...readRows(SOLO)].filter((r) => r.concurrency === 1 && (r.members ?? 1) === 1).map((r) => ({
  name: r.name, steps: r.steps, recipe: recipeOf(r), width: r.width, height: r.height, gpu: r.gpu, finished: r.finished, encode_seconds: r.encodeSeconds, train_seconds: r.trainSeconds,
  quantize_seconds: r.quantizeSeconds, ms_per_step: r.msPerStep,
}));
// published curves (full 24-image Kodak; ours may cover fewer images: see `images`)
const anchors = loadAnchors(path.resolve('../shared/anchors/kodak_anchors.json'));
const published = main ? Object.fromEntries(['coolchic-v5.0', 'coolchic-v4.x', 'c3'].filter((k) => anchors[k]).map((k) => [k, r5(bdRate(anchors[k], main.points as RdPoint[], { metric: 'psnr', method: 'pchip' }))])) : {};
const report = {
  subject: 'nimg profile 2 (perimage), TypeScript encoder on tfjs WebGPU (Dawn/Vulkan), real v2 files decoded on the CPU by the core',
  partial: !main || main.n_images < 24,
  why_partial: opt('why-partial', ''),
  images, rates,
  bd_rate_psnr: main?.bd_rate_psnr ?? null,
  bd_rate_msssim: main?.bd_rate_msssim ?? null,
  bd_rate_psnr_pchip: main?.bd_rate_psnr_pchip ?? null,
  bd_rate_msssim_pchip: main?.bd_rate_msssim_pchip ?? null,
  bd_main_curve: main ? { curve: main.curve, steps: main.steps, recipe: main.recipe, n_images: main.n_images, n_rates: main.n_rates } : null,
  recipes: {
    r1: 'phase 2 (straight-through) moves the latents; the encoder returns the last parameters (every row encoded before the fix of 2026-12-06)',
    r2: 'phase 2 leaves the latents as phase 1 left them and the encoder keeps the lowest-loss parameters of phase 2 (train.ts steLatentScale 0, bestEvery 50; 2026-12-06)',
    r3: 'r2, and the ARM log2 b clamp passes the gradient that points back into the range (forward.ts clampLog2b; 2026-12-06 late)',
    r4: 'r3 in files with the full scale set: container flag FINE_SCALES, latent tables down to log2 b = -5 instead of -3; phase 1 trains with the floor at -3, phase 2 at -5 (train.ts phase1Log2bMin; the default since 2026-12-07)',
  },
  bd_rate_psnr_vs_published_pchip: published,
  rate_vs_encode_time: { reference: main?.curve ?? null, default_steps: DEFAULT_STEPS, rows: effortTable, solo_encodes: soloEncodes },
  bd_note: 'fractions (-0.1 = 10% fewer bits than the peer at equal quality), nimg perimage as the test curve; peers: this bench\'s codecs (kodak-rd-per-image.json: avif444 / avif = libaom speed 6 via @jsquash/avif, webp = libwebp method 4, nimg = the amortized profile) averaged over the same images as ours; published: the full-Kodak curves of ../shared/anchors (PSNR-RGB), which is only a like-for-like comparison when n_images is 24',
  curves, groups, rows: out,
  metrics: 'bpp = file bytes*8/pixels; PSNR on 8-bit RGB; MS-SSIM as bench/results/kodak-rd.json (bench/metrics.ts); same_bpp = the other codec on the same image interpolated linearly in log(bpp) from kodak-rd-per-image.json; curve points = means over images per rate, as kodak-rd.json',
  date: new Date().toISOString(),
};
writeFileSync(outPath, `${JSON.stringify(report, null, 2)}\n`);
// the plot beside it: the main curve, the peers over the same images, the published curves (dashed)
if (main) {
  const series: Series[] = [
    { name: `nimg perimage (${main.curve})`, points: main.points as RdPoint[], color: colorFor('nimg', 0, false) },
    // the other step counts on their own images (the legend says how many)
    // (solid: measured here; lighter reds, so that they are not read as the dashed published curves)
    ...curves.filter((c) => c !== main).map((c, i) => ({ name: `perimage ${c.curve} (${c.n_images} img)`, points: c.points as RdPoint[], color: ['#ff7f7f', '#c0392b', '#f5b7b1'][i % 3] })),
    ...PEERS.flatMap((c) => {
      const pts = peerCurve(c, main.images);
      return pts ? [{ name: c === 'nimg' ? 'nimg amortized' : c, points: pts, color: c === 'nimg' ? '#7f7f7f' : colorFor(c, 0, false) }] : [];
    }),
    ...Object.keys(published).map((k, i) => ({ name: `${k} (published, 24 images)`, points: anchors[k], dashed: true, color: colorFor(k, i, true) })),
  ];
  writeFileSync(outPath.replace(/\.json$/, '.svg'), rdSvg(series, { title: `Kodak (${main.n_images} images): nimg perimage vs this bench's codecs on the same images`, xMax: 1.6 }));
}
console.log(JSON.stringify({ effort: effortTable, main: report.bd_main_curve, bd_rate_psnr: report.bd_rate_psnr, bd_rate_msssim: report.bd_rate_msssim, published }));
