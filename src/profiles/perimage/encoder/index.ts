/**
 * Profile 2 ("perimage") encoder: learns a small decoder and the latents for one image
 * (train.ts), then quantizes both into what the file carries (quantize.ts). The caller (the
 * codec) codes params and grids with the core and writes the container.
 *
 *   encodePerImage(image, { quality, steps?, backend?, onProgress?, signal?, seed? })
 *     → { params: PerImageParams, grids: LatentGrids, stats }
 *
 * Abort: `signal` is checked between steps and between quantization passes; an aborted
 * encode rejects with NimgError('ABORTED').
 */
import * as tf from '@tensorflow/tfjs-core';
import { NimgError } from '../../../errors.js';
import { initBackend } from '../../../backend/index.js';
import type { BackendChoice, BackendName } from '../../../model/types.js';
import { defaultArch, type LatentGrids, type PerImageArch, type PerImageParams } from '../types.js';
import { qualityToLambda } from './lambda.js';
import { archProblems, initTheta, makeLayout } from './model.js';
import { quantize } from './quantize.js';
import { DEFAULT_TRAIN, psnrOf, rgbaToRows, train, type TrainProgress, type TrainSettings } from './train.js';
import { trainBatch } from './train-batch.js';

export { qualityToLambda, lambdaToQuality, LAMBDA_TABLE } from './lambda.js';
export { estimateEncodeSeconds, STEP_COST } from './estimate.js';

/** steps at the default effort */
export const DEFAULT_STEPS = 8000;

export interface PerImageImage {
  width: number;
  height: number;
  /** RGBA, 8 bits per channel, row-major (alpha ignored here: the container codes it) */
  data: ArrayLike<number>;
}

export interface PerImageEncodeOptions {
  /** 1 … 8 (fractional allowed) */
  quality: number;
  /**
   * λ of the loss, overriding qualityToLambda(quality) (benches, calibration; `quality` is
   * still what the caller writes in the header)
   */
  lambda?: number;
  /** gradient steps (default DEFAULT_STEPS) */
  steps?: number;
  /** tfjs backend; default 'auto' (WebGPU on a hardware adapter, else WASM) */
  backend?: BackendChoice;
  /** progress every ~50 steps */
  onProgress?: (done: number, total: number, info: TrainProgress) => void;
  /** quantization progress: parameter tensors done out of total (called from 0/total on) */
  onQuantize?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** seed of the initialisation and the noise (same seed, same backend: same result on WASM) */
  seed?: number;
  /** architecture (default SPEC §1 defaults) */
  arch?: PerImageArch;
  /** override training settings (tests, calibration) */
  train?: Partial<Omit<TrainSettings, 'steps' | 'lambda' | 'seed' | 'onProgress' | 'signal'>>;
}

export interface PerImageStats {
  backend: BackendName;
  steps: number;
  lambda: number;
  trainSeconds: number;
  quantizeSeconds: number;
  msPerStep: number;
  /** PSNR (dB, [0, 1] RGB, float output) of the float model with rounded latents, before and after parameter quantization */
  psnrFloat: number;
  psnrQuantized: number;
  /** bits estimated by the float ARM (latents) and the exact table costs (params) */
  latentBits: number;
  paramBits: number;
  bppEstimate: number;
  quantizeEvaluations: number;
  history: { step: number; loss: number; bpp: number; psnr: number; phase: 'noise' | 'ste' }[];
}

export interface PerImageEncodeResult {
  params: PerImageParams;
  grids: LatentGrids;
  stats: PerImageStats;
}

export async function encodePerImage(image: PerImageImage, opts: PerImageEncodeOptions): Promise<PerImageEncodeResult> {
  const { width, height, data } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1)) throw new NimgError('BAD_INPUT', `perimage: bad size ${width}x${height}`);
  if (data.length !== width * height * 4) throw new NimgError('BAD_INPUT', `perimage: ${data.length} bytes for ${width}x${height} RGBA`);
  const steps = opts.steps ?? DEFAULT_STEPS;
  if (!(Number.isInteger(steps) && steps >= 1)) throw new NimgError('BAD_INPUT', `perimage: steps ${steps}`);
  const lambda = opts.lambda ?? qualityToLambda(opts.quality);
  if (!(lambda > 0 && Number.isFinite(lambda))) throw new NimgError('BAD_INPUT', `perimage: lambda ${lambda}`);
  const arch = opts.arch ?? defaultArch();
  const bad = archProblems(arch);
  if (bad.length) throw new NimgError('BAD_INPUT', `perimage: architecture outside SPEC (${bad.join(', ')})`);
  if (opts.signal?.aborted) throw new NimgError('ABORTED', 'perimage encode aborted');
  const backend = await initBackend(opts.backend ?? 'auto');
  const seed = opts.seed ?? 1;

  const lay = makeLayout(arch, width, height);
  const target = rgbaToRows(data, width, height);
  const mean = [0, 1, 2].map((c) => {
    let s = 0;
    for (let i = c; i < target.length; i += 3) s += target[i];
    return s / (width * height);
  });
  const t0 = performance.now();
  const st = await train(lay, target, initTheta(lay, seed, mean), new Float32Array(lay.Hc * lay.Wc), {
    ...DEFAULT_TRAIN, ...opts.train, steps, lambda, seed, onProgress: opts.onProgress, signal: opts.signal,
  });
  const t1 = performance.now();
  const q = await quantize(lay, target, st.theta, st.canvas, lambda, opts.signal, opts.onQuantize);
  const t2 = performance.now();
  const npix = width * height;
  return {
    params: q.params,
    grids: q.grids,
    stats: {
      backend,
      steps,
      lambda,
      trainSeconds: (t1 - t0) / 1000,
      quantizeSeconds: (t2 - t1) / 1000,
      msPerStep: (t1 - t0) / steps,
      psnrFloat: psnrOf(q.floatMse),
      psnrQuantized: psnrOf(q.mse),
      latentBits: q.latentBits,
      paramBits: q.paramBits,
      bppEstimate: (q.latentBits + q.paramBits) / npix,
      quantizeEvaluations: q.evaluations,
      history: st.history,
    },
  };
}

