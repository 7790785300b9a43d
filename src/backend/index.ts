/**
 * Compute backends for the float transforms: a registry by priority, feature-detected.
 *
 *   webgpu (3)  hardware WebGPU adapter: browser `navigator.gpu`, or in Node the optional
 *               `webgpu` package (Dawn). `auto` never takes a software adapter
 *               (fallback adapter, SwiftShader, llvmpipe/lavapipe): it is slower than WASM.
 *   wasm   (2)  tfjs WASM + SIMD (XNNPACK); threads where the runtime allows them.
 *   cpu    (1)  tfjs plain-JS kernels: only when asked for by name, never as a fallback.
 *
 * tfjs keeps one global engine; `activateBackend` switches it. No Node module is imported
 * statically here (Dawn is a dynamic import, reached only in Node).
 */
import * as tf from '@tensorflow/tfjs-core';
import { NimgError } from '../errors.js';
import { withTimeout } from '../timeout.js';
import type { BackendChoice, BackendName } from '../model/types.js';

export interface BackendOptions {
  /**
   * Where tfjs-backend-wasm finds its .wasm files (browsers, edge workers): a URL prefix
   * ending in '/', or a map from file name ('tfjs-backend-wasm.wasm',
   * 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm') to URL.
   * Not needed in Node (loaded from node_modules).
   */
  wasmPaths?: string | Record<string, string>;
  /** Threads for XNNPACK inside one WASM instance (browsers with cross-origin isolation). */
  wasmThreads?: number;
  /**
   * tfjs-backend-wasm's binary, compiled (edge runtimes bind .wasm files as modules and
   * refuse to compile bytes): the backend is instantiated from it (wasm-module.ts).
   */
  tfjsWasmModule?: WebAssembly.Module;
  /** ms a backend may take to start before NimgError('TIMEOUT') (default: no limit) */
  timeoutMs?: number;
}

export interface AdapterReport {
  found: boolean;
  software: boolean;
  description: string;
}

export interface BackendProbe {
  name: BackendName;
  priority: number;
  /** usable by `auto` */
  available: boolean;
  reason: string;
}

interface Provider {
  name: BackendName;
  priority: number;
  /** may `auto` pick it? returns a reason when not */
  detect(opts: BackendOptions): Promise<{ ok: boolean; reason: string }>;
  /** make it tfjs's active backend or throw */
  init(opts: BackendOptions): Promise<void>;
}

const isNode = typeof process !== 'undefined' && !!(process as { versions?: { node?: string } }).versions?.node;

// ---------------------------------------------------------------- WebGPU

let gpuSetup: Promise<boolean> | null = null;

/** Make `navigator.gpu` exist if this runtime can provide it. */
function ensureNavigatorGpu(): Promise<boolean> {
  gpuSetup ??= (async () => {
    const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
    if (g.navigator?.gpu) return true;
    if (!isNode) return false;
    try {
      const spec = 'webgpu';
      const mod = (await import(/* @vite-ignore */ spec)) as { create: (flags: string[]) => unknown; globals: object };
      Object.assign(globalThis, mod.globals);
      // NIMG_DAWN_FLAGS: Dawn options for create(), space-separated (profiling: e.g.
      // "enable-dawn-features=allow_unsafe_apis disable-dawn-features=timestamp_quantization")
      const flags = (process.env.NIMG_DAWN_FLAGS ?? '').split(/\s+/).filter(Boolean);
      const gpu = mod.create(flags);
      if (!g.navigator) {
        Object.defineProperty(globalThis, 'navigator', {
          value: { gpu, userAgent: `Node.js/${process.versions.node}`, hardwareConcurrency: undefined },
          configurable: true,
          writable: true,
        });
      } else {
        try {
          Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
        } catch {
          (g.navigator as { gpu?: unknown }).gpu = gpu;
        }
      }
      return !!g.navigator?.gpu;
    } catch {
      return false;
    }
  })();
  return gpuSetup;
}

