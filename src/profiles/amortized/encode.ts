/**
 * The amortized profile's encoder (container v1), as four steps run in order:
 *
 *   analyse   pad, RGB → planar, g_a, the quality gain, h_a        (float transforms)
 *   refineZ   refinement's joint phase: y and z together            (only with `refine`)
 *   codeZ     quantize z, h_s (on the device where it can), the z stream
 *   codeY     refinement's y phase, then the y stream under h_s's means and scales
 *
 * then the alpha stream and the container. Each step has one job; the choices between
 * device and core (fused or not) are made inside the step that owns them.
 */
import { NimgError } from '../../errors.js';
import type { Transforms } from '../../model/types.js';
import { latentGeometry, writeContainer } from '../../format/container.js';
import { encodeAlpha, isOpaque } from '../../format/alpha.js';
import type { EncodeStats } from '../../api-types.js';
import { checkUnchanged, now, type CheckedImage } from '../shared.js';
import type { EncodeJob } from '../types.js';
import type { AmortizedModel } from './model.js';
import { interpolateGain } from './gain.js';
import { refineYSteps } from './refine-steps.js';

type Geometry = ReturnType<typeof latentGeometry>;

interface Analysis {
  /** planar float image (null when the device converted the RGBA bytes itself) */
  x: Float32Array | null;
  /** the gained latent and the hyper-latent */
  ys: Float32Array;
  z: Float32Array;
  /** timestamps: planar ready, g_a done, gain done (= g_a done when fused), h_a done */
  tPlanar: number;
  tAnalysis: number;
  tGain: number;
  tHyper: number;
}

/** g_a, the gain and h_a. On WebGPU with one tile, one device pass from the RGBA bytes. */
async function analyse(m: AmortizedModel, tf: Transforms, img: CheckedImage, g: Geometry, gEnc: Float32Array, job: EncodeJob): Promise<Analysis> {
  const { width, height, data, channels } = img;
  const abort = job.abort ?? undefined;
  const gpu = tf.backend === 'webgpu';
  let x: Float32Array | null = null;
  let fused: { ys: Float32Array; z: Float32Array } | undefined;
  let tPlanar = now();
  if (gpu && channels === 4 && tf.analysisHyperRgba) fused = await tf.analysisHyperRgba(data, width, height, g.padW, g.padH, gEnc);
  if (!fused) {
    x = m.core.toPlanar(data, width, height, channels, g.padW, g.padH);
    tPlanar = now();
    if (gpu && tf.analysisHyper) fused = await tf.analysisHyper(x, g.padH, g.padW, gEnc);
  }
  const hw = g.h * g.w;
  if (fused) {
    const t = now();
    if (fused.ys.length !== m.M * hw) throw new NimgError('INTERNAL', `analysis returned ${fused.ys.length} values, expected ${m.M * hw}`);
    return { x, ys: fused.ys, z: fused.z, tPlanar, tAnalysis: t, tGain: t, tHyper: t };
  }
  const y = await tf.analysis(x as Float32Array, g.padH, g.padW, abort);
  const tAnalysis = now();
  if (y.length !== m.M * hw) throw new NimgError('INTERNAL', `analysis returned ${y.length} values, expected ${m.M * hw}`);
  for (let c = 0; c < m.M; c++) {
    const gc = gEnc[c];
    for (let i = c * hw, e = i + hw; i < e; i++) y[i] *= gc;
  }
  const tGain = now();
  job.abort?.check('hyper-analysis');
  const z = await tf.hyperAnalysis(y, g.h, g.w, abort);
  return { x, ys: y, z, tPlanar, tAnalysis, tGain, tHyper: now() };
}

/** What refinement needs besides the latents: the full planar image and the decoder's gain. */
interface RefineInputs {
  x: Float32Array;
  gainDec: Float32Array;
  lambda: number;
  /** progress in steps of `refine`: a phase's tile steps scaled to its share */
  progress: (offset: number, steps: number) => (done: number, total: number) => void;
}

function refineInputs(m: AmortizedModel, img: CheckedImage, g: Geometry, a: Analysis, job: EncodeJob): RefineInputs {
  const { refine } = job;
  return {
    x: a.x ?? m.core.toPlanar(img.data, img.width, img.height, img.channels, g.padW, g.padH),
    gainDec: interpolateGain(m.gainDec, m.levels, m.M, job.quality),
    lambda: m.lambdaAt(job.quality),
    progress: (offset, steps) => (done, total) => job.report('refine', Math.min(refine, Math.round(offset + (steps * done) / total)), refine),
  };
}

/** Refinement, phase 1 (src/model/refine-z.ts): y and z together, 2/3 of the steps. z is final after it. */
async function refineZ(m: AmortizedModel, tf: Transforms, img: CheckedImage, g: Geometry, a: Analysis, r: RefineInputs, job: EncodeJob): Promise<{ zhat: Int32Array; ys: Float32Array }> {
  if (!tf.refineJoint) throw new NimgError('BACKEND_UNAVAILABLE', `the ${tf.backend} transforms cannot refine latents`);
  const steps = job.refine - refineYSteps(job.refine);
  job.abort?.check('refinement');
  const j = await tf.refineJoint(await m.jointModel(), {
    x: r.x, width: img.width, height: img.height, h: g.h, w: g.w, ys: a.ys, z: a.z,
    gainDec: r.gainDec, lambda: r.lambda, iterations: steps, onStep: r.progress(0, steps),
  });
  return { zhat: j.z, ys: j.ys };
}

/** h_s as the y coder takes it: packed from the device, or left to the core. */
interface HyperParams {
  zBytes: Uint8Array;
  /** the device's packed mu_q / idx, or null (the core runs h_s) */
  packed: Uint32Array | null;
  hsMs: number;
}

