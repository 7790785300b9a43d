/**
 * Where the WebGPU time goes, per stage, with a GPU sync (queue.onSubmittedWorkDone) after
 * each one, so every figure is "this stage's GPU work done" rather than "recorded".
 *
 *   npx tsx bench/gpu-profile.ts [--images DIR] [--limit N] [--runs N] [--quality Q]
 *                                [--kernels] [--tf-flags NAME=VALUE,...] [--out FILE]
 *   npx tsx bench/gpu-profile.ts --count [--size 768x512] [--dry] [--src DIR]
 *
 * Profile mode (default), per image (median of --runs, default 3, after one warm-up pass),
 * the stages the codec runs on WebGPU, each followed by a GPU sync:
 *   decode: entropy.z (WASM core: rANS z) | h_s (on the device: zhat upload, 3 dispatches,
 *           read-back of the packed mu_q/idx) | entropy.y (WASM core: rANS y, dequantize) |
 *           entropy = the three together | g_s: upload, each layer, rgba8 (on the device), readback
 *   encode: pre (gain table) | g_a+h_a: upload (RGBA bytes), rgba-to-nhwc, each g_a layer, gain, ys-to-planar,
 *           ys-readback, each h_a layer, z-to-planar, z-readback | entropy.z (quantize + rANS z) |
 *           h_s (device) | entropy.y (quantize + rANS y) | entropy = the three (the codec
 *           overlaps h_s with entropy.z)
 *   h_s_core: the WASM core's h_s on the same zhat (what the device replaced), for comparison;
 *           h_s_mismatch: values where the device's mu_q/idx differ from the core's (must be 0)
 *           (if the device h_s is unusable, h_s is NaN and entropy.y holds the core's fused h_s)
 *   ref.*:  the codec's own encodeWithStats / decodeWithStats (no syncs), for comparison
 *   sync_ms: the cost of one GPU sync on an idle queue (subtract it per synced stage)
 *   --kernels: also tf.time() around g_s and g_a (timestamp queries; per-kernel GPU ms when
 *           the adapter exposes 'timestamp-query', else zeros)
 * Count mode: counts, per transform call (2nd call, after a warm-up), tfjs-webgpu program
 *   dispatches by program name, uploads (CPU→GPU buffer writes of tensor data), readbacks
 *   (GPU→CPU), sync reads (dataSync), queue submits, createBuffer and writeBuffer calls.
 *   --dry skips the GPU work itself (recordAndSubmit is stubbed: same programs, same
 *   shapes, garbage values) so SwiftShader can count at full Kodak size.
 *   --src DIR imports the transforms from another checkout's src/ (for before/after).
 *
 * Runs on SwiftShader too (VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json;
 * slow: use --limit 1 and a small --images folder or --size 64x64).
 * Env NIMG_DAWN_FLAGS is passed to Dawn's create() (e.g. "enable-dawn-features=allow_unsafe_apis").
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { median } from './stats.js';
import { opt, flag } from './args.js';

if (!process.env.NIMG_CORE_WASM && existsSync('build/nimg-core.wasm')) process.env.NIMG_CORE_WASM = path.resolve('build/nimg-core.wasm');
if (!process.env.NIMG_WEIGHTS && existsSync('weights/nimg-v1.json')) process.env.NIMG_WEIGHTS = path.resolve('weights/nimg-v1.json');

const r2 = (x: number): number => Math.round(x * 100) / 100;
const now = (): number => performance.now();

// ----------------------------------------------------------------------------- GPU helpers

interface WebGpuBackendInternals {
  device: { queue: { onSubmittedWorkDone(): Promise<void> } };
  commandEncoder: unknown;
  endComputePassEncoder(): void;
  submitQueue(): void;
  uploadToGPU(dataId: object): void;
  supportTimestampQuery?: boolean;
}

/** Submit what tfjs has recorded and wait until the GPU has finished it. */
async function gpuSync(): Promise<void> {
  const b = tf.backend() as unknown as WebGpuBackendInternals;
  if (b.commandEncoder) {
    b.endComputePassEncoder();
    b.submitQueue();
  }
  await b.device.queue.onSubmittedWorkDone();
}

