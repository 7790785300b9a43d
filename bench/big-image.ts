/**
 * Large images on the CPU: a 6000x4000 photograph through the WASM backend (worker tiles),
 * with peak memory, and a seam check (tiled vs untiled decode).
 *
 *   npm run bench:big                    # both parts, writes bench/results/big-image.json
 *   npm run bench:big -- --no-save       # print only
 *   npm run bench:big -- --only seams    # or: --only big (one process) | split (encode, decode in two)
 *                                        #     | png (writing the decoded image as PNG: upng-js vs streamed)
 *   options: --quality 5 --threads N (default: the codec's default) --tile 512 (default: backend's)
 *            --width 6000 --height 4000 --seam-size 1024x768 --images DIR (default ../shared/data/kodak)
 *
 * Test image: a 4x4 mosaic of the first 16 landscape Kodak images (768x512; the portrait
 * ones are skipped), each upscaled bilinearly (half-pixel centres, edge clamp) to a 1500x1000
 * cell → 6000x4000, 24 MP. The upscale makes it smoother than a native 24 MP photograph,
 * so its bpp is lower than a camera image's would be; the memory and time per pixel are what
 * matter here.
 *
 * Every measurement runs in a child process (this script with --child), so the parent reads a
 * clean `process.resourceUsage().maxRSS` of the work alone (main thread + tile workers: they
 * are threads of the same process) and samples `process.memoryUsage().rss` every 50 ms to
 * attribute the peak to stages. Seams: on a 1024x768 crop of the mosaic (straddling four
 * source images), encode and decode with the default tiles and with `tileSize: Infinity`;
 * PSNR of each combination, bytes identical or not, max pixel difference.
 *
 * PNG output (`--only png`, needs the split part's .nimg in the temp folder): the 24 MP image
 * written as PNG by the platform-neutral `encodePng` (upng-js, the whole file in memory, what
 * the CLI and `decodeFile` used before) and by the streaming writer (src/node/png-writer.ts),
 * each in its own child: (a) writing the mosaic alone (the writer's own memory on top of the
 * RGBA), (b) decode + write, as `decodeFile` and `nimg decode x.nimg out.png` do. The parent
 * reads every PNG back and checks its pixels against the child's RGBA hash.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import '../src/node/defaults.js'; // init() reads the packaged core and weights
import { NimgCodec } from '../src/codec.js';
import { decodePng, encodePng } from '../src/image/png.js';
import { writePngFile } from '../src/node/png-writer.js';
import { psnrRgba } from '../src/image/psnr.js';
import { opt, flag } from './args.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = path.join(ROOT, 'bench', 'results', 'big-image.json');

const IMAGES = path.resolve(ROOT, opt('images', path.join('..', 'shared', 'data', 'kodak')));
const W = Number(opt('width', '6000'));
const H = Number(opt('height', '4000'));
const QUALITY = Number(opt('quality', '5'));
const THREADS = opt('threads', '') ? Number(opt('threads', '')) : undefined;
const TILE = opt('tile', '') ? (opt('tile', '') === 'inf' ? Infinity : Number(opt('tile', ''))) : undefined;
const [SEAM_W, SEAM_H] = opt('seam-size', '1024x768').split('x').map(Number);
/**
 * A 24 MP camera original is above the default limits (maxPixels 4096² = 16.7 MP,
 * src/limits.ts): a caller that means to code one raises them, as here.
 */
const LIMITS = { maxPixels: Math.max(W * H, 4096 * 4096) };

// ------------------------------------------------------------------------------ the image