/**
 * encodePerImage for K values of λ of the same image (a rate–distortion curve): the K
 * models train together with trainBatch (train-batch.ts: one step of all K with the
 * dispatches of one on WebGPU; a loop over train() on other backends), then each is
 * quantized on its own as encodePerImage does. Result k is what encodePerImage with
 * `lambda: lambdas[k]` and the same seed gives (up to float rounding); its trainSeconds
 * and msPerStep are those of the shared training (all K members).
 */
export async function encodePerImageMembers(
  image: PerImageImage, opts: Omit<PerImageEncodeOptions, 'lambda' | 'onProgress'> & { lambdas: number[] },
): Promise<PerImageEncodeResult[]> {
  const { width, height, data } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1)) throw new NimgError('BAD_INPUT', `perimage: bad size ${width}x${height}`);
  if (data.length !== width * height * 4) throw new NimgError('BAD_INPUT', `perimage: ${data.length} bytes for ${width}x${height} RGBA`);
  const steps = opts.steps ?? DEFAULT_STEPS;
  if (!(Number.isInteger(steps) && steps >= 1)) throw new NimgError('BAD_INPUT', `perimage: steps ${steps}`);
  const { lambdas } = opts;
  if (!lambdas.length || !lambdas.every((l) => l > 0 && Number.isFinite(l))) throw new NimgError('BAD_INPUT', `perimage: lambdas ${lambdas}`);
  const arch = opts.arch ?? defaultArch();
  const bad = archProblems(arch);
  if (bad.length) throw new NimgError('BAD_INPUT', `perimage: architecture outside SPEC (${bad.join(', ')})`);
  if (opts.signal?.aborted) throw new NimgError('ABORTED', 'perimage encode aborted');
  const backend = await initBackend(opts.backend ?? 'auto');
  const seed = opts.seed ?? 1;
  const lay = makeLayout(arch, width, height);
  const target = rgbaToRows(data, width, height);
  const mean = [0, 1, 2].map((c) => {
    let s = 0;
    for (let i = c; i < target.length; i += 3) s += target[i];
    return s / (width * height);
  });
  const t0 = performance.now();
  // the same start for every member, as K encodePerImage calls with this seed would have
  const sts = await trainBatch(lay, target, lambdas.map(() => initTheta(lay, seed, mean)), lambdas.map(() => new Float32Array(lay.Hc * lay.Wc)), {
    ...DEFAULT_TRAIN, ...opts.train, steps, lambdas, seed, signal: opts.signal,
  });
  const t1 = performance.now();
  const npix = width * height;
  const out: PerImageEncodeResult[] = [];
  for (let k = 0; k < lambdas.length; k++) {
    const tq = performance.now();
    const q = await quantize(lay, target, sts[k].theta, sts[k].canvas, lambdas[k], opts.signal, opts.onQuantize);
    const tq1 = performance.now();
    out.push({
      params: q.params,
      grids: q.grids,
      stats: {
        backend, steps, lambda: lambdas[k],
        trainSeconds: (t1 - t0) / 1000,
        quantizeSeconds: (tq1 - tq) / 1000,
        msPerStep: (t1 - t0) / steps,
        psnrFloat: psnrOf(q.floatMse),
        psnrQuantized: psnrOf(q.mse),
        latentBits: q.latentBits,
        paramBits: q.paramBits,
        bppEstimate: (q.latentBits + q.paramBits) / npix,
        quantizeEvaluations: q.evaluations,
        history: sts[k].history,
      },
    });
  }
  return out;
}

/** The active tfjs backend's name (for callers that print it). */
export const activeBackend = (): string => tf.getBackend();
