/**
 * tfjs's WASM backend instantiated from an already compiled WebAssembly.Module.
 *
 * Why: tfjs-backend-wasm always makes its instance from bytes — `instantiateStreaming(fetch)`,
 * or with `setWasmPaths(…, true)` a platform fetch followed by `WebAssembly.instantiate(bytes)`.
 * Runtimes that forbid code generation from bytes (workerd / Cloudflare Workers: "Wasm code
 * generation disallowed by embedder") only hand a worker modules compiled at deploy time. tfjs
 * has no option for that, but its emscripten glue honours emscripten's documented
 * `Module.instantiateWasm(imports, receiveInstance)` hook, which lets the embedder make the
 * instance. So: run tfjs's emscripten factory with that hook (instantiating the given Module,
 * which `WebAssembly.instantiate(module, imports)` allows everywhere), add the same `tfjs`
 * table of cwrapped exports that tfjs's own init() adds, and register a factory making tfjs's
 * exported `BackendWasm` from it under the name 'wasm' in place of tfjs's default one. Nothing
 * global is patched; the kernels registered by tfjs-backend-wasm are used as they are.
 *
 * The non-threaded glue (wasm-out/tfjs-backend-wasm.js) serves both tfjs-backend-wasm.wasm and
 * tfjs-backend-wasm-simd.wasm (tfjs picks between them the same way); the threaded build needs
 * Web Workers, which such runtimes lack.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NimgError } from '../errors.js';

/** What the emscripten factory resolves to, as far as this file uses it. */
interface EmscriptenInstance {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  tfjs?: unknown;
}

type InstantiateHook = (imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) => object;
type Factory = (config: { instantiateWasm: InstantiateHook; onAbort: (what: unknown) => void }) => Promise<EmscriptenInstance>;

/** Make the emscripten module of tfjs-backend-wasm from `module` (never compiles bytes). */
async function instantiateTfjsWasm(module: WebAssembly.Module): Promise<EmscriptenInstance> {
  // the glue is UMD: the factory is module.exports (a default export under ESM interop)
  const glue = (await import('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.js')) as unknown as { default?: Factory } & Factory;
  const factory: Factory = typeof glue.default === 'function' ? glue.default : glue;
  let abort: (e: unknown) => void = () => {};
  const aborted = new Promise<never>((_, reject) => (abort = reject));
  const made = factory({
    instantiateWasm(imports, receive) {
      WebAssembly.instantiate(module, imports).then(
        (instance) => receive(instance, module),
        (e) => abort(e),
      );
      return {}; // emscripten: exports arrive later through `receive`
    },
    onAbort: (what) => abort(new Error(`tfjs-backend-wasm aborted: ${String(what)}`)),
  });
  const em = await Promise.race([made, aborted]);
  // the table BackendWasm calls (the same exports tfjs's init() wraps)
  em.tfjs = {
    init: em.cwrap('init', null, []),
    initWithThreadsCount: em.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: em.cwrap('get_threads_count', 'number', []),
    registerTensor: em.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: em.cwrap('dispose_data', null, ['number']),
    dispose: em.cwrap('dispose', null, []),
  };
  return em;
}

/**
 * Register tfjs's 'wasm' backend so that it is made from `module`. Call before the backend
 * is first set; a no-op once a 'wasm' backend instance exists.
 */
export async function useCompiledTfjsWasm(module: WebAssembly.Module): Promise<void> {
  if (!(module instanceof WebAssembly.Module)) throw new NimgError('BAD_INPUT', 'tfjsWasmModule must be a WebAssembly.Module');
  const { BackendWasm } = await import('@tensorflow/tfjs-backend-wasm'); // also registers the kernels
  if (tf.engine().registry['wasm']) return;
  if (tf.findBackendFactory('wasm')) tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => new BackendWasm((await instantiateTfjsWasm(module)) as unknown as ConstructorParameters<typeof BackendWasm>[0]),
    2, // tfjs-backend-wasm's own priority
  );
}
