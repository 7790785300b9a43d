/**
 * The amortized profile's decoder (container v1): the z stream, h_s (on the device where it
 * can run), the y stream and dequantization, g_s, then RGBA and the alpha stream. Each step
 * is its own function; the stage names feed the error messages.
 */
import type { Transforms } from '../../model/types.js';
import { latentGeometry, type NimgHeader } from '../../format/container.js';
import { decodeAlpha } from '../../format/alpha.js';
import type { DecodedImage, DecodeStats } from '../../api-types.js';
import { now, toNimgError } from '../shared.js';
import type { DecodeJob } from '../types.js';
import type { AmortizedModel } from './model.js';
import { interpolateGain } from './gain.js';

/** A v1 file after the synchronous checks: its header and its streams, copied. */
export interface AmortizedFile {
  header: NimgHeader;
  z: Uint8Array;
  y: Uint8Array;
  alpha: Uint8Array | null;
}

type Geometry = ReturnType<typeof latentGeometry>;

/** z → h_s → y → the dequantized latent yhat [M, h, w]. */
async function decodeLatent(m: AmortizedModel, tf: Transforms, g: Geometry, f: AmortizedFile): Promise<{ yhat: Float32Array; hsMs: number; hs: 'webgpu' | 'core' }> {
  const core = m.core;
  const gDec = interpolateGain(m.gainDec, m.levels, m.M, f.header.quality);
  const zhat = core.decodeZ(f.z, g.hz * g.wz);
  const gpuHs = await m.gpuHsFor(tf, g.hz, g.wz);
  const th0 = now();
  const packed = gpuHs ? await gpuHs.run(zhat, g.hz, g.wz).catch(() => m.dropGpuHs()) : null;
  if (packed) {
    const hsMs = now() - th0;
    if (core.decodeLatentHs) return { yhat: core.decodeLatentHs(f.y, packed, gDec), hsMs, hs: 'webgpu' };
    const { muQ, idx } = (await import('../../model/gpu-hs.js')).unpackHs(packed);
    return { yhat: core.dequantizeLatent(core.decodeY(f.y, idx), muQ, gDec, m.M, g.h * g.w), hsMs, hs: 'webgpu' };
  }
  // fused: intermediates stay in WASM
  if (core.decodeLatent) return { yhat: core.decodeLatent(f.y, zhat, g.hz, g.wz, gDec), hsMs: 0, hs: 'core' };
  const th = now();
  const { muQ, idx } = core.hyperSynthesis(zhat, g.hz, g.wz);
  const hsMs = now() - th;
  return { yhat: core.dequantizeLatent(core.decodeY(f.y, idx), muQ, gDec, m.M, g.h * g.w), hsMs, hs: 'core' };
}

/** g_s and the conversion to RGBA8 (on the device with one WebGPU tile: a quarter of the read-back). */
async function synthesize(m: AmortizedModel, tf: Transforms, g: Geometry, yhat: Float32Array, width: number, height: number, job: DecodeJob<AmortizedFile>): Promise<{ rgba: Uint8ClampedArray; tSynth: number }> {
  const fusedRgba = tf.backend === 'webgpu' && tf.synthesisRgba ? await tf.synthesisRgba(yhat, g.h, g.w, width, height) : undefined;
  const xr = fusedRgba ? null : await tf.synthesis(yhat, g.h, g.w, job.abort ?? undefined);
  const tSynth = now();
  return { rgba: fusedRgba ?? m.core.toRgba(xr as Float32Array, g.padW, g.padH, width, height), tSynth };
}

/** Apply a decoded alpha plane to RGBA pixels (shared with the perimage profile). */
export async function applyAlpha(rgba: Uint8ClampedArray, alpha: Uint8Array, width: number, height: number): Promise<void> {
  const plane = await decodeAlpha(alpha, width, height);
  for (let i = 0, n = width * height; i < n; i++) rgba[4 * i + 3] = plane[i];
}

/** Decode a checked v1 file. Runs inside the codec's queue. */
export async function decodeAmortized(m: AmortizedModel, tf: Transforms, job: DecodeJob<AmortizedFile>): Promise<{ image: DecodedImage; stats: DecodeStats }> {
  let stage = 'decode: entropy';
  let streamStage = true;
  try {
    const t1 = now();
    const f = job.file;
    const { width, height } = f.header;
    const g = latentGeometry(width, height, m.stride);
    const lat = await decodeLatent(m, tf, g, f);
    streamStage = false;
    const t2 = now();
    stage = 'decode: synthesis';
    job.abort?.check('synthesis');
    const { rgba, tSynth } = await synthesize(m, tf, g, lat.yhat, width, height, job);
    stage = 'decode: post-processing';
    if (f.alpha) {
      job.abort?.check('the alpha stream');
      streamStage = true;
      stage = 'decode: alpha';
      await applyAlpha(rgba, f.alpha, width, height);
    }
    const t4 = now();
    const stats: DecodeStats = {
      profile: 'amortized',
      backend: tf.backend,
      containerMs: t1 - job.t0,
      entropyMs: t2 - t1,
      hsMs: lat.hsMs,
      hs: lat.hs,
      transformMs: tSynth - t2,
      postMs: t4 - tSynth,
      totalMs: t4 - job.t0,
    };
    return { image: { width, height, data: rgba }, stats };
  } catch (e) {
    throw toNimgError(e, stage, streamStage);
  }
}
