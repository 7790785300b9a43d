/**
 * The public types of nimg's API (init / encode / decode / probe), shared by the dispatcher
 * (src/codec.ts) and the two profiles (src/profiles/amortized/, src/profiles/perimage/).
 * src/codec.ts re-exports all of them: import them from there (or from the package).
 */
import type { BackendChoice, BackendName } from './model/types.js';
import type { Limits } from './limits.js';
import type { Core } from './core/types.js';

export type { BackendChoice, BackendName } from './model/types.js';
export type { Limits } from './limits.js';

/**
 * The coding profiles (FORMAT.md §9): 'amortized' (container v1: one trained network for
 * every image, fast to encode anywhere, needs the 6.6 MB weights to decode) and 'perimage'
 * (container v2: a small decoder learnt for each image and sent in the file; the encode takes
 * thousands of gradient steps, a GPU's work; the decode needs only the core).
 */
export type ProfileName = 'amortized' | 'perimage';


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
  /**
   * Which coding profile writes the file: 'amortized' (default; container v1) or 'perimage'
   * (container v2, a decoder learnt for this image; needs a GPU in practice: see `backend`).
   */
  profile?: ProfileName;
  /** 1 (smallest) .. 8 (best), continuous; stored to 1/256. Default 5. Same scale in both profiles. */
  quality?: number;
  /**
   * 'perimage' only: encoder effort, a number in (0, 1], the share of the default number of
   * optimisation steps (PERIMAGE_DEFAULT_STEPS = 8000) to run: steps = max(1, round(effort ×
   * 8000)). Default 1. Fewer steps encode proportionally faster and cost rate at equal
   * quality. (The amortized profile's effort is `refine`.)
   */
  effort?: number;
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
  /**
   * backend for this call (default: the one init chose). 'perimage': 'auto' needs a hardware
   * WebGPU adapter and is refused without one (BACKEND_UNAVAILABLE, naming the estimated CPU
   * time); pass 'wasm' (or 'cpu') to run the optimisation on the CPU anyway.
   */
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
   * 'analysis': g_a and h_a; 'refine': latent refinement; 'optimize' (perimage): the
   * per-image optimisation; 'coding': entropy coding (perimage: parameter quantization
   * first), alpha and container; 'done': the bytes are ready.
   */
  stage: 'analysis' | 'refine' | 'optimize' | 'coding' | 'done';
  /**
   * Progress within the stage, out of `total`. For 'refine', in steps of the `refine`
   * option (the joint phase first, then the y phase); for 'optimize', in optimisation steps
   * (reported about every 1/200 of them, at most every 50); for a perimage 'coding', one unit
   * per quantized parameter tensor and a last one for the entropy coding; other stages report
   * 0/1, 'done' 1/1.
   */
  done: number;
  total: number;
}

export interface DecodeOptions {
  /**
   * The float transforms' backend (default: the codec's). A version-2 (perimage) file
   * decodes in the WASM core on the CPU unless this is 'webgpu': then its upsampling and
   * synthesis run on WebGPU (the entropy path stays in the core), and no WebGPU here is
   * NimgError('BACKEND_UNAVAILABLE'), never a fallback; images over 4 194 240 pixels are
   * LIMIT_EXCEEDED there.
   */
  backend?: BackendChoice;
  limits?: Partial<Limits>;
  stats?: Partial<DecodeStats>;
  /** stops the decode between stages and tiles → NimgError('ABORTED'); the promise rejects at once */
  signal?: AbortSignal;
  /** time budget in ms from the call (default none): past it the decode stops as on `signal` */
  timeoutMs?: number;
}

/** Where h_s ran: on the WebGPU device or in the WASM core. */
export type HsPlace = 'webgpu' | 'core';

/**
 * Stage timings of one encode, in milliseconds. The amortized profile's stages; a perimage
 * encode reports its own in the optional fields and 0 in those it has no stage for
 * (analysisMs, hyperAnalysisMs, hsMs, refineMs; transformMs is its optimisation).
 */
export interface EncodeStats {
  /** the profile that wrote the file */
  profile: ProfileName;
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
  /** perimage: optimisation steps run (from `effort`) */
  steps?: number;
  /** perimage: the gradient steps (also in transformMs) */
  optimizeMs?: number;
  /** perimage: quantization of the parameters and latents (exponent search) */
  quantizeMs?: number;
  /** perimage: bytes of the params section (the decoder) and of the latent stream */
  paramsBytes?: number;
  latentBytes?: number;
}

/**
 * Stage timings of one decode, in milliseconds. perimage: entropyMs is the params section
 * and the latent stream (rANS with the integer context model, ARM; split in paramsMs and
 * latentMs), transformMs the upsampling and the synthesis network, both in the core
 * (backend 'wasm'; the core interleaves the two band by band, so one number covers both:
 * bench/perimage-decode.ts splits them with an extra upsampling-only pass), hsMs 0.
 */
export interface DecodeStats {
  /** the profile of the file */
  profile: ProfileName;
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
  /** perimage: the params section's part of entropyMs */
  paramsMs?: number;
  /** perimage: the latent stream's part of entropyMs (context model + rANS) */
  latentMs?: number;
}

/** What probe() tells without decoding. */
export type ProbeInfo = AmortizedProbeInfo | PerImageProbeInfo;

/** What probe() tells of every file. */
export interface ProbeInfoBase {
  format: 'nimg';
  /** container version: 1 (amortized) or 2 (perimage) */
  version: number;
  profile: ProfileName;
  width: number;
  height: number;
  /** the exact quality the file was coded with (multiple of 1/256) */
  quality: number;
  hasAlpha: boolean;
  /** bits per pixel of the whole file */
  bpp: number;
}

/** probe() of a version-1 (amortized) file. */
export interface AmortizedProbeInfo extends ProbeInfoBase {
  profile: 'amortized';
  modelId: string;
  weightsHash: string;
  /** bytes of the file and of each part */
  bytes: { total: number; header: number; z: number; y: number; alpha: number };
  /** derived geometry: padded size, latent [M, h, w], hyper-latent [Nz, hz, wz] */
  padded: { width: number; height: number };
  latent: { h: number; w: number; hz: number; wz: number };
}

/** The decoder a version-2 file carries (FORMAT.md §9.3), as probe() reads it. */
export interface PerImageArchInfo {
  /** latent grids, finest first at the image size */
  grids: number;
  /** context model: neighbours, hidden layers, hidden width */
  context: number;
  armLayers: number;
  armWidth: number;
  /** synthesis layers, e.g. '1x1 7→24 relu' */
  synthesis: string[];
  /** parameters the params section codes */
  parameters: number;
  /** decoder multiply-adds per pixel (context model per latent + synthesis), ≤ 4096 */
  macsPerPixel: number;
}

/** probe() of a version-2 (perimage) file. */
export interface PerImageProbeInfo extends ProbeInfoBase {
  profile: 'perimage';
  /** bytes of the file and of each part */
  bytes: { total: number; header: number; params: number; latents: number; alpha: number };
  /**
   * the latent stream's scale set (header flag FINE_SCALES): 'fine' reaches log2 b = −5
   * (what the encoder writes by default), 'base' stops at −3 (FORMAT.md §9.2 "Table choice")
   */
  scales: 'base' | 'fine';
  /** the decoder in the file (read from its architecture bytes; the header-only probe has none) */
  arch?: PerImageArchInfo;
}

export interface ProbeOptions {
  limits?: Partial<Limits>;
  /**
   * only the header is needed (68 bytes in v1, 48 in v2; no payload length or payload CRC
   * check; a v2 file's `arch` is then absent)
   */
  headerOnly?: boolean;
}

