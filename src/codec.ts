/**
 * The public codec: init / encode / decode / probe, shaped like jSquash's codecs (an
 * ImageData-like object in, bytes out; options merged over documented defaults).
 *
 * Pipeline (weights/README.md, FORMAT.md):
 *   encode: pad (stride 64) → core.toPlanar → g_a → y·g_enc → h_a → core.quantizeZ →
 *           core.encodeZ → core.hyperSynthesis(zhat) → core.quantizeLatent → core.encodeY →
 *           [alpha stream] → container
 *   decode: container → core.decodeZ → core.hyperSynthesis → core.decodeY →
 *           core.dequantizeLatent(g_dec) → g_s → core.toRgba (crop) → [alpha]
 *
 * On the WebGPU backend h_s runs on the device (src/model/gpu-hs.ts, bit-exact with the
 * core's; checked against it once per codec before use) and the core takes its mu_q / idx
 * (encodeLatentHs / decodeLatentHs); any GPU failure falls back to the core's h_s.
 *
 * Platform-neutral: nothing here imports or names a Node module. In Node, the default assets
 * (core WASM, weights) come from src/node/defaults.ts, which the package's `node` entry
 * (src/node/main.ts, nimg/node) registers with setDefaultAssets; browser and worker bundles
 * never reach it. Every failure is a NimgError.
 */
import { NimgError, isNimgError } from './errors.js';
import type { Core } from './core/types.js';
import type { BackendChoice, BackendName, ModelWeights, Transforms } from './model/types.js';
import {
  latentGeometry,
  parseContainer,
  parseHeader,
  quantizeQuality,
  writeContainer,
  HEADER_SIZE,
  type NimgHeader,
} from './format/container.js';
import { decodeAlpha, encodeAlpha, isOpaque } from './format/alpha.js';
import { DEFAULT_LIMITS, checkDimensions, resolveLimits, type Limits } from './limits.js';
import { Abort } from './abort.js';
import { bytesOf, readImage, readOptions } from './validate.js';
import { checkThreads } from './backend/threads.js';
import { checkTimeout } from './timeout.js';

export type { BackendChoice, BackendName } from './model/types.js';
export type { Limits } from './limits.js';

// ------------------------------------------------------------------------------------ types

/** An ImageData-like RGBA image (RGB, 3 bytes per pixel, is accepted by encode too). */
export interface ImageLike {
  width: number;
  height: number;
  data: Uint8ClampedArray | Uint8Array;
}

/** What decode returns: RGBA, 4 bytes per pixel, row-major (the shape of ImageData). */
export interface DecodedImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/*
 * The declarations name WebAssembly.Module, which TypeScript's DOM and WebWorker libraries
 * define and ES + @types/node do not: a Node project compiled with lib ES20xx alone would
 * fail on our .d.ts (TS2503). This empty declaration merges with the DOM's where it is loaded
 * and, where not, lets the name resolve (as an opaque object type) without a shim.
 */
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace WebAssembly {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface Module {}
  }
}

export interface WeightsSource {
  /** the manifest, as JSON text or parsed */
  manifest: string | object;
  /** the .bin bytes */
  bin: Uint8Array;
}

export interface InitOptions {
  /** nimg core: a compiled module (edge workers) or the bytes of nimg-core.wasm. Node: read from the package when absent. */
  wasm?: WebAssembly.Module | ArrayBuffer | ArrayBufferView;
  /** weight set. Node: read from the package (nimg-v1.json + .bin) when absent. */
  weights?: WeightsSource;
  /** compute backend of the float transforms (default 'auto': WebGPU on a hardware adapter, else WASM) */
  backend?: BackendChoice;
  /** resource limits, merged over DEFAULT_LIMITS */
  limits?: Partial<Limits>;
  /** where tfjs-backend-wasm finds its .wasm files (browsers, edge workers; not needed in Node) */
  wasmPaths?: string | Record<string, string>;
  /**
   * tfjs-backend-wasm's binary (`tfjs-backend-wasm-simd.wasm`, or `tfjs-backend-wasm.wasm`
   * without SIMD) already compiled. For runtimes that refuse to compile WASM from bytes
   * (workerd / Cloudflare Workers bind .wasm files as modules): the WASM backend is then
   * instantiated from it instead of fetched and compiled (src/backend/wasm-module.ts).
   */
  tfjsWasmModule?: WebAssembly.Module;
  /** worker threads for the WASM backend (default: cores, at most 8; 1 = none) */
  threads?: number;
  /** tile size of the transforms in pixels (default per backend) */
  tileSize?: number;
  /**
   * Browsers: the script of the WASM tile workers (default: wasm-worker.js beside
   * backend/pool.js, which Vite and webpack bundle themselves; with esbuild, emit
   * src/backend/wasm-worker.ts as an entry and pass its URL, or name it wasm-worker.js
   * beside the bundle).
   */
  workerUrl?: string | URL;
  /**
   * ms that starting the backend and the tile workers may take before init fails with
   * NimgError('TIMEOUT') (default 60000; Infinity: no limit).
   */
  timeoutMs?: number;
  /**
   * Advanced: an already created core (src/core/types.ts `Core`) to use instead of
   * instantiating `wasm`; init calls its setModel. For tests and custom builds.
   */
  core?: Core;
}

