/**
 * The WebGPU decode of version-2 files (src/profiles/perimage/decode-gpu.ts, `backend:
 * 'webgpu'`) against the core's CPU decode of the same file: every RGBA value within ±1 (the
 * GPU may contract a·b + c to an FMA where the core rounds twice), alpha identical. On
 * SwiftShader in CI (VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json); without
 * an adapter only the refusal (BACKEND_UNAVAILABLE) runs, with a warning.
 *
 * Files: the committed GPU fixtures (real trained decoders and latents); a fresh 37x23 encode
 * with an alpha channel (tfjs WASM, 16 steps); and files built from random parameters and
 * random latents (several architectures, odd sizes, L = 1 included) — a freshly trained
 * 16-step model has nearly all-zero latents, which would leave the up2 chain untested, so
 * these make every level and tap matter (the test checks the images are not flat or
 * clipped).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { NimgCodec, setDefaultAssets } from '../src/codec.js';
import { loadCoreWasm, loadWeights } from '../src/node/loader.js';
import { isNimgError } from '../src/errors.js';
import { probeWebGpuAdapter } from '../src/backend/index.js';
import { createPerImageCore, type PerImageCore } from '../src/profiles/perimage/core.js';
import { writePerImageContainer } from '../src/profiles/perimage/container.js';
import { checkGpuDecodeSize, WEBGPU_DECODE_MAX_PIXELS } from '../src/profiles/perimage/decode-gpu.js';
import { BICUBIC_TAPS, prng } from '../src/profiles/perimage/encoder/model.js';
import { bestTable } from '../src/profiles/perimage/encoder/quantize.js';
import { defaultArch, gridSize, tensorSizes, type PerImageArch, type PerImageParams, type QuantTensor } from '../src/profiles/perimage/types.js';
import type { DecodeStats } from '../src/api-types.js';
import { sampleCrop } from './refine-helpers.js';
import { ROOT } from './cli-helpers.js';

const CORE = new Uint8Array(readFileSync(path.join(ROOT, 'build', 'nimg-core.wasm')));
const FIX = path.join(ROOT, 'test', 'fixtures', 'perimage');
const FIXTURES = ['gpu-img_001_00-64x48.nimg', 'gpu-kpa_blackie_s2_r0c0-64x48.nimg'];

const adapter = await probeWebGpuAdapter();
if (!adapter.found) console.warn(`[perimage-decode-webgpu] no WebGPU adapter (${adapter.description}): only the BACKEND_UNAVAILABLE refusal is tested`);

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isNimgError(e) ? e.code : `not a NimgError: ${String(e)}`;
  }
  return 'no error';
}

/** max |a − b| over RGB values, share of RGB values that differ, and whether alpha is equal */
function compare(a: Uint8ClampedArray, b: Uint8ClampedArray): { max: number; share: number; alphaEqual: boolean } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let diff = 0;
  let alphaEqual = true;
  for (let i = 0; i < a.length; i++) {
    if ((i & 3) === 3) {
      if (a[i] !== b[i]) alphaEqual = false;
      continue;
    }
    const d = Math.abs(a[i] - b[i]);
    if (d) diff++;
    if (d > max) max = d;
  }
  return { max, share: diff / ((a.length / 4) * 3), alphaEqual };
}

/** distinct R values and share of RGB values at 0 or 255: a flat or clipped image tests little */
function spread(rgba: Uint8ClampedArray): { distinct: number; clipped: number } {
  const seen = new Set<number>();
  let clipped = 0;
  for (let i = 0; i < rgba.length; i++) {
    if ((i & 3) === 3) continue;
    if ((i & 3) === 0) seen.add(rgba[i]);
    if (rgba[i] === 0 || rgba[i] === 255) clipped++;
  }
  return { distinct: seen.size, clipped: clipped / ((rgba.length / 4) * 3) };
}

