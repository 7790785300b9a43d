/**
 * Per-image profile ("perimage", profile 2) on a GPU: step speed, real-codec encodes, fixtures.
 * Written for the device machine (bench/gpu/device-run-perimage.sh runs it there), runs
 * anywhere Node runs (WASM or SwiftShader for checks).
 *
 *   npx tsx bench/perimage-gpu.ts speed [--image F] [--w 768] [--h 512] [--steps 300] [--warm 20]
 *        [--start-at EPOCH_MS] [--backend webgpu] [--ref up2] [--members 1] [--submit-batch N]
 *     ms per training step at the default architecture (after a warm-up run that compiles the
 *     shaders); --members K times one batched step of K lambdas (trainBatch); --start-at lines several processes up so that their timed runs overlap. One
 *     JSON line: {w, h, steps, ms, msPerStep, t0, t1, ...}. --ref names fused WebGPU parts to
 *     run as plain tfjs ops instead (A/B of the fused programs): up2, synth, arm (comma-separated).
 *     --submit-batch N: tfjs-webgpu's WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE (dispatches recorded
 *     before one queue submission; tfjs's default 15, a step has ~52), for its A/B.
 *
 *   npx tsx bench/perimage-gpu.ts jobs --queue Q.jsonl --dir D [--backend webgpu] [--worker K] [--members 6] [--submit-batch N]
 *     Takes jobs from the queue (one JSON object a line: {name, image, lambda, quality?, steps?,
 *     crop?: [x, y, w, h], seed?, arch?: a PerImageArch for architecture studies, recorded in
 *     the row as archSpec, synHiddenBias?, starts?, soap?, soapLr?: the encoder's study options (Job below), recorded in
 *     the row, starts with the seed of the start it chose, initSeed}) that no other worker has claimed (claims are mkdir D/claims/NAME,
 *     so any number of workers share a queue) and that have no D/NAME.json yet (resume), encodes
 *     each with encodePerImage and writes the REAL file D/NAME.nimg (container v2: header,
 *     params section and latent stream coded by the core) and its row D/NAME.json.
 *     --members K (default 6): queue entries with the same image, crop, steps, seed, arch, synHiddenBias, starts, soap and soapLr (up to
 *     K, in queue order from the first unclaimed one) are trained together in one batch
 *     (encodePerImageMembers / train-batch.ts: one step of all K with the dispatches of one on
 *     WebGPU); each still gets its own quantization, its own real .nimg and its own row (with
 *     `members`: the batch size). --members 1: one encodePerImage per job, as before.
 *
 *   npx tsx bench/perimage-gpu.ts fixtures --dir D --images a.png,b.png [--crop x,y,w,h] [--steps 1000]
 *     Cross-machine fixtures: encodes a crop of each image, writes D/gpu-NAME.nimg and in
 *     D/gpu-fixtures.json the SHA-256 of the latent grids the encoder chose and of the RGBA the
 *     core (WASM) decodes from the file in this same process.
 *
 *   npx tsx bench/perimage-gpu.ts decode --dir D [--match -l1.5e-3-] [--runs 5]
 *     WebGPU decode time of the real files D/*.nimg whose name contains --match, through the
 *     public API (NimgCodec.decodeWithStats, backend 'webgpu'; one warm-up decode per file for
 *     the shader compiles): one JSON line per file (median ms, entropy / transform split, the
 *     largest difference from the core's WASM pixels) and a summary line (median over files).
 *
 * The core is read from $NIMG_CORE_WASM (default build/nimg-core.wasm). $NIMG_GPU_NAME (e.g.
 * from nvidia-smi) is written into the rows beside the WebGPU adapter's own description.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, probeWebGpuAdapter } from '../src/backend/index.js';
import type { BackendChoice } from '../src/model/types.js';
import { createPerImageCore, type PerImageCore } from '../src/profiles/perimage/core.js';
import { parsePerImageContainer, writePerImageContainer } from '../src/profiles/perimage/container.js';
import { defaultArch, type LatentGrids, type PerImageArch } from '../src/profiles/perimage/types.js';
import { DEFAULT_STEPS, encodePerImage, encodePerImageMembers, lambdaToQuality, qualityToLambda, type PerImageEncodeResult } from '../src/profiles/perimage/encoder/index.js';
import { makeLayout, SYN_HIDDEN_BIAS } from '../src/profiles/perimage/encoder/model.js';
import { DEFAULT_TRAIN, rgbaToRows } from '../src/profiles/perimage/encoder/train.js';
import { DEFAULT_SOAP, soapSettingsOf } from '../src/profiles/perimage/encoder/soap.js';
import { setFusedUp2 } from '../src/profiles/perimage/encoder/up2-gpu.js';
import { setFusedSynth } from '../src/profiles/perimage/encoder/synth-gpu.js';
import { setFusedArm } from '../src/profiles/perimage/encoder/arm-gpu.js';
import { runSteps } from './perimage-steps.js';
import { LOG2B_GRAD } from '../src/profiles/perimage/encoder/forward.js';
import { opt } from './args.js';
import { loadImage, type Rgba } from './load-image.js';

const argv = process.argv.slice(2);
const mode = argv[0];
const backendName = (opt('backend', 'webgpu') as BackendChoice);

/** --submit-batch N (speed, jobs): tfjs-webgpu's dispatches per queue submission; null on other backends */
function applySubmitBatch(): number | null {
  if (tf.getBackend() !== 'webgpu') return null;
  const n = opt('submit-batch');
  if (n !== undefined) tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', +n);
  return tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE');
}

