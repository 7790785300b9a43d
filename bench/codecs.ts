/**
 * Codec adapters for the side-by-side benchmark. Every codec — the web's (via jSquash's
 * Emscripten builds of mozjpeg, libwebp, libaom, libjxl) and nimg itself — is one adapter with
 * the same interface, so the runner treats them identically.
 *
 * jSquash's default loader fetch()es its .wasm, which fails in Node; we read the .wasm the
 * package itself would select from node_modules, compile it with WebAssembly.compile and hand
 * the Module to the package's init().
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface DecodedImage {
  width: number;
  height: number;
  data: Uint8ClampedArray | Uint8Array; // RGBA, 8-bit
}

/** Per-stage timings (ms) a codec may report for its last encode/decode call. */
export type StageTimings = Record<string, number>;

export interface CodecAdapter {
  /** short id used on the command line, in JSON keys and in plots */
  name: string;
  /** human-readable description of the settings actually used */
  settings: string;
  /** quality settings swept for the rate-distortion curve (codec-native units) */
  qualities: number[];
  /** two settings for --quick (low and mid) */
  quickQualities: number[];
  /** fallback setting for speed measurements when no RD curve is known (≈ 0.7 bpp on Kodak) */
  speedQuality: number;
  /** false: speed-only variant (same bitstream as another adapter), skipped in the RD sweep */
  rd?: boolean;
  encode(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number, q: number): Promise<Uint8Array>;
  decode(bytes: Uint8Array): Promise<DecodedImage>;
  /** optional: stage timings of the last encode / decode */
  lastEncodeStages?(): StageTimings | undefined;
  lastDecodeStages?(): StageTimings | undefined;
  /** optional: release resources */
  dispose?(): Promise<void> | void;
}

export interface CodecFactory {
  name: string;
  /** loads lazily; throws if the codec cannot be loaded */
  load(): Promise<CodecAdapter[]>;
}

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..');

function pkgDir(pkg: string): string {
  return path.dirname(require.resolve(`${pkg}/package.json`));
}

async function compileWasm(pkg: string, rel: string): Promise<WebAssembly.Module> {
  const bytes = await readFile(path.join(pkgDir(pkg), rel));
  return WebAssembly.compile(bytes);
}

async function importPkg(pkg: string, file: string): Promise<any> {
  return import(pathToFileURL(path.join(pkgDir(pkg), file)).href);
}

function simdSupported(): boolean {
  // same probe as wasm-feature-detect's simd(): a module using v128
  const bytes = new Uint8Array([
    0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
  ]);
  return WebAssembly.validate(bytes);
}

function toU8(buf: ArrayBuffer | Uint8Array): Uint8Array {
  return buf instanceof Uint8Array ? buf : new Uint8Array(buf);
}

function asImageData(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number) {
  const data = rgba instanceof Uint8ClampedArray ? rgba : new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return { data, width, height, colorSpace: 'srgb' } as unknown as ImageData;
}

interface JsquashSpec {
  pkg: string;
  encWasm: string;
  decWasm: string;
}

async function loadJsquash(spec: JsquashSpec) {
  const [encMod, decMod, encWasm, decWasm] = await Promise.all([
    importPkg(spec.pkg, 'encode.js'),
    importPkg(spec.pkg, 'decode.js'),
    compileWasm(spec.pkg, spec.encWasm),
    compileWasm(spec.pkg, spec.decWasm),
  ]);
  await encMod.init(encWasm);
  await decMod.init(decWasm);
  return { encode: encMod.default as (img: ImageData, o: object) => Promise<ArrayBuffer>, decode: decMod.default as (b: ArrayBuffer, o?: object) => Promise<DecodedImage> };
}

/** copy into a fresh, exactly-sized ArrayBuffer (jSquash decoders want an ArrayBuffer) */
function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

const range = (a: number, b: number, step: number) => {
  const out: number[] = [];
  for (let v = a; v <= b + 1e-9; v += step) out.push(Math.round(v * 1000) / 1000);
  return out;
};

// ---------------------------------------------------------------------------------------------
// Peers. Quality sweeps chosen to cover ~0.1–2 bpp on Kodak (see bench/README.md).

export const jpegFactory: CodecFactory = {
  name: 'jpeg',
  async load() {
    const c = await loadJsquash({ pkg: '@jsquash/jpeg', encWasm: 'codec/enc/mozjpeg_enc.wasm', decWasm: 'codec/dec/mozjpeg_dec.wasm' });
    return [
      {
        name: 'jpeg',
        settings: 'mozjpeg (@jsquash/jpeg 1.6.0) jSquash defaults: progressive, optimize_coding, quant_table 3 (ImageMagick), trellis on, YCbCr with auto_subsample (4:2:0 below quality 90, 4:4:4 from 90 up)',
        qualities: [3, 5, 8, 10, 15, 20, 25, 30, 40, 50, 60, 70, 75, 80, 85, 88, 90],
        quickQualities: [30, 75],
        speedQuality: 50,
        encode: async (rgba, w, h, q) => toU8(await c.encode(asImageData(rgba, w, h), { quality: q })),
        decode: async (bytes) => c.decode(exactBuffer(bytes)),
      },
    ];
  },
};

