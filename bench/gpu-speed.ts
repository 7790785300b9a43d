/**
 * GPU speed of nimg: Kodak medians (end to end, stage split) and 12-megapixel throughput,
 * on the WebGPU backend (Dawn via the npm `webgpu` package in Node) and, for contrast, on
 * the WASM backend of the same machine.
 *
 *   npx tsx bench/gpu-speed.ts [options]
 *
 * options (all optional):
 *   --backends webgpu,wasm   backends to measure, in this order (default webgpu,wasm)
 *   --images DIR             PNG folder (default $NIMG_KODAK or ../shared/data/kodak)
 *   --limit N                first N images (default all)
 *   --quality Q              default 5
 *   --runs N                 timed runs per image on webgpu (default 3; wasm: --wasm-runs, default 1)
 *   --big WxH                large image for throughput (default 4000x3000; "0" = skip)
 *   --big-runs N             timed runs at the large size (default 3 on webgpu, 1 on wasm)
 *   --budget S               seconds after which remaining stages are skipped (default 300)
 *   --out FILE               JSON output (default $OUT/gpu-speed.json when $OUT is set)
 *
 * "encode" = RGBA in → .nimg bytes out; "decode" = .nimg bytes in → RGBA out, both timed
 * around the public encodeWithStats/decodeWithStats (entropy coding included); the stage
 * split comes from their stats. Per image: median of the runs; then median over images.
 * Results are written after each stage, so a run cut short leaves what it measured.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import '../src/node/defaults.js'; // init() reads the packaged core and weights
import { NimgCodec, type DecodeStats, type EncodeStats, type ImageLike } from '../src/codec.js';
import { probeWebGpuAdapter } from '../src/backend/index.js';
import { decodeImageFile } from '../src/image/index.js';
import type { BackendName } from '../src/model/types.js';
import { psnrRgba } from '../src/image/psnr.js';
import { median } from './stats.js';
import { opt } from './args.js';

// ------------------------------------------------------------------------------- options

const BACKENDS = opt('backends', 'webgpu,wasm').split(',').filter(Boolean) as BackendName[];
const IMAGES_DIR = path.resolve(opt('images', process.env.NIMG_KODAK ?? path.join('..', 'shared', 'data', 'kodak')));
const LIMIT = Number(opt('limit', '0')) || Infinity;
const QUALITY = Number(opt('quality', '5'));
const RUNS_GPU = Number(opt('runs', '3'));
const RUNS_WASM = Number(opt('wasm-runs', '1'));
const BIG = opt('big', '4000x3000');
const BIG_RUNS_GPU = Number(opt('big-runs', '3'));
const BIG_RUNS_WASM = Number(opt('wasm-big-runs', '1'));
const BUDGET_S = Number(opt('budget', '300'));
const OUT_FILE = opt('out', process.env.OUT ? path.join(process.env.OUT, 'gpu-speed.json') : '');

// Assets: when the sources are not at their usual place (a transpiled copy), read the core
// and weights from the working directory.
if (!process.env.NIMG_CORE_WASM && existsSync('build/nimg-core.wasm')) process.env.NIMG_CORE_WASM = path.resolve('build/nimg-core.wasm');
if (!process.env.NIMG_WEIGHTS && existsSync('weights/nimg-v1.json')) process.env.NIMG_WEIGHTS = path.resolve('weights/nimg-v1.json');

const T_START = performance.now();
const elapsedS = (): number => (performance.now() - T_START) / 1000;
const log = (s: string): void => console.error(`[${elapsedS().toFixed(1).padStart(6)} s] ${s}`);

// ------------------------------------------------------------------------------- helpers

const r2 = (x: number): number | null => (Number.isFinite(x) ? Math.round(x * 100) / 100 : null);
const errMsg = (e: unknown): string => (e instanceof Error ? `${e.message}${e.cause ? ` (cause: ${String((e.cause as Error).message ?? e.cause)})` : ''}` : String(e));

function sh(cmd: string, args: string[]): string | null {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10000 }).trim();
  } catch {
    return null;
  }
}

function machineInfo(): Record<string, unknown> {
  const smi = sh('nvidia-smi', ['--query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit', '--format=csv,noheader']);
  const smiVer = sh('nvidia-smi', []);
  const cuda = smiVer?.match(/CUDA Version:\s*([\d.]+)/)?.[1] ?? null;
  let cpuModel: string | null = null;
  try {
    cpuModel = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1]?.trim() ?? null;
  } catch {
    cpuModel = os.cpus()[0]?.model ?? null;
  }
  const [gpuName, driver, gpuMem, smClock, power] = smi ? smi.split('\n')[0].split(',').map((s) => s.trim()) : [];
  return {
    gpu_name: gpuName ?? null,
    gpu_driver: driver ?? null,
    gpu_memory: gpuMem ?? null,
    gpu_max_sm_clock: smClock ?? null,
    gpu_power_limit: power ?? null,
    gpu_count: smi ? smi.split('\n').length : 0,
    cuda_version_driver: cuda,
    cpu_model: cpuModel,
    cpu_logical_cores: os.availableParallelism?.() ?? os.cpus().length,
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

async function loadImages(): Promise<{ name: string; img: ImageLike }[]> {
  const files = readdirSync(IMAGES_DIR)
    .filter((f) => /\.png$/i.test(f))
    .sort()
    .slice(0, LIMIT === Infinity ? undefined : LIMIT);
  const out: { name: string; img: ImageLike }[] = [];
  for (const f of files) out.push({ name: f, img: await decodeImageFile(new Uint8Array(readFileSync(path.join(IMAGES_DIR, f)))) });
  return out;
}

/** A W x H RGBA image tiled from the Kodak images (landscape ones; row-major, cropped at the edges). */
function tiledImage(all: ImageLike[], W: number, H: number): ImageLike {
  const land = all.filter((s) => s.width >= s.height && s.height === all[0].height);
  const srcs = land.length ? land : all;
  const data = new Uint8ClampedArray(W * H * 4);
  let k = 0;
  for (let y0 = 0; y0 < H; ) {
    let rowH = 0;
    for (let x0 = 0; x0 < W; ) {
      const s = srcs[k++ % srcs.length];
      const w = Math.min(s.width, W - x0);
      const h = Math.min(s.height, H - y0);
      for (let y = 0; y < h; y++) {
        const si = y * s.width * 4;
        data.set(s.data.subarray(si, si + w * 4), ((y0 + y) * W + x0) * 4);
      }
      rowH = Math.max(rowH, h);
      x0 += w;
    }
    y0 += rowH;
  }
  return { width: W, height: H, data };
}

