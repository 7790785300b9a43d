/**
 * The report of the refinement bench (bench/refine-rd.ts report): rows of JSON lines →
 * curves per refine value, BD-rates against the plain encoder, against the peers measured by
 * `npm run bench` and against the published curves, and the plot. Pure function
 * (`summarizeRefine`) + a writer, so that the numbers can be tested without the GPU runs.
 */
import os from 'node:os';
import { bdRate, type RdPoint } from './bdrate.js';
import { colorFor, rdSvg, type Series } from './plot.js';
import { ANCHOR_LABELS, ANCHOR_SET, type Anchors } from './anchors.js';
import { mean, median } from './stats.js';

/** One encode of refine-rd.ts run. */
export interface RefineRow {
  image: string;
  q: number;
  refine: number;
  bpp: number;
  psnr: number;
  ms_ssim: number;
  encode_ms: number;
  refine_ms: number;
  backend: string;
}

/** A file's text and its optional TAG (names the encoder version of its refined rows). */
export interface RowSource {
  text: string;
  tag?: string;
}

export type RefineCurvePoint = RdPoint & { quality_setting: number; n_images: number; median_encode_ms: number; median_refine_ms: number };

export interface RefineSummary {
  subject: string;
  images: number;
  image_names: string[];
  backends: string[];
  curves: Record<string, RefineCurvePoint[]>;
  /** curve → metric → (refine0 | peer) → BD-rate (fraction; negative = fewer bits) */
  bd_rate: Record<string, Record<string, Record<string, number | null>>>;
  /** curve → published anchor → BD-rate on PSNR */
  bd_rate_psnr_vs_published: Record<string, Record<string, number | null>>;
  note: string;
  machine: { platform: string; cpus: number };
  date: string;
}

const round = (v: number, d = 4): number => Math.round(v * 10 ** d) / 10 ** d;
const fin = (v: number) => (Number.isFinite(v) ? round(v, 5) : null);

/** Rows of the sources, keyed `refineN` (plain, or untagged) or `refineN-TAG`. */
export function readRows(sources: RowSource[]): (RefineRow & { key: string })[] {
  // lines that are not rows (log noise) are skipped; a repeated (image, level, key) keeps its first row
  const seen = new Set<string>();
  return sources
    .flatMap(({ text, tag }) =>
      text.split('\n').filter((l) => l.startsWith('{"image"')).map((l) => {
        const r = JSON.parse(l) as RefineRow;
        return { ...r, key: r.refine > 0 && tag ? `refine${r.refine}-${tag}` : `refine${r.refine}` };
      }))
    .filter((r) => {
      const k = `${r.image}|${r.q}|${r.key}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
}

/**
 * Curves averaged over the images present at every (key, level), BD-rates of each curve
 * against the lowest refine value (refine0 when present), the peers and the anchors.
 */
export function summarizeRefine(sources: RowSource[], peers: Record<string, RdPoint[]>, anchors: Anchors): RefineSummary {
  const rows = readRows(sources);
  const refineOf = new Map(rows.map((r) => [r.key, r.refine]));
  const keys = [...refineOf.keys()].sort((a, b) => refineOf.get(a)! - refineOf.get(b)! || a.localeCompare(b));
  const levels = [...new Set(rows.map((r) => r.q))].sort((a, b) => a - b);
  // means over the same set of images for every curve
  const images = [...new Set(rows.map((r) => r.image))].sort().filter((im) =>
    keys.every((k) => levels.every((q) => rows.some((r) => r.image === im && r.key === k && r.q === q))));
  const curves: Record<string, RefineCurvePoint[]> = {};
  for (const k of keys) {
    curves[k] = levels.map((q) => {
      const s = rows.filter((r) => r.key === k && r.q === q && images.includes(r.image));
      return {
        quality_setting: q, n_images: s.length,
        bpp: round(mean(s.map((r) => r.bpp)), 6), psnr: round(mean(s.map((r) => r.psnr))), ms_ssim: round(mean(s.map((r) => r.ms_ssim)), 6),
        median_encode_ms: Math.round(median(s.map((r) => r.encode_ms))), median_refine_ms: Math.round(median(s.map((r) => r.refine_ms))),
      };
    });
  }
  const base = curves[keys[0]];
  const bd: RefineSummary['bd_rate'] = {};
  const vsAnchors: RefineSummary['bd_rate_psnr_vs_published'] = {};
  for (const [name, c] of Object.entries(curves)) {
    bd[name] = {};
    for (const metric of ['psnr', 'msssim'] as const) {
      const vs: Record<string, number | null> = { [keys[0]]: fin(bdRate(base, c, { metric, method: 'poly' })) };
      for (const [p, pc] of Object.entries(peers)) if (p !== 'nimg') vs[p] = fin(bdRate(pc, c, { metric, method: 'poly' }));
      bd[name][metric] = vs;
    }
    // published curves: PSNR only, as most of them carry no MS-SSIM
    vsAnchors[name] = {};
    for (const a of ANCHOR_SET) if (anchors[a]) vsAnchors[name][a] = fin(bdRate(anchors[a], c, { metric: 'psnr', method: 'poly' }));
  }
  return {
    subject: 'nimg encode option `refine` (latent refinement steps); decoder unchanged',
    images: images.length,
    image_names: images,
    backends: [...new Set(rows.map((r) => r.backend))],
    curves,
    bd_rate: bd,
    bd_rate_psnr_vs_published: vsAnchors,
    note: 'bpp from the bytes of the .nimg files, PSNR/MS-SSIM on the decoded 8-bit RGB, averaged over images. '
      + 'BD-rate (cubic fit of ln bpp vs PSNR or -10log10(1-MS-SSIM)): negative = fewer bits. Peers are the curves of '
      + 'bench/results/kodak-rd.json (same 24 images; mozjpeg, libwebp, libaom, libjxl are deterministic). '
      + 'bd_rate_psnr_vs_published: against the published curves of ../shared/anchors/kodak_anchors.json.',
    machine: { platform: `${os.platform()} ${os.arch()}`, cpus: os.cpus().length },
    date: new Date().toISOString(),
  };
}

/** The plot: solid = measured here (nimg's curves, the peers of `npm run bench`), dashed = published. */
export function refineSvg(s: RefineSummary, peers: Record<string, RdPoint[]>, anchors: Anchors): string {
  const series: Series[] = [];
  const colors = ['#d62728', '#ff9896', '#8b0000', '#e377c2'];
  Object.entries(s.curves).forEach(([name, c], i) => series.push({ name: `nimg ${name.replace('refine', 'refine ')}`, points: c, color: colors[i % colors.length] }));
  for (const p of ['webp', 'avif', 'avif444', 'jxl']) if (peers[p]) series.push({ name: p, points: peers[p], color: colorFor(p, 0, false) });
  for (const a of ['webp', 'av1', 'compressai-bmshj2018-hyperprior_mse_cuda', 'compressai-mbt2018-mean_mse_cuda']) {
    if (anchors[a]) series.push({ name: ANCHOR_LABELS[a], points: anchors[a], dashed: true, color: colorFor(a, series.length, true) });
  }
  return rdSvg(series, { title: `Kodak (${s.images} images): nimg with encoder refinement`, xMax: 1.6 });
}