const SOFTWARE_RE = /swiftshader|llvmpipe|lavapipe|softpipe|software|microsoft basic render/i;

/** Look for a WebGPU adapter and tell whether it is a software one. */
export async function probeWebGpuAdapter(): Promise<AdapterReport> {
  if (!(await ensureNavigatorGpu())) return { found: false, software: false, description: 'no navigator.gpu (and no Node "webgpu" package)' };
  type Info = { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  type Adapter = { info?: Info; isFallbackAdapter?: boolean; requestAdapterInfo?: () => Promise<Info> };
  const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter(o?: object): Promise<Adapter | null> } } }).navigator.gpu;
  let adapter: Adapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { found: false, software: false, description: `requestAdapter failed: ${String(e)}` };
  }
  if (!adapter) return { found: false, software: false, description: 'requestAdapter returned null' };
  let info: Info = adapter.info ?? {};
  if (!adapter.info && adapter.requestAdapterInfo) {
    try {
      info = await adapter.requestAdapterInfo();
    } catch {
      /* keep empty */
    }
  }
  const text = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ');
  const software = !!(info.isFallbackAdapter || adapter.isFallbackAdapter) || SOFTWARE_RE.test(text);
  return { found: true, software, description: text || '(no adapter info)' };
}

/**
 * Node on Linux: is there any GPU device node (or an explicit Vulkan driver list)? Dawn's
 * probe prints Vulkan errors on stderr when there is none, so `auto` asks this first and
 * skips the probe on GPU-less machines. Elsewhere (browsers, other OSes) it answers true.
 */
async function mayHaveGpu(): Promise<boolean> {
  if (!isNode || process.platform !== 'linux') return true;
  const env = process.env;
  if (env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES) return true;
  try {
    const spec = 'node:fs';
    const fs = (await import(/* @vite-ignore */ spec)) as typeof import('node:fs');
    if (fs.existsSync('/dev/nvidia0') || fs.existsSync('/dev/kfd')) return true;
    return fs.existsSync('/dev/dri') && fs.readdirSync('/dev/dri').some((n) => n.startsWith('renderD'));
  } catch {
    return true;
  }
}

const webgpuProvider: Provider = {
  name: 'webgpu',
  priority: 3,
  async detect() {
    const preset = !!(globalThis as unknown as { navigator?: { gpu?: unknown } }).navigator?.gpu;
    if (!preset && !(await mayHaveGpu())) return { ok: false, reason: 'no GPU device node (/dev/nvidia*, /dev/dri/renderD*, /dev/kfd): Dawn not probed' };
    const a = await probeWebGpuAdapter();
    if (!a.found) return { ok: false, reason: a.description };
    if (a.software) return { ok: false, reason: `software adapter (${a.description}) is slower than WASM` };
    return { ok: true, reason: a.description };
  },
  async init() {
    const a = await probeWebGpuAdapter();
    if (!a.found) throw new NimgError('BACKEND_UNAVAILABLE', `webgpu: ${a.description}`);
    // tfjs-backend-webgpu registers itself only if navigator.gpu exists at import time.
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!tf.findBackendFactory('webgpu')) throw new NimgError('BACKEND_UNAVAILABLE', 'webgpu: tfjs-backend-webgpu did not register');
    await setBackendOrThrow('webgpu');
  },
};

// ---------------------------------------------------------------- WASM

let wasmConfigured = false;