// hsMs: h_s alone (part of entropyMs; on WebGPU it runs on the device, stats.hs says where)
const ENC_KEYS = ['preMs', 'analysisMs', 'hyperAnalysisMs', 'transformMs', 'entropyMs', 'hsMs', 'alphaMs', 'containerMs', 'totalMs'] as const;
const DEC_KEYS = ['containerMs', 'entropyMs', 'hsMs', 'transformMs', 'postMs', 'totalMs'] as const;

function stageMedians<K extends string>(rows: Record<K, number>[], keys: readonly K[]): Record<string, number | null> {
  const o: Record<string, number | null> = {};
  for (const k of keys) o[k.replace(/Ms$/, '_ms')] = r2(median(rows.map((r) => r[k] ?? NaN)));
  return o;
}

// ------------------------------------------------------------------------------- results

type Json = Record<string, unknown>;
const result: Json = {
  what: 'nimg speed on a GPU machine: WebGPU (Dawn, npm "webgpu") and, for contrast, WASM; Kodak medians + 12 MP throughput',
  date: new Date().toISOString(),
  machine: machineInfo(),
  settings: {
    quality: QUALITY,
    images_dir: path.basename(IMAGES_DIR),
    runs_per_image: { webgpu: RUNS_GPU, wasm: RUNS_WASM },
    big: BIG,
    big_runs: { webgpu: BIG_RUNS_GPU, wasm: BIG_RUNS_WASM },
    timing:
      'wall clock around NimgCodec.encodeWithStats / decodeWithStats (RGBA in -> file bytes out; file bytes in -> RGBA out; entropy coding included); per image the median of the runs, then the median over images; a warm-up pass (one image of each size, encode+decode, untimed) first',
  },
  targets: { decode_ms: 20, encode_ms: 20, mp_per_s_at_12mp: 5 },
  decode_ms: null,
  encode_ms: null,
  backends: {} as Json,
  errors: [] as string[],
};

