/**
 * The quality → λ table of the per-image profile (src/profiles/perimage/encoder/lambda.ts),
 * calibrated on training photos, never Kodak: for each quality 1..8, the λ at which the
 * per-image encoder's mean bpp over the calibration photos equals the amortized profile's mean
 * bpp at that quality on the same photos (the issue's "same quality scale": similar bpp for the
 * same number).
 *
 *   npx tsx bench/perimage-calibrate.ts [--rows bench/results/perimage-calib]
 *       [--nimg bench/results/perimage-gpu/calib-nimg.json] [--steps 8000]
 *       [--out bench/results/perimage-calibration.json]
 *
 * Inputs: the rows of `perimage-gpu.ts jobs` over the queue's calibration jobs
 * (bench/perimage-queue.ts: calib-PHOTO-lL-sSTEPS-RECIPE, CALIB_LAMBDAS on the BSDS500 photos of
 * .gpu/calib); the amortized profile's curve per photo from `npm run bench -- --images <PNG
 * copies of the same photos> --codecs nimg --rd-only` (its *-rd-per-image.json).
 * Per photo, bpp is interpolated piecewise-linearly in log λ → log bpp between the measured
 * λ; the mean over photos is then solved for each quality's bpp by bisection in log λ. Outside
 * the measured λ range the end segments are extended and the quality is listed under
 * `extrapolated`.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { opt } from './args.js';
import { LAMBDA_TABLE } from '../src/profiles/perimage/encoder/lambda.js';

type Row = { name: string; image: string; lambda: number; steps: number; bpp: number; psnrQuantized?: number; gpu?: string | null };
type Point = { quality_setting: number; bpp: number };
const rowsDir = opt('rows', 'bench/results/perimage-calib');
const steps = +opt('steps', '8000');
const nimg = JSON.parse(readFileSync(opt('nimg', 'bench/results/perimage-gpu/calib-nimg.json'), 'utf8')) as { nimg: { images: Record<string, Point[]> } };
const rows = readdirSync(rowsDir).filter((n) => n.endsWith('.json')).map((n) => JSON.parse(readFileSync(path.join(rowsDir, n), 'utf8')) as Row)
  .filter((r) => r.steps === steps);

/** the photo's name without extension: rows name the JPEG, the amortized bench its PNG copy */
const stem = (f: string) => path.parse(f).name;
const photos = [...new Set(rows.map((r) => stem(r.image)))].filter((p) => Object.keys(nimg.nimg.images).some((k) => stem(k) === p)).sort();
if (photos.length === 0) throw new Error(`no photo has both calibration rows (${rowsDir}, ${steps} steps) and an amortized curve`);

/** log bpp at log λ, piecewise linear through the photo's points (sorted by λ), end segments extended */
function logBppAt(pts: Array<{ lambda: number; bpp: number }>, logLambda: number): number {
  const xs = pts.map((p) => Math.log(p.lambda));
  const ys = pts.map((p) => Math.log(p.bpp));
  let i = 0;
  while (i < xs.length - 2 && logLambda > xs[i + 1]) i++;
  const t = (logLambda - xs[i]) / (xs[i + 1] - xs[i]);
  return ys[i] + t * (ys[i + 1] - ys[i]);
}
const curves = photos.map((p) => rows.filter((r) => stem(r.image) === p).sort((a, b) => a.lambda - b.lambda).map((r) => ({ lambda: r.lambda, bpp: r.bpp })));
for (const [i, c] of curves.entries()) if (c.length < 2) throw new Error(`${photos[i]}: ${c.length} calibration row(s), at least 2 needed`);
const meanBpp = (logLambda: number) => curves.reduce((s, c) => s + Math.exp(logBppAt(c, logLambda)), 0) / curves.length;
const amortized = (q: number) => {
  const v = photos.map((p) => Object.entries(nimg.nimg.images).find(([k]) => stem(k) === p)![1].find((x) => x.quality_setting === q)?.bpp);
  if (v.some((x) => x === undefined)) throw new Error(`the amortized curve lacks quality ${q} for a photo`);
  return (v as number[]).reduce((a, b) => a + b, 0) / v.length;
};

const lo = Math.min(...curves.flat().map((p) => p.lambda));
const hi = Math.max(...curves.flat().map((p) => p.lambda));
const table: number[] = [];
const extrapolated: number[] = [];
for (let q = 1; q <= 8; q++) {
  const target = amortized(q);
  // meanBpp falls as λ grows: bisection on log λ over a wide bracket
  let a = Math.log(lo) - 3;
  let b = Math.log(hi) + 3;
  for (let k = 0; k < 100; k++) {
    const m = (a + b) / 2;
    if (meanBpp(m) > target) a = m;
    else b = m;
  }
  const l = Math.exp((a + b) / 2);
  table.push(+l.toPrecision(2));
  if (l < lo || l > hi) extrapolated.push(q);
}
for (let i = 1; i < table.length; i++) {
  if (!(table[i] < table[i - 1])) throw new Error(`calibrated table not decreasing at quality ${i + 1}: ${table.join(', ')}`);
}
const out = {
  date: new Date().toISOString(),
  command: `npx tsx bench/perimage-calibrate.ts ${process.argv.slice(2).join(' ')}`.trim(),
  method: 'per photo: log bpp piecewise linear in log lambda through the calibration rows; mean bpp over photos solved for the amortized profile\'s mean bpp at each quality (bisection); lambda rounded to 2 significant digits',
  steps, photos, gpu: [...new Set(rows.map((r) => r.gpu ?? null))],
  lambda_range_measured: [lo, hi],
  amortized_bpp: Array.from({ length: 8 }, (_, i) => +amortized(i + 1).toFixed(5)),
  perimage_rows: photos.map((p, i) => ({ photo: p, points: curves[i] })),
  table,
  table_in_use: [...LAMBDA_TABLE],
  perimage_bpp_at_table_in_use: LAMBDA_TABLE.map((l) => +meanBpp(Math.log(l)).toFixed(5)),
  extrapolated,
};
writeFileSync(opt('out', 'bench/results/perimage-calibration.json'), JSON.stringify(out, null, 1) + '\n');
console.log(`photos ${photos.join(' ')}; amortized bpp ${out.amortized_bpp.join(' ')}`);
console.log(`per-image bpp at the table in use: ${out.perimage_bpp_at_table_in_use.join(' ')}`);
console.log(`calibrated table: ${table.join(', ')}${extrapolated.length ? ` (extrapolated: quality ${extrapolated.join(', ')})` : ''}`);
