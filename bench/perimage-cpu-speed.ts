/**
 * CPU decode speed of the per-image profile beside AVIF 4:4:4, AVIF 4:2:0 and WebP, in one
 * process on this machine (issue 16 "CPU decode speed").
 *
 *   npm run bench:perimage                          # bench/results/files/perimage/kodimNN.nimg
 *   npm run bench:perimage -- --files DIR --runs 7 --images 24 --kodak ../shared/data/kodak
 *                             [--match -l1.5e-3-s2000] [--out FILE] [--no-save]
 *
 * What runs: every kodimNN.nimg (or kodimNN-<settings>.nimg) of --files is decoded with
 * decodePerImageFile (nimg/perimage-decoder: container → params → latent stream → synthesis,
 * WASM core, one thread; the public API's decode runs the same core functions).
 * The same Kodak PNG is encoded by the bench as AVIF 4:4:4, AVIF 4:2:0 and WebP (jSquash
 * builds, bench/codecs.ts) at the quality whose size is closest to the .nimg file's bpp
 * (secant search on the quality, at most 6 encodes), then all four are decoded --runs times,
 * interleaved per image and rotated (the shared machine's load moves; peers measured side
 * by side see the same load). Medians per image, then the median over images; ratios are
 * nimg / peer of those medians (and the median of per-image ratios).
 *
 * Time split of the nimg decode (from the decode itself, decodePerImageFile's stats):
 * params section, entropy + ARM (latent stream), upsampling + synthesis; the upsampling alone
 * is timed with the core's upsample-only hook on the decoded grids, and subtracted.
 * Memory: process peak RSS after the nimg decodes and before any peer codec is loaded (the
 * decoder's own footprint, Node's baseline included), the core's WASM memory, and the
 * process peak at the end.
 *
 * Files made by bench/perimage-standin.ts (a STAND_IN marker in the directory) give
 * "stand_in_files": true and are written to .out/, never to the committed result.
 *
 * WebGPU column (--webgpu auto|on|off, default auto): after the CPU phases, every file is
 * decoded through the public API with backend 'webgpu' (NimgCodec.decodeWithStats: the
 * entropy path in the core, upsampling + synthesis on tfjs WebGPU, src/profiles/perimage/
 * decode-gpu.ts), one warm-up per image (it compiles that size's shaders; the device start
 * is paid once before), then --runs timed decodes: ms per file (median), its split (entropy
 * in the core / transform on the device, from the decode's stats) and the largest RGBA
 * difference from the core's decode. `auto` runs it on a hardware adapter only; `on` also
 * on a software one (SwiftShader, for checking the bench), whose result is then written to
 * .out/, never to the committed file: software timings are not GPU results.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodePng } from '../src/image/png.js';
import { createPerImageCore } from '../src/profiles/perimage/core.js';
import { parsePerImageContainer } from '../src/profiles/perimage/container.js';
import { decodePerImageFile, type PerImageDecodeStats } from '../src/profiles/perimage/decode-file.js';
import { avifFactory, webpFactory, type CodecAdapter } from './codecs.js';
import { psnrRgb } from './metrics.js';
import { median } from './stats.js';
import { opt, flag } from './args.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const COMMITTED = path.join(ROOT, 'bench', 'results', 'kodak-speed-perimage.json');

const FILES = path.resolve(ROOT, opt('files', path.join('bench', 'results', 'files', 'perimage')));
const KODAK = path.resolve(ROOT, opt('kodak', path.join('..', 'shared', 'data', 'kodak')));
const RUNS = Number(opt('runs', '5'));
const N_IMAGES = Number(opt('images', '24'));
/** --match S: only the files kodimNN<S>.nimg (e.g. -l1.5e-3-s2000: one rate and effort for every image) */
const MATCH = opt('match', '');
const SAVE = !flag('no-save');
const PEERS = opt('peers', 'avif444,avif,webp').split(',');
const WEBGPU = opt('webgpu', 'auto');
if (!['auto', 'on', 'off'].includes(WEBGPU)) throw new Error(`--webgpu must be auto, on or off, got ${WEBGPU}`);