export const webpFactory: CodecFactory = {
  name: 'webp',
  async load() {
    const simd = simdSupported();
    const c = await loadJsquash({
      pkg: '@jsquash/webp',
      encWasm: simd ? 'codec/enc/webp_enc_simd.wasm' : 'codec/enc/webp_enc.wasm',
      decWasm: 'codec/dec/webp_dec.wasm',
    });
    return [
      {
        name: 'webp',
        settings: `libwebp (@jsquash/webp 1.5.0, ${simd ? 'SIMD' : 'scalar'} build) lossy, method 4, sns 50, filter 60, segments 4, 1 pass, 4:2:0 (no sharp-YUV)`,
        qualities: [0, 5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 75, 80, 85, 90, 93],
        quickQualities: [30, 75],
        speedQuality: 50,
        encode: async (rgba, w, h, q) => toU8(await c.encode(asImageData(rgba, w, h), { quality: q, method: 4 })),
        decode: async (bytes) => c.decode(exactBuffer(bytes)),
      },
    ];
  },
};

export const avifFactory: CodecFactory = {
  name: 'avif',
  async load() {
    // In Node jSquash picks the single-threaded encoder (avif_enc.wasm).
    const c = await loadJsquash({ pkg: '@jsquash/avif', encWasm: 'codec/enc/avif_enc.wasm', decWasm: 'codec/dec/avif_dec.wasm' });
    const base = (subsample: number) => ({
      qualities: [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85],
      quickQualities: [30, 55],
      speedQuality: 50,
      encode: async (rgba: Uint8ClampedArray | Uint8Array, w: number, h: number, q: number) =>
        toU8(await c.encode(asImageData(rgba, w, h), { quality: q, speed: 6, subsample })),
      decode: async (bytes: Uint8Array) => c.decode(exactBuffer(bytes)),
    });
    return [
      { name: 'avif', settings: 'libaom via libavif (@jsquash/avif 2.1.1, single-threaded), speed 6, 8-bit, YUV 4:2:0 (subsample 1), tune auto', ...base(1) },
      { name: 'avif444', settings: 'libaom via libavif (@jsquash/avif 2.1.1, single-threaded), speed 6, 8-bit, YUV 4:4:4 (subsample 3), tune auto', ...base(3) },
    ];
  },
};