/** A v2 file with random (valid) parameters and random latents. */
function randomFile(core: PerImageCore, arch: PerImageArch, W: number, H: number, seed: number): Uint8Array {
  const r = prng(seed);
  const sizes = tensorSizes(arch);
  const nArm = 2 * (arch.D + 1);
  const tensors: QuantTensor[] = [];
  const push = (k: Int32Array, e: number) => tensors.push({ k, e, s: bestTable(k).s });
  for (let t = 0; t < nArm; t++) push(Int32Array.from({ length: sizes[t] }, () => Math.round((r() - 0.5) * 80)), 0);
  // taps: bicubic, perturbed (so a swapped tap order shows), in 2^-12 steps
  push(Int32Array.from(BICUBIC_TAPS, (v) => Math.round(v * 4096) + Math.round((r() - 0.5) * 200)), 12);
  // latents in [−R, R]: one grid alone (L = 1) needs a wide range for many output levels
  const R = arch.L === 1 ? 60 : 3;
  let c = arch.L;
  arch.synthesis.forEach((l, i) => {
    const fan = c * (l.kind === '3x3' ? 9 : 1);
    const last = i === arch.synthesis.length - 1;
    // the residual layers stay small (a correction, as trained ones are); the rest ±1/sqrt(fan-in),
    // the first layer scaled to the latents' range
    const a = ((l.residual ? 0.3 : last ? 0.5 : 1) / Math.sqrt(fan)) * (i === 0 ? 3 / R : 1);
    push(Int32Array.from({ length: sizes[nArm + 1 + 2 * i] }, () => Math.round((r() - 0.5) * 2 * a * 4096)), 12);
    const bias = l.out === 3 && !l.residual ? 0.5 : 0;
    push(Int32Array.from({ length: l.out }, () => Math.round((bias + (r() - 0.5) * 0.2) * 4096)), 12);
    c = l.out;
  });
  const params: PerImageParams = { arch, tensors };
  const grids = Array.from({ length: arch.L }, (_, k) => {
    const g = gridSize(W, H, k);
    return Int16Array.from({ length: g.w * g.h }, () => Math.round((r() - 0.5) * 2 * R));
  });
  return writePerImageContainer({
    width: W,
    height: H,
    quality: 4,
    params: core.encodeParams(params),
    latents: core.encodeLatents(params, grids, W, H),
    alpha: null,
  });
}

const ARCHS: Record<string, PerImageArch> = {
  default: defaultArch(),
  'L=1, one 1x1': { ...defaultArch(), L: 1, synthesis: [{ kind: '1x1', out: 3, act: 'none', residual: false }] },
  '3x3 first, L=3': {
    ...defaultArch(),
    L: 3,
    synthesis: [
      { kind: '3x3', out: 3, act: 'relu', residual: true },
      { kind: '1x1', out: 8, act: 'relu', residual: false },
      { kind: '1x1', out: 3, act: 'none', residual: false },
      { kind: '3x3', out: 3, act: 'relu', residual: false },
    ],
  },
  'L=8, wide': {
    ...defaultArch(),
    L: 8,
    synthesis: [
      { kind: '1x1', out: 32, act: 'relu', residual: false },
      { kind: '1x1', out: 3, act: 'none', residual: false },
      { kind: '3x3', out: 3, act: 'none', residual: true },
    ],
  },
};

let codec: NimgCodec;
let core: PerImageCore;

beforeAll(async () => {
  setDefaultAssets({ loadCoreWasm, loadWeights });
  codec = await NimgCodec.createLazy({ backend: 'wasm', threads: 1 });
  core = await createPerImageCore(CORE);
});
afterAll(() => codec?.dispose());

/** decode with the core (default backend) and with backend 'webgpu'; the stats of both */
async function both(bytes: Uint8Array): Promise<{ cpu: Uint8ClampedArray; gpu: Uint8ClampedArray; cpuStats: DecodeStats; gpuStats: DecodeStats }> {
  const c = await codec.decodeWithStats(bytes);
  const g = await codec.decodeWithStats(bytes, { backend: 'webgpu' });
  return { cpu: c.image.data as Uint8ClampedArray, gpu: g.image.data as Uint8ClampedArray, cpuStats: c.stats, gpuStats: g.stats };
}

describe('backend selection of a v2 decode', () => {
  it("the default and 'auto' decode in the core (no device started for them)", async () => {
    const bytes = new Uint8Array(readFileSync(path.join(FIX, FIXTURES[0])));
    for (const opts of [{}, { backend: 'auto' as const }, { backend: 'wasm' as const }]) {
      const { stats } = await codec.decodeWithStats(bytes, opts);
      expect(stats.backend).toBe('wasm');
    }
  });

  it('images over the fused synthesis limit are refused with LIMIT_EXCEEDED naming it', () => {
    expect(WEBGPU_DECODE_MAX_PIXELS).toBe(65535 * 64);
    expect(() => checkGpuDecodeSize(2047, 2048)).not.toThrow();
    let err: unknown;
    try {
      checkGpuDecodeSize(6000, 4000); // 24 MP
    } catch (e) {
      err = e;
    }
    expect(isNimgError(err) && err.code).toBe('LIMIT_EXCEEDED');
    expect(String((err as Error).message)).toContain(String(WEBGPU_DECODE_MAX_PIXELS));
  });
});