// ----------------------------------------------------------------------------- count mode

interface Counts {
  dispatch: number;
  programs: Record<string, number>;
  uploads: number;
  uploadBytes: number;
  readbacks: number;
  readbackBytes: number;
  readSync: number;
  submits: number;
  createBuffer: number;
  writeBuffer: number;
}
const zero = (): Counts => ({ dispatch: 0, programs: {}, uploads: 0, uploadBytes: 0, readbacks: 0, readbackBytes: 0, readSync: 0, submits: 0, createBuffer: 0, writeBuffer: 0 });
let counts = zero();

function instrument(dry: boolean): void {
  type Any = Record<string, (...a: unknown[]) => unknown> & Record<string, unknown>;
  const b = tf.backend() as unknown as Any;
  const wrap = (obj: Any, name: string, f: (...a: unknown[]) => void) => {
    const orig = obj[name] as (...a: unknown[]) => unknown;
    obj[name] = function (this: unknown, ...a: unknown[]) {
      f(...a);
      return orig.apply(this, a);
    };
  };
  wrap(b, 'runWebGPUProgram', (p) => {
    const name = (p as { constructor: { name: string } }).constructor.name;
    counts.dispatch++;
    counts.programs[name] = (counts.programs[name] ?? 0) + 1;
  });
  wrap(b, 'uploadToGPU', (id) => {
    const d = (b.tensorMap as unknown as { get(id: unknown): { resource: unknown; values: ArrayLike<number> | null } }).get(id);
    if (d && d.resource == null && d.values) {
      counts.uploads++;
      counts.uploadBytes += d.values.length * 4;
    }
  });
  wrap(b, 'getBufferData', (buf) => {
    counts.readbacks++;
    counts.readbackBytes += (buf as { size: number }).size;
  });
  wrap(b, 'readSync', () => {
    counts.readSync++;
  });
  wrap(b, 'submitQueue', () => {
    counts.submits++;
  });
  const dev = b.device as unknown as Any;
  wrap(dev, 'createBuffer', () => {
    counts.createBuffer++;
  });
  wrap(dev.queue as unknown as Any, 'writeBuffer', () => {
    counts.writeBuffer++;
  });
  if (dry) {
    // same programs and shapes, no GPU work: count at full size on a software adapter
    b.recordAndSubmit = () => undefined;
  }
}

