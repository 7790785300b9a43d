/**
 * nimg in an edge worker (workerd / Cloudflare Workers): POST a .nimg file, get a PNG.
 *
 * Every WebAssembly module is bound precompiled, because the runtime refuses to compile
 * bytes: nimg's core (`nimg/nimg-core.wasm`) and tfjs's WASM backend
 * (`tfjs-backend-wasm-simd.wasm`), both imported as modules and handed to init(). The
 * weights (6.6 MB) are not in the bundle: they are fetched once per isolate from the
 * WEIGHTS service binding (a directory in config.capnp; an R2 bucket or static assets in
 * production) and stay in memory.
 */
import { decode, encodePng, init, isNimgError } from 'nimg';
import coreModule from './nimg-core.wasm';
import tfjsWasmModule from './tfjs-backend-wasm-simd.wasm';

interface Env {
  /** serves nimg-v1.json and nimg-v1.bin */
  WEIGHTS: { fetch(url: string): Promise<Response> };
}

let ready: Promise<void> | null = null;

async function load(env: Env): Promise<void> {
  const get = async (name: string) => {
    const r = await env.WEIGHTS.fetch(`http://weights/${name}`);
    if (!r.ok) throw new Error(`weights: ${name}: HTTP ${r.status}`);
    return r;
  };
  const [manifest, bin] = await Promise.all([get('nimg-v1.json').then((r) => r.text()), get('nimg-v1.bin').then((r) => r.arrayBuffer())]);
  // threads: 1 — workerd has no Worker; the transforms run in this isolate
  await init({ wasm: coreModule, tfjsWasmModule, weights: { manifest, bin: new Uint8Array(bin) }, backend: 'wasm', threads: 1 });
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (request.method !== 'POST') return new Response('POST a .nimg file: the answer is a PNG\n', { status: 405 });
    try {
      ready ??= load(env).catch((e) => {
        ready = null; // let the next request try again
        throw e;
      });
      await ready;
      const image = await decode(new Uint8Array(await request.arrayBuffer()));
      const png = encodePng(image) as Uint8Array<ArrayBuffer>; // a fresh ArrayBuffer (typed loosely for TS < 5.7)
      return new Response(png, { headers: { 'content-type': 'image/png' } });
    } catch (e) {
      // NimgError codes from bad input are the client's fault; the rest are ours
      const code = isNimgError(e) ? e.code : 'INTERNAL';
      const status = code === 'INTERNAL' || code === 'BACKEND_UNAVAILABLE' || code === 'NOT_INITIALIZED' ? 500 : 400;
      return new Response(`${code}: ${e instanceof Error ? e.message : String(e)}\n`, { status, headers: { 'x-nimg-error': code } });
    }
  },
};
