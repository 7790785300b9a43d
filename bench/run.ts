/**
 * nimg side-by-side benchmark: rate-distortion and speed of nimg and the web's codecs
 * (mozjpeg, libwebp, libaom AVIF 4:2:0 / 4:4:4, libjxl), all in this one Node process.
 *
 *   npm run bench -- [--images DIR] [--quick] [--json FILE] [--codecs a,b] [--speed-only|--rd-only]
 *                    [--limit N] [--crop N] [--speed-images N] [--speed-runs N] [--results DIR] [--no-save]
 *                    [--speed-bpp X] [--report-only] [--no-progress]
 *
 * See bench/README.md.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { FACTORIES, FACTORY_OF, PEERS, REPO_ROOT, nimgNotes, type CodecAdapter } from './codecs.ts';
import { loadImages, type RgbaImage } from './images.ts';
import { bitsPerPixel, msssimDb, msssimPrepare, msssimWith, psnrRgb } from './metrics.ts';
import { Progress } from './progress.ts';
import { mean, median } from './stats.ts';
import { colorFor, rdSvg, type Series } from './plot.ts';
import {
  ANCHOR_LABELS, ANCHOR_SET, loadAnchors, machineInfo, rdTable, speedRatios, speedTable, summarizeRd,
  type CodecRdMeta, type CurvePoint, type RdReport, type SpeedEntry, type SpeedReport,
} from './report.ts';

export interface Args {
  images: string;
  quick: boolean;
  json?: string;
  codecs: string[];
  speedOnly: boolean;
  rdOnly: boolean;
  limit?: number;
  crop?: number;
  speedImages: number;
  speedRuns: number;
  speedBpp: number;
  results?: string;
  save: boolean;
  progress: boolean;
  reportOnly: boolean;
}

const ALL_CODECS = ['nimg', ...PEERS];

export function parseArgs(argv: string[]): Args {
  const a: Args = {
    images: path.resolve(REPO_ROOT, '../shared/data/kodak'),
    quick: false,
    codecs: ALL_CODECS,
    speedOnly: false,
    rdOnly: false,
    speedImages: 6,
    speedRuns: 3,
    speedBpp: 0.7,
    save: true,
    progress: true,
    reportOnly: false,
  };
  let explicitResults = false;
  let speedImagesSet = false;
  let speedRunsSet = false;
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      const val = argv[++i];
      if (val === undefined) throw new Error(`${k} needs a value`);
      return val;
    };
    switch (k) {
      case '--images': a.images = path.resolve(v()); break;
      case '--quick': a.quick = true; break;
      case '--json': a.json = path.resolve(v()); break;
      case '--codecs': a.codecs = v().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--speed-only': a.speedOnly = true; break;
      case '--rd-only': a.rdOnly = true; break;
      case '--limit': a.limit = Number(v()); break;
      case '--crop': a.crop = Number(v()); break;
      case '--speed-images': a.speedImages = Number(v()); speedImagesSet = true; break;
      case '--speed-runs': a.speedRuns = Number(v()); speedRunsSet = true; break;
      case '--speed-bpp': a.speedBpp = Number(v()); break;
      case '--results': a.results = path.resolve(v()); explicitResults = true; break;
      case '--no-save': a.save = false; break;
      case '--no-progress': a.progress = false; break;
      case '--report-only': a.reportOnly = true; break;
      case '-h': case '--help':
        process.stdout.write(readFileSync(new URL(import.meta.url)).toString().split('*/')[0] + '*/\n');
        process.exit(0);
      default: throw new Error(`unknown argument ${k}`);
    }
  }
  for (const c of a.codecs) if (!FACTORY_OF[c]) throw new Error(`unknown codec ${c} (known: ${ALL_CODECS.join(', ')})`);
  if (a.speedOnly && a.rdOnly) throw new Error('--speed-only and --rd-only are exclusive');
  if (a.quick) {
    a.limit ??= 2;
    a.crop ??= 256;
    if (!speedImagesSet) a.speedImages = 1;
    if (!speedRunsSet) a.speedRuns = 2;
    // a 2-image smoke run must never overwrite the committed full results
    if (!explicitResults) a.save = false;
  }
  a.results ??= path.join(REPO_ROOT, 'bench', 'results');
  return a;
}