function save(): void {
  result.elapsed_s = r2(elapsedS());
  if (!OUT_FILE) return;
  mkdirSync(path.dirname(OUT_FILE), { recursive: true });
  writeFileSync(OUT_FILE, JSON.stringify(result, null, 2) + '\n');
}

// ------------------------------------------------------------------------------- measuring

interface Timed {
  wallMs: number;
  stats: EncodeStats | DecodeStats;
}

async function encodeOnce(codec: NimgCodec, img: ImageLike, backend: BackendName): Promise<Timed & { bytes: Uint8Array }> {
  const t0 = performance.now();
  const r = await codec.encodeWithStats(img, { quality: QUALITY, backend });
  return { wallMs: performance.now() - t0, stats: r.stats, bytes: r.bytes };
}

async function decodeOnce(codec: NimgCodec, bytes: Uint8Array, backend: BackendName): Promise<Timed & { data: Uint8ClampedArray }> {
  const t0 = performance.now();
  const r = await codec.decodeWithStats(bytes, { backend });
  return { wallMs: performance.now() - t0, stats: r.stats, data: r.image.data };
}

/** median-by-wall run of a list */
function pick<T extends Timed>(runs: T[]): T {
  const s = [...runs].sort((a, b) => a.wallMs - b.wallMs);
  return s[(s.length - 1) >> 1];
}