async function countMode(): Promise<void> {
  const [W, H] = opt('size', '768x512').split('x').map(Number);
  const dry = flag('dry');
  const src = path.resolve(opt('src', fileURLToPath(new URL('../src', import.meta.url))));
  const mod = (name: string) => path.join(src, existsSync(path.join(src, `${name}.ts`)) ? `${name}.ts` : `${name}.js`);
  const { createTransforms } = (await import(mod('model/transforms'))) as typeof import('../src/model/transforms.js');
  const { loadDefaultWeights } = (await import(mod('model/node-weights'))) as typeof import('../src/model/node-weights.js');
  const w = await loadDefaultWeights();
  const t = await createTransforms(w, { backend: 'webgpu' });
  instrument(dry);
  const { M } = w.manifest.arch;
  const h = H / 16, wl = W / 16;
  const x = new Float32Array(3 * H * W).fill(0.5);
  const y = new Float32Array(M * h * wl).fill(0.25);
  const rows: Record<string, Counts> = {};
  for (const [name, f] of [
    ['g_a (analysis)', () => t.analysis(x, H, W)],
    ['h_a (hyperAnalysis)', () => t.hyperAnalysis(y, h, wl)],
    ['g_s (synthesis)', () => t.synthesis(y, h, wl)],
  ] as const) {
    await f(); // warm-up: pipelines compile, buffer pools fill
    counts = zero();
    await f();
    rows[name] = counts;
    counts = zero();
  }
  // whole codec calls (the fused encoder front / RGBA tail, where the source has them)
  const { NimgCodec } = (await import(mod('codec'))) as typeof import('../src/codec.js');
  // trees with the Node entry register the packaged assets there (older ones load them in the codec)
  if (existsSync(mod('node/defaults'))) await import(mod('node/defaults'));
  // the device h_s (where the source has it) runs on the raw GPUDevice, not through tfjs
  // programs: count each call as its 3 dispatches and 1 read-back
  if (existsSync(mod('model/gpu-hs'))) {
    const { GpuHyperSynthesis } = (await import(mod('model/gpu-hs'))) as typeof import('../src/model/gpu-hs.js');
    const proto = GpuHyperSynthesis.prototype as unknown as { run: (...a: unknown[]) => Promise<Uint32Array> };
    const run = proto.run;
    proto.run = function (this: unknown, ...a: unknown[]) {
      counts.dispatch += 3;
      counts.programs['nimg_hs (device h_s, 3 dispatches)'] = (counts.programs['nimg_hs (device h_s, 3 dispatches)'] ?? 0) + 1;
      return run.apply(this, a).then((r) => {
        counts.readbacks++;
        counts.readbackBytes += r.byteLength;
        return r;
      });
    };
  }
  const codec = await NimgCodec.create({ backend: 'webgpu' });
  const img = { width: W, height: H, data: new Uint8ClampedArray(W * H * 4).map((_, i) => (i * 7) & 255) };
  for (const [name, f] of [
    ['encode (codec)', () => codec.encode(img, { backend: 'webgpu' })],
    ['decode (codec)', async () => codec.decode(await codec.encode(img, { backend: 'webgpu' }), { backend: 'webgpu' })],
  ] as const) {
    const bytes = name.startsWith('decode') ? await codec.encode(img, { backend: 'webgpu' }) : null;
    const g = bytes ? () => codec.decode(bytes, { backend: 'webgpu' }) : f;
    await g();
    counts = zero();
    await g();
    rows[name] = counts;
    counts = zero();
  }
  codec.dispose();
  console.log(`count mode: ${src}, ${W}x${H}, tile ${t.tileSize}${dry ? ', dry (no GPU work)' : ''}`);
  for (const [name, c] of Object.entries(rows)) {
    console.log(
      `${name}: ${c.dispatch} dispatches, ${c.uploads} uploads (${(c.uploadBytes / 1e6).toFixed(2)} MB), ` +
        `${c.readbacks} readbacks (${(c.readbackBytes / 1e6).toFixed(2)} MB), ${c.readSync} dataSync, ${c.submits} submits, ` +
        `${c.createBuffer} createBuffer, ${c.writeBuffer} writeBuffer`,
    );
    console.log(`   programs: ${Object.entries(c.programs).map(([k, v]) => `${k} x${v}`).join(', ')}`);
  }
  const out = opt('out', '');
  if (out) writeFileSync(out, JSON.stringify({ src, size: `${W}x${H}`, dry, rows }, null, 2) + '\n');
  t.dispose();
}

// ----------------------------------------------------------------------------- profile mode