function centerCrop(img: RgbaImage, size: number): RgbaImage {
  const w = Math.min(size, img.width);
  const h = Math.min(size, img.height);
  const x0 = Math.floor((img.width - w) / 2);
  const y0 = Math.floor((img.height - h) / 2);
  const data = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(((y0 + y) * img.width + x0) * 4, ((y0 + y) * img.width + x0 + w) * 4), y * w * 4);
  return { name: `${img.name}@${w}x${h}`, width: w, height: h, data };
}

const r4 = (v: number) => Math.round(v * 1e4) / 1e4;
const r6 = (v: number) => Math.round(v * 1e6) / 1e6;
const mb = (kb: number) => Math.round((kb / 1024) * 10) / 10;

function readJson<T>(file: string): T | undefined {
  try {
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : undefined;
  } catch {
    return undefined;
  }
}

function writeJson(file: string, obj: unknown) {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(obj, null, 2) + '\n');
  renameSync(tmp, file); // atomic: a killed run never leaves a half-written file
}

async function loadAdapters(names: string[], progress: Progress) {
  const adapters: CodecAdapter[] = [];
  const missing: Record<string, string> = {};
  const factories = FACTORIES.filter((f) => names.some((n) => FACTORY_OF[n] === f.name));
  for (const f of factories) {
    try {
      const ads = await f.load();
      for (const ad of ads) if (names.includes(ad.name) || (f.name === 'nimg' && names.includes('nimg'))) adapters.push(ad);
    } catch (e) {
      const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
      for (const n of names.filter((n) => FACTORY_OF[n] === f.name)) missing[n] = msg;
      progress.note(`[bench] ${f.name}: not available (${msg}) — marked missing, continuing with the others`);
    }
  }
  for (const [k, v] of Object.entries(nimgNotes)) {
    missing[k] = v;
    progress.note(`[bench] ${k}: ${v}`);
  }
  return { adapters, missing };
}

/** Encode+decode one image at one setting and measure it. */
async function measure(ad: CodecAdapter, img: RgbaImage, q: number, ref: ReturnType<typeof msssimPrepare>) {
  const bytes = await ad.encode(img.data, img.width, img.height, q);
  const dec = await ad.decode(bytes);
  if (dec.width !== img.width || dec.height !== img.height) {
    throw new Error(`${ad.name} q=${q}: decoded ${dec.width}x${dec.height}, expected ${img.width}x${img.height}`);
  }
  return {
    bpp: bitsPerPixel(bytes.length, img.width, img.height),
    psnr: psnrRgb(img.data, dec.data, img.width, img.height),
    ms_ssim: msssimWith(ref, dec.data),
  };
}

type PerImage = Record<string, { quality_setting: number; bpp: number; psnr: number; ms_ssim: number }[]>;

async function rdCurve(ad: CodecAdapter, images: RgbaImage[], qualities: number[], progress: Progress, perImage?: PerImage): Promise<CurvePoint[]> {
  const acc = qualities.map(() => ({ bpp: [] as number[], psnr: [] as number[], ms: [] as number[] }));
  for (const img of images) {
    const ref = msssimPrepare(img.data, img.width, img.height);
    for (let qi = 0; qi < qualities.length; qi++) {
      const m = await measure(ad, img, qualities[qi], ref);
      acc[qi].bpp.push(m.bpp);
      acc[qi].psnr.push(m.psnr);
      acc[qi].ms.push(m.ms_ssim);
      if (perImage) (perImage[img.name] ??= []).push({ quality_setting: qualities[qi], bpp: r6(m.bpp), psnr: r4(m.psnr), ms_ssim: r6(m.ms_ssim) });
      progress.tick(`rd ${ad.name} ${img.name} q=${qualities[qi]}`);
    }
  }
  return qualities.map((q, qi) => {
    const ms = mean(acc[qi].ms);
    return {
      quality_setting: q,
      bpp: r6(mean(acc[qi].bpp)),
      psnr: r4(mean(acc[qi].psnr)), // average of per-image PSNR (not PSNR of the mean MSE)
      ms_ssim: r6(ms),
      ms_ssim_db: r4(msssimDb(ms)),
      n_images: images.length,
    };
  });
}