describe.skipIf(adapter.found)('without a WebGPU adapter', () => {
  it("backend 'webgpu' on a v2 file is BACKEND_UNAVAILABLE, and the codec still decodes on the CPU", async () => {
    const bytes = new Uint8Array(readFileSync(path.join(FIX, FIXTURES[0])));
    expect(await codeOf(codec.decode(bytes, { backend: 'webgpu' }))).toBe('BACKEND_UNAVAILABLE');
    const { stats } = await codec.decodeWithStats(bytes);
    expect(stats.backend).toBe('wasm');
  });
});

describe.skipIf(!adapter.found)(`v2 decode on webgpu (${adapter.description})`, () => {
  it.each(FIXTURES)('%s: within ±1 of the core, alpha 255, stats', async (name) => {
    const bytes = new Uint8Array(readFileSync(path.join(FIX, name)));
    const { cpu, gpu, gpuStats } = await both(bytes);
    const d = compare(cpu, gpu);
    console.log(`[perimage-decode-webgpu] ${name}: max diff ${d.max}, ${(100 * d.share).toFixed(3)}% of RGB values differ`);
    expect(d.max).toBeLessThanOrEqual(1);
    expect(d.alphaEqual).toBe(true);
    for (let i = 3; i < gpu.length; i += 4) if (gpu[i] !== 255) throw new Error(`alpha ${gpu[i]} at pixel ${i >> 2}`);
    expect(gpuStats).toMatchObject({ profile: 'perimage', backend: 'webgpu', hs: 'core' });
    expect(gpuStats.entropyMs).toBeGreaterThan(0);
    expect(gpuStats.transformMs).toBeGreaterThan(0);
    expect(gpuStats.entropyMs).toBeCloseTo((gpuStats.paramsMs ?? 0) + (gpuStats.latentMs ?? 0), 6);
    expect(tf.getBackend()).toBe('webgpu');
    // nothing left behind on the device
    const before = tf.memory().numTensors;
    await codec.decode(bytes, { backend: 'webgpu' });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a fresh 37x23 encode with alpha: within ±1 of the core, alpha kept', async () => {
    const W = 37;
    const H = 23;
    const img = await sampleCrop(W, H, 120, 80);
    for (let i = 0; i < W * H; i++) img[4 * i + 3] = (i * 37) % 256;
    const bytes = await codec.encode({ width: W, height: H, data: img }, { profile: 'perimage', quality: 4, effort: 16 / 8000, backend: 'wasm' });
    const { cpu, gpu, gpuStats } = await both(bytes);
    const d = compare(cpu, gpu);
    console.log(`[perimage-decode-webgpu] fresh 37x23 with alpha: max diff ${d.max}, ${(100 * d.share).toFixed(3)}% of RGB values differ`);
    expect(d.max).toBeLessThanOrEqual(1);
    expect(d.alphaEqual).toBe(true);
    for (let i = 0; i < W * H; i++) expect(gpu[4 * i + 3]).toBe(img[4 * i + 3]);
    expect(gpuStats.backend).toBe('webgpu');
  }, 300_000);

  const cases: [string, number, number][] = [];
  for (const a of Object.keys(ARCHS)) for (const [w, h] of [[37, 23], [13, 9]]) cases.push([a, w, h]);
  it.each(cases)('random decoder %s at %ix%i: within ±1 of the core', async (archName, W, H) => {
    const bytes = randomFile(core, ARCHS[archName], W, H, W * 7919 + H * 31 + archName.length);
    const { cpu, gpu } = await both(bytes);
    // the image must exercise the arithmetic: many levels, few clipped values
    const s = spread(cpu);
    expect(s.distinct).toBeGreaterThan(Math.min(40, (W * H) / 6));
    expect(s.clipped).toBeLessThan(0.5);
    const d = compare(cpu, gpu);
    console.log(`[perimage-decode-webgpu] random ${archName} ${W}x${H}: max diff ${d.max}, ${(100 * d.share).toFixed(3)}% of RGB values differ (${s.distinct} levels, ${(100 * s.clipped).toFixed(1)}% clipped)`);
    expect(d.max).toBeLessThanOrEqual(1);
    expect(d.alphaEqual).toBe(true);
  });
});