/** SHA-256 of the grids, finest first, each value an int16 little-endian (the grids' own layout). */
export function gridsSha256(grids: LatentGrids): string {
  const h = createHash('sha256');
  for (const g of grids) {
    const b = new Uint8Array(g.length * 2);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < g.length; i++) dv.setInt16(2 * i, g[i], true);
    h.update(b);
  }
  return h.digest('hex');
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function loadCore(): Promise<PerImageCore> {
  const p = process.env.NIMG_CORE_WASM ?? path.resolve('build/nimg-core.wasm');
  return createPerImageCore(new Uint8Array(readFileSync(p)));
}

async function adapterInfo(): Promise<string> {
  if (tf.getBackend() !== 'webgpu') return tf.getBackend();
  return (await probeWebGpuAdapter()).description;
}

/** One encode → the real file bytes and what is known about it. */
async function encodeFile(core: PerImageCore, img: Rgba, o: { quality: number; lambda?: number; steps: number; seed?: number; arch?: PerImageArch; study?: StudyOptions }) {
  const t0 = performance.now();
  const r = await encodePerImage(img, { quality: o.quality, lambda: o.lambda, steps: o.steps, backend: backendName, seed: o.seed, arch: o.arch, ...o.study });
  return codeFile(core, img, o.quality, r, t0);
}

/** An encoder result → the real file (params and latents coded by the core); t0: when its encode began. */
function codeFile(core: PerImageCore, img: Rgba, quality: number, r: PerImageEncodeResult, t0: number) {
  const o = { quality };
  const t1 = performance.now();
  const params = core.encodeParams(r.params);
  const latents = core.encodeLatents(r.params, r.grids, img.width, img.height);
  const file = writePerImageContainer({ width: img.width, height: img.height, quality: Math.round(o.quality * 256) / 256, params, latents, alpha: null, fineScales: r.params.fineScales });
  const t2 = performance.now();
  return { r, file, params, latents, encodeSeconds: (t2 - t0) / 1000, codeSeconds: (t2 - t1) / 1000 };
}

/** the fused WebGPU parts that --ref can switch back to tfjs ops */
const FUSED_SWITCHES: Record<string, (on: boolean) => void> = { up2: setFusedUp2, synth: setFusedSynth, arm: setFusedArm };