async function speedOf(ad: CodecAdapter, images: RgbaImage[], runs: number, progress: Progress, q: number): Promise<SpeedEntry> {
  // warm-up: JIT, wasm tier-up, lazy allocations
  for (let i = 0; i < 2; i++) await ad.decode(await ad.encode(images[0].data, images[0].width, images[0].height, q));
  const encPer: number[] = [];
  const decPer: number[] = [];
  const encAll: number[] = [];
  const decAll: number[] = [];
  const bpp: number[] = [];
  const psnr: number[] = [];
  const encStages: Record<string, number[]> = {};
  const decStages: Record<string, number[]> = {};
  const pushStages = (dst: Record<string, number[]>, s?: Record<string, number>) => {
    if (s) for (const [k, v] of Object.entries(s)) (dst[k] ??= []).push(v);
  };
  let mpix = 0;
  for (const img of images) {
    const et: number[] = [];
    const dt: number[] = [];
    let bytes: Uint8Array | undefined;
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      bytes = await ad.encode(img.data, img.width, img.height, q);
      const t1 = performance.now();
      pushStages(encStages, ad.lastEncodeStages?.());
      const dec = await ad.decode(bytes);
      const t2 = performance.now();
      pushStages(decStages, ad.lastDecodeStages?.());
      et.push(t1 - t0);
      dt.push(t2 - t1);
      if (r === 0) psnr.push(psnrRgb(img.data, dec.data, img.width, img.height));
      progress.tick(`speed ${ad.name} ${img.name} run ${r + 1}/${runs}`);
    }
    bpp.push(bitsPerPixel(bytes!.length, img.width, img.height));
    encPer.push(median(et));
    decPer.push(median(dt));
    encAll.push(...et);
    decAll.push(...dt);
    mpix += (img.width * img.height) / 1e6;
  }
  const stageMedians = (s: Record<string, number[]>) =>
    Object.keys(s).length ? Object.fromEntries(Object.entries(s).map(([k, v]) => [k, r4(median(v))])) : undefined;
  const encMed = median(encPer);
  const decMed = median(decPer);
  const mpixPerImg = mpix / images.length;
  const ru = process.resourceUsage();
  return {
    settings: ad.settings,
    quality_setting: q,
    bpp: r4(mean(bpp)),
    psnr: r4(mean(psnr)),
    images: images.length,
    runs_per_image: runs,
    encode_ms_median: r4(encMed),
    decode_ms_median: r4(decMed),
    encode_ms_mean: r4(mean(encAll)),
    decode_ms_mean: r4(mean(decAll)),
    encode_mpix_per_s: r4(mpixPerImg / (encMed / 1000)),
    decode_mpix_per_s: r4(mpixPerImg / (decMed / 1000)),
    max_rss_mb_after: mb(ru.maxRSS),
    rss_mb_after: Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10,
    encode_stages_ms: stageMedians(encStages),
    decode_stages_ms: stageMedians(decStages),
    date: new Date().toISOString(),
  };
}


export function writePlot(file: string, rd: RdReport, anchors: Record<string, any>, title: string, metric: 'psnr' | 'msssim' = 'psnr') {
  const series: Series[] = [];
  const ours = Object.keys(rd.curves).sort((a, b) => (a.startsWith('nimg') ? -1 : b.startsWith('nimg') ? 1 : 0));
  ours.forEach((n, i) => series.push({ name: n, points: rd.curves[n], color: colorFor(n, i, false) }));
  Object.keys(ANCHOR_LABELS)
    .filter((a) => anchors[a] && (metric === 'psnr' || anchors[a].some((p: any) => p.ms_ssim != null)))
    .forEach((a, i) => series.push({ name: ANCHOR_LABELS[a], points: anchors[a], dashed: true, color: colorFor(a, i, true) }));
  writeFileSync(file, rdSvg(series, { title, metric }));
}