const wasmProvider: Provider = {
  name: 'wasm',
  priority: 2,
  async detect() {
    const ok = typeof WebAssembly === 'object' && typeof WebAssembly.instantiate === 'function';
    return { ok, reason: ok ? 'WebAssembly' : 'no WebAssembly in this runtime' };
  },
  async init(opts) {
    if (typeof WebAssembly !== 'object') throw new NimgError('BACKEND_UNAVAILABLE', 'wasm: no WebAssembly in this runtime');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (!wasmConfigured && !tf.engine().registry['wasm']) {
      if (opts.tfjsWasmModule !== undefined) await (await import('./wasm-module.js')).useCompiledTfjsWasm(opts.tfjsWasmModule);
      else if (opts.wasmPaths !== undefined) wasm.setWasmPaths(opts.wasmPaths as string);
      if (opts.wasmThreads !== undefined) wasm.setThreadsCount(opts.wasmThreads);
      // The single-threaded build unless XNNPACK threads are asked for: nimg's parallelism
      // is its tile workers, and the threaded build (picked on cross-origin-isolated pages)
      // starts pthread workers from a Blob of its factory's source text, which minifying
      // bundlers break: the pthreads never report back and setBackend never settles.
      if (!(opts.wasmThreads !== undefined && opts.wasmThreads > 1)) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      wasmConfigured = true;
    }
    await withoutProcessHooks(() => setBackendOrThrow('wasm'));
  },
};

/**
 * Emscripten's Node glue (tfjs-backend-wasm) installs process-wide 'uncaughtException' /
 * 'unhandledRejection' listeners that rethrow, turning any unrelated rejection in the host
 * app into a crash that prints the whole minified module. Remove the ones it adds.
 */
export async function withoutProcessHooks<T>(f: () => Promise<T>): Promise<T> {
  type Listener = (...a: unknown[]) => void;
  const proc = isNode ? (process as unknown as { listeners(e: string): Listener[]; removeListener(e: string, l: Listener): void }) : null;
  const events = ['uncaughtException', 'unhandledRejection'] as const;
  const before = proc ? events.map((e) => new Set(proc.listeners(e))) : [];
  try {
    return await f();
  } finally {
    if (proc) {
      events.forEach((e, i) => {
        for (const l of proc.listeners(e)) if (!before[i].has(l)) proc.removeListener(e, l);
      });
    }
  }
}

// ---------------------------------------------------------------- CPU (explicit only)

const cpuProvider: Provider = {
  name: 'cpu',
  priority: 1,
  async detect() {
    return { ok: false, reason: 'cpu is used only when asked for explicitly' };
  },
  async init() {
    try {
      const spec = '@tensorflow/tfjs-backend-cpu';
      await import(/* @vite-ignore */ spec);
    } catch (e) {
      throw new NimgError('BACKEND_UNAVAILABLE', 'cpu: @tensorflow/tfjs-backend-cpu is not installed', { cause: e });
    }
    await setBackendOrThrow('cpu');
  },
};

const PROVIDERS: Provider[] = [webgpuProvider, wasmProvider, cpuProvider].sort((a, b) => b.priority - a.priority);

async function setBackendOrThrow(name: BackendName): Promise<void> {
  let ok = false;
  let cause: unknown;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    cause = e;
  }
  if (!ok || tf.getBackend() !== name) {
    throw new NimgError('BACKEND_UNAVAILABLE', `backend ${name} failed to initialise${cause ? `: ${String(cause)}` : ''}`, { cause });
  }
  await tf.ready();
}

/** What each backend would do under `auto`, highest priority first. */
export async function probeBackends(opts: BackendOptions = {}): Promise<BackendProbe[]> {
  const out: BackendProbe[] = [];
  for (const p of PROVIDERS) {
    const d = await p.detect(opts);
    out.push({ name: p.name, priority: p.priority, available: d.ok, reason: d.reason });
  }
  return out;
}

const initialised = new Set<BackendName>();

/** A provider's init under the caller's time limit (a hung WASM or GPU start must not hang init). */
function startProvider(p: Provider, opts: BackendOptions): Promise<void> {
  return withTimeout(p.init(opts), opts.timeoutMs ?? Infinity, `starting the ${p.name} backend`);
}

/**
 * Initialise and activate a backend. `auto`: the highest-priority backend whose detection
 * succeeds and whose initialisation works (never `cpu`). A named backend that cannot start
 * → NimgError('BACKEND_UNAVAILABLE'), never a silent fallback.
 */