export interface EncodeOptions {
  /** 1 (smallest) .. 8 (best), continuous; stored to 1/256. Default 5. */
  quality?: number;
  /**
   * Encoder effort: gradient steps of latent refinement, an integer from 0 (default: g_a's
   * latent as it is) to MAX_REFINE: 2/3 of them on y and z together (src/model/refine-z.ts),
   * the rest on y alone (src/model/refine.ts). Each step runs g_s forward and backward (16 to
   * 46 ms for a 768x512 image on an H100, seconds on a CPU); 75 steps saved 9.0% of the rate
   * at equal PSNR on Kodak, 150 steps 10.6% (bench/results/kodak-rd-refine.json). Files stay
   * standard: any decoder reads them. Results may differ by backend (float arithmetic picks
   * the integers), never their decodability.
   */
  refine?: number;
  /** backend for this call (default: the one init chose) */
  backend?: BackendChoice;
  /** per-call limits, merged over the codec's */
  limits?: Partial<Limits>;
  /** filled with stage timings when given */
  stats?: Partial<EncodeStats>;
  /** stops the encode between stages and tiles → NimgError('ABORTED'); the promise rejects at once */
  signal?: AbortSignal;
  /** time budget in ms from the call (default none): past it the encode stops as on `signal` */
  timeoutMs?: number;
  /**
   * Called as the encode goes: at the start of each stage, and after every refinement step
   * (so a `refine` encode of many seconds can show a progress bar). Exceptions it throws are
   * ignored: a display must not break an encode.
   */
  onProgress?: (progress: EncodeProgress) => void;
}

/** What `EncodeOptions.onProgress` receives. */
export interface EncodeProgress {
  /**
   * 'analysis': g_a and h_a; 'refine': latent refinement; 'coding': entropy coding, alpha
   * and container; 'done': the bytes are ready.
   */
  stage: 'analysis' | 'refine' | 'coding' | 'done';
  /**
   * Progress within the stage, out of `total`. For 'refine', in steps of the `refine`
   * option (the joint phase first, then the y phase); other stages report 0/1, 'done' 1/1.
   */
  done: number;
  total: number;
}

/** Largest `refine` accepted: a bound on encode time (on Kodak, 300 steps of y alone bought only 0.1% over 150). */
export const MAX_REFINE = 2000;

/**
 * Steps of refinement's second phase (y alone) out of `refine`: a third; the joint y and z
 * phase takes the rest (train/refine.py: 2/3 joint then 1/3 y gave 10.8% over the plain
 * encoder at 150 steps, against 10.3% all joint and 8.6% y alone).
 */
export function refineYSteps(refine: number): number {
  return Math.round(refine / 3);
}

export interface DecodeOptions {
  backend?: BackendChoice;
  limits?: Partial<Limits>;
  stats?: Partial<DecodeStats>;
  /** stops the decode between stages and tiles → NimgError('ABORTED'); the promise rejects at once */
  signal?: AbortSignal;
  /** time budget in ms from the call (default none): past it the decode stops as on `signal` */
  timeoutMs?: number;
}

const ENCODE_KEYS = ['quality', 'refine', 'backend', 'limits', 'stats', 'signal', 'timeoutMs', 'onProgress'] as const;
const DECODE_KEYS = ['backend', 'limits', 'stats', 'signal', 'timeoutMs'] as const;
const INIT_KEYS = ['wasm', 'weights', 'backend', 'limits', 'wasmPaths', 'tfjsWasmModule', 'threads', 'tileSize', 'workerUrl', 'timeoutMs', 'core'] as const;

/** `stats` must be an object to fill, when given. */
function checkStats(v: unknown): Record<string, unknown> | undefined {
  if (v === undefined) return undefined;
  if (!v || typeof v !== 'object') throw new NimgError('BAD_INPUT', 'options.stats must be an object to fill');
  return v as Record<string, unknown>;
}

/** Where h_s ran: on the WebGPU device or in the WASM core. */
export type HsPlace = 'webgpu' | 'core';

/** Stage timings of one encode, in milliseconds. */
export interface EncodeStats {
  backend: BackendName;
  /** validation, padding, RGB → planar float */
  preMs: number;
  /** g_a + h_a (float transforms) */
  transformMs: number;
  /** g_a (on WebGPU with one tile: g_a, the gain and h_a, run as one device pass) */
  analysisMs: number;
  /** h_a (0 on WebGPU with one tile: counted in analysisMs) */
  hyperAnalysisMs: number;
  /** quantization, h_s, range coding of z and y */
  entropyMs: number;
  /**
   * h_s alone, part of entropyMs: on the device ('webgpu': upload, dispatch, read-back;
   * overlaps the z stream's coding) or the core's unfused call; 0 when the core runs h_s
   * inside its fused y coding (then it is in entropyMs only)
   */
  hsMs: number;
  /** where h_s ran: 'webgpu' (src/model/gpu-hs.ts) or 'core' (WASM) */
  hs: HsPlace;
  /** latent refinement (0 without the `refine` option) */
  refineMs: number;
  /** alpha stream (0 for opaque images) */
  alphaMs: number;
  /** container writing */
  containerMs: number;
  totalMs: number;
  bytes: number;
  bpp: number;
}

/** Stage timings of one decode, in milliseconds. */
export interface DecodeStats {
  backend: BackendName;
  /** container parsing and checks */
  containerMs: number;
  /** range decoding of z and y, h_s, dequantization */
  entropyMs: number;
  /** h_s alone, part of entropyMs (see EncodeStats.hsMs) */
  hsMs: number;
  /** where h_s ran */
  hs: HsPlace;
  /** g_s (float transform) */
  transformMs: number;
  /** planar float → RGBA, crop, alpha stream */
  postMs: number;
  totalMs: number;
}

export const DEFAULT_QUALITY = 5;

export const DEFAULT_ENCODE_OPTIONS: Readonly<Required<Pick<EncodeOptions, 'quality' | 'refine'>>> = Object.freeze({ quality: DEFAULT_QUALITY, refine: 0 });

function checkRefine(v: unknown): number {
  if (v === undefined) return DEFAULT_ENCODE_OPTIONS.refine;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_REFINE) {
    throw new NimgError('BAD_INPUT', `refine must be an integer from 0 to ${MAX_REFINE}, got ${String(v)}`);
  }
  return v;
}

