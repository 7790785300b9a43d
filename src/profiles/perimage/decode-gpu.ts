/**
 * The float part of a version-2 (perimage) decode on WebGPU: upsampling (SPEC §1 up2 chain)
 * and synthesis, then RGBA8. Asked for by `backend: 'webgpu'` (decode.ts); the default
 * decode stays in the core on the CPU, because starting a WebGPU device (adapter, tfjs
 * backend, shader compiles for each image size) costs more than a whole ~60 ms CPU decode
 * of a Kodak image. The entropy path (params section, ARM + rANS of the latents) is integer
 * and bit-exact: it stays in the core, and this file receives its output.
 *
 * The programs are the encoder's fused WGSL forward programs (encoder/up2-gpu.ts Up2Chain,
 * encoder/synth-gpu.ts SynthGpu.rgb): the same function the encoder trained, and the same
 * SPEC §1 term order as the core, but not bit for bit — WGSL may contract a·b + c to one
 * FMA where the core rounds twice — so a pixel may differ by ±1 from the core's decode
 * where its float value lies within rounding of a .5 step (test/perimage-decode-webgpu.test.ts).
 *
 * theta: the dequantized params in the encoder's layout (encoder/model.ts makeLayout):
 * encoder/quantize.ts dequantizeParams maps each tensor's integers k to k·2^−e for the taps
 * and the synthesis — exact in f32 (|k| ≤ 2^20, SPEC §2), the values the core's prepare()
 * builds (assembly/perimage/params.ts fval). The ARM part is dequantized too but unused here.
 *
 * RGBA8: the GPU returns the synthesis' float RGB rows and the conversion runs here in JS
 * with the core's rule (assembly/perimage/synth.ts px8): clamp(floor(f32(f32(v·255) + 0.5)),
 * 0, 255), NaN → 0, each step rounded to f32 with Math.fround — so the conversion itself adds
 * no difference to the core's (only the float values may differ). Alpha is the caller's.
 *
 * Memory is bounded: the fused synthesis takes at most SYNTH_MAX_PIXELS (65 535 × 64 =
 * 4 194 240) pixels, and every buffer must fit the device's maxStorageBufferBindingSize.
 * Larger images are refused with LIMIT_EXCEEDED naming the limit (no banding: the up2
 * programs bake the whole-grid edges into their code), never a silent CPU fallback.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NimgError } from '../../errors.js';
import { activateBackend, initBackend } from '../../backend/index.js';
import { storageBindingLimit } from '../../model/gpu-kernels.js';
import { makeLayout, packGrids, type Layout } from './encoder/model.js';
import { dequantizeParams } from './encoder/quantize.js';
import { SYNTH_MAX_PIXELS, SynthGpu } from './encoder/synth-gpu.js';
import { Up2Chain } from './encoder/up2-gpu.js';
import type { LatentGrids, PerImageParams } from './types.js';

export { SYNTH_MAX_PIXELS as WEBGPU_DECODE_MAX_PIXELS };

/** Where a GPU synthesis spent its time (ms). */
export interface GpuSynthTimings {
  /** making tfjs WebGPU the active backend (the device start on the first call, ~0 after) */
  startMs: number;
  /** theta and canvas built and uploaded, programs dispatched, float rows read back */
  gpuMs: number;
  /** float rows → RGBA8 on the CPU */
  convertMs: number;
}

/** the tfjs WebGPU backend was started by this module once: later calls only activate it */
let started = false;

/** Make tfjs WebGPU the active backend: BACKEND_UNAVAILABLE when this runtime has none. */
async function useWebGpu(): Promise<void> {
  if (tf.getBackend() === 'webgpu') return;
  if (started) return activateBackend('webgpu');
  try {
    await initBackend('webgpu');
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new NimgError(
      'BACKEND_UNAVAILABLE',
      `backend 'webgpu' was asked for a version-2 (perimage) decode, but WebGPU cannot start here (${why}); ` +
        'leave backend unset (or pass \'wasm\') to decode in the core on the CPU',
      { cause: e },
    );
  }
  started = true;
}

/** Largest buffer (bytes) the programs allocate for a layout: F_0 and the F_k, each synthesis output. */
function largestBuffer(lay: Layout): number {
  const { arch, width, height } = lay;
  let floats = width * height * arch.L;
  lay.grids.forEach((g, k) => (floats = Math.max(floats, (arch.L - k) * g.h * g.w)));
  for (const l of arch.synthesis) floats = Math.max(floats, width * height * l.out);
  return 4 * floats;
}