/** Bilinear resize of RGBA (half-pixel centres, edge clamp) into dst at (ox, oy) with stride dstW. */
function resizeInto(src: { width: number; height: number; data: Uint8Array | Uint8ClampedArray }, dst: Uint8Array, dstW: number, ox: number, oy: number, w: number, h: number): void {
  const sx = src.width / w, sy = src.height / h;
  const x0 = new Int32Array(w), x1 = new Int32Array(w), fx = new Float32Array(w);
  for (let x = 0; x < w; x++) {
    const u = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), src.width - 1);
    x0[x] = Math.floor(u);
    x1[x] = Math.min(x0[x] + 1, src.width - 1);
    fx[x] = u - x0[x];
  }
  const s = src.data;
  for (let y = 0; y < h; y++) {
    const v = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), src.height - 1);
    const y0 = Math.floor(v), y1 = Math.min(y0 + 1, src.height - 1), fy = v - y0;
    const r0 = y0 * src.width, r1 = y1 * src.width;
    let o = ((oy + y) * dstW + ox) * 4;
    for (let x = 0; x < w; x++, o += 4) {
      const a = (r0 + x0[x]) * 4, b = (r0 + x1[x]) * 4, c = (r1 + x0[x]) * 4, d = (r1 + x1[x]) * 4;
      const f = fx[x];
      for (let ch = 0; ch < 3; ch++) {
        const top = s[a + ch] + (s[b + ch] - s[a + ch]) * f;
        const bot = s[c + ch] + (s[d + ch] - s[c + ch]) * f;
        dst[o + ch] = Math.round(top + (bot - top) * fy);
      }
      dst[o + 3] = 255;
    }
  }
}

/** The W x H mosaic: 4x4 cells of upscaled landscape Kodak images. */
async function makeMosaic(width: number, height: number): Promise<{ width: number; height: number; data: Uint8Array; sources: string[] }> {
  const files = readdirSync(IMAGES).filter((f) => f.endsWith('.png')).sort();
  const data = new Uint8Array(width * height * 4);
  const sources: string[] = [];
  const cols = 4, rows = 4;
  for (const f of files) {
    if (sources.length === cols * rows) break;
    const img = await decodePng(readFileSync(path.join(IMAGES, f)));
    if (img.width < img.height) continue; // landscape only
    const i = sources.length;
    const cx = i % cols, cy = Math.floor(i / cols);
    const x0 = Math.round((cx * width) / cols), x1 = Math.round(((cx + 1) * width) / cols);
    const y0 = Math.round((cy * height) / rows), y1 = Math.round(((cy + 1) * height) / rows);
    resizeInto(img, data, width, x0, y0, x1 - x0, y1 - y0);
    sources.push(f);
  }
  if (sources.length < cols * rows) throw new Error(`need ${cols * rows} landscape PNGs in ${IMAGES}, found ${sources.length}`);
  return { width, height, data, sources };
}

function crop(img: { width: number; data: Uint8Array }, x0: number, y0: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) out.set(img.data.subarray(((y0 + y) * img.width + x0) * 4, ((y0 + y) * img.width + x0 + w) * 4), y * w * 4);
  return out;
}

function maxDiff(a: Uint8ClampedArray, b: Uint8ClampedArray): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const round = (x: number, d = 3) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);
const MB = (bytes: number) => round(bytes / 1048576, 1);

// ------------------------------------------------------------------------------ children

/** Peak RSS sampler for stage attribution (maxRSS is the authoritative whole-process peak). */
function rssSampler(): { stage(name: string): void; done(): Record<string, number> } {
  const peaks: Record<string, number> = {};
  let cur = 'setup';
  const sample = () => {
    const r = process.memoryUsage().rss;
    peaks[cur] = Math.max(peaks[cur] ?? 0, r);
  };
  const timer = setInterval(sample, 50);
  return {
    stage(name) {
      sample();
      cur = name;
    },
    done() {
      sample();
      clearInterval(timer);
      return Object.fromEntries(Object.entries(peaks).map(([k, v]) => [k, MB(v)]));
    },
  };
}

