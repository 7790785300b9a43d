/**
 * The perimage profile's encoder side in the codec: effort → steps, the backend policy (no
 * silent hour on a CPU), the per-image optimisation (encoder/, loaded on demand: it pulls
 * tfjs), then the params section and the latent stream from the core, the alpha stream and
 * the version-2 container.
 */
import { NimgError } from '../../errors.js';
import type { BackendChoice, EncodeStats } from '../../api-types.js';
import { encodeAlpha, isOpaque } from '../../format/alpha.js';
import { checkUnchanged, now, type CheckedImage } from '../shared.js';
import type { CodecResources, EncodeJob } from '../types.js';
import { writePerImageContainer } from './container.js';
import { stepsOfEffort } from './effort.js';
import { estimateEncodeSeconds } from './encoder/estimate.js';
import { chooseArchName } from './encoder/arch-choice.js';
import { qualityToLambda } from './encoder/lambda.js';

/** 40 s, 12 min, 3.4 h */
export function formatSeconds(s: number): string {
  if (s < 90) return `${Math.max(1, Math.round(s))} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/**
 * The refusal of a perimage encode that would run on the CPU by default: it names the
 * estimated CPU time and the two ways on (the fast profile, or an explicit CPU backend).
 */
export function noGpuError(width: number, height: number, steps: number, why: string, quality?: number): NimgError {
  // the decoder the encode would train (arch-choice.ts): the compact one trains faster on a CPU
  const arch = quality === undefined ? 'default' : chooseArchName(width * height, qualityToLambda(quality));
  const sec = estimateEncodeSeconds(width, height, steps, 'wasm', arch);
  return new NimgError(
    'BACKEND_UNAVAILABLE',
    `the perimage profile optimises a decoder for each image, which needs a GPU: no hardware WebGPU adapter here (${why}). ` +
      `On this CPU (WASM) the ${width}x${height} image would take about ${formatSeconds(sec)} (${steps} steps). ` +
      `Use profile: 'amortized' (the fast profile, no GPU needed; CLI --profile amortized), or pass backend: 'wasm' ` +
      `(CLI --backend wasm) to run it on the CPU anyway.`,
  );
}

/** 'auto' means a hardware WebGPU adapter here; a named backend is the caller's explicit choice. */
async function perImageBackend(choice: BackendChoice, img: CheckedImage, steps: number, quality: number): Promise<BackendChoice> {
  if (choice !== 'auto') return choice;
  const { probeWebGpuAdapter } = await import('../../backend/index.js');
  const a = await probeWebGpuAdapter();
  if (a.found && !a.software) return 'webgpu';
  throw noGpuError(img.width, img.height, steps, a.found ? `only a software adapter: ${a.description}` : a.description, quality);
}

/** RGB (3 bytes a pixel) → RGBA: the optimiser reads RGBA. */
function rgbaOf(img: CheckedImage): Uint8Array | Uint8ClampedArray {
  if (img.channels === 4) return img.data;
  const n = img.width * img.height;
  const out = new Uint8Array(4 * n);
  for (let i = 0; i < n; i++) {
    out[4 * i] = img.data[3 * i];
    out[4 * i + 1] = img.data[3 * i + 1];
    out[4 * i + 2] = img.data[3 * i + 2];
    out[4 * i + 3] = 255;
  }
  return out;
}

/** Encode one image to a version-2 file. Runs inside the codec's queue. */
export async function encodePerImageFile(res: CodecResources, job: EncodeJob): Promise<{ bytes: Uint8Array; stats: EncodeStats }> {
  const img = job.image;
  const { width, height } = img;
  const encoder = await import('./encoder/index.js');
  const steps = stepsOfEffort(job.effort, encoder.DEFAULT_STEPS);
  const backend = await perImageBackend(job.backend, img, steps, job.quality);
  job.abort?.check('the start of the encode');
  checkUnchanged(img);
  const rgba = rgbaOf(img);
  const tPre = now();
  job.report('optimize', 0, steps);
  const link = job.abort?.linkedSignal();
  let r: Awaited<ReturnType<typeof encoder.encodePerImage>>;
  try {
    r = await encoder.encodePerImage({ width, height, data: rgba }, {
      quality: job.quality,
      steps,
      backend,
      signal: link?.signal,
      // a progress bar wants ~200 updates; each one reads the loss back from the device
      train: { progressEvery: Math.max(1, Math.min(50, Math.round(steps / 200))) },
      onProgress: (done, total) => job.report('optimize', done, total),
      // 'coding' begins with the parameter quantization (a forward pass per candidate
      // exponent: seconds on a GPU, longer on a CPU): one unit per tensor, then the coder's
      onQuantize: (done, total) => job.report('coding', done, total + 1),
    });
  } finally {
    link?.dispose();
  }
  const tOpt = now();
  job.abort?.check('entropy coding');
  const core = await res.perImageCore();
  const params = core.encodeParams(r.params);
  const latents = core.encodeLatents(r.params, r.grids, width, height);
  const t6 = now();
  job.abort?.check('the alpha stream');
  const alpha = img.channels === 4 && !isOpaque(img.data, 4) ? await encodeAlpha(img.data, width, height) : null;
  const t7 = now();
  const bytes = writePerImageContainer({ width, height, quality: job.quality, params, latents, alpha, fineScales: r.params.fineScales });
  const t8 = now();
  const quantizeMs = r.stats.quantizeSeconds * 1000;
  return {
    bytes,
    stats: {
      profile: 'perimage',
      backend: r.stats.backend,
      preMs: tPre - job.t0,
      transformMs: tOpt - tPre - quantizeMs,
      analysisMs: 0,
      hyperAnalysisMs: 0,
      entropyMs: t6 - tOpt,
      hsMs: 0,
      hs: 'core',
      refineMs: 0,
      alphaMs: t7 - t6,
      containerMs: t8 - t7,
      totalMs: t8 - job.t0,
      bytes: bytes.length,
      bpp: (bytes.length * 8) / (width * height),
      steps,
      optimizeMs: r.stats.trainSeconds * 1000,
      quantizeMs,
      paramsBytes: params.length,
      latentBytes: latents.length,
    },
  };
}

/** BAD_INPUT for options that belong to the other profile (a silent no-op would mislead). */
export function checkPerImageOptions(refine: number): void {
  if (refine !== 0) throw new NimgError('BAD_INPUT', "refine is the amortized profile's effort; the perimage profile takes effort (a share of its optimisation steps)");
}
