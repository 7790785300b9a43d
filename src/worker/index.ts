/**
 * nimg/worker — decoding off the page's thread. `createDecoder()` starts a dedicated module
 * Worker running nimg (worker/decoder-worker.ts) and returns a small handle:
 *
 *   import { createDecoder } from 'nimg/worker';
 *   const decoder = createDecoder({ wasmPaths: '/tfjs/' });   // starts loading at once
 *   const img = await decoder.decode(bytes);                   // {width, height, data: RGBA}
 *   ctx.putImageData(new ImageData(img.data, img.width, img.height), 0, 0);
 *   const bmp = await decoder.decodeToBitmap(bytes);           // or an ImageBitmap
 *
 * Inside the worker nimg picks WebGPU on a hardware adapter (workers have navigator.gpu),
 * else WASM. The page's thread only posts the file and receives the transferred pixels.
 * Everything rejects with NimgError (codes as the main API); a worker that cannot start or
 * load rejects `ready` (and every call) with BACKEND_UNAVAILABLE or TIMEOUT.
 * This module imports no part of the codec: a page's bundle stays small.
 */
import { NimgError, type NimgErrorCode } from '../errors.js';
import type { BackendName, DecodeStats, DecodedImage } from '../codec.js';
import type { FromWorker, ToWorker, WorkerInitSettings } from './protocol.js';

export type { WorkerInitSettings, AssetSource } from './protocol.js';

export interface DecoderOptions extends WorkerInitSettings {
  /** the decoder worker's script (default: decoder-worker.js beside this module) */
  workerUrl?: string | URL;
}

export interface WorkerDecoder {
  /** resolves to the backend in use once the worker has loaded nimg */
  readonly ready: Promise<BackendName>;
  /** tile threads the worker decodes with (0 until ready; 1 where its WASM tile workers could not start) */
  readonly threads: number;
  /** decode .nimg bytes to RGBA (the buffer is transferred from the worker, not copied) */
  decode(bytes: Uint8Array | ArrayBuffer): Promise<DecodedImage>;
  decodeWithStats(bytes: Uint8Array | ArrayBuffer): Promise<{ image: DecodedImage; stats: DecodeStats }>;
  /** decode to an ImageBitmap made in the worker (values as decoded: no colour conversion, not premultiplied) */
  decodeToBitmap(bytes: Uint8Array | ArrayBuffer): Promise<ImageBitmap>;
  /** stop the worker; pending and later calls reject with NOT_INITIALIZED */
  dispose(): void;
}

interface Pending {
  resolve(m: Extract<FromWorker, { type: 'decoded' }>): void;
  reject(e: NimgError): void;
}

/**
 * URLs in the settings, made absolute against the page: inside the worker a relative URL
 * would resolve against the worker's script instead.
 */
function absoluteUrls(s: WorkerInitSettings): WorkerInitSettings {
  const g = globalThis as { document?: { baseURI: string }; location?: { href: string } };
  const base = g.document?.baseURI ?? g.location?.href;
  if (!base) return s;
  const abs = (u: string) => new URL(u, base).href;
  const out: WorkerInitSettings = { ...s };
  if (typeof s.wasm === 'string') out.wasm = abs(s.wasm);
  if (s.weights) {
    const m = s.weights.manifest;
    const isUrl = typeof m === 'string' && !m.trimStart().startsWith('{');
    out.weights = {
      manifest: isUrl ? abs(m) : m,
      bin: typeof s.weights.bin === 'string' ? abs(s.weights.bin) : s.weights.bin instanceof URL ? s.weights.bin.href : s.weights.bin,
    };
  }
  if (typeof s.wasmPaths === 'string') out.wasmPaths = abs(s.wasmPaths);
  else if (s.wasmPaths) out.wasmPaths = Object.fromEntries(Object.entries(s.wasmPaths).map(([k, v]) => [k, abs(v)]));
  if (s.tileWorkerUrl) out.tileWorkerUrl = abs(s.tileWorkerUrl);
  return out;
}