async function childBig(): Promise<object> {
  const rss = rssSampler();
  let t = performance.now();
  const img = await makeMosaic(W, H);
  const buildS = (performance.now() - t) / 1000;
  rss.stage('init');
  t = performance.now();
  const codec = await NimgCodec.create({ backend: 'wasm', threads: THREADS, tileSize: TILE, limits: LIMITS });
  const tf = await codec.transformsFor('wasm');
  await (tf as unknown as { ready?: () => Promise<void> }).ready?.();
  const initS = (performance.now() - t) / 1000;
  rss.stage('encode');
  const enc = await codec.encodeWithStats(img, { quality: QUALITY, backend: 'wasm' });
  rss.stage('decode');
  const dec = await codec.decodeWithStats(enc.bytes, { backend: 'wasm' });
  rss.stage('metrics');
  const p = psnrRgba(img.data, dec.image.data);
  const decodedSha256 = createHash('sha256').update(dec.image.data).digest('hex');
  const info = codec.probe(enc.bytes);
  const stagePeaks = rss.done();
  const tiles = (tf as unknown as { tileSize: number }).tileSize;
  const threads = (tf as unknown as { threads: number }).threads;
  codec.dispose();
  return {
    image: {
      width: W,
      height: H,
      megapixels: round((W * H) / 1e6, 2),
      how: `4x4 mosaic of the first 16 landscape Kodak images (${img.sources.join(', ')}), each upscaled bilinearly 768x512 -> ${W / 4}x${H / 4}`,
      build_s: round(buildS, 2),
    },
    quality: QUALITY,
    backend: enc.stats.backend,
    threads,
    tile_size: tiles,
    bytes: enc.bytes.length,
    bpp: round(enc.stats.bpp, 4),
    psnr_db: round(p, 3),
    decoded_sha256: decodedSha256,
    latent: info.profile === 'amortized' ? info.latent : undefined,
    init_s: round(initS, 2),
    encode_s: round(enc.stats.totalMs / 1000, 2),
    decode_s: round(dec.stats.totalMs / 1000, 2),
    encode_stages_ms: {
      pre: round(enc.stats.preMs, 0),
      analysis: round(enc.stats.analysisMs, 0),
      hyper_analysis: round(enc.stats.hyperAnalysisMs, 0),
      entropy: round(enc.stats.entropyMs, 0),
      container: round(enc.stats.containerMs, 0),
    },
    decode_stages_ms: {
      container: round(dec.stats.containerMs, 0),
      entropy: round(dec.stats.entropyMs, 0),
      synthesis: round(dec.stats.transformMs, 0),
      post: round(dec.stats.postMs, 0),
    },
    peak_rss_mb: MB(process.resourceUsage().maxRSS * 1024),
    sampled_rss_peak_mb_by_stage: stagePeaks,
  };
}

const SPLIT_FILE = path.join(tmpdir(), `nimg-big-${W}x${H}-q${QUALITY}.nimg`);

/** Encode only (what a server converting uploads holds): writes the file for childDecode. */
async function childEncode(): Promise<object> {
  const rss = rssSampler();
  const img = await makeMosaic(W, H);
  rss.stage('init');
  const codec = await NimgCodec.create({ backend: 'wasm', threads: THREADS, tileSize: TILE, limits: LIMITS });
  const tf = await codec.transformsFor('wasm');
  await (tf as unknown as { ready?: () => Promise<void> }).ready?.();
  rss.stage('encode');
  const enc = await codec.encodeWithStats(img, { quality: QUALITY, backend: 'wasm' });
  writeFileSync(SPLIT_FILE, enc.bytes);
  const stagePeaks = rss.done();
  codec.dispose();
  return {
    bytes: enc.bytes.length,
    encode_s: round(enc.stats.totalMs / 1000, 2),
    analysis_ms: round(enc.stats.analysisMs, 0),
    peak_rss_mb: MB(process.resourceUsage().maxRSS * 1024),
    sampled_rss_peak_mb_by_stage: stagePeaks,
  };
}

/** Decode only (what a client or an edge worker holds), from childEncode's file. */
async function childDecode(): Promise<object> {
  const rss = rssSampler();
  const bytes = new Uint8Array(readFileSync(SPLIT_FILE));
  rss.stage('init');
  const codec = await NimgCodec.create({ backend: 'wasm', threads: THREADS, tileSize: TILE, limits: LIMITS });
  const tf = await codec.transformsFor('wasm');
  await (tf as unknown as { ready?: () => Promise<void> }).ready?.();
  rss.stage('decode');
  const dec = await codec.decodeWithStats(bytes, { backend: 'wasm' });
  const stagePeaks = rss.done();
  const sha = createHash('sha256').update(dec.image.data).digest('hex');
  codec.dispose();
  return {
    decode_s: round(dec.stats.totalMs / 1000, 2),
    synthesis_ms: round(dec.stats.transformMs, 0),
    decoded_sha256: sha,
    peak_rss_mb: MB(process.resourceUsage().maxRSS * 1024),
    sampled_rss_peak_mb_by_stage: stagePeaks,
  };
}