export async function main(argv = process.argv.slice(2)): Promise<{ rd?: RdReport; speed?: SpeedReport }> {
  const args = parseArgs(argv);
  const progress = new Progress(0, args.progress);
  const t0 = Date.now();
  const setName = path.basename(args.images);
  const baselineRss = process.resourceUsage().maxRSS;

  if (args.reportOnly) return reportOnly(args);

  let images = await loadImages(args.images, args.limit);
  if (args.crop) images = images.map((im) => centerCrop(im, args.crop!));
  const imageSet = `${setName}: ${images.length} images${args.crop ? ` center-cropped to ${args.crop}px` : ''}`;
  progress.note(`[bench] ${imageSet} from ${args.images}`);

  const { adapters, missing } = await loadAdapters(args.codecs, progress);
  progress.note(`[bench] codecs: ${adapters.map((a) => a.name).join(', ') || '(none)'}${Object.keys(missing).length ? `; missing: ${Object.keys(missing).join(', ')}` : ''}`);

  // speed images spread evenly over the set (the first Kodak images are not typical)
  const nSpeed = Math.max(1, Math.min(args.speedImages, images.length));
  const speedImgs = Array.from({ length: nSpeed }, (_, i) => images[Math.floor((i * images.length) / nSpeed)]);
  const qualitiesOf = (ad: CodecAdapter) => (args.quick ? ad.quickQualities : ad.qualities);
  const total =
    (args.speedOnly ? 0 : adapters.filter((ad) => ad.rd !== false).reduce((s, ad) => s + qualitiesOf(ad).length * images.length, 0)) +
    (args.rdOnly ? 0 : adapters.length * speedImgs.length * args.speedRuns);
  progress.setTotal(total);

  const rdFile = path.join(args.results!, `${setName}-rd.json`);
  const speedFile = path.join(args.results!, `${setName}-speed.json`);
  const svgFile = path.join(args.results!, `${setName}-rd.svg`);
  const svgMsFile = path.join(args.results!, `${setName}-rd-msssim.svg`);
  const perImageFile = path.join(args.results!, `${setName}-rd-per-image.json`);
  // published curves are only comparable on the full, uncropped set they were measured on
  const anchors = args.crop || args.limit ? {} : loadAnchors(path.resolve(REPO_ROOT, `../shared/anchors/${setName}_anchors.json`));

  // ---- rate-distortion (merged per codec into any existing results, written after each codec)
  let rd: RdReport | undefined;
  if (!args.speedOnly) {
    const prev = args.save ? readJson<RdReport>(rdFile) : undefined;
    const curves: Record<string, CurvePoint[]> = { ...(prev?.curves ?? {}) };
    const metas: Record<string, CodecRdMeta> = { ...(prev?.codecs ?? {}) };
    const miss: Record<string, string> = { ...(prev?.missing ?? {}) };
    for (const n of Object.keys(missing)) if (!curves[n]) miss[n] = missing[n];
    const measured = new Set<string>();
    for (const ad of adapters.filter((a) => a.rd !== false)) {
      const tc = Date.now();
      try {
        const per: PerImage = {};
        curves[ad.name] = await rdCurve(ad, images, qualitiesOf(ad), progress, per);
        if (args.save) {
          const pf = readJson<Record<string, unknown>>(perImageFile) ?? {};
          pf[ad.name] = { image_set: imageSet, images: per };
          writeJson(perImageFile, pf);
        }
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        progress.note(`[bench] ${ad.name} failed during RD: ${msg}`);
        miss[ad.name] = msg;
        continue;
      }
      delete miss[ad.name];
      measured.add(ad.name);
      metas[ad.name] = { settings: ad.settings, images: images.length, image_set: imageSet, date: new Date().toISOString(), seconds: Math.round((Date.now() - tc) / 1000) };
      if (args.save) {
        // re-read right before writing: another invocation (e.g. --codecs avif in parallel) may
        // have merged its own curves meanwhile; we only overwrite the codecs this run measured
        const now = readJson<RdReport>(rdFile);
        for (const [n, c] of Object.entries(now?.curves ?? {})) if (!measured.has(n)) curves[n] = c;
        for (const [n, m] of Object.entries(now?.codecs ?? {})) if (!measured.has(n)) metas[n] = m;
        for (const [n, m] of Object.entries(now?.missing ?? {})) if (!measured.has(n) && !curves[n]) miss[n] = m;
      }
      rd = summarizeRd(curves, metas, anchors, miss);
      if (args.save) {
        writeJson(rdFile, rd);
        writePlot(svgFile, rd, anchors, `${setName}: PSNR vs bpp (RGB), nimg vs web codecs`);
        writePlot(svgMsFile, rd, anchors, `${setName}: MS-SSIM vs bpp (RGB mean), nimg vs web codecs`, 'msssim');
      }
      progress.note(`[bench] ${ad.name}: RD done in ${metas[ad.name].seconds}s${args.save ? ` → ${path.relative(process.cwd(), rdFile)}` : ''}`);
    }
    rd ??= summarizeRd(curves, metas, anchors, miss);
    for (const [n, m] of Object.entries(metas)) {
      if (m.image_set !== imageSet) progress.note(`[bench] note: curve ${n} was measured on "${m.image_set}", this run on "${imageSet}"`);
    }
  }

  // ---- speed (nimg first so its RSS high-water mark is not inflated by the peers)
  let speed: SpeedReport | undefined;
  if (!args.rdOnly) {
    const prev = args.save ? readJson<SpeedReport>(speedFile) : undefined;
    const entries: Record<string, SpeedEntry> = { ...(prev?.codecs ?? {}) };
    const miss: Record<string, string> = { ...(prev?.missing ?? {}) };
    for (const [n, m] of Object.entries(missing)) if (!entries[n]) miss[n] = m;
    const order = [...adapters].sort((a, b) => Number(!a.name.startsWith('nimg')) - Number(!b.name.startsWith('nimg')));
    // the setting whose mean bpp on the full set is closest to --speed-bpp (from this run's or the
    // saved RD curve; nimg variants use nimg's curve), else the adapter's fallback
    const known = { ...(readJson<RdReport>(rdFile)?.curves ?? {}), ...(rd?.curves ?? {}) };
    const speedSetting = (ad: CodecAdapter) => {
      const c = args.quick ? undefined : known[ad.name] ?? (ad.name.startsWith('nimg') ? known.nimg : undefined);
      if (!c?.length) return ad.speedQuality;
      return c.reduce((b, p) => (Math.abs(Math.log(p.bpp / args.speedBpp)) < Math.abs(Math.log(b.bpp / args.speedBpp)) ? p : b)).quality_setting;
    };
    const speedDone = new Set<string>();
    for (const ad of order) {
      try {
        entries[ad.name] = await speedOf(ad, speedImgs, args.speedRuns, progress, speedSetting(ad));
        speedDone.add(ad.name);
        delete miss[ad.name];
      } catch (e) {
        miss[ad.name] = e instanceof Error ? e.message : String(e);
        progress.note(`[bench] ${ad.name} failed during speed: ${miss[ad.name]}`);
      }
      speed = {
        reference: 'webp',
        codecs: entries,
        ratios: speedRatios(entries),
        baseline_max_rss_mb: mb(baselineRss),
        notes:
          `peers single-threaded; setting per codec = the one whose mean bpp over the set is closest to ${args.speedBpp} bpp; ` +
          `${args.speedRuns} timed runs per image after 2 warm-up runs, median per image then median over ${speedImgs.length} image(s) ` +
          `(${speedImgs.map((im) => im.name).join(', ')}) ` +
          `(${speedImgs[0].width}x${speedImgs[0].height}); ms per image incl. JS<->wasm copies; ratios = time(row)/time(column), >1 = slower. ` +
          'max_rss_mb_after = process RSS high-water (process.resourceUsage().maxRSS) after that codec ran: cumulative over codecs run before it in the same process (nimg runs first).',
        missing: miss,
        machine: machineInfo(),
        date: new Date().toISOString(),
      };
      if (args.save) {
        const now = readJson<SpeedReport>(speedFile);
        for (const [n, e] of Object.entries(now?.codecs ?? {})) if (!speedDone.has(n) && !order.some((a) => a.name === n)) entries[n] = e;
        speed.ratios = speedRatios(entries);
        writeJson(speedFile, speed);
      }
    }
  }

  // ---- report
  const ran = adapters.map((a) => a.name);
  const out: string[] = [];
  out.push(`nimg bench — ${imageSet}; ${((Date.now() - t0) / 1000).toFixed(0)}s; ${machineInfo().cpu} x${machineInfo().cores}, node ${process.version}`);
  if (rd && Object.keys(rd.curves).length) {
    out.push('', 'Rate-distortion (BD-rate: negative = fewer bits than the reference at equal quality)', rdTable(rd));
    const ac = Object.entries(rd.anchors_check);
    if (ac.length) {
      out.push('', 'Cross-check vs published curves (shared/anchors): BD-rate PSNR poly / pchip, MS-SSIM poly');
      for (const [n, c] of ac) out.push(`  ${n.padEnd(8)} vs ${c.anchor.padEnd(5)} ${fmtPct(c.bd_rate_psnr)} / ${fmtPct(c.bd_rate_psnr_pchip)}, MS-SSIM ${fmtPct(c.bd_rate_msssim)}`);
    }
    const nimgs = Object.keys(rd.curves).filter((n) => n.startsWith('nimg'));
    for (const n of nimgs) {
      out.push('', `${n} vs published curves (BD-rate PSNR, poly):`);
      for (const a of ANCHOR_SET) if (rd.vs_anchors[n]?.[a] !== undefined) out.push(`  ${a.padEnd(42)} ${fmtPct(rd.vs_anchors[n][a])}`);
    }
  }
  if (speed && Object.keys(speed.codecs).length) {
    out.push('', 'Speed at a mid quality (ms per image; peers single-threaded, nimg-1t = nimg on one thread)', speedTable(speed));
    for (const [n, e] of Object.entries(speed.codecs)) {
      const fmt = (st?: Record<string, number>) => (st ? Object.entries(st).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ') : '');
      if (e.encode_stages_ms) out.push(`  ${n} encode stages (ms, median): ${fmt(e.encode_stages_ms)}`);
      if (e.decode_stages_ms) out.push(`  ${n} decode stages (ms, median): ${fmt(e.decode_stages_ms)}`);
    }
  }
  const allMissing = { ...(rd?.missing ?? {}), ...(speed?.missing ?? {}), ...missing };
  if (Object.keys(allMissing).length) out.push('', 'Missing: ' + Object.entries(allMissing).map(([k, v]) => `${k} (${v})`).join('; '));
  if (args.save) out.push('', `Results: ${[!args.speedOnly && rdFile, !args.speedOnly && svgFile, !args.speedOnly && svgMsFile, !args.rdOnly && speedFile].filter(Boolean).map((f) => path.relative(process.cwd(), f as string)).join(', ')}`);
  process.stdout.write(out.join('\n') + '\n');
  void ran;

  if (args.json) writeJson(args.json, { rd, speed, args: { ...args, codecs: args.codecs }, image_set: imageSet });
  return { rd, speed };
}

/** --report-only: recompute BD-rates, cross-checks and plots from the saved results; run no codec. */
function reportOnly(args: Args): { rd?: RdReport; speed?: SpeedReport } {
  const setName = path.basename(args.images);
  const rdFile = path.join(args.results!, `${setName}-rd.json`);
  const speedFile = path.join(args.results!, `${setName}-speed.json`);
  const anchors = loadAnchors(path.resolve(REPO_ROOT, `../shared/anchors/${setName}_anchors.json`));
  const prev = readJson<RdReport>(rdFile);
  const speed = readJson<SpeedReport>(speedFile);
  let rd: RdReport | undefined;
  if (prev) {
    rd = { ...summarizeRd(prev.curves, prev.codecs, anchors, prev.missing ?? {}), machine: prev.machine, date: prev.date };
    if (args.save) {
      writeJson(rdFile, rd);
      writePlot(path.join(args.results!, `${setName}-rd.svg`), rd, anchors, `${setName}: PSNR vs bpp (RGB), nimg vs web codecs`);
      writePlot(path.join(args.results!, `${setName}-rd-msssim.svg`), rd, anchors, `${setName}: MS-SSIM vs bpp (RGB mean), nimg vs web codecs`, 'msssim');
    }
    process.stdout.write('Rate-distortion (BD-rate: negative = fewer bits than the reference at equal quality)\n' + rdTable(rd) + '\n');
  }
  if (speed) process.stdout.write('\nSpeed at a mid quality (ms per image)\n' + speedTable(speed) + '\n');
  if (args.json) writeJson(args.json, { rd, speed });
  return { rd, speed };
}

const fmtPct = (v: number | null | undefined) => (v == null ? 'n/a' : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%`);

const isMain = process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (isMain) {
  main().then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`[bench] error: ${e instanceof Error ? e.stack ?? e.message : e}\n`);
      process.exit(1);
    },
  );
}
