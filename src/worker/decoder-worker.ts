/**
 * The decoder worker: nimg (core + tfjs, WebGPU where the worker has navigator.gpu, else
 * WASM with its own tile workers) running in a dedicated module Worker, so that a decode
 * never occupies the page's thread. Started by createDecoder (worker/index.ts); messages
 * in worker/protocol.ts. Decoded pixels go back transferred (RGBA buffer or ImageBitmap).
 */
import { NimgCodec, type BackendName } from '../codec.js';
import type { TiledTransforms } from '../model/transforms.js';
import { NimgError, isNimgError } from '../errors.js';
import type { AssetSource, FromWorker, ToWorker, WorkerInitSettings } from './protocol.js';
import type { ProfileName } from '../api-types.js';
import { checkTimeout, withTimeout } from '../timeout.js';

const scope = globalThis as unknown as {
  postMessage(m: FromWorker, transfer?: Transferable[]): void;
  addEventListener(t: 'message', f: (e: MessageEvent<ToWorker>) => void): void;
};

async function fetchBytes(src: string | URL, what: string): Promise<Uint8Array> {
  let r: Response;
  try {
    r = await fetch(src);
  } catch (e) {
    throw new NimgError('BACKEND_UNAVAILABLE', `${what}: fetching ${String(src)} failed (${String(e)})`, { cause: e });
  }
  if (!r.ok) throw new NimgError('BACKEND_UNAVAILABLE', `${what}: ${String(src)} answered HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

const asBytes = (src: AssetSource, what: string): Promise<Uint8Array> | Uint8Array =>
  typeof src === 'string' || src instanceof URL ? fetchBytes(src, what) : src instanceof Uint8Array ? src : new Uint8Array(src);

/** settings.profiles, checked: which profiles this worker loads resources for */
function profilesOf(s: WorkerInitSettings): Set<ProfileName> {
  const p = s.profiles ?? ['amortized', 'perimage'];
  if (!Array.isArray(p) || p.length === 0 || p.some((x) => x !== 'amortized' && x !== 'perimage')) {
    throw new NimgError('BAD_INPUT', `profiles must be a non-empty array of 'amortized' and/or 'perimage', got ${JSON.stringify(p)}`);
  }
  return new Set(p);
}

let withAmortized = true;

async function load(s: WorkerInitSettings): Promise<NimgCodec> {
  withAmortized = profilesOf(s).has('amortized');
  // The package's assets, found beside its modules (dist/nimg-core.wasm, dist/weights/nimg-v1.*):
  // bundlers that follow new URL(..., import.meta.url) copy them into the build.
  const wasmSrc = s.wasm ?? new URL('../nimg-core.wasm', import.meta.url).href;
  if (!withAmortized) {
    // perimage only: the core is the whole decoder (no weights fetched, no tfjs started)
    const wasm = wasmSrc instanceof WebAssembly.Module ? wasmSrc : await asBytes(wasmSrc, 'nimg core');
    return withTimeout(NimgCodec.createLazy({ wasm, limits: s.limits }), checkTimeout(s.timeoutMs, 'timeoutMs'), 'loading the nimg core');
  }
  const manifestSrc = s.weights?.manifest ?? new URL('../weights/nimg-v1.json', import.meta.url).href;
  const binSrc = s.weights?.bin ?? new URL('../weights/nimg-v1.bin', import.meta.url).href;
  const [wasm, manifest, bin] = await Promise.all([
    wasmSrc instanceof WebAssembly.Module ? wasmSrc : asBytes(wasmSrc, 'nimg core'),
    typeof manifestSrc === 'string' && !manifestSrc.trimStart().startsWith('{') ? fetchBytes(manifestSrc, 'weights manifest').then((b) => new TextDecoder().decode(b)) : manifestSrc,
    asBytes(binSrc, 'weights'),
  ]);
  return NimgCodec.create({
    wasm,
    weights: { manifest, bin },
    backend: s.backend,
    wasmPaths: s.wasmPaths,
    threads: s.threads,
    tileSize: s.tileSize,
    workerUrl: s.tileWorkerUrl,
    limits: s.limits,
    timeoutMs: s.timeoutMs,
  });
}

function codeOf(e: unknown): { code: NimgError['code']; message: string } {
  if (isNimgError(e)) return { code: e.code, message: e.message };
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

let codec: Promise<NimgCodec> | null = null;

scope.addEventListener('message', (ev) => {
  const msg = ev.data;
  if (msg.type === 'init') {
    codec = load(msg.settings);
    codec
      .then(async (c) => {
        // perimage only: decodes run in the core (WASM), on this worker's thread
        if (!withAmortized) return scope.postMessage({ type: 'ready', backend: 'wasm', threads: 1 });
        const t = (await c.transformsFor()) as Partial<TiledTransforms> & { backend: BackendName };
        // Wait for the WASM tile workers here (the page is not blocked meanwhile): `ready`
        // then tells how many threads decodes get; workers that cannot start leave 1.
        await t.ready?.();
        scope.postMessage({ type: 'ready', backend: t.backend, threads: t.threads ?? 1 });
      })
      .catch((e) => scope.postMessage({ type: 'init-error', ...codeOf(e) }));
    return;
  }
  if (msg.type === 'decode') {
    const { id } = msg;
    void (async () => {
      try {
        if (!codec) throw new NimgError('NOT_INITIALIZED', 'decoder worker: decode before init');
        const c = await codec;
        const bytes = new Uint8Array(msg.bytes);
        if (!withAmortized && c.probe(bytes, { headerOnly: true }).profile === 'amortized') {
          throw new NimgError('NOT_INITIALIZED', "this decoder was created with profiles: ['perimage'] (no weights loaded): it cannot decode amortized (version 1) files");
        }
        const { image, stats } = await c.decodeWithStats(bytes);
        if (msg.output === 'bitmap') {
          // colorSpaceConversion/premultiplyAlpha 'none': the bitmap holds the decoded values as they are
          const bitmap = await createImageBitmap(new ImageData(image.data as Uint8ClampedArray<ArrayBuffer>, image.width, image.height), {
            colorSpaceConversion: 'none',
            premultiplyAlpha: 'none',
          });
          scope.postMessage({ type: 'decoded', id, width: image.width, height: image.height, bitmap, stats }, [bitmap]);
        } else {
          const buf = image.data.buffer as ArrayBuffer;
          // the codec's output owns its buffer whole (no view into the WASM heap): transfer it
          const data = image.data.byteOffset === 0 && image.data.byteLength === buf.byteLength ? buf : image.data.slice().buffer;
          scope.postMessage({ type: 'decoded', id, width: image.width, height: image.height, data, stats }, [data]);
        }
      } catch (e) {
        scope.postMessage({ type: 'error', id, ...codeOf(e) });
      }
    })();
  }
});