const PNG_OUT = (what: string, writer: string) => path.join(tmpdir(), `nimg-big-${W}x${H}-${what}-${writer}.png`);

/** Write `img` as PNG with --writer upng|stream; the time and bytes. */
async function writePngWith(file: string, img: { width: number; height: number; data: Uint8Array | Uint8ClampedArray }): Promise<{ write_s: number; png_bytes: number }> {
  const writer = opt('writer', 'stream');
  const t = performance.now();
  let n: number;
  if (writer === 'upng') {
    const png = encodePng(img);
    writeFileSync(file, png);
    n = png.length;
  } else {
    n = await writePngFile(file, img);
  }
  return { write_s: round((performance.now() - t) / 1000, 2), png_bytes: n };
}

/** The mosaic written as PNG, nothing else: the writer's memory beyond the RGBA. */
async function childPngWrite(): Promise<object> {
  const rss = rssSampler();
  const img = await makeMosaic(W, H);
  const sha = createHash('sha256').update(img.data).digest('hex');
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage().rss;
  const maxBefore = process.resourceUsage().maxRSS * 1024;
  rss.stage('png');
  const w = await writePngWith(PNG_OUT('mosaic', opt('writer', 'stream')), img);
  return {
    writer: opt('writer', 'stream'),
    rgba_mb: MB(img.data.length),
    rss_before_write_mb: MB(before),
    peak_rss_before_write_mb: MB(maxBefore),
    peak_rss_mb: MB(process.resourceUsage().maxRSS * 1024),
    write_peak_over_rss_before_mb: MB(process.resourceUsage().maxRSS * 1024 - before),
    ...w,
    rgba_sha256: sha,
    sampled_rss_peak_mb_by_stage: rss.done(),
  };
}

/** Decode the split part's .nimg and write it as PNG, as decodeFile and the CLI's decode do. */
async function childPngDecode(): Promise<object> {
  const rss = rssSampler();
  const bytes = new Uint8Array(readFileSync(SPLIT_FILE));
  rss.stage('init');
  const codec = await NimgCodec.create({ backend: 'wasm', threads: THREADS, tileSize: TILE, limits: LIMITS });
  rss.stage('decode');
  const dec = await codec.decodeWithStats(bytes, { backend: 'wasm' });
  const sha = createHash('sha256').update(dec.image.data).digest('hex');
  const maxBefore = process.resourceUsage().maxRSS * 1024;
  const before = process.memoryUsage().rss;
  rss.stage('png');
  const w = await writePngWith(PNG_OUT('decoded', opt('writer', 'stream')), dec.image);
  const stagePeaks = rss.done();
  codec.dispose();
  return {
    writer: opt('writer', 'stream'),
    decode_s: round(dec.stats.totalMs / 1000, 2),
    rss_before_write_mb: MB(before),
    peak_rss_before_write_mb: MB(maxBefore),
    peak_rss_mb: MB(process.resourceUsage().maxRSS * 1024),
    ...w,
    rgba_sha256: sha,
    sampled_rss_peak_mb_by_stage: stagePeaks,
  };
}

