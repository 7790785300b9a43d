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
import type { LatentGrids, PerImageArch, PerImageParams } from '../types.js';
import { archName, archOfName, chooseArch, chooseArchName } from './arch-choice.js';
import { qualityToLambda } from './lambda.js';
import { archProblems, initTheta, makeLayout, SYN_HIDDEN_BIAS } from './model.js';
import { quantize } from './quantize.js';
import { DEFAULT_TRAIN, psnrOf, rgbaToRows, train, type TrainProgress, type TrainSettings, type TrainState } from './train.js';
import { trainBatch } from './train-batch.js';
import { chooseStart, MAX_STARTS } from './starts.js';
import { soapProblems } from './soap.js';

export { qualityToLambda, lambdaToQuality, LAMBDA_TABLE } from './lambda.js';
export { estimateEncodeSeconds, STEP_COST } from './estimate.js';
export { archName, chooseArch, chooseArchName, compactArch, COMPACT_LAMBDA_64K } from './arch-choice.js';

/** steps at the default effort */
export const DEFAULT_STEPS = 8000;
/** whether files use the full scale set (FINE_SCALES, log2 b from −5) unless asked otherwise */
export const DEFAULT_FINE_SCALES = true;

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
  /**
   * architecture; 'auto' (the default): chosen by image size and λ (arch-choice.ts: the
   * compact decoder for small images at low rates, SPEC §1's default otherwise)
   */
  arch?: PerImageArch | 'auto';
  /**
   * code the latents with the full scale set (the container's FINE_SCALES flag; default
   * DEFAULT_FINE_SCALES): zeros the context model is sure of cost ~0.00015 bits instead of 0.027
   */
  fineScales?: boolean;
  /**
   * initial bias of the synthesis's hidden layers, in [0, 1] (default SYN_HIDDEN_BIAS = 0.01;
   * model.ts initTheta): a study option, changes how training starts, not the file format
   */
  synHiddenBias?: number;
  /**
   * candidate initialisations, 1 … MAX_STARTS (default 1): with K > 1, K starts train side
   * by side for an eighth of the steps and the best is trained in full (starts.ts); a study
   * option, the file format is unchanged
   */
  starts?: number;
  /** override training settings (tests, calibration) */
  train?: Partial<Omit<TrainSettings, 'steps' | 'lambda' | 'seed' | 'onProgress' | 'signal'>>;
}

export interface PerImageStats {
  backend: BackendName;
  steps: number;
  lambda: number;
  /** the architecture the file carries: 'default' / 'compact' (arch-choice.ts) or 'custom' */
  arch: 'default' | 'compact' | 'custom';
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
  /** candidate initialisations tried (PerImageEncodeOptions.starts) */
  starts: number;
  /** seed of the initialisation the model trained from (the caller's seed when starts = 1) */
  initSeed: number;
  history: { step: number; loss: number; bpp: number; psnr: number; phase: 'noise' | 'ste' }[];
}

export interface PerImageEncodeResult {
  params: PerImageParams;
  grids: LatentGrids;
  stats: PerImageStats;
}

/**
 * The architecture of one training run: the caller's, or for 'auto' the choice for these
 * pixels at λ (one choice for all members: encodePerImageMembers groups λ by it).
 */
function resolveArch(arch: PerImageEncodeOptions['arch'], pixels: number, lambdas: number[]): PerImageArch {
  if (arch !== undefined && arch !== 'auto') return arch;
  const names = new Set(lambdas.map((l) => chooseArchName(pixels, l)));
  if (names.size !== 1) throw new Error('resolveArch: members of one run need the same architecture');
  return chooseArch(pixels, lambdas[0]);
}