/** Start a decoder worker. Loading begins at once; calls made meanwhile wait for it. */
export function createDecoder(options: DecoderOptions = {}): WorkerDecoder {
  const { workerUrl, ...given } = options;
  const settings = absoluteUrls(given);
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let failure: NimgError | null = null;
  let worker: Worker | null = null;
  let threads = 0;

  const fail = (e: NimgError) => {
    failure ??= e;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
    worker?.terminate();
    worker = null;
  };

  let settleReady!: { resolve(b: BackendName): void; reject(e: NimgError): void };
  const ready = new Promise<BackendName>((resolve, reject) => (settleReady = { resolve, reject }));
  ready.catch(() => {}); // observed through decode() too; an unobserved rejection is not an error here

  try {
    if (typeof Worker === 'undefined') throw new NimgError('BACKEND_UNAVAILABLE', 'nimg/worker: no Web Worker support in this runtime');
    // Literal new Worker(new URL('./x.js', import.meta.url)) so that Vite and webpack bundle
    // the worker; the .js is the package build's file beside this one.
    worker = workerUrl ? new Worker(workerUrl, { type: 'module' }) : new Worker(new URL('./decoder-worker.js', import.meta.url), { type: 'module' });
  } catch (e) {
    const err = e instanceof NimgError ? e : new NimgError('BACKEND_UNAVAILABLE', `nimg/worker: could not start the decoder worker (${String(e)})`, { cause: e });
    fail(err);
    settleReady.reject(err);
  }

  const timeoutMs = settings.timeoutMs ?? 60_000;
  const timer = worker && Number.isFinite(timeoutMs)
    ? setTimeout(() => {
        const err = new NimgError('TIMEOUT', `nimg/worker: the decoder worker did not load within ${timeoutMs} ms`);
        fail(err);
        settleReady.reject(err);
      }, timeoutMs + 1000) // the worker's own init deadline answers first when it can
    : undefined;

  worker?.addEventListener('error', (e) => {
    // A bare error event: the script is missing, not JavaScript, or threw at top level.
    const err = new NimgError('BACKEND_UNAVAILABLE', `nimg/worker: the decoder worker failed (${e.message || `its script did not load: ${String(workerUrl ?? 'decoder-worker.js beside worker/index.js')}`})`);
    clearTimeout(timer);
    fail(err);
    settleReady.reject(err);
  });
  worker?.addEventListener('message', (e: MessageEvent<FromWorker>) => {
    const m = e.data;
    if (m.type === 'ready') {
      clearTimeout(timer);
      threads = m.threads;
      settleReady.resolve(m.backend);
    } else if (m.type === 'init-error') {
      clearTimeout(timer);
      const err = new NimgError(m.code, `nimg/worker: ${m.message}`);
      fail(err);
      settleReady.reject(err);
    } else {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.type === 'decoded') p.resolve(m);
      else p.reject(new NimgError(m.code as NimgErrorCode, m.message));
    }
  });
  worker?.postMessage({ type: 'init', settings } satisfies ToWorker);

  const request = async (bytes: Uint8Array | ArrayBuffer, output: 'imagedata' | 'bitmap') => {
    let buf: ArrayBuffer;
    if (bytes instanceof ArrayBuffer) buf = bytes.slice(0);
    else if (bytes instanceof Uint8Array) buf = bytes.slice().buffer as ArrayBuffer; // a copy: the caller keeps its bytes
    else throw new NimgError('BAD_INPUT', 'decode: bytes must be a Uint8Array or ArrayBuffer');
    if (failure) throw failure;
    const id = nextId++;
    return new Promise<Extract<FromWorker, { type: 'decoded' }>>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker!.postMessage({ type: 'decode', id, bytes: buf, output } satisfies ToWorker, [buf]);
    });
  };

  const toImage = (m: Extract<FromWorker, { type: 'decoded' }>): DecodedImage => ({ width: m.width, height: m.height, data: new Uint8ClampedArray(m.data!) });

  return {
    ready,
    get threads() {
      return threads;
    },
    async decode(bytes) {
      return toImage(await request(bytes, 'imagedata'));
    },
    async decodeWithStats(bytes) {
      const m = await request(bytes, 'imagedata');
      return { image: toImage(m), stats: m.stats };
    },
    async decodeToBitmap(bytes) {
      return (await request(bytes, 'bitmap')).bitmap!;
    },
    dispose() {
      clearTimeout(timer);
      const err = new NimgError('NOT_INITIALIZED', 'nimg/worker: this decoder was disposed');
      fail(err);
      settleReady.reject(err);
    },
  };
}