async function childSeams(): Promise<object> {
  // a crop straddling four source images of the mosaic (cells of 1500x1000)
  const big = await makeMosaic(W, H);
  const x0 = Math.max(0, Math.round(W / 4 - SEAM_W / 2)), y0 = Math.max(0, Math.round(H / 4 - SEAM_H / 2));
  const img = { width: SEAM_W, height: SEAM_H, data: crop(big, x0, y0, SEAM_W, SEAM_H) };
  const tiled = await NimgCodec.create({ backend: 'wasm', threads: THREADS, tileSize: TILE, limits: LIMITS });
  const whole = await NimgCodec.create({ backend: 'wasm', threads: 1, tileSize: Infinity, limits: LIMITS });
  const tTiled = await tiled.transformsFor('wasm');
  await (tTiled as unknown as { ready?: () => Promise<void> }).ready?.();
  const encT = await tiled.encodeWithStats(img, { quality: QUALITY });
  const encU = await whole.encodeWithStats(img, { quality: QUALITY });
  const decTT = await tiled.decodeWithStats(encT.bytes);
  const decTU = await whole.decodeWithStats(encT.bytes);
  const decUU = await whole.decodeWithStats(encU.bytes);
  const same = Buffer.from(encT.bytes).equals(Buffer.from(encU.bytes));
  const r = {
    image: { width: SEAM_W, height: SEAM_H, crop_of_mosaic_at: [x0, y0] },
    quality: QUALITY,
    tile_size: (tTiled as unknown as { tileSize: number }).tileSize,
    threads_tiled: (tTiled as unknown as { threads: number }).threads,
    psnr_db: {
      tiled_encode_tiled_decode: round(psnrRgba(img.data, decTT.image.data), 4),
      tiled_encode_untiled_decode: round(psnrRgba(img.data, decTU.image.data), 4),
      untiled_encode_untiled_decode: round(psnrRgba(img.data, decUU.image.data), 4),
    },
    decode_tiled_vs_untiled_same_bytes: {
      max_abs_pixel_diff: maxDiff(decTT.image.data, decTU.image.data),
      identical: Buffer.from(decTT.image.data).equals(Buffer.from(decTU.image.data)),
    },
    encode_tiled_vs_untiled_bytes_identical: same,
    bytes: { tiled: encT.bytes.length, untiled: encU.bytes.length },
    ms: {
      encode_tiled: round(encT.stats.totalMs, 0),
      encode_untiled: round(encU.stats.totalMs, 0),
      decode_tiled: round(decTT.stats.totalMs, 0),
      decode_untiled: round(decTU.stats.totalMs, 0),
    },
    peak_rss_mb: MB(process.resourceUsage().maxRSS * 1024),
  };
  const dP = Math.max(
    Math.abs(r.psnr_db.tiled_encode_tiled_decode - r.psnr_db.tiled_encode_untiled_decode),
    Math.abs(r.psnr_db.tiled_encode_tiled_decode - r.psnr_db.untiled_encode_untiled_decode),
  );
  tiled.dispose();
  whole.dispose();
  return { ...r, max_psnr_diff_db: round(dP, 4), within_0_05_db: dP <= 0.05 };
}

/** Run this script as a child in `mode`; its last stdout line is the JSON result. */
function runChild(mode: string, extra: string[] = []): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const args = ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2), ...extra, '--child', mode];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`child ${mode} exited with ${code}: ${out.slice(-2000)}`));
      try {
        resolve(JSON.parse(line) as Record<string, unknown>);
      } catch {
        reject(new Error(`child ${mode}: no JSON result (${out.slice(-2000)})`));
      }
    });
  });
}