/** Checks shared by both entry points, then the backend, the layout and the target rows. */
async function prepare(image: PerImageImage, opts: Omit<PerImageEncodeOptions, 'quality' | 'lambda'>, lambdas: number[]) {
  const { width, height, data } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1)) throw new NimgError('BAD_INPUT', `perimage: bad size ${width}x${height}`);
  if (data.length !== width * height * 4) throw new NimgError('BAD_INPUT', `perimage: ${data.length} bytes for ${width}x${height} RGBA`);
  const steps = opts.steps ?? DEFAULT_STEPS;
  if (!(Number.isInteger(steps) && steps >= 1)) throw new NimgError('BAD_INPUT', `perimage: steps ${steps}`);
  if (!lambdas.length || !lambdas.every((l) => l > 0 && Number.isFinite(l))) throw new NimgError('BAD_INPUT', `perimage: lambda ${lambdas}`);
  const arch = resolveArch(opts.arch, width * height, lambdas);
  const bad = archProblems(arch);
  if (bad.length) throw new NimgError('BAD_INPUT', `perimage: architecture outside SPEC (${bad.join(', ')})`);
  const synHiddenBias = opts.synHiddenBias ?? SYN_HIDDEN_BIAS;
  if (!(synHiddenBias >= 0 && synHiddenBias <= 1)) throw new NimgError('BAD_INPUT', `perimage: synHiddenBias ${opts.synHiddenBias} outside [0, 1]`);
  const starts = opts.starts ?? 1;
  if (!(Number.isInteger(starts) && starts >= 1 && starts <= MAX_STARTS)) throw new NimgError('BAD_INPUT', `perimage: starts ${opts.starts} (1 … ${MAX_STARTS})`);
  const soapBad = opts.train?.soap ? soapProblems(opts.train.soap) : [];
  if (soapBad.length) throw new NimgError('BAD_INPUT', `perimage: soap ${soapBad.join(', ')}`);
  if (opts.signal?.aborted) throw new NimgError('ABORTED', 'perimage encode aborted');
  const backend = await initBackend(opts.backend ?? 'auto');
  const lay = makeLayout(arch, width, height, opts.fineScales ?? DEFAULT_FINE_SCALES);
  const target = rgbaToRows(data, width, height);
  const mean = [0, 1, 2].map((c) => {
    let s = 0;
    for (let i = c; i < target.length; i += 3) s += target[i];
    return s / (width * height);
  });
  const seed = opts.seed ?? 1;
  return { steps, backend, lay, target, seed, mean, synHiddenBias, starts, npix: width * height };
}

/** the training settings of this run but λ: the recipe, the caller's overrides, its steps, seed and signal */
function runSettings(p: Awaited<ReturnType<typeof prepare>>, opts: Pick<PerImageEncodeOptions, 'train' | 'signal'>): Omit<TrainSettings, 'lambda'> {
  return { ...DEFAULT_TRAIN, ...opts.train, steps: p.steps, seed: p.seed, signal: opts.signal };
}

/**
 * The initial parameters the full run trains from: the seed's, or with starts > 1 the best
 * of that many candidates (starts.ts), warmed up at the middle λ of the run's members.
 */
async function startOf(p: Awaited<ReturnType<typeof prepare>>, opts: Pick<PerImageEncodeOptions, 'train' | 'signal'>, lambdas: number[]) {
  if (p.starts === 1) return { theta0: initTheta(p.lay, p.seed, p.mean, p.synHiddenBias), initSeed: p.seed };
  const lambda = [...lambdas].sort((a, b) => a - b)[lambdas.length >> 1];
  const c = await chooseStart(p.lay, p.target, p.mean, p.synHiddenBias, p.starts, { ...runSettings(p, opts), lambda });
  return { theta0: c.theta0, initSeed: c.seed };
}

/** Quantize one trained state into the result (times in ms from performance.now()). */
async function finish(
  p: Awaited<ReturnType<typeof prepare>>, st: TrainState, initSeed: number, lambda: number, trainMs: number,
  opts: Pick<PerImageEncodeOptions, 'signal' | 'onQuantize'>,
): Promise<PerImageEncodeResult> {
  const tq = performance.now();
  const q = await quantize(p.lay, p.target, st.theta, st.canvas, lambda, opts.signal, opts.onQuantize);
  const tq1 = performance.now();
  return {
    params: q.params,
    grids: q.grids,
    stats: {
      backend: p.backend,
      steps: p.steps,
      lambda,
      arch: archName(p.lay.arch),
      trainSeconds: trainMs / 1000,
      quantizeSeconds: (tq1 - tq) / 1000,
      msPerStep: trainMs / p.steps,
      psnrFloat: psnrOf(q.floatMse),
      psnrQuantized: psnrOf(q.mse),
      latentBits: q.latentBits,
      paramBits: q.paramBits,
      bppEstimate: (q.latentBits + q.paramBits) / p.npix,
      quantizeEvaluations: q.evaluations,
      starts: p.starts,
      initSeed,
      history: st.history,
    },
  };
}