/** The active tfjs WebGPU device's maxStorageBufferBindingSize (WebGPU's default when unknown). */
function bindingLimit(): number {
  return storageBindingLimit() ?? 128 * 1024 * 1024;
}

/** LIMIT_EXCEEDED before any device work when the image is over the fused programs' size. */
export function checkGpuDecodeSize(width: number, height: number): void {
  const n = width * height;
  if (n > SYNTH_MAX_PIXELS) {
    throw new NimgError(
      'LIMIT_EXCEEDED',
      `the WebGPU decode takes at most ${SYNTH_MAX_PIXELS} pixels (the fused synthesis' dispatch limit); ` +
        `this ${width}x${height} image has ${n}: decode it without backend 'webgpu' (the core, on the CPU, works in bands)`,
      { limit: 'webgpuDecodePixels', value: n },
    );
  }
}

/** f32 pixel rule of the core (SPEC §1, assembly/perimage/synth.ts px8), NaN → 0 */
function px(v: number): number {
  const f = Math.floor(Math.fround(Math.fround(v * 255) + 0.5));
  // NaN fails both comparisons; trunc_sat gives 0 for NaN, then the clamp
  return f >= 255 ? 255 : f > 0 ? f : 0;
}

/**
 * Upsampling + synthesis of decoded params and grids on tfjs WebGPU → RGBA8 (alpha 255),
 * the same image as core.synthesize up to float rounding (±1). Errors: LIMIT_EXCEEDED (size),
 * BACKEND_UNAVAILABLE (no WebGPU here, or an architecture the fused programs do not take).
 */
export async function synthesizeOnGpu(params: PerImageParams, grids: LatentGrids, width: number, height: number, timings?: GpuSynthTimings): Promise<Uint8ClampedArray> {
  checkGpuDecodeSize(width, height);
  const t0 = performance.now();
  await useWebGpu();
  const t1 = performance.now();
  const lay = makeLayout(params.arch, width, height);
  const limit = bindingLimit();
  const big = largestBuffer(lay);
  if (big > limit) {
    throw new NimgError(
      'LIMIT_EXCEEDED',
      `the WebGPU decode of this ${width}x${height} image needs a ${big}-byte buffer, over this device's maxStorageBufferBindingSize (${limit}): decode it without backend 'webgpu'`,
      { limit: 'maxStorageBufferBindingSize', value: big },
    );
  }
  const synth = new SynthGpu(lay);
  if (synth.problem) {
    throw new NimgError('BACKEND_UNAVAILABLE', `the WebGPU decode does not take this file's synthesis (${synth.problem}): decode it without backend 'webgpu'`);
  }
  const up2 = new Up2Chain(lay);
  const theta = dequantizeParams(lay, params);
  const tap0 = lay.offsets[lay.tapsIndex];
  const canvas = packGrids(lay, grids);
  // tidy: the chain's intermediate levels (F_1 … F_{L−2}) and the synthesis' segment outputs
  // are freed at once; only the [H·W, 3] rows survive, until they are read back
  const rows = tf.tidy(() => {
    const c = tf.tensor4d(canvas, [1, lay.Hc, lay.Wc, 1]);
    const taps = tf.tensor1d(theta.subarray(tap0, tap0 + 4));
    const th = tf.tensor1d(theta);
    return synth.rgb(up2.apply(c, taps), th);
  });
  let rgb: Float32Array;
  try {
    rgb = (await rows.data()) as Float32Array;
  } finally {
    rows.dispose();
  }
  const t2 = performance.now();
  const n = width * height;
  const rgba = new Uint8ClampedArray(4 * n);
  for (let i = 0; i < n; i++) {
    rgba[4 * i] = px(rgb[3 * i]);
    rgba[4 * i + 1] = px(rgb[3 * i + 1]);
    rgba[4 * i + 2] = px(rgb[3 * i + 2]);
    rgba[4 * i + 3] = 255;
  }
  if (timings) Object.assign(timings, { startMs: t1 - t0, gpuMs: t2 - t1, convertMs: performance.now() - t2 });
  return rgba;
}