/** What probe() tells without decoding. */
export interface ProbeInfo {
  format: 'nimg';
  version: number;
  width: number;
  height: number;
  /** the exact quality the file was coded with (multiple of 1/256) */
  quality: number;
  hasAlpha: boolean;
  modelId: string;
  weightsHash: string;
  /** bytes of the file and of each part */
  bytes: { total: number; header: number; z: number; y: number; alpha: number };
  /** bits per pixel of the whole file */
  bpp: number;
  /** derived geometry: padded size, latent [M, h, w], hyper-latent [Nz, hz, wz] */
  padded: { width: number; height: number };
  latent: { h: number; w: number; hz: number; wz: number };
}

export interface ProbeOptions {
  limits?: Partial<Limits>;
  /** only the 68-byte header is needed (no payload length or payload CRC check) */
  headerOnly?: boolean;
}

// ------------------------------------------------------------------------------- helpers

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());


const BACKENDS: readonly BackendChoice[] = ['auto', 'webgpu', 'wasm', 'cpu'];

function checkBackend(b: unknown): BackendChoice {
  if (b === undefined) return 'auto';
  if (typeof b !== 'string' || !BACKENDS.includes(b as BackendChoice)) {
    throw new NimgError('BAD_INPUT', `backend must be one of ${BACKENDS.join(', ')}, got ${JSON.stringify(b)}`);
  }
  return b as BackendChoice;
}

/**
 * Convert anything thrown inside the pipeline into a NimgError. `streamStage`: the failure
 * happened while reading untrusted stream data (→ CORRUPT_STREAM rather than INTERNAL).
 */
export function toNimgError(e: unknown, context: string, streamStage = false): NimgError {
  if (isNimgError(e)) {
    // The container guarantees every declared stream is present: a stream decoder running
    // off its end is inconsistent data (FORMAT.md §3.1), not a short file.
    if (streamStage && e.code === 'TRUNCATED') {
      return new NimgError('CORRUPT_STREAM', `${context}: ${e.message}`, { cause: e });
    }
    return e;
  }
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof RangeError && /alloc|memory|invalid (typed )?array length|array buffer/i.test(msg)) {
    return new NimgError('LIMIT_EXCEEDED', `${context}: out of memory (${msg})`, { cause: e });
  }
  const trap = typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError;
  if (streamStage) return new NimgError('CORRUPT_STREAM', `${context}: ${trap ? 'WASM trap' : 'error'} on stream data (${msg})`, { cause: e });
  return new NimgError('INTERNAL', `${context}: ${trap ? 'WASM trap' : 'unexpected error'} (${msg})`, { cause: e });
}

interface CheckedImage {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
  channels: 3 | 4;
}

function checkImage(image: unknown, limits: Limits): CheckedImage {
  const { width, height, data } = readImage(image) as ImageLike;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new NimgError('BAD_INPUT', `image width and height must be positive integers, got ${String(width)}x${String(height)}`);
  }
  checkDimensions(width, height, limits, 'image');
  if (!(data instanceof Uint8ClampedArray || data instanceof Uint8Array)) {
    throw new NimgError('BAD_INPUT', 'image.data must be a Uint8ClampedArray or Uint8Array (RGBA bytes)');
  }
  const n = width * height;
  let channels: 3 | 4;
  if (data.length === 4 * n) channels = 4;
  else if (data.length === 3 * n) channels = 3;
  else throw new NimgError('BAD_INPUT', `image.data has ${data.length} bytes; ${width}x${height} RGBA needs ${4 * n}`);
  return { width, height, data, channels };
}

/**
 * Gain vector for a continuous quality (weights/README.md): i = floor(q) (7 when q = 8),
 * t = q − i, g = gain[i−1]^(1−t) · gain[i]^t elementwise.
 */
export function interpolateGain(table: Float32Array, levels: number, M: number, q: number): Float32Array {
  let i = Math.floor(q);
  if (i >= levels) i = levels - 1;
  if (i < 1) i = 1;
  const t = q - i;
  const out = new Float32Array(M);
  const a = (i - 1) * M;
  const b = i * M;
  if (t === 0) {
    out.set(table.subarray(a, a + M));
    return out;
  }
  if (t === 1) {
    out.set(table.subarray(b, b + M));
    return out;
  }
  for (let c = 0; c < M; c++) out[c] = Math.pow(table[a + c], 1 - t) * Math.pow(table[b + c], t);
  return out;
}

function gainTable(w: ModelWeights, name: string, levels: number, M: number): Float32Array {
  const t = w.tensors.get(name);
  if (!t) throw new NimgError('MODEL_MISMATCH', `weights lack tensor ${name}`);
  if (t.shape.length !== 2 || t.shape[0] !== levels || t.shape[1] !== M) {
    throw new NimgError('MODEL_MISMATCH', `tensor ${name} has shape [${t.shape}], expected [${levels},${M}]`);
  }
  if (!(t.data instanceof Float32Array)) throw new NimgError('MODEL_MISMATCH', `tensor ${name} must be float`);
  return t.data;
}

/** Serialises the operations of one codec (one WASM core, one tfjs engine). */
class Queue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(f: () => Promise<T>): Promise<T> {
    const p = this.tail.then(f, f);
    this.tail = p.catch(() => {});
    return p;
  }
}