async function speed(): Promise<void> {
  await initBackend(backendName);
  const submitBatch = applySubmitBatch();
  const ref = (opt('ref', '') as string).split(',').filter(Boolean);
  for (const part of ref) {
    if (!FUSED_SWITCHES[part]) throw new Error(`--ref: unknown part ${part} (${Object.keys(FUSED_SWITCHES).join(', ')})`);
    FUSED_SWITCHES[part](false);
  }
  const W = +(opt('w', '768')!), H = +(opt('h', '512')!), steps = +(opt('steps', '300')!), warm = +(opt('warm', '20')!);
  const file = opt('image');
  const data = file ? (await loadImage(file, [0, 0, W, H])).data : new Uint8ClampedArray(W * H * 4).map((_, i) => (i * 37 + ((i >> 9) * 11)) & 255);
  const lay = makeLayout(defaultArch(), W, H);
  const x = rgbaToRows(data, W, H);
  const K = +(opt('members', '1')!);
  const run = (n: number) => runSteps(lay, x, K, n);
  const tw = performance.now();
  await run(warm);
  const warmMs = performance.now() - tw;
  const startAt = +(opt('start-at', '0')!);
  const wait = startAt - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const t0 = Date.now();
  const p0 = performance.now();
  const c0 = process.cpuUsage();
  await run(steps);
  const ms = performance.now() - p0;
  // CPU time of the whole process (JS, tfjs, Dawn's threads) over the timed steps: near the
  // wall time means the step waits on the host, far below it means it waits on the GPU
  const cpu = process.cpuUsage(c0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  console.log(JSON.stringify({
    mode: 'speed', backend: tf.getBackend(), adapter: await adapterInfo(), gpu: process.env.NIMG_GPU_NAME ?? null, W, H, steps, members: K,
    ref, submitBatch, ms: +ms.toFixed(1), msPerStep: +(ms / steps).toFixed(3), cpuMsPerStep: +(cpuMs / steps).toFixed(3), warmMs: +warmMs.toFixed(0), lateMs: startAt > 0 && wait < 0 ? -wait : 0, t0, t1: t0 + Math.round(ms), pid: process.pid,
  }));
}

/**
 * A queue entry. `arch`: the decoder to train (FORMAT.md §9 fields, as PerImageArch) for
 * architecture studies on training photos; absent: the encoder's choice ('auto').
 * `synHiddenBias`: the encoder's initial synthesis bias (absent: its default); `starts`: its
 * candidate initialisations (absent: 1); `soap`: the networks whose weight matrices train
 * with SOAP ('syn', 'arm' or 'arm,syn'; TrainSettings.soap with DEFAULT_SOAP's other
 * settings, `soapLr` its lrScale; absent: Adam for everything).
 */
interface Job { name: string; image: string; lambda?: number; quality?: number; steps?: number; crop?: number[]; seed?: number; arch?: PerImageArch; synHiddenBias?: number; starts?: number; soap?: string; soapLr?: number }

/** the encoder's study options a queue entry sets (absent ones: the encoder's defaults) */
function studyOptions(job: Job) {
  const soap = job.soap ? soapSettingsOf(job.soap, job.soapLr) : null;
  return { synHiddenBias: job.synHiddenBias, starts: job.starts, ...(soap ? { train: { soap } } : {}) };
}
type StudyOptions = ReturnType<typeof studyOptions>;

async function jobs(): Promise<void> {
  const dir = opt('dir')!;
  const queue = readFileSync(opt('queue')!, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Job);
  mkdirSync(path.join(dir, 'claims'), { recursive: true });
  await initBackend(backendName);
  applySubmitBatch();
  const core = await loadCore();
  const adapter = await adapterInfo();
  const worker = opt('worker', String(process.pid));
  const concurrency = +(opt('concurrency', '1')!);
  const members = +(opt('members', '6')!);
  if (!(Number.isInteger(members) && members >= 1)) throw new Error(`--members ${members}`);
  const claim = (job: Job): boolean => {
    if (existsSync(path.join(dir, `${job.name}.json`))) return false;
    try {
      mkdirSync(path.join(dir, 'claims', job.name));
      return true;
    } catch {
      return false; // another worker has it
    }
  };
  // jobs that train together: same image, crop, steps, seed, architecture, init and optimiser (λ / quality may differ)
  const groupKey = (j: Job) => JSON.stringify([j.image, j.crop ?? null, j.steps ?? DEFAULT_STEPS, j.seed ?? 1, j.arch ?? 'auto', j.synHiddenBias ?? SYN_HIDDEN_BIAS, j.starts ?? 1, j.soap ?? null, j.soapLr ?? null]);
  const taken = new Set<Job>();
  for (let i = 0; i < queue.length; i++) {
    const job = queue[i];
    if (taken.has(job) || !claim(job)) continue;
    taken.add(job);
    const group = [job];
    for (let j = i + 1; j < queue.length && group.length < members; j++) {
      const other = queue[j];
      if (taken.has(other) || groupKey(other) !== groupKey(job) || !claim(other)) continue;
      taken.add(other);
      group.push(other);
    }
    try {
      if (group.length === 1) await runJob(core, job, dir, adapter, worker, concurrency);
      else await runGroup(core, group, dir, adapter, worker, concurrency);
    } catch (e) {
      for (const g of group) console.log(JSON.stringify({ name: g.name, error: String(e) }));
    }
  }
}

/** λ, quality and steps of a queue entry */
function jobSettings(job: Job) {
  const lambda = job.lambda ?? qualityToLambda(job.quality!);
  return { lambda, quality: job.quality ?? lambdaToQuality(lambda), steps: job.steps ?? DEFAULT_STEPS };
}

/** Jobs of one image, crop, steps and seed trained together (encodePerImageMembers); a file and a row each. */
async function runGroup(core: PerImageCore, group: Job[], dir: string, adapter: string, worker: string | undefined, concurrency: number): Promise<void> {
  const job = group[0];
  const img = await loadImage(job.image, job.crop);
  const sets = group.map(jobSettings);
  const started = new Date().toISOString();
  const rs = await encodePerImageMembers(img, { quality: sets[0].quality, lambdas: sets.map((s) => s.lambda), steps: sets[0].steps, backend: backendName, seed: job.seed, arch: job.arch, ...studyOptions(job) });
  for (let k = 0; k < group.length; k++) {
    // encodeSeconds: the shared training + this member's quantization and coding
    const e = codeFile(core, img, sets[k].quality, rs[k], performance.now() - (rs[k].stats.trainSeconds + rs[k].stats.quantizeSeconds) * 1000);
    writeJob(core, group[k], img, sets[k], e, dir, adapter, worker, concurrency, started, group.length);
  }
}

async function runJob(core: PerImageCore, job: Job, dir: string, adapter: string, worker: string | undefined, concurrency: number): Promise<void> {
  const img = await loadImage(job.image, job.crop);
  const set = jobSettings(job);
  const started = new Date().toISOString();
  const e = await encodeFile(core, img, { ...set, seed: job.seed, arch: job.arch, study: studyOptions(job) });
  writeJob(core, job, img, set, e, dir, adapter, worker, concurrency, started, 1);
}

/** Check that the file decodes to the grids, write D/NAME.nimg and the row D/NAME.json. */
function writeJob(
  core: PerImageCore, job: Job, img: Rgba, set: ReturnType<typeof jobSettings>, e: ReturnType<typeof codeFile>,
  dir: string, adapter: string, worker: string | undefined, concurrency: number, started: string, members: number,
): void {
  {
    const { lambda, quality, steps } = set;
    // the file decodes back to the grids the encoder chose (the integer context path agrees)
    const f = parsePerImageContainer(e.file);
    const back = core.decodeLatents(core.decodeFileParams(f), f.latents, img.width, img.height);
    const gsha = gridsSha256(e.r.grids);
    const npix = img.width * img.height;
    const row = {
      name: job.name, image: path.basename(job.image), crop: job.crop ?? null, width: img.width, height: img.height,
      quality, lambda, steps, seed: job.seed ?? 1, bytes: e.file.length, bpp: (e.file.length * 8) / npix,
      paramsBytes: e.params.length, latentBytes: e.latents.length,
      encodeSeconds: +e.encodeSeconds.toFixed(2), trainSeconds: +e.r.stats.trainSeconds.toFixed(2), quantizeSeconds: +e.r.stats.quantizeSeconds.toFixed(2),
      msPerStep: +e.r.stats.msPerStep.toFixed(3), psnrFloat: +e.r.stats.psnrFloat.toFixed(3), psnrQuantized: +e.r.stats.psnrQuantized.toFixed(3),
      relax: DEFAULT_TRAIN.relax, softT: DEFAULT_TRAIN.softT, bestEvery: DEFAULT_TRAIN.bestEvery, steLatentScale: DEFAULT_TRAIN.steLatentScale, log2bGrad: LOG2B_GRAD, fineScales: e.r.params.fineScales === true, arch: e.r.stats.arch, ...(e.r.stats.arch === 'custom' ? { archSpec: job.arch } : {}), phase1Log2bMin: DEFAULT_TRAIN.phase1Log2bMin, synHiddenBias: job.synHiddenBias ?? SYN_HIDDEN_BIAS, starts: e.r.stats.starts, initSeed: e.r.stats.initSeed, soap: job.soap ?? null, ...(job.soap ? { soapLr: job.soapLr ?? DEFAULT_SOAP.lrScale } : {}), bppEstimate: +e.r.stats.bppEstimate.toFixed(5), gridsSha256: gsha, gridsRoundTrip: gridsSha256(back) === gsha,
      backend: e.r.stats.backend, adapter, gpu: process.env.NIMG_GPU_NAME ?? null, worker, concurrency, members, started, finished: new Date().toISOString(),
    };
    writeFileSync(path.join(dir, `${job.name}.nimg`), e.file);
    writeFileSync(path.join(dir, `${job.name}.json.tmp`), `${JSON.stringify(row)}\n`);
    renameSync(path.join(dir, `${job.name}.json.tmp`), path.join(dir, `${job.name}.json`));
    console.log(JSON.stringify({ name: row.name, bpp: +row.bpp.toFixed(4), psnrQ: row.psnrQuantized, s: row.encodeSeconds, msPerStep: row.msPerStep }));
  }
}

async function fixtures(): Promise<void> {
  const dir = opt('dir')!;
  mkdirSync(dir, { recursive: true });
  const images = opt('images')!.split(',');
  const crop = opt('crop', '0,0,64,48')!.split(',').map(Number);
  const steps = +(opt('steps', '1000')!);
  const quality = +(opt('quality', '5')!);
  await initBackend(backendName);
  const core = await loadCore();
  const adapter = await adapterInfo();
  const out: unknown[] = [];
  for (const file of images) {
    const img = await loadImage(file, crop);
    const e = await encodeFile(core, img, { quality, steps });
    const name = `gpu-${path.basename(file).replace(/\.[a-z]+$/i, '')}-${img.width}x${img.height}.nimg`;
    writeFileSync(path.join(dir, name), e.file);
    const f = parsePerImageContainer(e.file);
    const back = core.decodeLatents(core.decodeFileParams(f), f.latents, img.width, img.height);
    const { rgba } = core.decodePayload(f.params, f.latents, img.width, img.height, { fineScales: f.header.fineScales });
    out.push({
      file: name, source: path.basename(file), crop, width: img.width, height: img.height, quality, steps, lambda: e.r.stats.lambda,
      fileSha256: sha256(e.file), gridsSha256: gridsSha256(e.r.grids), decodedGridsSha256: gridsSha256(back),
      rgbaSha256: sha256(new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.byteLength)),
      encoder: { backend: e.r.stats.backend, adapter, gpu: process.env.NIMG_GPU_NAME ?? null, psnrQuantized: e.r.stats.psnrQuantized, msPerStep: e.r.stats.msPerStep },
      decoder: `nimg core (WASM) in Node ${process.version}, same process`,
      date: new Date().toISOString(),
    });
    console.log(JSON.stringify(out[out.length - 1]));
  }
  writeFileSync(path.join(dir, 'gpu-fixtures.json'), `${JSON.stringify({ hashes: 'gridsSha256: SHA-256 of the latent grids, finest first, int16 little-endian; rgbaSha256: SHA-256 of the decoded RGBA bytes', fixtures: out }, null, 2)}\n`);
}