const r1 = (x: number) => Math.round(x * 10) / 10;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const mb = (b: number) => r1(b / 2 ** 20);
const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100);
/** process peak RSS so far (resourceUsage reports KiB) */
const peakRssMb = () => r1(process.resourceUsage().maxRSS / 1024);

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    /* not Linux */
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

interface Timed {
  wall: number[];
  cpu: number[];
}
const timed = (): Timed => ({ wall: [], cpu: [] });

async function time(t: Timed, fn: () => Promise<unknown> | unknown): Promise<void> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  t.wall.push(performance.now() - t0);
  const d = process.cpuUsage(c0);
  t.cpu.push((d.user + d.system) / 1000);
}

/** the peer's file closest in bpp to target: secant on quality over log(bpp), ≤ 6 encodes */
async function matchBpp(c: CodecAdapter, rgba: Uint8Array | Uint8ClampedArray, w: number, h: number, target: number): Promise<{ quality: number; bytes: Uint8Array; bpp: number; encodes: number }> {
  const tried = new Map<number, Uint8Array>();
  const bppOf = async (q: number) => {
    q = Math.max(0, Math.min(100, Math.round(q)));
    if (!tried.has(q)) tried.set(q, await c.encode(rgba, w, h, q));
    return { q, bpp: (tried.get(q)!.length * 8) / (w * h) };
  };
  let a = await bppOf(30);
  let b = await bppOf(60);
  for (let i = 0; i < 4; i++) {
    const la = Math.log(a.bpp), lb = Math.log(b.bpp), lt = Math.log(target);
    if (Math.abs(lb - la) < 1e-9) break;
    const q = b.q + ((lt - lb) * (b.q - a.q)) / (lb - la);
    const n = await bppOf(q);
    if (n.q === b.q || n.q === a.q) break;
    [a, b] = [b, n];
  }
  let best = -1, err = Infinity;
  for (const [q, bytes] of tried) {
    const e = Math.abs(Math.log((bytes.length * 8) / (w * h) / target));
    if (e < err) [best, err] = [q, e];
  }
  const bytes = tried.get(best)!;
  return { quality: best, bytes, bpp: (bytes.length * 8) / (w * h), encodes: tried.size };
}