export async function initBackend(choice: BackendChoice = 'auto', opts: BackendOptions = {}): Promise<BackendName> {
  if (choice !== 'auto') {
    const p = PROVIDERS.find((x) => x.name === choice);
    if (!p) throw new NimgError('BAD_INPUT', `unknown backend ${String(choice)}`);
    await startProvider(p, opts);
    initialised.add(p.name);
    return p.name;
  }
  const errors: string[] = [];
  for (const p of PROVIDERS) {
    if (p.name === 'cpu') continue;
    const d = await p.detect(opts);
    if (!d.ok) {
      errors.push(`${p.name}: ${d.reason}`);
      continue;
    }
    try {
      await startProvider(p, opts);
      initialised.add(p.name);
      return p.name;
    } catch (e) {
      if (e instanceof NimgError && e.code === 'TIMEOUT') throw e;
      errors.push(`${p.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  throw new NimgError('BACKEND_UNAVAILABLE', `no usable backend (${errors.join('; ')})`);
}

/** Make an already-initialised backend tfjs's active one (tfjs has one global engine). */
export async function activateBackend(name: BackendName): Promise<void> {
  if (tf.getBackend() === name) return;
  await setBackendOrThrow(name);
}

/**
 * Default tile size (image pixels per side of a tile core) of each backend.
 *
 * webgpu: at most 1024, and small enough that the widest activation of a tile — g_a's
 * first layer, (T+64)²/4 pixels x N channels x 4 bytes = (T+64)²·N bytes, the same for
 * g_s after gs.2 — fits the device's maxStorageBufferBindingSize, and that a conv's
 * output rows stay under maxComputeWorkgroupsPerDimension (tfjs-webgpu dispatches conv
 * output pixels along Y, >= 8 per workgroup; a 4000x3008 image untiled overflows it).
 * wasm: 512 (peak ~150-200 MB of WASM heap per tile at N=128; >= 2 tiles, so workers have
 * work, on mid-size images). cpu: 256.
 */
export function defaultTileSize(name: BackendName, N = 128): number {
  if (name === 'webgpu') {
    const lim = webgpuLimits();
    let T = 1024;
    const fits = (t: number) => (t + 64) ** 2 * N <= lim.maxStorageBufferBindingSize && ((t + 64) / 2) ** 2 / 8 <= lim.maxComputeWorkgroupsPerDimension;
    while (T > 64 && !fits(T)) T -= 64;
    return T;
  }
  if (name === 'wasm') return 512;
  return 256;
}

/** Limits of the active tfjs WebGPU device (WebGPU defaults when unknown). */
function webgpuLimits(): { maxStorageBufferBindingSize: number; maxComputeWorkgroupsPerDimension: number } {
  const def = { maxStorageBufferBindingSize: 128 * 1024 * 1024, maxComputeWorkgroupsPerDimension: 65535 };
  try {
    if (tf.getBackend() !== 'webgpu') return def;
    const dev = (tf.backend() as unknown as { device?: { limits?: Partial<typeof def> } }).device;
    return {
      maxStorageBufferBindingSize: dev?.limits?.maxStorageBufferBindingSize ?? def.maxStorageBufferBindingSize,
      maxComputeWorkgroupsPerDimension: dev?.limits?.maxComputeWorkgroupsPerDimension ?? def.maxComputeWorkgroupsPerDimension,
    };
  } catch {
    return def;
  }
}

/** Logical CPUs, where the runtime tells. */
export async function hardwareConcurrency(): Promise<number> {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  if (typeof n === 'number' && n > 0) return n;
  if (isNode) {
    try {
      const spec = 'node:os';
      const os = (await import(/* @vite-ignore */ spec)) as { availableParallelism?: () => number; cpus: () => unknown[] };
      return os.availableParallelism?.() ?? os.cpus().length;
    } catch {
      return 1;
    }
  }
  return 1;
}

export { isNode };