/** The WebGPU decode of real files (see the header): per file and the median over files. */
async function decodeTimes(): Promise<void> {
  const dir = opt('dir')!;
  const match = opt('match', '')!;
  const runs = +(opt('runs', '5')!);
  const { NimgCodec, setDefaultAssets } = await import('../src/codec.js');
  const { loadCoreWasm, loadWeights } = await import('../src/node/loader.js');
  const { decodePerImageFile } = await import('../src/profiles/perimage/decode-file.js');
  setDefaultAssets({ loadCoreWasm, loadWeights });
  const core = await loadCore();
  const codec = await NimgCodec.createLazy({ backend: 'wasm', threads: 1 });
  const names = readdirSync(dir).filter((n) => n.endsWith('.nimg') && n.includes(match)).sort();
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const perFile: number[] = [];
  const t0 = performance.now();
  if (names.length) await codec.decode(new Uint8Array(readFileSync(path.join(dir, names[0]))), { backend: 'webgpu' });
  const firstMs = performance.now() - t0;
  for (const n of names) {
    const file = new Uint8Array(readFileSync(path.join(dir, n)));
    const ref = (await decodePerImageFile(core, file)).data;
    const warm = await codec.decode(file, { backend: 'webgpu' });
    let diff = 0;
    for (let j = 0; j < ref.length; j++) diff = Math.max(diff, Math.abs(ref[j] - warm.data[j]));
    const wall: number[] = [], ent: number[] = [], tr: number[] = [];
    for (let r = 0; r < runs; r++) {
      const a = performance.now();
      const st = (await codec.decodeWithStats(file, { backend: 'webgpu' })).stats as { entropyMs: number; transformMs: number };
      wall.push(performance.now() - a);
      ent.push(st.entropyMs);
      tr.push(st.transformMs);
    }
    perFile.push(med(wall));
    console.log(JSON.stringify({ mode: 'decode', file: n, ms: +med(wall).toFixed(2), entropyMs: +med(ent).toFixed(2), transformMs: +med(tr).toFixed(2), maxDiffVsCore: diff }));
  }
  console.log(JSON.stringify({ mode: 'decode-summary', files: names.length, runs, medianMs: names.length ? +med(perFile).toFixed(2) : null, firstDecodeMs: +firstMs.toFixed(1), adapter: (await probeWebGpuAdapter()).description, gpu: process.env.NIMG_GPU_NAME ?? null }));
  codec.dispose();
}

if (mode === 'speed') await speed();
else if (mode === 'decode') await decodeTimes();
else if (mode === 'jobs') await jobs();
else if (mode === 'fixtures') await fixtures();
else {
  console.error('usage: perimage-gpu.ts speed | jobs | fixtures (see the header)');
  process.exit(2);
}