async function main(): Promise<void> {
  if (!existsSync(FILES)) {
    throw new Error(`${path.relative(ROOT, FILES)} does not exist: pass --files DIR (stand-in files for development: npx tsx bench/perimage-standin.ts, then --files .out/perimage-standin)`);
  }
  const standIn = existsSync(path.join(FILES, 'STAND_IN'));
  const byImage = new Map<string, string>();
  // kodimNN.nimg (the committed mid-rate file) first, else the first kodimNN-<settings>.nimg;
  // with --match only kodimNN<match>.nimg
  const nimgFiles = readdirSync(FILES).filter((x) => /^kodim\d\d(-[\w.+-]+)?\.nimg$/.test(x) && (!MATCH || x === `${x.slice(0, 7)}${MATCH}.nimg`)).sort();
  for (const f of [...nimgFiles.filter((x) => x.length === 12), ...nimgFiles]) if (!byImage.has(f.slice(0, 7))) byImage.set(f.slice(0, 7), f);
  const names = [...byImage.values()].slice(0, N_IMAGES);
  if (!names.length) throw new Error(`no kodimNN.nimg in ${FILES}`);
  const loadStart = load();
  const rssStart = r1(process.memoryUsage().rss / 2 ** 20);

  // ---- phase 1: nimg alone (its peak memory before any peer codec exists)
  const mod = await WebAssembly.compile(readFileSync(path.join(ROOT, 'build', 'nimg-core.wasm')));
  const core = await createPerImageCore(mod);
  const images: { name: string; file: Uint8Array; png: { width: number; height: number; data: Uint8Array | Uint8ClampedArray }; psnr: number }[] = [];
  for (const n of names) {
    const file = new Uint8Array(readFileSync(path.join(FILES, n)));
    const png = await decodePng(readFileSync(path.join(KODAK, `${n.slice(0, 7)}.png`)));
    const d = await decodePerImageFile(core, file);
    if (d.width !== png.width || d.height !== png.height) throw new Error(`${n}: ${d.width}x${d.height}, the PNG is ${png.width}x${png.height}`);
    images.push({ name: n.slice(0, 7), file, png, psnr: psnrRgb(d.data, png.data, png.width, png.height) });
  }
  const nimgPeakRss = peakRssMb();
  const nimgWasm = mb(core.memorySize());
  console.error(`[perimage-speed] ${images.length} files${standIn ? ' (STAND-IN)' : ''}; peak RSS ${nimgPeakRss} MB, core WASM ${nimgWasm} MiB; load ${load().join(' ')}`);

  // ---- phase 2: peers at the same bpp
  const adapters = [...(await avifFactory.load()), ...(await webpFactory.load())].filter((a) => PEERS.includes(a.name));
  const peerFiles: Record<string, Record<string, { quality: number; bytes: Uint8Array; bpp: number; encodes: number }>> = {};
  for (const img of images) {
    const bpp = (img.file.length * 8) / (img.png.width * img.png.height);
    peerFiles[img.name] = {};
    for (const a of adapters) peerFiles[img.name][a.name] = await matchBpp(a, img.png.data, img.png.width, img.png.height, bpp);
    console.error(`[perimage-speed] ${img.name}: nimg ${r3(bpp)} bpp; ${adapters.map((a) => `${a.name} q${peerFiles[img.name][a.name].quality} ${r3(peerFiles[img.name][a.name].bpp)}`).join(', ')}`);
  }

  // ---- phase 3: decodes, interleaved per image, order rotated each run
  const perImage: Record<string, unknown>[] = [];
  const codecs = ['nimg', ...adapters.map((a) => a.name)];
  const med: Record<string, number[]> = Object.fromEntries(codecs.map((c) => [c, []]));
  const medCpu: Record<string, number[]> = Object.fromEntries(codecs.map((c) => [c, []]));
  const split: Record<string, number[]> = { params: [], entropy_arm: [], upsampling: [], synthesis: [], container: [] };
  const ratios: Record<string, number[]> = Object.fromEntries(adapters.map((a) => [a.name, []]));
  for (const img of images) {
    const { width, height } = img.png;
    const t: Record<string, Timed> = Object.fromEntries(codecs.map((c) => [c, timed()]));
    const stats: PerImageDecodeStats[] = [];
    // warm-up of every decoder on this image
    await decodePerImageFile(core, img.file);
    for (const a of adapters) await a.decode(peerFiles[img.name][a.name].bytes);
    for (let r = 0; r < RUNS; r++) {
      for (let j = 0; j < codecs.length; j++) {
        const c = codecs[(j + r) % codecs.length];
        if (c === 'nimg') {
          await time(t.nimg, async () => stats.push((await decodePerImageFile(core, img.file)).stats));
        } else {
          const a = adapters.find((x) => x.name === c)!;
          await time(t[c], () => a.decode(peerFiles[img.name][c].bytes));
        }
      }
    }
    // upsampling alone, on the decoded grids (the core's bench hook)
    const f = parsePerImageContainer(img.file);
    const params = core.decodeFileParams(f);
    const grids = core.decodeLatents(params, f.latents, width, height);
    const up = timed();
    core.setUpsampleOnly(true);
    try {
      core.synthesize(params, grids, width, height);
      for (let r = 0; r < RUNS; r++) await time(up, () => core.synthesize(params, grids, width, height));
    } finally {
      core.setUpsampleOnly(false);
    }
    const s = {
      container: median(stats.map((x) => x.containerMs)),
      params: median(stats.map((x) => x.paramsMs)),
      entropy_arm: median(stats.map((x) => x.latentsMs)),
      upsampling: median(up.wall),
      synthesis: Math.max(0, median(stats.map((x) => x.synthesisMs)) - median(up.wall)),
    };
    for (const k of Object.keys(split)) split[k].push(s[k as keyof typeof s]);
    const row: Record<string, unknown> = {
      image: img.name,
      width,
      height,
      nimg: {
        bytes: img.file.length,
        bpp: r3((img.file.length * 8) / (width * height)),
        psnr: Math.round(img.psnr * 100) / 100,
        decode_ms: r1(median(t.nimg.wall)),
        decode_cpu_ms: r1(median(t.nimg.cpu)),
        split_ms: Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Math.round(v * 100) / 100])),
      },
    };
    med.nimg.push(median(t.nimg.wall));
    medCpu.nimg.push(median(t.nimg.cpu));
    for (const a of adapters) {
      const pf = peerFiles[img.name][a.name];
      const m = median(t[a.name].wall);
      med[a.name].push(m);
      medCpu[a.name].push(median(t[a.name].cpu));
      ratios[a.name].push(median(t.nimg.wall) / m);
      row[a.name] = { quality: pf.quality, bytes: pf.bytes.length, bpp: r3(pf.bpp), decode_ms: r1(m), decode_cpu_ms: r1(median(t[a.name].cpu)) };
    }
    perImage.push(row);
    console.error(`[perimage-speed] ${img.name}: ${codecs.map((c) => `${c} ${r1(median(t[c].wall))} ms`).join(', ')}; split ${Object.entries(s).map(([k, v]) => `${k} ${r1(v)}`).join(' ')}; load ${load()[0]}`);
  }

  // ---- phase 4 (optional): the same files decoded with backend 'webgpu'
  const gpu = await webgpuColumn(images, core, perImage);

  const decodeMs = median(med.nimg);
  const peerMs = Object.fromEntries(adapters.map((a) => [a.name, median(med[a.name])]));
  const result = {
    stand_in_files: standIn,
    ...(standIn ? { stand_in_note: `files made by bench/perimage-standin.ts, not encodes (${readFileSync(path.join(FILES, 'STAND_IN'), 'utf8').trim()}): decode work equals a real file of that size and architecture; bpp and PSNR are not those of the codec` } : {}),
    date: new Date().toISOString(),
    command: `npm run bench:perimage -- ${process.argv.slice(2).join(' ')}`.trim(),
    files: path.relative(ROOT, FILES),
    machine: { cores: os.cpus().length, cpu_model: cpuModel(), node: process.version, platform: `${os.platform()} ${os.arch()}`, loadavg_start: loadStart, loadavg_end: load() },
    method: `decodePerImageFile (WASM core, 1 thread) vs jSquash decoders (1 thread) in one process; ${RUNS} timed decodes per image and codec after one warm-up, interleaved and rotated; medians per image, then over ${images.length} images; peers encoded by this run at the quality closest to each .nimg file's bpp`,
    images: images.length,
    runs: RUNS,
    decode_ms: r1(decodeMs),
    decode_cpu_ms: r1(median(medCpu.nimg)),
    decode_ms_peers: Object.fromEntries(Object.entries(peerMs).map(([k, v]) => [k, r1(v)])),
    decode_cpu_ms_peers: Object.fromEntries(adapters.map((a) => [a.name, r1(median(medCpu[a.name]))])),
    // ratio of the medians; 'avif' is 4:2:0 as in kodak-rd.json's keys
    decode_ratio_vs_avif: peerMs.avif ? r3(decodeMs / peerMs.avif) : null,
    decode_ratio_vs_avif444: peerMs.avif444 ? r3(decodeMs / peerMs.avif444) : null,
    decode_ratio_vs_webp: peerMs.webp ? r3(decodeMs / peerMs.webp) : null,
    decode_ratio_median_per_image: Object.fromEntries(adapters.map((a) => [a.name, r3(median(ratios[a.name]))])),
    split_ms_median: Object.fromEntries(Object.entries(split).map(([k, v]) => [k, Math.round(median(v) * 100) / 100])),
    bpp_median: { nimg: r3(median(images.map((i) => (i.file.length * 8) / (i.png.width * i.png.height)))), ...Object.fromEntries(adapters.map((a) => [a.name, r3(median(images.map((i) => peerFiles[i.name][a.name].bpp)))])) },
    memory: {
      rss_start_mb: rssStart,
      nimg_peak_rss_mb: nimgPeakRss,
      nimg_core_wasm_mib: nimgWasm,
      process_peak_rss_mb_end: peakRssMb(),
      note: 'nimg_peak_rss_mb: process peak after the nimg decodes, before any peer codec was loaded (Node and the PNG reader included); the core WASM memory holds the grids (2 bytes a latent) and the RGBA output of the largest image',
    },
    webgpu: gpu ? gpu.summary : null,
    per_image: perImage,
  };
  const softwareGpu = !!gpu?.summary.software;
  const out = opt('out', standIn ? path.join(ROOT, '.out', 'kodak-speed-perimage-standin.json') : softwareGpu ? path.join(ROOT, '.out', 'kodak-speed-perimage-swgpu.json') : COMMITTED);
  if (standIn && path.resolve(out) === COMMITTED) throw new Error('stand-in files never make the committed result');
  if (softwareGpu && path.resolve(out) === COMMITTED) throw new Error('timings on a software WebGPU adapter never make the committed result');
  if (SAVE) {
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(`${out}.tmp`, `${JSON.stringify(result, null, 1)}\n`);
    renameSync(`${out}.tmp`, out);
    console.error(`[perimage-speed] wrote ${path.relative(ROOT, out)}`);
  }
  const { per_image: _, ...summary } = result;
  console.log(JSON.stringify(summary, null, 1));
}