/** The z stream, and h_s on the device where it can run (issued first, so the two overlap). */
async function codeZ(m: AmortizedModel, tf: Transforms, g: Geometry, zhat: Int32Array): Promise<HyperParams> {
  const gpuHs = await m.gpuHsFor(tf, g.hz, g.wz);
  const th0 = now();
  const hsJob = gpuHs ? gpuHs.run(zhat, g.hz, g.wz).catch(() => m.dropGpuHs()) : null;
  const zBytes = m.core.encodeZ(zhat, g.hz * g.wz);
  const packed = hsJob ? await hsJob : null;
  return { zBytes, packed, hsMs: packed ? now() - th0 : 0 };
}

/** mu_q and idx of h_s: unpacked from the device's result, or the core's (timed). */
async function hsOf(m: AmortizedModel, g: Geometry, zhat: Int32Array, hp: HyperParams): Promise<{ muQ: Int32Array; idx: Int32Array; hsMs: number }> {
  if (hp.packed) return { ...(await import('../../model/gpu-hs.js')).unpackHs(hp.packed), hsMs: hp.hsMs };
  const th = now();
  const r = m.core.hyperSynthesis(zhat, g.hz, g.wz);
  return { ...r, hsMs: now() - th };
}

/**
 * The y stream. Without refinement, the fused core paths keep mu_q / idx in WASM memory
 * (from the device's packed h_s, or h_s run inside the core); with it, phase 2
 * (src/model/refine.ts) moves y alone under the exact means and scales of the final z.
 */
async function codeY(
  m: AmortizedModel, tf: Transforms, img: CheckedImage, g: Geometry, zhat: Int32Array, ys: Float32Array, hp: HyperParams, r: RefineInputs | null, job: EncodeJob,
): Promise<{ yBytes: Uint8Array; hsMs: number; refineMs: number }> {
  const core = m.core;
  if (!r) {
    if (hp.packed && core.encodeLatentHs) return { yBytes: core.encodeLatentHs(ys, hp.packed), hsMs: hp.hsMs, refineMs: 0 };
    if (!hp.packed && core.encodeLatent) return { yBytes: core.encodeLatent(ys, zhat, g.hz, g.wz), hsMs: 0, refineMs: 0 };
  }
  const { muQ, idx, hsMs } = await hsOf(m, g, zhat, hp);
  let y = ys;
  const tr = now();
  const ny = refineYSteps(job.refine);
  if (r && ny > 0 && tf.refine) {
    job.abort?.check('refinement of y');
    y = (await tf.refine({
      x: r.x, width: img.width, height: img.height, h: g.h, w: g.w, ys,
      mu: m.meansOf(muQ), sigma: m.scalesOf(idx), gainDec: r.gainDec, lambda: r.lambda,
      iterations: ny, onStep: r.progress(job.refine - ny, ny),
    })).ys;
  }
  const refineMs = r ? now() - tr : 0;
  return { yBytes: core.encodeY(core.quantizeLatent(y, muQ), idx), hsMs, refineMs };
}

/** Encode one image to a version-1 file. Runs inside the codec's queue. */
export async function encodeAmortized(m: AmortizedModel, tf: Transforms, job: EncodeJob): Promise<{ bytes: Uint8Array; stats: EncodeStats }> {
  const img = job.image;
  job.report('analysis', 0, 1);
  checkUnchanged(img);
  const g = latentGeometry(img.width, img.height, m.stride);
  const gEnc = interpolateGain(m.gainEnc, m.levels, m.M, job.quality);
  const a = await analyse(m, tf, img, g, gEnc, job);
  job.abort?.check('entropy coding');
  let zhat = m.core.quantizeZ(a.z);
  let ys = a.ys;
  let refineMs = 0;
  let r: RefineInputs | null = null;
  if (job.refine > 0) {
    job.report('refine', 0, job.refine);
    if (!tf.refine || !tf.refineJoint) throw new NimgError('BACKEND_UNAVAILABLE', `the ${tf.backend} transforms cannot refine latents`);
    r = refineInputs(m, img, g, a, job);
    const tr = now();
    ({ zhat, ys } = await refineZ(m, tf, img, g, a, r, job));
    refineMs = now() - tr;
  } else {
    job.report('coding', 0, 1);
  }
  const hp = await codeZ(m, tf, g, zhat);
  const y = await codeY(m, tf, img, g, zhat, ys, hp, r, job);
  refineMs += y.refineMs;
  if (r) job.report('coding', 0, 1);
  const t6 = now();
  job.abort?.check('the alpha stream');
  const alpha = img.channels === 4 && !isOpaque(img.data, 4) ? await encodeAlpha(img.data, img.width, img.height) : null;
  const t7 = now();
  const bytes = writeContainer({ width: img.width, height: img.height, quality: job.quality, modelId: m.modelId, weightsHash: m.weightsHash, z: hp.zBytes, y: y.yBytes, alpha });
  const t8 = now();
  const stats: EncodeStats = {
    profile: 'amortized',
    backend: tf.backend,
    preMs: a.tPlanar - job.t0,
    transformMs: a.tAnalysis - a.tPlanar + (a.tHyper - a.tGain),
    analysisMs: a.tAnalysis - a.tPlanar,
    hyperAnalysisMs: a.tHyper - a.tGain,
    entropyMs: a.tGain - a.tAnalysis + (t6 - a.tHyper) - refineMs,
    refineMs,
    hsMs: y.hsMs,
    hs: hp.packed ? 'webgpu' : 'core',
    alphaMs: t7 - t6,
    containerMs: t8 - t7,
    totalMs: t8 - job.t0,
    bytes: bytes.length,
    bpp: (bytes.length * 8) / (img.width * img.height),
  };
  return { bytes, stats };
}