async function profileMode(): Promise<void> {
  await import('../src/node/defaults.js'); // init() reads the packaged core and weights
  const { NimgCodec } = await import('../src/codec.js');
  const { decodeImageFile } = await import('../src/image/index.js');
  const { latentGeometry, parseContainer } = await import('../src/format/container.js');
  const { interpolateGain } = await import('../src/codec.js');
  type Core = import('../src/core/types.js').Core & {
    encodeLatent(ys: Float32Array, zhat: Int32Array, hz: number, wz: number): Uint8Array;
    decodeLatent(bytes: Uint8Array, zhat: Int32Array, hz: number, wz: number, gainDec: Float32Array): Float32Array;
    encodeLatentHs(ys: Float32Array, hs: Uint32Array): Uint8Array;
    decodeLatentHs(bytes: Uint8Array, hs: Uint32Array, gainDec: Float32Array): Float32Array;
  };
  type Net = import('../src/model/net.js').TfNet;
  type GpuHs = import('../src/model/gpu-hs.js').GpuHyperSynthesis;
  const { byteToUnitTable, planarToRgbaGpu, rgbaToNhwcGpu } = await import('../src/model/gpu-kernels.js');

  const dir = path.resolve(opt('images', process.env.NIMG_KODAK ?? path.join('..', 'shared', 'data', 'kodak')));
  const limit = Number(opt('limit', '0')) || Infinity;
  const runs = Number(opt('runs', '3'));
  const quality = Number(opt('quality', '5'));
  const kernels = flag('kernels');
  const outFile = opt('out', process.env.OUT ? path.join(process.env.OUT, 'gpu-profile.json') : '');
  const files = readdirSync(dir).filter((f) => /\.png$/i.test(f)).sort().slice(0, limit === Infinity ? undefined : limit);
  if (!files.length) throw new Error(`no PNG in ${dir}`);

  const codec = await NimgCodec.create({ backend: 'webgpu' });
  // --tf-flags NAME=VALUE,...: tfjs env flags to try, e.g. WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=4
  // (submit earlier so the GPU starts while tfjs still records), WEBGPU_MATMUL_PROGRAM_TYPE=...
  for (const kv of opt('tf-flags', '').split(',').filter(Boolean)) {
    const [k, v] = kv.split('=');
    tf.env().set(k, v === 'true' ? true : v === 'false' ? false : Number.isFinite(Number(v)) ? Number(v) : v);
    console.error(`tf flag ${k} = ${String(tf.env().get(k))}`);
  }
  const tfm = (await codec.transformsFor('webgpu')) as unknown as { net: Net; tileSize: number; backend: string };
  if (tfm.backend !== 'webgpu') throw new Error(`backend is ${tfm.backend}`);
  const core = (codec as unknown as { core: Core }).core;
  const net = tfm.net;
  const { M } = net.arch;
  const gainEnc = (codec as unknown as { gainEnc: Float32Array }).gainEnc;
  const gainDec = (codec as unknown as { gainDec: Float32Array }).gainDec;
  const levels = codec.levels;
  const be = tf.backend() as unknown as WebGpuBackendInternals;
  const gpuHsFor = (hz: number, wz: number) =>
    (codec as unknown as { gpuHsFor(t: unknown, hz: number, wz: number): Promise<GpuHs | null> }).gpuHsFor(tfm, hz, wz);
  console.error(`webgpu tile ${tfm.tileSize}, timestamp-query ${be.supportTimestampQuery ? 'yes' : 'no'}; ${files.length} images, ${runs} runs`);

  /** time one stage: run f, then wait for the GPU */
  const stage = async <T>(ms: Record<string, number>, name: string, f: () => T | Promise<T>): Promise<T> => {
    const t0 = now();
    const r = await f();
    await gpuSync();
    ms[name] = now() - t0;
    return r;
  };
  const upload = (data: Float32Array, shape: [number, number, number, number]) => {
    const x = tf.tensor4d(data, shape);
    be.uploadToGPU(x.dataId);
    return x;
  };
  const runSteps = async (ms: Record<string, number>, steps: import('../src/model/net.js').NetStep[], x: tf.Tensor4D, keepInput = false) => {
    let t = x;
    for (const st of steps) t = await stage(ms, st.name, () => st.run(t, t !== x || !keepInput));
    return t;
  };
  const total = (ms: Record<string, number>) => (ms.total = Object.values(ms).reduce((a, b) => a + b, 0));

  /** the decoder tail as the codec runs it on WebGPU (synthesisRgba), synced after each stage */
  const stagedDecode = async (yhat: Float32Array, h: number, w: number, width: number, height: number) => {
    const ms: Record<string, number> = {};
    const x = await stage(ms, 'upload', () => upload(yhat, [1, M, h, w]));
    const xp = await runSteps(ms, net.steps('synthesis', { planar: true }), x, true);
    x.dispose();
    const px = await stage(ms, 'rgba8', () => planarToRgbaGpu(xp, width, height));
    xp.dispose();
    await stage(ms, 'readback', () => px.data());
    px.dispose();
    total(ms);
    return ms;
  };

  /** the encoder front as the codec runs it on WebGPU (analysisHyper), synced after each stage */
  const lut = tf.tensor1d(byteToUnitTable());
  const stagedEncode = async (rgba: Uint8Array | Uint8ClampedArray, width: number, height: number, H: number, W: number, gain: Float32Array) => {
    const ms: Record<string, number> = {};
    const x = await stage(ms, 'upload', () => {
      const t = tf.tensor2d(new Int32Array(rgba.buffer, rgba.byteOffset, width * height), [height, width], 'int32');
      be.uploadToGPU(t.dataId);
      return t;
    });
    const g = tf.tensor1d(gain);
    const xn = await stage(ms, 'rgba-to-nhwc', () => rgbaToNhwcGpu(x, lut, width, height, W, H));
    x.dispose();
    const y = await runSteps(ms, net.steps('analysis'), xn);
    const ys = await stage(ms, 'gain', () => tf.mul(y, g) as tf.Tensor4D);
    y.dispose();
    g.dispose();
    const ysP = await stage(ms, 'ys-to-planar', () => tf.transpose(ys, [0, 3, 1, 2]));
    const ysData = await stage(ms, 'ys-readback', () => ysP.data() as Promise<Float32Array>);
    ysP.dispose();
    const z = await runSteps(ms, net.steps('hyper'), ys, true);
    ys.dispose();
    const zP = await stage(ms, 'z-to-planar', () => tf.transpose(z, [0, 3, 1, 2]));
    z.dispose();
    const zData = await stage(ms, 'z-readback', () => zP.data() as Promise<Float32Array>);
    zP.dispose();
    total(ms);
    return { ms, ys: ysData, z: zData };
  };

  const perImage: Record<string, unknown>[] = [];
  const agg: Record<string, number[]> = {};
  const add = (k: string, v: number) => (agg[k] ??= []).push(v);

  for (const f of files) {
    const img = await decodeImageFile(new Uint8Array(readFileSync(path.join(dir, f))));
    const bytes = await codec.encode(img, { quality, backend: 'webgpu' }); // warm-up + the file to decode
    await codec.decode(bytes, { backend: 'webgpu' });
    const g = latentGeometry(img.width, img.height, codec.stride);
    const rowsRuns: Record<string, number>[] = [];
    for (let r = 0; r < runs; r++) {
      const row: Record<string, number> = {};
      // idle sync latency
      await gpuSync();
      let t0 = now();
      await gpuSync();
      row.sync_ms = now() - t0;

      // ---- decode, staged
      const hs = await gpuHsFor(g.hz, g.wz);
      t0 = now();
      const file = parseContainer(bytes);
      const gDec = interpolateGain(gainDec, levels, M, file.header.quality);
      const zhat = core.decodeZ(file.z, g.hz * g.wz);
      row['dec.entropy.z'] = now() - t0;
      t0 = now();
      const packed = hs ? await hs.run(zhat, g.hz, g.wz) : null;
      row['dec.h_s'] = packed ? now() - t0 : NaN;
      t0 = now();
      const yhat = packed ? core.decodeLatentHs(file.y, packed, gDec) : core.decodeLatent(file.y, zhat, g.hz, g.wz, gDec);
      row['dec.entropy.y'] = now() - t0;
      row['dec.entropy'] = row['dec.entropy.z'] + (row['dec.h_s'] || 0) + row['dec.entropy.y'];
      t0 = now();
      const hsCore = core.hyperSynthesis(zhat, g.hz, g.wz);
      row.h_s_core = now() - t0;
      // the device h_s must equal the core's bit for bit (values that differ; NaN: not run)
      row.h_s_mismatch = packed ? packed.reduce((n, v, i) => n + (((v << 16) >> 16) !== hsCore.muQ[i] || v >>> 16 !== hsCore.idx[i] ? 1 : 0), 0) : NaN;
      const gs = await stagedDecode(yhat, g.h, g.w, img.width, img.height);
      for (const [k, v] of Object.entries(gs)) row[`dec.g_s.${k}`] = v;

      // ---- encode, staged
      t0 = now();
      const gEnc = interpolateGain(gainEnc, levels, M, quality);
      row['enc.pre'] = now() - t0;
      const fe = await stagedEncode(img.data, img.width, img.height, g.padH, g.padW, gEnc);
      for (const [k, v] of Object.entries(fe.ms)) row[`enc.g_a+h_a.${k}`] = v;
      const ys = fe.ys;
      t0 = now();
      const zq = core.quantizeZ(fe.z);
      core.encodeZ(zq, g.hz * g.wz);
      row['enc.entropy.z'] = now() - t0;
      t0 = now();
      const packedE = hs ? await hs.run(zq, g.hz, g.wz) : null;
      row['enc.h_s'] = packedE ? now() - t0 : NaN;
      t0 = now();
      if (packedE) core.encodeLatentHs(ys, packedE);
      else core.encodeLatent(ys, zq, g.hz, g.wz);
      row['enc.entropy.y'] = now() - t0;
      row['enc.entropy'] = row['enc.entropy.z'] + (row['enc.h_s'] || 0) + row['enc.entropy.y'];

      // ---- the codec itself (no syncs), for reference
      t0 = now();
      const d = await codec.decodeWithStats(bytes, { backend: 'webgpu' });
      row['ref.decode_total'] = now() - t0;
      row['ref.decode_transform'] = d.stats.transformMs;
      row['ref.decode_entropy'] = d.stats.entropyMs;
      row['ref.decode_hs'] = d.stats.hs === 'webgpu' ? d.stats.hsMs : NaN;
      row['ref.decode_post'] = d.stats.postMs;
      t0 = now();
      const e = await codec.encodeWithStats(img, { quality, backend: 'webgpu' });
      row['ref.encode_total'] = now() - t0;
      row['ref.encode_pre'] = e.stats.preMs;
      row['ref.encode_transform'] = e.stats.transformMs;
      row['ref.encode_entropy'] = e.stats.entropyMs;
      row['ref.encode_hs'] = e.stats.hs === 'webgpu' ? e.stats.hsMs : NaN;

      if (kernels) {
        const xs = tf.tensor4d(yhat, [1, M, g.h, g.w]);
        const info = await tf.time(() => {
          const o = net.run('synthesis', xs, { planar: true });
          o.dispose();
        });
        xs.dispose();
        row['kern.g_s_kernel_ms'] = info.kernelMs as number;
        if (r === 0) console.error(`  ${f} g_s kernels: ${(info as unknown as { getExtraProfileInfo?: () => string }).getExtraProfileInfo?.() ?? ''}`);
      }
      rowsRuns.push(row);
    }
    const med: Record<string, number> = {};
    for (const k of Object.keys(rowsRuns[0])) med[k] = r2(median(rowsRuns.map((x) => x[k])));
    for (const [k, v] of Object.entries(med)) add(k, v);
    perImage.push({ image: f, size: `${img.width}x${img.height}`, ...med });
    console.error(
      `${f}: sync ${med.sync_ms} | dec: entropy ${med['dec.entropy']} (h_s ${med['dec.h_s']}, core h_s ${med.h_s_core}) g_s+rgba ${med['dec.g_s.total']} (up ${med['dec.g_s.upload']}, rb ${med['dec.g_s.readback']}) ` +
        `| enc: pre ${med['enc.pre']} g_a+h_a ${med['enc.g_a+h_a.total']} entropy ${med['enc.entropy']} (h_s ${med['enc.h_s']}) | codec (unsynced): dec ${med['ref.decode_total']} enc ${med['ref.encode_total']}`,
    );
  }
  const summary: Record<string, number> = {};
  for (const [k, v] of Object.entries(agg)) summary[k] = r2(median(v));
  console.log('\n=== nimg gpu-profile: median over images of per-image medians, ms (each stage ends with a GPU sync) ===');
  const width = Math.max(...Object.keys(summary).map((k) => k.length));
  for (const [k, v] of Object.entries(summary)) console.log(`${k.padEnd(width)}  ${v.toFixed(2).padStart(8)}`);
  if (outFile) {
    mkdirSync(path.dirname(outFile), { recursive: true });
    writeFileSync(outFile, JSON.stringify({ date: new Date().toISOString(), runs, quality, tile: tfm.tileSize, summary, per_image: perImage }, null, 2) + '\n');
    console.log(`JSON: ${outFile}`);
  }
  codec.dispose();
}

(flag('count') ? countMode() : profileMode()).then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