/**
 * ms per file with backend 'webgpu' through the public API (see the header), or null when
 * skipped; adds a `webgpu` entry to each per-image row.
 */
async function webgpuColumn(
  images: { name: string; file: Uint8Array; png: { width: number; height: number } }[],
  core: Awaited<ReturnType<typeof createPerImageCore>>,
  perImage: Record<string, unknown>[],
): Promise<{ summary: Record<string, unknown> } | null> {
  if (WEBGPU === 'off') return null;
  const { probeWebGpuAdapter } = await import('../src/backend/index.js');
  const a = await probeWebGpuAdapter();
  if (!a.found || (a.software && WEBGPU !== 'on')) {
    console.error(`[perimage-speed] webgpu column skipped: ${a.found ? `software adapter (${a.description}); --webgpu on measures it anyway, never into the committed result` : a.description}`);
    return null;
  }
  const { NimgCodec, setDefaultAssets } = await import('../src/codec.js');
  const { loadCoreWasm, loadWeights } = await import('../src/node/loader.js');
  setDefaultAssets({ loadCoreWasm, loadWeights });
  const codec = await NimgCodec.createLazy({ backend: 'wasm', threads: 1 });
  try {
    // the device start (adapter, tfjs backend), paid once by a codec: timed apart
    const t0 = performance.now();
    await codec.decode(images[0].file, { backend: 'webgpu' });
    const firstMs = performance.now() - t0;
    const ms: number[] = [];
    const ent: number[] = [];
    const tr: number[] = [];
    let maxDiff = 0;
    for (const [i, img] of images.entries()) {
      // warm-up: this size's shader compiles; and the largest difference from the core's RGBA
      const ref = (await decodePerImageFile(core, img.file)).data;
      const warm = await codec.decode(img.file, { backend: 'webgpu' });
      let d = 0;
      for (let j = 0; j < ref.length; j++) d = Math.max(d, Math.abs(ref[j] - warm.data[j]));
      maxDiff = Math.max(maxDiff, d);
      const t = timed();
      const st: { entropyMs: number; transformMs: number }[] = [];
      for (let r = 0; r < RUNS; r++) await time(t, async () => st.push((await codec.decodeWithStats(img.file, { backend: 'webgpu' })).stats));
      const row = { decode_ms: r1(median(t.wall)), entropy_ms: r1(median(st.map((x) => x.entropyMs))), transform_ms: r1(median(st.map((x) => x.transformMs))), max_diff_vs_core: d };
      ms.push(median(t.wall));
      ent.push(row.entropy_ms);
      tr.push(row.transform_ms);
      (perImage[i] as Record<string, unknown>).webgpu = row;
      console.error(`[perimage-speed] ${img.name} webgpu: ${row.decode_ms} ms (entropy ${row.entropy_ms}, transform ${row.transform_ms}); max diff vs core ${d}`);
    }
    return {
      summary: {
        adapter: a.description,
        software: a.software,
        method: `NimgCodec.decodeWithStats(file, { backend: 'webgpu' }): ${RUNS} timed decodes per image after one warm-up (shader compiles), after the CPU phases; medians per image, then over images`,
        first_decode_ms: r1(firstMs),
        decode_ms: r1(median(ms)),
        split_ms_median: { entropy: r1(median(ent)), transform: r1(median(tr)) },
        max_diff_vs_core: maxDiff,
      },
    };
  } finally {
    codec.dispose();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
