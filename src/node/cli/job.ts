/**
 * One CLI job: read a file (or stdin), encode or decode it with a codec, write the result
 * (or stdout). The same code runs in the CLI's process and in its batch workers (worker.ts).
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { NimgError, isNimgError } from '../../errors.js';
// the Node default assets (core, weights): a job may run in a worker thread of its own
import '../defaults.js';
import { NimgCodec, probe, type BackendChoice, type EncodeProgress, type InitOptions, type ProfileName } from '../../codec.js';
import { noGpuError } from '../../profiles/perimage/encode.js';
import { stepsOfEffort } from '../../profiles/perimage/effort.js';
import { mayHaveGpu } from './gpu-probe.js';
import { decodeImageFile } from '../../image/index.js';
import { writePngFile, writePngStream, type PngImage } from '../png-writer.js';
import { weightsPaths } from '../loader.js';

/** What every job of a run shares (sent to the workers as it is: plain data). */
export interface JobSettings {
  command: 'encode' | 'decode';
  profile?: ProfileName;
  quality?: number;
  refine?: number;
  effort?: number;
  backend?: BackendChoice;
  /** the --backend the user gave (undefined: auto), kept when the GPU probe rewrites `backend` */
  requestedBackend?: BackendChoice;
  threads?: number;
}

export interface JobResult {
  /** bytes written */
  bytes: number;
  width: number;
  height: number;
  /** bits per pixel of the .nimg (the input's when decoding) */
  bpp: number;
  backend: string;
  /** one line of stage timings for --verbose */
  timings: string;
}

/** Loading the model failed: every job of the run would fail the same way, so the run stops. */
export class InitFailure extends Error {
  constructor(readonly error: NimgError) {
    super(error.message);
  }
}

export function initOptions(s: JobSettings): InitOptions {
  const o: InitOptions = {};
  if (s.backend) o.backend = s.backend;
  if (s.threads) o.threads = s.threads;
  return o;
}

/** The codec of a run; `needsWeights`: the job is amortized (an encode, or a version-1 file). */
export type CodecGetter = (needsWeights: boolean) => Promise<NimgCodec>;

const initFailure = (e: unknown): never => {
  throw new InitFailure(isNimgError(e) ? e : new NimgError('INTERNAL', String(e)));
};

/**
 * A codec made on first use (after the first input was read and checked), once. `prepare`
 * may adjust the settings first (the CLI's quiet GPU probe); its failure is the codec's.
 * The weights and the backend are loaded when the first amortized job asks for them, so a
 * run of perimage files never reads them; their failure stops the run (InitFailure).
 */
export function lazyCodec(s: JobSettings, prepare?: (s: JobSettings) => Promise<JobSettings>): { get: CodecGetter; dispose: () => void } {
  let p: Promise<NimgCodec> | null = null;
  let weights: Promise<NimgCodec> | null = null;
  return {
    get: (needsWeights) => {
      p ??= (async () => NimgCodec.createLazy(initOptions(prepare ? await prepare(s) : s)))().catch(initFailure);
      if (!needsWeights) return p;
      weights ??= p.then(async (c) => {
        await c.prepare().catch(initFailure);
        return c;
      });
      return weights;
    },
    dispose: () => {
      p?.then((c) => c.dispose(), () => {});
    },
  };
}

const errno = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const b = Buffer.concat(chunks);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export async function readInput(p: string): Promise<Uint8Array> {
  try {
    if (p === '-') return await readStdin();
    const b = await readFile(p);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new NimgError('BAD_INPUT', `cannot read ${p === '-' ? 'stdin' : p}: ${errno(e)}`, { cause: e });
  }
}

/**
 * Write through a temporary file in the same folder and rename it: an output that exists
 * is always complete, so a rerun may skip it (a failed or interrupted job leaves none).
 */