async function measureBackend(backend: BackendName, images: { name: string; img: ImageLike }[]): Promise<void> {
  const res: Json = { backend };
  (result.backends as Json)[backend] = res;
  const runs = backend === 'wasm' ? RUNS_WASM : RUNS_GPU;
  const bigRuns = backend === 'wasm' ? BIG_RUNS_WASM : BIG_RUNS_GPU;

  if (backend === 'webgpu') {
    const a = await probeWebGpuAdapter();
    res.adapter = a;
    if (!a.found) throw new Error(`no WebGPU adapter: ${a.description}`);
  }
  const tInit = performance.now();
  const codec = await NimgCodec.create({ backend });
  const tf = (await codec.transformsFor(backend)) as unknown as { backend: string; tileSize?: number; threads?: number; ready?: () => Promise<void> };
  if (tf.ready) await tf.ready();
  res.init_ms = r2(performance.now() - tInit);
  res.tile_size = tf.tileSize ?? null;
  res.threads = tf.threads ?? null;
  if (backend === 'webgpu') {
    try {
      const tfc = await import('@tensorflow/tfjs-core');
      const dev = (tfc.backend() as unknown as { device?: { limits?: Record<string, number> } }).device;
      const l = dev?.limits;
      if (l) {
        res.device_limits = {
          maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
          maxBufferSize: l.maxBufferSize,
          maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
        };
      }
    } catch {
      /* optional */
    }
  }
  log(`${backend}: init ${res.init_ms} ms, tile ${res.tile_size}, threads ${res.threads}`);

  // warm-up: one image of each size (shaders / pipelines compile per shape), plus one more pass
  const tWarm = performance.now();
  const seen = new Set<string>();
  for (const { img } of images) {
    const key = `${img.width}x${img.height}`;
    if (seen.has(key)) continue;
    seen.add(key);
    for (let k = 0; k < (backend === 'wasm' ? 1 : 2); k++) {
      const e = await encodeOnce(codec, img, backend);
      await decodeOnce(codec, e.bytes, backend);
    }
  }
  res.warmup_ms = r2(performance.now() - tWarm);
  log(`${backend}: warm-up ${res.warmup_ms} ms (${[...seen].join(', ')})`);

  // Kodak
  const per: Json[] = [];
  const encRows: EncodeStats[] = [];
  const decRows: DecodeStats[] = [];
  const encWall: number[] = [];
  const decWall: number[] = [];
  const bpps: number[] = [];
  const psnrs: number[] = [];
  for (const { name, img } of images) {
    if (elapsedS() > BUDGET_S) {
      (result.errors as string[]).push(`${backend}: time budget reached after ${per.length} images`);
      break;
    }
    const encs: (Timed & { bytes: Uint8Array })[] = [];
    for (let r = 0; r < runs; r++) encs.push(await encodeOnce(codec, img, backend));
    const decs: (Timed & { data: Uint8ClampedArray })[] = [];
    for (let r = 0; r < runs; r++) decs.push(await decodeOnce(codec, encs[0].bytes, backend));
    const e = pick(encs);
    const d = pick(decs);
    const bpp = (encs[0].bytes.length * 8) / (img.width * img.height);
    const psnr = psnrRgba(img.data, decs[0].data);
    encRows.push(e.stats as EncodeStats);
    decRows.push(d.stats as DecodeStats);
    encWall.push(e.wallMs);
    decWall.push(d.wallMs);
    bpps.push(bpp);
    psnrs.push(psnr);
    per.push({ image: name, size: `${img.width}x${img.height}`, encode_ms: r2(e.wallMs), decode_ms: r2(d.wallMs), bpp: Math.round(bpp * 10000) / 10000, psnr: r2(psnr), hs: `${(e.stats as EncodeStats).hs}/${(d.stats as DecodeStats).hs}` });
  }
  const mpx = median(images.slice(0, per.length).map(({ img }) => (img.width * img.height) / 1e6));
  res.kodak = {
    n_images: per.length,
    runs_per_image: runs,
    encode_ms: r2(median(encWall)),
    decode_ms: r2(median(decWall)),
    encode_ms_mean: r2(encWall.reduce((a, b) => a + b, 0) / encWall.length),
    decode_ms_mean: r2(decWall.reduce((a, b) => a + b, 0) / decWall.length),
    encode_mp_per_s: r2(mpx / (median(encWall) / 1000)),
    decode_mp_per_s: r2(mpx / (median(decWall) / 1000)),
    bpp_mean: Math.round((bpps.reduce((a, b) => a + b, 0) / bpps.length) * 10000) / 10000,
    psnr_mean: r2(psnrs.reduce((a, b) => a + b, 0) / psnrs.length),
    encode_stages_ms: stageMedians(encRows as unknown as Record<(typeof ENC_KEYS)[number], number>[], ENC_KEYS),
    decode_stages_ms: stageMedians(decRows as unknown as Record<(typeof DEC_KEYS)[number], number>[], DEC_KEYS),
    per_image: per,
  };
  save();
  log(`${backend}: kodak ${per.length} images: encode ${r2(median(encWall))} ms, decode ${r2(median(decWall))} ms (median)`);

  // 12 MP
  if (BIG !== '0' && BIG !== '') {
    const [W, H] = BIG.split('x').map(Number);
    const big: Json = { width: W, height: H, megapixels: r2((W * H) / 1e6), source: 'tiled from the landscape Kodak images (768x512), cropped at the right and bottom edges' };
    res.big = big;
    if (elapsedS() > BUDGET_S) {
      big.error = 'skipped: time budget reached';
    } else {
      const img = tiledImage(images.map((x) => x.img), W, H);
      try {
        // first (untimed for webgpu: new shapes compile; timed separately as cold)
        const cold = await encodeOnce(codec, img, backend);
        const coldDec = await decodeOnce(codec, cold.bytes, backend);
        big.cold_encode_ms = r2(cold.wallMs);
        big.cold_decode_ms = r2(coldDec.wallMs);
        big.bpp = Math.round(((cold.bytes.length * 8) / (W * H)) * 10000) / 10000;
        big.psnr = r2(psnrRgba(img.data, coldDec.data));
        log(`${backend}: ${W}x${H} cold: encode ${big.cold_encode_ms} ms, decode ${big.cold_decode_ms} ms`);
        const encs: (Timed & { bytes: Uint8Array })[] = [];
        const decs: Timed[] = [];
        for (let r = 0; r < bigRuns && elapsedS() < BUDGET_S; r++) {
          encs.push(await encodeOnce(codec, img, backend));
          decs.push(await decodeOnce(codec, cold.bytes, backend));
        }
        if (!encs.length) {
          encs.push(cold);
          decs.push(coldDec);
          big.note = 'only the cold run (time budget)';
        }
        const e = pick(encs);
        const d = pick(decs);
        big.runs = encs.length;
        big.encode_ms = r2(e.wallMs);
        big.decode_ms = r2(d.wallMs);
        big.encode_mp_per_s = r2((W * H) / 1e6 / (e.wallMs / 1000));
        big.decode_mp_per_s = r2((W * H) / 1e6 / (d.wallMs / 1000));
        big.encode_stages_ms = stageMedians([e.stats] as unknown as Record<(typeof ENC_KEYS)[number], number>[], ENC_KEYS);
        big.decode_stages_ms = stageMedians([d.stats] as unknown as Record<(typeof DEC_KEYS)[number], number>[], DEC_KEYS);
        log(`${backend}: ${W}x${H}: encode ${big.encode_mp_per_s} MP/s, decode ${big.decode_mp_per_s} MP/s`);
      } catch (e) {
        big.error = errMsg(e);
        log(`${backend}: ${W}x${H} failed: ${big.error}`);
      }
    }
    save();
  }
  codec.dispose();
}