export const jxlFactory: CodecFactory = {
  name: 'jxl',
  async load() {
    // In Node jSquash picks the single-threaded, non-SIMD encoder (jxl_enc.wasm).
    const c = await loadJsquash({ pkg: '@jsquash/jxl', encWasm: 'codec/enc/jxl_enc.wasm', decWasm: 'codec/dec/jxl_dec.wasm' });
    return [
      {
        name: 'jxl',
        settings: 'libjxl (@jsquash/jxl 1.3.0, single-threaded) VarDCT, effort 7, XYB (no chroma subsampling), epf auto',
        qualities: [0, 3, 5, 10, 15, 20, 30, 40, 50, 60, 65, 70, 75, 80, 85, 88, 90, 92],
        quickQualities: [40, 75],
        speedQuality: 60,
        encode: async (rgba, w, h, q) => toU8(await c.encode(asImageData(rgba, w, h), { quality: q, effort: 7 })),
        decode: async (bytes) => c.decode(exactBuffer(bytes)),
      },
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// nimg: loaded lazily from ../src/node/main.ts (the package's Node entry). One adapter per available backend.

/** nimg's sweep: its 8 trained quality levels (the quality is continuous in between); override
 *  with NIMG_QUALITIES=1,1.5,2,... (each point costs ~5 s per Kodak image on this machine). */
export const NIMG_QUALITIES = process.env.NIMG_QUALITIES
  ? process.env.NIMG_QUALITIES.split(',').map(Number).filter((q) => Number.isFinite(q))
  : range(1, 8, 1);

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms / 1000}s`)), ms);
    timer.unref?.();
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

const normStages = (t: any): StageTimings | undefined => {
  if (!t || typeof t !== 'object') return undefined;
  const out: StageTimings = {};
  for (const [k, v] of Object.entries(t)) if (typeof v === 'number' && Number.isFinite(v) && k !== 'bytes' && k !== 'bpp') out[k] = v;
  return Object.keys(out).length ? out : undefined;
};

/** Notes from loading nimg (backends that failed to initialise etc.), for the report. */
export const nimgNotes: Record<string, string> = {};

export const nimgFactory: CodecFactory = {
  name: 'nimg',
  async load() {
    // NIMG_MODULE: override the module (e.g. a work-in-progress entry point)
    const modPath = process.env.NIMG_MODULE ? path.resolve(process.env.NIMG_MODULE) : path.join(REPO_ROOT, 'src', 'node', 'main.ts'); // the Node entry: init() reads the packaged assets
    const nimg: any = await import(pathToFileURL(modPath).href);
    if (typeof nimg.encode !== 'function' || typeof nimg.decode !== 'function') {
      throw new Error(`${modPath} does not export encode()/decode()`);
    }
    // primary: what init() picks by itself ('auto'); its RD curve is "nimg"
    const primary: string = (typeof nimg.init === 'function' ? await withTimeout(Promise.resolve(nimg.init()), 300_000, 'nimg init') : undefined) ?? 'auto';
    const backends: string[] = [String(primary)];
    const wanted = (process.env.NIMG_BACKENDS ?? 'wasm,webgpu').split(',').map((b) => b.trim()).filter(Boolean);
    for (const b of wanted) {
      if (backends.includes(b) || typeof nimg.init !== 'function') continue;
      if (b === 'webgpu' && process.env.NIMG_BENCH_SOFTWARE_GPU !== '1') {
        // a software adapter (SwiftShader in CI) runs ~100x slower than WASM: timing it
        // tells nothing and would blow the --quick budget; opt in with NIMG_BENCH_SOFTWARE_GPU=1
        const { probeWebGpuAdapter } = await import('../src/backend/index.ts');
        const a = await probeWebGpuAdapter();
        if (!a.found || a.software) {
          nimgNotes['nimg-webgpu'] = `backend webgpu skipped: ${a.found ? `software adapter (${a.description})` : a.description}`;
          continue;
        }
      }
      try {
        await withTimeout(Promise.resolve(nimg.init({ backend: b })), 120_000, `nimg init backend ${b}`);
        backends.push(b);
      } catch (e) {
        nimgNotes[`nimg-${b}`] = `backend ${b} unavailable: ${e instanceof Error ? e.message.split('\n')[0] : e}`;
      }
    }
    if (backends.length > 1) await nimg.init({ backend: primary }); // restore the default
    const lastTimings: (() => any) | undefined = typeof nimg.lastTimings === 'function' ? nimg.lastTimings : undefined;

    const make = (name: string, backend: string, codec: any, rd: boolean, note: string): CodecAdapter => {
      let encStages: StageTimings | undefined;
      let decStages: StageTimings | undefined;
      return {
        name,
        settings: `nimg (src/index.ts), backend ${backend}${note}, quality 1..8 (continuous)`,
        qualities: NIMG_QUALITIES,
        quickQualities: [2, 5],
        speedQuality: 4,
        rd,
        async encode(rgba, width, height, q) {
          const stats: Record<string, unknown> = {};
          const out = await codec.encode({ width, height, data: rgba }, { quality: q, backend, stats });
          const bytes: Uint8Array = out instanceof Uint8Array ? out : (out?.bytes ?? out?.data);
          encStages = normStages(stats) ?? normStages(lastTimings?.()?.encode);
          return bytes;
        },
        async decode(bytes) {
          const stats: Record<string, unknown> = {};
          const img = await codec.decode(bytes, { backend, stats });
          decStages = normStages(stats) ?? normStages(lastTimings?.()?.decode);
          return img;
        },
        lastEncodeStages: () => encStages,
        lastDecodeStages: () => decStages,
      };
    };
    const adapters = backends.map((b, i) => make(i === 0 ? 'nimg' : `nimg-${b}`, b, nimg, i === 0, i === 0 ? ' (auto choice), default worker threads' : ', default worker threads'));
    // single-threaded variant for a like-for-like speed comparison with the (single-threaded) peers
    if (typeof nimg.NimgCodec?.create === 'function' && process.env.NIMG_NO_1T !== '1') {
      try {
        const one = await withTimeout(Promise.resolve(nimg.NimgCodec.create({ threads: 1, backend: 'wasm' })), 300_000, 'nimg 1-thread codec');
        adapters.push(make('nimg-1t', 'wasm', one, false, ', threads: 1'));
        adapters[adapters.length - 1].dispose = () => one.dispose?.();
      } catch (e) {
        nimgNotes['nimg-1t'] = `1-thread codec unavailable: ${e instanceof Error ? e.message.split('\n')[0] : e}`;
      }
    }
    return adapters;
  },
};

export const FACTORIES: CodecFactory[] = [jpegFactory, webpFactory, avifFactory, jxlFactory, nimgFactory];
/** codec names a factory provides (for --codecs filtering before loading) */
export const FACTORY_OF: Record<string, string> = {
  jpeg: 'jpeg',
  webp: 'webp',
  avif: 'avif',
  avif444: 'avif',
  jxl: 'jxl',
  nimg: 'nimg',
};
export const PEERS = ['jpeg', 'webp', 'avif', 'avif444', 'jxl'];