export async function writeOutput(p: string, bytes: Uint8Array): Promise<void> {
  if (p === '-') {
    await new Promise<void>((resolve, reject) => {
      process.stdout.write(bytes, (e) => (e ? reject(new NimgError('BAD_INPUT', `cannot write stdout: ${errno(e)}`, { cause: e })) : resolve()));
    });
    return;
  }
  const tmp = path.join(path.dirname(p), `.${path.basename(p)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, p);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw new NimgError('BAD_INPUT', `cannot write ${p}: ${errno(e)}`, { cause: e });
  }
}

/**
 * Write a decoded image as PNG, streamed (src/node/png-writer.ts): to stdout as it is
 * compressed, or through a temporary file renamed at the end like writeOutput. Resolves to
 * the bytes written.
 */
export async function writePngOutput(p: string, image: PngImage): Promise<number> {
  if (p !== '-') return writePngFile(p, image);
  try {
    return await writePngStream(process.stdout, image);
  } catch (e) {
    if (e instanceof NimgError) throw e;
    throw new NimgError('BAD_INPUT', `cannot write stdout: ${errno(e)}`, { cause: e });
  }
}

/**
 * MODEL_MISMATCH before loading anything heavy: the manifest's sha256 starts with the
 * weights hash (weights/README.md). Silent when the manifest cannot be read (init reports it).
 */
export async function checkModelEarly(modelId: string, weightsHash: string): Promise<void> {
  let m: { model_id?: unknown; sha256?: unknown };
  try {
    m = JSON.parse(await readFile(weightsPaths().manifest, 'utf8'));
  } catch {
    return;
  }
  if (typeof m.model_id !== 'string' || typeof m.sha256 !== 'string') return;
  const hash = m.sha256.slice(0, 16).toLowerCase();
  if (m.model_id !== modelId || hash !== weightsHash) {
    throw new NimgError('MODEL_MISMATCH', `.nimg file was made with model ${modelId} (weights ${weightsHash}); the installed model is ${m.model_id} (weights ${hash})`);
  }
}

const ms = (v: number) => `${v.toFixed(0)} ms`;

/**
 * Run one job. Input problems (unreadable, not an image, not a .nimg) surface before the
 * model is loaded. Throws NimgError, or InitFailure when the codec cannot be made.
 */
export async function runJob(
  job: { input: string; output: string },
  s: JobSettings,
  codec: CodecGetter,
  onProgress?: (p: EncodeProgress) => void,
): Promise<JobResult> {
  // the backend is the codec's own (lazyCodec's `prepare` may have chosen it): no per-call one
  const input = await readInput(job.input);
  if (s.command === 'encode') {
    const image = await decodeImageFile(input);
    const perimage = s.profile === 'perimage';
    const c = await codec(!perimage);
    if (perimage) await refuseCpuPerImage(s, c, image.width, image.height);
    const { bytes, stats } = await c.encodeWithStats(image, {
      profile: s.profile,
      quality: s.quality,
      ...(perimage ? { effort: s.effort } : { refine: s.refine }),
      onProgress,
    });
    await writeOutput(job.output, bytes);
    return {
      bytes: bytes.length,
      width: image.width,
      height: image.height,
      bpp: stats.bpp,
      backend: stats.backend,
      timings: perimage
        ? `total ${ms(stats.totalMs)} (optimize ${ms(stats.optimizeMs ?? 0)} for ${stats.steps} steps, quantize ${ms(stats.quantizeMs ?? 0)}, ` +
          `entropy ${ms(stats.entropyMs)}; params ${stats.paramsBytes} B, latents ${stats.latentBytes} B)`
        : `total ${ms(stats.totalMs)} (transforms ${ms(stats.transformMs)}, entropy ${ms(stats.entropyMs)}, pre ${ms(stats.preMs)}` +
          `${stats.refineMs ? `, refine ${ms(stats.refineMs)}` : ''})`,
    };
  }
  const info = probe(input); // container errors before loading the model
  if (info.profile === 'amortized') await checkModelEarly(info.modelId, info.weightsHash);
  const c = await codec(info.profile === 'amortized');
  const { image, stats } = await c.decodeWithStats(input);
  const written = await writePngOutput(job.output, image);
  return {
    bytes: written,
    width: image.width,
    height: image.height,
    bpp: info.bpp,
    backend: stats.backend,
    timings: `total ${ms(stats.totalMs)} (${info.profile === 'perimage' ? 'upsampling + synthesis' : 'transform'} ${ms(stats.transformMs)}, entropy ${ms(stats.entropyMs)}, post ${ms(stats.postMs)})`,
  };
}

/**
 * The no-GPU policy of the API (src/profiles/perimage/encode.ts), decided from the CLI's
 * quiet probe rather than by loading Dawn here (its warnings would reach the terminal): with
 * --backend auto (or none) on a machine without a hardware GPU, refuse and name the estimate.
 */
async function refuseCpuPerImage(s: JobSettings, c: NimgCodec, width: number, height: number): Promise<void> {
  const requested = s.requestedBackend ?? 'auto';
  if (requested !== 'auto') return;
  const noDevice = !mayHaveGpu();
  if (!noDevice && c.defaultBackend !== 'wasm' && c.defaultBackend !== 'cpu') return;
  const { DEFAULT_STEPS } = await import('../../profiles/perimage/encoder/index.js');
  const steps = stepsOfEffort(s.effort ?? 1, DEFAULT_STEPS);
  // every file of the run would be refused the same way: stop the run
  throw new InitFailure(noGpuError(width, height, steps, noDevice ? 'no GPU device on this machine' : 'the adapter probe found no hardware adapter'));
}