// ------------------------------------------------------------------------------- main

function fmt(x: unknown, d = 1): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '-';
}

function summary(): void {
  const m = result.machine as Json;
  const lines: string[] = [];
  lines.push('');
  lines.push(`=== nimg gpu-speed  (quality ${QUALITY}, ${new Date().toISOString()}) ===`);
  lines.push(`GPU: ${m.gpu_name ?? '-'}  driver ${m.gpu_driver ?? '-'}  CUDA ${m.cuda_version_driver ?? '-'}`);
  lines.push(`CPU: ${m.cpu_model ?? '-'} x${m.cpu_logical_cores}  Node ${m.node}`);
  const head = ['backend', 'imgs', 'enc ms', 'dec ms', 'enc pre', 'enc xform', 'enc entropy', 'enc h_s', 'dec entropy', 'dec h_s', 'dec xform', 'dec post', 'bpp', 'PSNR', '12MP enc MP/s', '12MP dec MP/s'];
  const rows: string[][] = [head];
  for (const [b, v] of Object.entries(result.backends as Record<string, Json>)) {
    const k = (v.kodak ?? {}) as Json;
    const es = (k.encode_stages_ms ?? {}) as Json;
    const ds = (k.decode_stages_ms ?? {}) as Json;
    const big = (v.big ?? {}) as Json;
    rows.push([
      b,
      String(k.n_images ?? 0),
      fmt(k.encode_ms),
      fmt(k.decode_ms),
      fmt(es.pre_ms),
      fmt(es.transform_ms),
      fmt(es.entropy_ms),
      fmt(es.hs_ms),
      fmt(ds.entropy_ms),
      fmt(ds.hs_ms),
      fmt(ds.transform_ms),
      fmt(ds.post_ms),
      fmt(k.bpp_mean, 3),
      fmt(k.psnr_mean, 2),
      big.error ? 'ERR' : fmt(big.encode_mp_per_s, 2),
      big.error ? 'ERR' : fmt(big.decode_mp_per_s, 2),
    ]);
  }
  const w = head.map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) lines.push(r.map((s, c) => s.padStart(w[c])).join(' | '));
  for (const [b, v] of Object.entries(result.backends as Record<string, Json>)) {
    const big = (v.big ?? {}) as Json;
    if (big.width) {
      lines.push(
        `${b} ${big.width}x${big.height}: ${big.error ? `ERROR ${big.error}` : `encode ${fmt(big.encode_ms, 0)} ms (cold ${fmt(big.cold_encode_ms, 0)}), decode ${fmt(big.decode_ms, 0)} ms (cold ${fmt(big.cold_decode_ms, 0)}), bpp ${fmt(big.bpp, 3)}, PSNR ${fmt(big.psnr, 2)}`}`,
      );
    }
  }
  lines.push(`headline (webgpu): decode_ms ${fmt(result.decode_ms)}  encode_ms ${fmt(result.encode_ms)}  (targets <= 20 / <= 20; >= 5 MP/s at 12 MP)`);
  for (const e of result.errors as string[]) lines.push(`error: ${e}`);
  lines.push(`elapsed ${fmt(elapsedS())} s${OUT_FILE ? `; JSON: ${OUT_FILE}` : ''}`);
  console.log(lines.join('\n'));
}