async function main(): Promise<void> {
  const mode = opt('child', '');
  if (mode) {
    const r =
      mode === 'big'
        ? await childBig()
        : mode === 'encode'
          ? await childEncode()
          : mode === 'decode'
            ? await childDecode()
            : mode === 'png-write'
              ? await childPngWrite()
              : mode === 'png-decode'
                ? await childPngDecode()
                : await childSeams();
    process.stdout.write(`\n${JSON.stringify(r)}\n`);
    process.exit(0);
  }
  const only = opt('only', '');
  const machine = { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, total_mem_gb: round(os.totalmem() / 2 ** 30, 1), node: process.version };
  const out: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine,
    note: 'peak_rss_mb = process.resourceUsage().maxRSS of a child process that does only this work (main thread + WASM tile workers), in MiB (1048576 bytes). Target < 2 GiB = 2048 MiB.',
  };
  if (!only || only === 'big') {
    const load0 = os.loadavg();
    console.error(`[big-image] ${W}x${H} q${QUALITY} on WASM (load ${load0.map((x) => x.toFixed(2)).join(' ')}) ...`);
    const big = await runChild('big');
    out.big = { ...big, date: new Date().toISOString(), loadavg_before: load0.map((x) => round(x, 2)), loadavg_after: os.loadavg().map((x) => round(x, 2)), under_2gb: (big.peak_rss_mb as number) < 2048 };
    console.log(JSON.stringify(out.big, null, 2));
  }
  if (!only || only === 'split') {
    const load0 = os.loadavg();
    console.error(`[big-image] ${W}x${H}: encode and decode in separate processes ...`);
    const e = await runChild('encode');
    const d = await runChild('decode');
    let combinedSha = (out.big as { decoded_sha256?: string } | undefined)?.decoded_sha256;
    if (!combinedSha) {
      try {
        combinedSha = (JSON.parse(readFileSync(RESULTS, 'utf8')) as { big?: { decoded_sha256?: string } }).big?.decoded_sha256;
      } catch {
        /* none saved */
      }
    }
    out.big_split = {
      date: new Date().toISOString(),
      note: 'encode and decode each in its own child process (a server that only encodes, a client that only decodes); the combined run above holds both in one process',
      encode: e,
      decode: d,
      decoded_identical_to_combined_run: combinedSha ? combinedSha === d.decoded_sha256 : 'not compared (combined run not in this invocation)',
      loadavg_before: load0.map((x) => round(x, 2)),
      loadavg_after: os.loadavg().map((x) => round(x, 2)),
      under_2gb: (e.peak_rss_mb as number) < 2048 && (d.peak_rss_mb as number) < 2048,
    };
    console.log(JSON.stringify(out.big_split, null, 2));
  }
  if (!only || only === 'seams') {
    const load0 = os.loadavg();
    console.error(`[big-image] seams: ${SEAM_W}x${SEAM_H} tiled vs untiled ...`);
    const seams = await runChild('seams');
    out.seams = { ...seams, date: new Date().toISOString(), loadavg_before: load0.map((x) => round(x, 2)), loadavg_after: os.loadavg().map((x) => round(x, 2)) };
    console.log(JSON.stringify(out.seams, null, 2));
  }
  if (only === 'png') {
    // not part of a plain run: it needs the split part's .nimg (run --only split first)
    readFileSync(SPLIT_FILE);
    const load0 = os.loadavg();
    const res: Record<string, Record<string, unknown>> = {};
    for (const what of ['write', 'decode'] as const) {
      for (const writer of ['upng', 'stream']) {
        console.error(`[big-image] PNG ${what === 'write' ? 'write of the mosaic' : 'decode + write'} with ${writer} ...`);
        const r = await runChild(`png-${what}`, ['--writer', writer]);
        const back = await decodePng(readFileSync(PNG_OUT(what === 'write' ? 'mosaic' : 'decoded', writer)), LIMITS);
        r.png_pixels_identical = createHash('sha256').update(back.data).digest('hex') === r.rgba_sha256;
        res[`${what}_${writer}`] = r;
        console.log(JSON.stringify(r));
      }
    }
    out.png_output = {
      date: new Date().toISOString(),
      machine: { ...machine, where: opt('machine-note', 'the 2-core shared machine (noisy: other sessions run beside it)') },
      note:
        'PNG output of the 24 MP image: upng = encodePng (upng-js, whole file in memory; the CLI and decodeFile before the streaming writer), stream = src/node/png-writer.ts. ' +
        'write_*: the mosaic (RGBA built in the child) written alone; decode_*: the split part\'s .nimg decoded (WASM) then written, as decodeFile does. ' +
        'peak_rss_mb = maxRSS of the child; rss_before_write_mb = RSS when the write starts (after a GC in write_*). png_pixels_identical: the file read back by decodePng equals the RGBA.',
      ...res,
      loadavg_before: load0.map((x) => round(x, 2)),
      loadavg_after: os.loadavg().map((x) => round(x, 2)),
    };
  }
  if (!flag('no-save')) {
    let prev: Record<string, unknown> = {};
    try {
      prev = JSON.parse(readFileSync(RESULTS, 'utf8')) as Record<string, unknown>;
    } catch {
      /* first run */
    }
    const merged = { ...prev, ...out };
    mkdirSync(path.dirname(RESULTS), { recursive: true });
    writeFileSync(`${RESULTS}.tmp`, `${JSON.stringify(merged, null, 2)}\n`);
    renameSync(`${RESULTS}.tmp`, RESULTS);
    console.error(`[big-image] wrote ${path.relative(ROOT, RESULTS)}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
