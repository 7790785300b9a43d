/**
 * Messages between the page (worker/index.ts) and the decoder worker (worker/decoder-worker.ts).
 * Everything here survives structured clone; pixel buffers and bitmaps are transferred.
 */
import type { NimgErrorCode } from '../errors.js';
import type { BackendChoice, BackendName, DecodeStats, Limits } from '../codec.js';
import type { ProfileName } from '../api-types.js';

/** Where an asset comes from: a URL to fetch, or the bytes (or compiled module) themselves. */
export type AssetSource = string | URL | ArrayBuffer | Uint8Array;

/** The settings the worker needs to load nimg (all optional: the defaults sit beside the package's modules). */
export interface WorkerInitSettings {
  /** nimg core: URL of nimg-core.wasm, its bytes, or a compiled module (default: ../nimg-core.wasm beside this module) */
  wasm?: string | ArrayBuffer | Uint8Array | WebAssembly.Module;
  /** weights: URLs (or contents) of the manifest and .bin (default: ../weights/nimg-v1.json and ../weights/nimg-v1.bin) */
  weights?: { manifest: string | object; bin: AssetSource };
  backend?: BackendChoice;
  /** where tfjs-backend-wasm finds its .wasm files (default: tfjs's own, the worker script's folder) */
  wasmPaths?: string | Record<string, string>;
  /** WASM tile workers started from the decoder worker (default: cores, at most 4) */
  threads?: number;
  tileSize?: number;
  /** script of the WASM tile workers (default: backend/wasm-worker.js beside the package's modules) */
  tileWorkerUrl?: string;
  limits?: Partial<Limits>;
  /** ms that loading may take inside the worker (default 60000) */
  timeoutMs?: number;
  /**
   * The profiles this decoder must decode (default both). Without 'amortized' the worker loads
   * only the core: no weights, no tfjs (perimage files need neither); a v1 file then fails
   * with NOT_INITIALIZED.
   */
  profiles?: ProfileName[];
}

export type ToWorker =
  | { type: 'init'; settings: WorkerInitSettings }
  | { type: 'decode'; id: number; bytes: ArrayBuffer; output: 'imagedata' | 'bitmap' };

export type FromWorker =
  | { type: 'ready'; backend: BackendName; threads: number }
  | { type: 'init-error'; code: NimgErrorCode; message: string }
  | { type: 'decoded'; id: number; width: number; height: number; data?: ArrayBuffer; bitmap?: ImageBitmap; stats: DecodeStats }
  | { type: 'error'; id: number; code: NimgErrorCode; message: string };