async function main(): Promise<void> {
  log(`images from ${IMAGES_DIR}; backends ${BACKENDS.join(',')}; budget ${BUDGET_S} s`);
  const images = await loadImages();
  if (!images.length) throw new Error(`no PNG images in ${IMAGES_DIR}`);
  (result.settings as Json).n_images = images.length;
  log(`loaded ${images.length} images; machine: ${JSON.stringify(result.machine)}`);
  save();
  for (const b of BACKENDS) {
    try {
      await measureBackend(b, images);
    } catch (e) {
      const msg = `${b}: ${errMsg(e)}`;
      (result.errors as string[]).push(msg);
      const res = ((result.backends as Json)[b] ??= { backend: b }) as Json;
      res.error = errMsg(e);
      log(`FAILED ${msg}`);
    }
    save();
  }
  const gpu = (result.backends as Record<string, Json>).webgpu;
  const gk = gpu?.kodak as Json | undefined;
  result.decode_ms = gk?.decode_ms ?? null;
  result.encode_ms = gk?.encode_ms ?? null;
  if (gk) {
    result.encode_stages_ms = gk.encode_stages_ms;
    result.decode_stages_ms = gk.decode_stages_ms;
  }
  const gb = gpu?.big as Json | undefined;
  result.mp12 = gb ? { encode_mp_per_s: gb.encode_mp_per_s ?? null, decode_mp_per_s: gb.decode_mp_per_s ?? null, error: gb.error ?? null } : null;
  result.targets_met =
    gk && typeof gk.decode_ms === 'number'
      ? {
          decode_ms: (gk.decode_ms as number) <= 20,
          encode_ms: (gk.encode_ms as number) <= 20,
          mp12_encode: typeof gb?.encode_mp_per_s === 'number' ? (gb.encode_mp_per_s as number) >= 5 : null,
          mp12_decode: typeof gb?.decode_mp_per_s === 'number' ? (gb.decode_mp_per_s as number) >= 5 : null,
        }
      : null;
  save();
  summary();
}

main().then(
  () => process.exit(0),
  (e) => {
    (result.errors as string[]).push(`fatal: ${errMsg(e)}`);
    save();
    summary();
    console.error(e);
    process.exit(1);
  },
);
