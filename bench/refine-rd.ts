/**
 * Rate-distortion of the `refine` encode option (encoder-side latent refinement) on Kodak,
 * with the real codec: bytes of the file, decoded 8-bit pixels.
 *
 *   run:    npx tsx bench/refine-rd.ts run [--images DIR] [--refine 0,100] [--levels 1,...,8]
 *                                          [--shard K/N] [--out FILE.jsonl] [--backend auto] [--only a.png,b.png]
 *           one JSON line per (image, level, refine) appended to FILE (default
 *           bench/results/refine-raw.jsonl); --shard K/N takes images K, K+N, ... so several
 *           processes can share a GPU.
 *   report: npx tsx bench/refine-rd.ts report FILE.jsonl[:TAG] [...]
 *           → bench/results/kodak-rd-refine.json + kodak-rd-refine.svg: curves per refine
 *           value, BD-rates against refine 0 and against the peers' curves of
 *           bench/results/kodak-rd.json (deterministic codecs, measured on the same 24
 *           images by `npm run bench`). A TAG names the encoder version of a file's refined
 *           rows (curve `refine150-TAG`), so runs of different refinement methods can sit in
 *           one report; refine 0 rows are the plain encoder whatever the tag.
 *
 * Refinement costs about three decodes of g_s work per step, so a full run is for a GPU
 * (bench/gpu/device-run.sh with BENCH=refine-rd); on a CPU, try --images with a few files.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NimgCodec } from '../src/codec.js';
import { decodeImageFile } from '../src/image/index.js';
import type { BackendChoice } from '../src/model/types.js';
import { msssimPrepare, msssimWith, psnrRgb } from './metrics.js';
import { bdRate, type RdPoint } from './bdrate.js';
import { rdSvg, type Series } from './plot.js';
import { mean, median } from './stats.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const argv = process.argv.slice(2);
const mode = argv[0];
function opt(name: string, def: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
}

interface Row {
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

async function run(): Promise<void> {
  const dir = path.resolve(opt('images', process.env.NIMG_KODAK ?? path.join(ROOT, '..', 'shared', 'data', 'kodak')));
  const refines = opt('refine', '0,100').split(',').map(Number);
  const levels = opt('levels', '1,2,3,4,5,6,7,8').split(',').map(Number);
  const [k, n] = opt('shard', '0/1').split('/').map(Number);
  const out = path.resolve(opt('out', path.join(ROOT, 'bench', 'results', 'refine-raw.jsonl')));
  const only = opt('only', '');
  const files = readdirSync(dir).filter((f) => f.endsWith('.png') && (!only || only.split(',').includes(f))).sort().filter((_, i) => i % n === k);
  const codec = await NimgCodec.create({ backend: opt('backend', 'auto') as BackendChoice });
  for (const f of files) {
    const img = await decodeImageFile(new Uint8Array(readFileSync(path.join(dir, f))));
    const ref = msssimPrepare(img.data, img.width, img.height);
    for (const q of levels) {
      for (const r of refines) {
        const stats: Record<string, number | string> = {};
        const t0 = performance.now();
        const bytes = await codec.encode(img, { quality: q, refine: r, stats });
        const encodeMs = performance.now() - t0;
        const dec = await codec.decode(bytes);
        const row: Row = {
          image: f, q, refine: r,
          bpp: (bytes.length * 8) / (img.width * img.height),
          psnr: psnrRgb(img.data, dec.data, img.width, img.height),
          ms_ssim: msssimWith(ref, dec.data),
          encode_ms: Math.round(encodeMs),
          refine_ms: Math.round(Number(stats.refineMs ?? 0)),
          backend: String(stats.backend),
        };
        appendFileSync(out, JSON.stringify(row) + '\n');
        console.log(JSON.stringify(row));
      }
    }
  }
}

const round = (v: number, d = 4): number => Math.round(v * 10 ** d) / 10 ** d;

function report(files: string[]): void {
  // lines that are not rows (log noise) are skipped; a repeated (image, level, refine) keeps its first row
  const seen = new Set<string>();
  const rows: (Row & { key: string })[] = files
    .flatMap((spec) => {
      const [f, tag] = spec.split(':');
      return readFileSync(f, 'utf8').split('\n').filter((l) => l.startsWith('{"image"')).map((l) => {
        const r = JSON.parse(l) as Row;
        return { ...r, key: r.refine > 0 && tag ? `refine${r.refine}-${tag}` : `refine${r.refine}` };
      });
    })
    .filter((r) => {
      const key = `${r.image}|${r.q}|${r.key}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  const refineOf = new Map(rows.map((r) => [r.key, r.refine]));
  const refines = [...refineOf.keys()].sort((a, b) => refineOf.get(a)! - refineOf.get(b)! || a.localeCompare(b));
  const levels = [...new Set(rows.map((r) => r.q))].sort((a, b) => a - b);
  // only images present at every (refine, level): means over the same set
  const images = [...new Set(rows.map((r) => r.image))].sort().filter((im) =>
    refines.every((rf) => levels.every((q) => rows.some((r) => r.image === im && r.key === rf && r.q === q))));
  const pick = (rf: string, q: number) => rows.filter((r) => r.key === rf && r.q === q && images.includes(r.image));
  const curves: Record<string, (RdPoint & { quality_setting: number; n_images: number; median_encode_ms: number; median_refine_ms: number })[]> = {};
  for (const rf of refines) {
    curves[rf] = levels.map((q) => {
      const s = pick(rf, q);
      return {
        quality_setting: q, n_images: s.length,
        bpp: round(mean(s.map((r) => r.bpp)), 6), psnr: round(mean(s.map((r) => r.psnr))), ms_ssim: round(mean(s.map((r) => r.ms_ssim)), 6),
        median_encode_ms: Math.round(median(s.map((r) => r.encode_ms))), median_refine_ms: Math.round(median(s.map((r) => r.refine_ms))),
      };
    });
  }
  const base = curves[refines[0]];
  const rdPath = path.join(ROOT, 'bench', 'results', 'kodak-rd.json');
  const peers = existsSync(rdPath) ? (JSON.parse(readFileSync(rdPath, 'utf8')).curves as Record<string, RdPoint[]>) : {};
  const bd: Record<string, Record<string, Record<string, number | null>>> = {};
  const fin = (v: number) => (Number.isFinite(v) ? round(v, 5) : null);
  for (const [name, c] of Object.entries(curves)) {
    bd[name] = {};
    for (const metric of ['psnr', 'msssim'] as const) {
      const vs: Record<string, number | null> = { [refines[0]]: fin(bdRate(base, c, { metric, method: 'poly' })) };
      for (const [p, pc] of Object.entries(peers)) if (p !== 'nimg') vs[p] = fin(bdRate(pc, c, { metric, method: 'poly' }));
      bd[name][metric] = vs;
    }
  }
  const backends = [...new Set(rows.map((r) => r.backend))];
  const result = {
    subject: 'nimg encode option `refine` (latent refinement steps); decoder unchanged',
    images: images.length,
    image_names: images,
    backends,
    curves,
    bd_rate: bd,
    note: 'bpp from the bytes of the .nimg files, PSNR/MS-SSIM on the decoded 8-bit RGB, averaged over images. '
      + 'BD-rate (cubic fit of ln bpp vs PSNR or -10log10(1-MS-SSIM)): negative = fewer bits. Peers are the curves of '
      + 'bench/results/kodak-rd.json (same 24 images; mozjpeg, libwebp, libaom, libjxl are deterministic).',
    machine: { platform: `${os.platform()} ${os.arch()}`, cpus: os.cpus().length },
    date: new Date().toISOString(),
  };
  writeFileSync(path.join(ROOT, 'bench', 'results', 'kodak-rd-refine.json'), JSON.stringify(result, null, 1) + '\n');
  const series: Series[] = [];
  const colors = ['#d62728', '#9467bd', '#8c564b', '#e377c2'];
  Object.entries(curves).forEach(([name, c], i) => series.push({ name: `nimg ${name.replace('refine', 'refine ')}`, points: c, color: colors[i % colors.length] }));
  for (const [p, color] of [['webp', '#1f77b4'], ['avif', '#2ca02c'], ['avif444', '#17becf'], ['jxl', '#bcbd22']] as const) {
    if (peers[p]) series.push({ name: p, points: peers[p], color, dashed: true });
  }
  writeFileSync(path.join(ROOT, 'bench', 'results', 'kodak-rd-refine.svg'), rdSvg(series, { title: `Kodak (${images.length} images): nimg with encoder refinement`, xMax: 1.6 }));
  for (const [name, m] of Object.entries(bd)) console.log(name, JSON.stringify(m));
}

if (mode === 'run') await run();
else if (mode === 'report') report(argv.slice(1));
else {
  console.error('usage: refine-rd.ts run [...] | report FILE.jsonl ...');
  process.exit(2);
}