const sameInts = (a: Int32Array, b: Int32Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

// ----------------------------------------------------------------------------------- codec

/** The core contract plus the optional fused paths of the WASM core (src/core/index.ts). */
type FusedCore = Core & {
  encodeLatent?(ys: Float32Array, zhat: Int32Array, hz: number, wz: number): Uint8Array;
  decodeLatent?(bytes: Uint8Array, zhat: Int32Array, hz: number, wz: number, gainDec: Float32Array): Float32Array;
  encodeLatentHs?(ys: Float32Array, hs: Uint32Array): Uint8Array;
  decodeLatentHs?(bytes: Uint8Array, hs: Uint32Array, gainDec: Float32Array): Float32Array;
};

type GpuHs = import('./model/gpu-hs.js').GpuHyperSynthesis;

type TransformFactoryOptions = Pick<InitOptions, 'wasmPaths' | 'tfjsWasmModule' | 'threads' | 'tileSize' | 'workerUrl' | 'timeoutMs'>;

/** Where init() finds the core and weights it was not given: registered by the Node entry. */
export interface DefaultAssets {
  loadCoreWasm(): Promise<WebAssembly.Module | ArrayBuffer | ArrayBufferView>;
  loadWeights(): Promise<WeightsSource>;
}

let defaultAssets: DefaultAssets | null = null;

/**
 * Register (or clear, with null) the default asset loader. src/node/defaults.ts does this on
 * import in Node; this module itself never reads files, so bundles for browsers and edge
 * workers hold no Node code.
 */
export function setDefaultAssets(loader: DefaultAssets | null): void {
  defaultAssets = loader;
}

/**
 * One loaded model: WASM core + weights + transforms per backend. The module-level functions
 * (init/encode/decode) use a default instance; create more with `NimgCodec.create`.
 */
export class NimgCodec {
  private readonly transforms = new Map<BackendChoice, Promise<Transforms>>();
  /** the WebGPU h_s, made on first use on that backend (null: unusable, the core runs h_s) */
  private gpuHs: Promise<GpuHs | null> | null = null;
  private joint: Promise<import('./model/refine-z.js').JointModel> | null = null;
  private readonly queue = new Queue();
  private disposed = false;
  readonly modelId: string;
  readonly weightsHash: string;
  readonly levels: number;
  readonly M: number;
  readonly Nz: number;
  readonly stride: number;
  private readonly gainEnc: Float32Array;
  private readonly gainDec: Float32Array;

  private constructor(
    private readonly core: FusedCore,
    readonly weights: ModelWeights,
    public limits: Limits,
    public defaultBackend: BackendChoice,
    private readonly tfOpts: TransformFactoryOptions,
  ) {
    const m = weights.manifest;
    this.modelId = m.model_id;
    this.weightsHash = weights.hash;
    this.levels = m.quality?.levels ?? 8;
    this.M = m.arch.M;
    this.Nz = m.arch.Nz;
    this.stride = m.arch.stride;
    if (this.stride !== 64) throw new NimgError('MODEL_MISMATCH', `arch.stride ${this.stride}: container v1 assumes 64`);
    if (!(Number.isInteger(this.levels) && this.levels >= 2)) throw new NimgError('MODEL_MISMATCH', `quality.levels ${this.levels} must be >= 2`);
    this.gainEnc = gainTable(weights, 'gain.enc', this.levels, this.M);
    this.gainDec = gainTable(weights, 'gain.dec', this.levels, this.M);
  }

  /** Load the core, the weights and the default backend. */
  static async create(opts: InitOptions = {}): Promise<NimgCodec> {
    let options: InitOptions, backend: BackendChoice, limits: Limits;
    try {
      options = readOptions(opts, 'init options', INIT_KEYS) as InitOptions;
      backend = checkBackend(options.backend);
      limits = resolveLimits(options.limits);
      checkThreads(options.threads);
    } catch (e) {
      return Promise.reject(toNimgError(e, 'init'));
    }
    let { wasm, weights } = options;
    try {
      if ((wasm === undefined && !options.core) || weights === undefined) {
        const loader = defaultAssets;
        if (!loader) {
          throw new NimgError(
            'NOT_INITIALIZED',
            'no default assets here: call init({ wasm, weights: { manifest, bin } }) with the nimg core module and the weight files first (Node gets them from the package entry under the "node" condition, or from nimg/node)',
          );
        }
        if (wasm === undefined && !options.core) wasm = await loader.loadCoreWasm();
        if (weights === undefined) weights = await loader.loadWeights();
      }
      if (!weights || typeof weights !== 'object' || !(weights.bin instanceof Uint8Array) || weights.manifest == null) {
        throw new NimgError('BAD_INPUT', 'weights must be { manifest: string | object, bin: Uint8Array }');
      }
      const [{ parseWeights }, { coreModelFromWeights }] = await Promise.all([import('./model/weights.js'), import('./core/model.js')]);
      const parsed = await parseWeights(weights.manifest, weights.bin);
      let core: FusedCore | undefined = options.core;
      if (!core) {
        const { createCore } = await import('./core/index.js');
        core = await createCore(wasm);
      }
      core.setModel(coreModelFromWeights(parsed));
      const codec = new NimgCodec(core, parsed, limits, backend, {
        wasmPaths: options.wasmPaths,
        tfjsWasmModule: options.tfjsWasmModule,
        threads: options.threads,
        tileSize: options.tileSize,
        workerUrl: options.workerUrl,
        timeoutMs: checkTimeout(options.timeoutMs, 'timeoutMs'),
      });
      await codec.transformsFor(backend);
      return codec;
    } catch (e) {
      throw toNimgError(e, 'init');
    }
  }

  /** The transforms of a backend, created on first use. */
  transformsFor(choice: BackendChoice = this.defaultBackend): Promise<Transforms> {
    if (this.disposed) return Promise.reject(new NimgError('NOT_INITIALIZED', 'this codec was disposed'));
    let p = this.transforms.get(choice);
    if (!p) {
      p = (async () => {
        const { createTransforms } = await import('./model/transforms.js');
        const t = await createTransforms(this.weights, { ...this.tfOpts, backend: choice });
        if (choice === 'auto' && !this.transforms.has(t.backend)) this.transforms.set(t.backend, Promise.resolve(t));
        // WebGPU: compile the device h_s and run its check against the core now rather than
        // in the first call's entropy stage (never fails: a problem leaves h_s in the core)
        if (t.backend === 'webgpu') void this.gpuHsFor(t, 1, 1);
        return t;
      })();
      this.transforms.set(choice, p);
      p.catch(() => {
        if (this.transforms.get(choice) === p) this.transforms.delete(choice);
      });
    }
    return p;
  }

  private callLimits(user?: Partial<Limits>): Limits {
    return user === undefined ? this.limits : resolveLimits(user, this.limits);
  }

  /**
   * The WebGPU h_s for a call on `tf`, or null (other backend, model outside its exact range,
   * device trouble, or it once disagreed with the core). Before first use it is run on a
   * fixed zhat (every value from -255 to 255, 2x3 cells) and must equal the core's h_s
   * exactly: a device that computes differently must never code symbols.
   */
  private gpuHsFor(tf: Transforms, hz: number, wz: number): Promise<GpuHs | null> {
    if (tf.backend !== 'webgpu') return Promise.resolve(null);
    this.gpuHs ??= (async () => {
      const [{ GpuHyperSynthesis, webgpuDevice, unpackHs }, { coreModelFromWeights }] = await Promise.all([import('./model/gpu-hs.js'), import('./core/model.js')]);
      const device = await webgpuDevice();
      if (!device) return null;
      const model = coreModelFromWeights(this.weights);
      const hs = await GpuHyperSynthesis.create(device, model);
      if (!hs) return null;
      const n = this.Nz * 6;
      const z = Int32Array.from({ length: n }, (_, i) => ((i * 211) % 511) - 255);
      const got = unpackHs(await hs.run(z, 2, 3));
      const ref = this.core.hyperSynthesis(z, 2, 3);
      if (!(sameInts(got.muQ, ref.muQ) && sameInts(got.idx, ref.idx))) {
        hs.dispose();
        return null;
      }
      return hs;
    })().catch(() => null);
    return this.gpuHs.then((hs) => (hs && hs.fits(hz, wz) ? hs : null));
  }

  /** The integer h_s, z tables and scales that refinement's joint phase differentiates (built once). */
  private jointModel(): Promise<import('./model/refine-z.js').JointModel> {
    this.joint ??= import('./core/model.js').then(({ coreModelFromWeights }) => {
      return { ...coreModelFromWeights(this.weights), scales: this.scaleTable() };
    });
    return this.joint;
  }

  /** The manifest's scale table, checked (MODEL_MISMATCH unless num_scales positive numbers). */
  private scaleTable(): number[] {
    const scales = this.weights.manifest.entropy.scales;
    const n = this.weights.manifest.entropy.num_scales;
    if (!Array.isArray(scales) || scales.length !== n || !scales.every((v) => typeof v === 'number' && v > 0)) {
      throw new NimgError('MODEL_MISMATCH', `entropy.scales must be ${n} positive numbers`);
    }
    return scales;
  }

  /** Gaussian means of the latent: muQ / 2^mean_frac_bits (exact in float32). */
  private meansOf(muQ: Int32Array): Float32Array {
    const sc = Math.pow(2, -this.weights.manifest.entropy.mean_frac_bits);
    const out = new Float32Array(muQ.length);
    for (let i = 0; i < muQ.length; i++) out[i] = muQ[i] * sc;
    return out;
  }

  /** Gaussian scales of the latent: the scale of each element's table. */
  private scalesOf(idx: Int32Array): Float32Array {
    const scales = this.scaleTable();
    const out = new Float32Array(idx.length);
    for (let i = 0; i < idx.length; i++) out[i] = scales[idx[i]];
    return out;
  }

  /**
   * The training lambda of a continuous quality: log-linear between the two neighbouring
   * levels (as train/model.py lambda_of), so refinement trades rate for distortion at the
   * slope the gains were trained for.
   */
  lambdaAt(q: number): number {
    const l = this.weights.manifest.quality?.lambdas;
    if (!Array.isArray(l) || l.length !== this.levels || !l.every((v) => typeof v === 'number' && v > 0)) {
      throw new NimgError('MODEL_MISMATCH', `quality.lambdas must be ${this.levels} positive numbers`);
    }
    const i = Math.min(this.levels - 1, Math.max(1, Math.floor(q)));
    const t = q - i;
    return Math.exp(Math.log(l[i - 1]) * (1 - t) + Math.log(l[i]) * t);
  }

  /** A GPU h_s call failed: stop using it (this codec falls back to the core for good). */
  private dropGpuHs(): null {
    const p = this.gpuHs;
    this.gpuHs = Promise.resolve(null);
    p?.then((hs) => hs?.dispose(), () => {});
    return null;
  }

  /** Encode an RGBA (or RGB) image. */
  encode(image: ImageLike, options: EncodeOptions = {}): Promise<Uint8Array> {
    return this.encodeWithStats(image, options).then((r) => r.bytes);
  }

  async encodeWithStats(image: ImageLike, opts: EncodeOptions = {}): Promise<{ bytes: Uint8Array; stats: EncodeStats }> {
    const t0 = now();
    let img: CheckedImage;
    let quality: number;
    let backend: BackendChoice;
    let refine: number;
    let options: EncodeOptions;
    let abort: Abort | null;
    try {
      options = readOptions(opts, 'encode options', ENCODE_KEYS) as EncodeOptions;
      checkStats(options.stats);
      abort = Abort.from(options.signal, options.timeoutMs, 'encode');
      img = checkImage(image, this.callLimits(options.limits));
      refine = checkRefine(options.refine);
      quality = quantizeQuality(options.quality ?? DEFAULT_QUALITY);
      backend = options.backend === undefined ? this.defaultBackend : checkBackend(options.backend);
    } catch (e) {
      throw toNimgError(e, 'encode');
    }
    const report = (stage: EncodeProgress['stage'], done: number, total: number) => {
      try {
        options.onProgress?.({ stage, done, total });
      } catch {
        /* ignored: see EncodeOptions.onProgress */
      }
    };
    const job = this.queue.run(async () => {
      try {
        abort?.check('the start of the encode');
        const tf = await this.transformsFor(backend);
        report('analysis', 0, 1);
        const t1 = now();
        const core = this.core;
        const { width, height, data, channels } = img;
        // the caller's pixels are read from here on: a buffer detached or resized while the
        // call waited in the queue is the caller's error, not a trap in the core
        if (data.length !== width * height * channels) {
          throw new NimgError('BAD_INPUT', `image.data changed size (now ${data.length} bytes) between the encode call and its start`);
        }
        const g = latentGeometry(width, height, this.stride);
        const gEnc = interpolateGain(this.gainEnc, this.levels, this.M, quality);
        // WebGPU, one tile: RGBA bytes uploaded as they are, toPlanar, g_a, the gain and h_a
        // in one device pass (no CPU round trip of y); reported as analysisMs, hyperAnalysisMs 0.
        const gpu = tf.backend === 'webgpu';
        let x: Float32Array | null = null;
        let fused: { ys: Float32Array; z: Float32Array } | undefined;
        let t2 = now();
        if (gpu && channels === 4 && tf.analysisHyperRgba) fused = await tf.analysisHyperRgba(data, width, height, g.padW, g.padH, gEnc);
        if (!fused) {
          x = core.toPlanar(data, width, height, channels, g.padW, g.padH);
          t2 = now();
          if (gpu && tf.analysisHyper) fused = await tf.analysisHyper(x, g.padH, g.padW, gEnc);
        }
        const hw = g.h * g.w;
        let ys: Float32Array, z: Float32Array, t3: number, t4: number;
        if (fused) {
          ({ ys, z } = fused);
          t3 = t4 = now();
          if (ys.length !== this.M * hw) throw new NimgError('INTERNAL', `analysis returned ${ys.length} values, expected ${this.M * hw}`);
        } else {
          const y = await tf.analysis(x as Float32Array, g.padH, g.padW, abort ?? undefined);
          t3 = now();
          if (y.length !== this.M * hw) throw new NimgError('INTERNAL', `analysis returned ${y.length} values, expected ${this.M * hw}`);
          for (let c = 0; c < this.M; c++) {
            const gc = gEnc[c];
            for (let i = c * hw, e = i + hw; i < e; i++) y[i] *= gc;
          }
          ys = y;
          t4 = now();
          abort?.check('hyper-analysis');
          z = await tf.hyperAnalysis(ys, g.h, g.w, abort ?? undefined);
        }
        const t5 = now();
        abort?.check('entropy coding');
        let zhat = core.quantizeZ(z);
        // refinement, phase 1 (src/model/refine-z.ts): y and z together, 2/3 of the steps;
        // z is final after it, so h_s and the z stream follow it
        let refineMs = 0;
        let xFull = x;
        const gainDec = refine > 0 ? interpolateGain(this.gainDec, this.levels, this.M, quality) : null;
        // refinement progress in steps of `refine`: each phase's tile steps scaled to its share
        const jointSteps = refine - refineYSteps(refine);
        const phaseProgress = (offset: number, steps: number) => (done: number, total: number) =>
          report('refine', Math.min(refine, Math.round(offset + (steps * done) / total)), refine);
        if (refine > 0) {
          report('refine', 0, refine);
          if (!tf.refine || !tf.refineJoint) throw new NimgError('BACKEND_UNAVAILABLE', `the ${tf.backend} transforms cannot refine latents`);
          xFull ??= core.toPlanar(data, width, height, channels, g.padW, g.padH);
          abort?.check('refinement');
          const tr = now();
          const j = await tf.refineJoint(await this.jointModel(), {
            x: xFull,
            width,
            height,
            h: g.h,
            w: g.w,
            ys,
            z,
            gainDec: gainDec as Float32Array,
            lambda: this.lambdaAt(quality),
            iterations: jointSteps,
            onStep: phaseProgress(0, jointSteps),
          });
          zhat = j.z;
          ys = j.ys;
          refineMs = now() - tr;
        }
        // WebGPU: h_s on the device, issued before the z stream is coded so the two overlap
        if (refine === 0) report('coding', 0, 1);
        const gpuHs = await this.gpuHsFor(tf, g.hz, g.wz);
        const th0 = now();
        const hsJob = gpuHs ? gpuHs.run(zhat, g.hz, g.wz).catch(() => this.dropGpuHs()) : null;
        const zBytes = core.encodeZ(zhat, g.hz * g.wz);
        const packed = hsJob ? await hsJob : null;
        let hsMs = packed ? now() - th0 : 0;
        let yBytes: Uint8Array;
        if (refine > 0 && tf.refine) {
          // refinement, phase 2 (src/model/refine.ts): y alone under the exact means and
          // scales of the final z, from phase 1's latent
          const th = now();
          const { muQ, idx } = packed ? (await import('./model/gpu-hs.js')).unpackHs(packed) : core.hyperSynthesis(zhat, g.hz, g.wz);
          if (!packed) hsMs = now() - th;
          const tr = now();
          const ny = refineYSteps(refine);
          abort?.check('refinement of y');
          const r = ny === 0 ? ys : (await tf.refine({
            x: xFull as Float32Array,
            width,
            height,
            h: g.h,
            w: g.w,
            ys,
            mu: this.meansOf(muQ),
            sigma: this.scalesOf(idx),
            gainDec: gainDec as Float32Array,
            lambda: this.lambdaAt(quality),
            iterations: ny,
            onStep: phaseProgress(jointSteps, ny),
          })).ys;
          refineMs += now() - tr;
          yBytes = core.encodeY(core.quantizeLatent(r, muQ), idx);
        } else if (packed) {
          if (core.encodeLatentHs) yBytes = core.encodeLatentHs(ys, packed);
          else {
            const { muQ, idx } = (await import('./model/gpu-hs.js')).unpackHs(packed);
            yBytes = core.encodeY(core.quantizeLatent(ys, muQ), idx);
          }
        } else if (core.encodeLatent) {
          yBytes = core.encodeLatent(ys, zhat, g.hz, g.wz); // fused: intermediates stay in WASM
        } else {
          const th = now();
          const { muQ, idx } = core.hyperSynthesis(zhat, g.hz, g.wz);
          hsMs = now() - th;
          yBytes = core.encodeY(core.quantizeLatent(ys, muQ), idx);
        }
        if (refine > 0) report('coding', 0, 1);
        const t6 = now();
        abort?.check('the alpha stream');
        const alpha = channels === 4 && !isOpaque(data, 4) ? await encodeAlpha(data, width, height) : null;
        const t7 = now();
        const bytes = writeContainer({
          width,
          height,
          quality,
          modelId: this.modelId,
          weightsHash: this.weightsHash,
          z: zBytes,
          y: yBytes,
          alpha,
        });
        const t8 = now();
        const stats: EncodeStats = {
          backend: tf.backend,
          preMs: t1 - t0 + (t2 - t1),
          transformMs: t3 - t2 + (t5 - t4),
          analysisMs: t3 - t2,
          hyperAnalysisMs: t5 - t4,
          entropyMs: t4 - t3 + (t6 - t5) - refineMs,
          refineMs,
          hsMs,
          hs: packed ? 'webgpu' : 'core',
          alphaMs: t7 - t6,
          containerMs: t8 - t7,
          totalMs: t8 - t0,
          bytes: bytes.length,
          bpp: (bytes.length * 8) / (width * height),
        };
        if (options.stats) Object.assign(options.stats, stats);
        lastStats.encode = stats;
        report('done', 1, 1);
        return { bytes, stats };
      } catch (e) {
        throw toNimgError(e, 'encode');
      }
    });
    return abort ? abort.race(job) : job;
  }

  /** Decode a .nimg file to RGBA. */
  decode(bytes: Uint8Array | ArrayBuffer, options: DecodeOptions = {}): Promise<DecodedImage> {
    return this.decodeWithStats(bytes, options).then((r) => r.image);
  }

  async decodeWithStats(bytes: Uint8Array | ArrayBuffer, opts: DecodeOptions = {}): Promise<{ image: DecodedImage; stats: DecodeStats }> {
    const t0 = now();
    let file: ReturnType<typeof parseContainer>;
    let backend: BackendChoice;
    let options: DecodeOptions;
    let abort: Abort | null;
    try {
      options = readOptions(opts, 'decode options', DECODE_KEYS) as DecodeOptions;
      checkStats(options.stats);
      abort = Abort.from(options.signal, options.timeoutMs, 'decode');
      backend = options.backend === undefined ? this.defaultBackend : checkBackend(options.backend);
      const parsed = parseContainer(bytesOf(bytes, 'decode'), {
        limits: this.callLimits(options.limits),
        expect: { modelId: this.modelId, weightsHash: this.weightsHash },
      });
      // The streams are decoded later, from the queue: copy what the CRC just checked, so a
      // caller changing (or detaching) its buffer meanwhile changes nothing. The payload is
      // small next to the image it decodes to (≤ limits.maxFileBytes).
      file = { header: parsed.header, z: parsed.z.slice(), y: parsed.y.slice(), alpha: parsed.alpha && parsed.alpha.slice() };
    } catch (e) {
      throw toNimgError(e, 'decode');
    }
    const job = this.queue.run(async () => {
      let stage = 'decode';
      let streamStage = false;
      try {
        abort?.check('the start of the decode');
        stage = 'decode: backend';
        const tf = await this.transformsFor(backend);
        const t1 = now();
        const { header, z, y, alpha } = file;
        const { width, height } = header;
        const g = latentGeometry(width, height, this.stride);
        const core = this.core;
        stage = 'decode: entropy';
        streamStage = true;
        const gDec = interpolateGain(this.gainDec, this.levels, this.M, header.quality);
        const zhat = core.decodeZ(z, g.hz * g.wz);
        // WebGPU: h_s on the device (a failure there falls back to the core's h_s)
        const gpuHs = await this.gpuHsFor(tf, g.hz, g.wz);
        const th0 = now();
        const packed = gpuHs ? await gpuHs.run(zhat, g.hz, g.wz).catch(() => this.dropGpuHs()) : null;
        let hsMs = packed ? now() - th0 : 0;
        let yhat: Float32Array;
        if (packed) {
          if (core.decodeLatentHs) yhat = core.decodeLatentHs(y, packed, gDec);
          else {
            const { muQ, idx } = (await import('./model/gpu-hs.js')).unpackHs(packed);
            yhat = core.dequantizeLatent(core.decodeY(y, idx), muQ, gDec, this.M, g.h * g.w);
          }
        } else if (core.decodeLatent) {
          yhat = core.decodeLatent(y, zhat, g.hz, g.wz, gDec); // fused: intermediates stay in WASM
        } else {
          const th = now();
          const { muQ, idx } = core.hyperSynthesis(zhat, g.hz, g.wz);
          hsMs = now() - th;
          yhat = core.dequantizeLatent(core.decodeY(y, idx), muQ, gDec, this.M, g.h * g.w);
        }
        streamStage = false;
        const t2 = now();
        stage = 'decode: synthesis';
        abort?.check('synthesis');
        // WebGPU, one tile: the RGBA8 conversion runs on the device (a quarter of the read-back)
        const fusedRgba = tf.backend === 'webgpu' && tf.synthesisRgba ? await tf.synthesisRgba(yhat, g.h, g.w, width, height) : undefined;
        const xr = fusedRgba ? null : await tf.synthesis(yhat, g.h, g.w, abort ?? undefined);
        const t3 = now();
        stage = 'decode: post-processing';
        const rgba = fusedRgba ?? core.toRgba(xr as Float32Array, g.padW, g.padH, width, height);
        if (alpha) {
          abort?.check('the alpha stream');
          streamStage = true;
          stage = 'decode: alpha';
          const plane = await decodeAlpha(alpha, width, height);
          for (let i = 0, n = width * height; i < n; i++) rgba[4 * i + 3] = plane[i];
        }
        const t4 = now();
        const stats: DecodeStats = {
          backend: tf.backend,
          containerMs: t1 - t0,
          entropyMs: t2 - t1,
          hsMs,
          hs: packed ? 'webgpu' : 'core',
          transformMs: t3 - t2,
          postMs: t4 - t3,
          totalMs: t4 - t0,
        };
        if (options.stats) Object.assign(options.stats, stats);
        lastStats.decode = stats;
        return { image: { width, height, data: rgba }, stats };
      } catch (e) {
        throw toNimgError(e, stage, streamStage);
      }
    });
    return abort ? abort.race(job) : job;
  }

  /** Header information of a .nimg file (static: needs no model). */
  probe(bytes: Uint8Array | ArrayBuffer, options: ProbeOptions = {}): ProbeInfo {
    let o: ProbeOptions;
    try {
      o = readOptions(options, 'probe options', ['limits', 'headerOnly'] as const) as ProbeOptions;
    } catch (e) {
      throw toNimgError(e, 'probe');
    }
    return probe(bytes, { ...o, limits: resolveLimits(o.limits, this.limits) });
  }

  /** Release the transforms (GPU buffers, worker threads). */
  dispose(): void {
    this.disposed = true;
    this.dropGpuHs();
    for (const p of this.transforms.values()) p.then((t) => t.dispose(), () => {});
    this.transforms.clear();
  }
}

// ------------------------------------------------------------------------ module-level API

let defaultCodec: Promise<NimgCodec> | null = null;
const lastStats: { encode?: EncodeStats; decode?: DecodeStats } = {};

/**
 * Load the WASM core, the weights and the backend (idempotent). A later call with `wasm` or
 * `weights` replaces the model; with only `backend`, it prepares that backend too and makes
 * it the default; with `limits`, it replaces the limits. Resolves to the backend in use.
 */
export async function init(options: InitOptions = {}): Promise<BackendName> {
  let opts: InitOptions;
  try {
    opts = readOptions(options, 'init options', INIT_KEYS) as InitOptions;
    if (opts.limits !== undefined) resolveLimits(opts.limits);
    checkThreads(opts.threads);
  } catch (e) {
    throw toNimgError(e, 'init');
  }
  if (defaultCodec && opts.wasm === undefined && opts.weights === undefined && opts.core === undefined) {
    const codec = await defaultCodec;
    if (opts.limits !== undefined) codec.limits = resolveLimits(opts.limits);
    if (opts.backend !== undefined) {
      const b = checkBackend(opts.backend);
      const t = await codec.transformsFor(b).catch((e) => Promise.reject(toNimgError(e, 'init')));
      codec.defaultBackend = b;
      return t.backend;
    }
    return (await codec.transformsFor()).backend;
  }
  const previous = defaultCodec;
  const p = NimgCodec.create(opts);
  defaultCodec = p;
  try {
    const codec = await p;
    if (previous) previous.then((c) => c.dispose(), () => {});
    return (await codec.transformsFor()).backend;
  } catch (e) {
    if (defaultCodec === p) defaultCodec = previous;
    throw e;
  }
}

/** The default codec, initialising it with the defaults (Node only) when needed. */
export async function getCodec(): Promise<NimgCodec> {
  if (!defaultCodec) await init();
  return defaultCodec as Promise<NimgCodec>;
}

/** Encode an ImageData-like RGBA image to .nimg bytes. */
export async function encode(image: ImageLike, options: EncodeOptions = {}): Promise<Uint8Array> {
  return (await getCodec()).encode(image, options);
}

/** Encode and return the stage timings. */
export async function encodeWithStats(image: ImageLike, options: EncodeOptions = {}): Promise<{ bytes: Uint8Array; stats: EncodeStats }> {
  return (await getCodec()).encodeWithStats(image, options);
}

/** Decode .nimg bytes to an ImageData-like RGBA image. */
export async function decode(bytes: Uint8Array | ArrayBuffer, options: DecodeOptions = {}): Promise<DecodedImage> {
  return (await getCodec()).decode(bytes, options);
}

/** Decode and return the stage timings. */
export async function decodeWithStats(bytes: Uint8Array | ArrayBuffer, options: DecodeOptions = {}): Promise<{ image: DecodedImage; stats: DecodeStats }> {
  return (await getCodec()).decodeWithStats(bytes, options);
}

/** Stage timings of the last encode and decode of this module (any codec instance). */
export function lastTimings(): { encode?: EncodeStats; decode?: DecodeStats } {
  return { encode: lastStats.encode && { ...lastStats.encode }, decode: lastStats.decode && { ...lastStats.decode } };
}

/**
 * Header information of a .nimg file, synchronously and without a model: validates the
 * header and (unless `headerOnly`) the payload length and CRC. Throws NimgError.
 */
export function probe(bytes: Uint8Array | ArrayBuffer, opts: ProbeOptions = {}): ProbeInfo {
  let h: NimgHeader;
  try {
    const options = readOptions(opts, 'probe options', ['limits', 'headerOnly'] as const) as ProbeOptions;
    const limits = options.limits === undefined ? DEFAULT_LIMITS : resolveLimits(options.limits);
    const b = bytesOf(bytes, 'probe');
    h = options.headerOnly ? parseHeader(b, { limits }) : parseContainer(b, { limits }).header;
  } catch (e) {
    throw toNimgError(e, 'probe');
  }
  const g = latentGeometry(h.width, h.height);
  return {
    format: 'nimg',
    version: h.version,
    width: h.width,
    height: h.height,
    quality: h.quality,
    hasAlpha: h.hasAlpha,
    modelId: h.modelId,
    weightsHash: h.weightsHash,
    bytes: { total: h.fileLength, header: HEADER_SIZE, z: h.zLength, y: h.yLength, alpha: h.alphaLength },
    bpp: (h.fileLength * 8) / (h.width * h.height),
    padded: { width: g.padW, height: g.padH },
    latent: { h: g.h, w: g.w, hz: g.hz, wz: g.wz },
  };
}

/** Release the default codec (its transforms, GPU buffers and worker threads). */
export async function dispose(): Promise<void> {
  const p = defaultCodec;
  defaultCodec = null;
  if (p) (await p.catch(() => null))?.dispose();
}