export async function encodePerImage(image: PerImageImage, opts: PerImageEncodeOptions): Promise<PerImageEncodeResult> {
  const lambda = opts.lambda ?? qualityToLambda(opts.quality);
  const p = await prepare(image, opts, [lambda]);
  const t0 = performance.now();
  const { theta0, initSeed } = await startOf(p, opts, [lambda]);
  const st = await train(p.lay, p.target, theta0, new Float32Array(p.lay.Hc * p.lay.Wc), { ...runSettings(p, opts), lambda, onProgress: opts.onProgress });
  return finish(p, st, initSeed, lambda, performance.now() - t0, opts);
}

/**
 * encodePerImage for K values of λ of the same image (a rate–distortion curve): the K
 * models train together with trainBatch (train-batch.ts: one step of all K with the
 * dispatches of one on WebGPU; a loop over train() on other backends), then each is
 * quantized on its own as encodePerImage does. Result k is what encodePerImage with
 * `lambda: lambdas[k]` and the same seed gives (up to float rounding; with starts > 1 the
 * start is chosen once for all K, at their middle λ); its trainSeconds and msPerStep are
 * those of the shared training (all K members; with starts > 1, the warm-up included).
 */
export async function encodePerImageMembers(
  image: PerImageImage, opts: Omit<PerImageEncodeOptions, 'lambda' | 'onProgress'> & { lambdas: number[] },
): Promise<PerImageEncodeResult[]> {
  const { lambdas } = opts;
  if (opts.arch === undefined || opts.arch === 'auto') {
    // members train together only with one architecture: one run per architecture 'auto'
    // picks, each given its architecture (resolveArch then has nothing left to choose)
    const pixels = image.width * image.height;
    const names = lambdas.map((l) => (l > 0 && Number.isFinite(l) ? chooseArchName(pixels, l) : 'default'));
    if (new Set(names).size > 1) {
      const out: PerImageEncodeResult[] = new Array(lambdas.length);
      for (const name of new Set(names)) {
        const idx = lambdas.map((_, k) => k).filter((k) => names[k] === name);
        const rs = await trainMembers(image, { ...opts, arch: archOfName(name), lambdas: idx.map((k) => lambdas[k]) });
        idx.forEach((k, j) => (out[k] = rs[j]));
      }
      return out;
    }
  }
  return trainMembers(image, opts);
}

/** encodePerImageMembers for λ that share one architecture */
async function trainMembers(
  image: PerImageImage, opts: Omit<PerImageEncodeOptions, 'lambda' | 'onProgress'> & { lambdas: number[] },
): Promise<PerImageEncodeResult[]> {
  const { lambdas } = opts;
  const p = await prepare(image, opts, lambdas);
  const t0 = performance.now();
  // the same start for every member, as K encodePerImage calls with this seed would have
  // (with starts > 1: one choice for the image, at the members' middle λ)
  const { theta0, initSeed } = await startOf(p, opts, lambdas);
  const sts = await trainBatch(p.lay, p.target, lambdas.map(() => theta0), lambdas.map(() => new Float32Array(p.lay.Hc * p.lay.Wc)), { ...runSettings(p, opts), lambdas });
  const trainMs = performance.now() - t0;
  const out: PerImageEncodeResult[] = [];
  for (let k = 0; k < lambdas.length; k++) out.push(await finish(p, sts[k], initSeed, lambdas[k], trainMs, opts));
  return out;
}

/** The active tfjs backend's name (for callers that print it). */
export const activeBackend = (): string => tf.getBackend();
