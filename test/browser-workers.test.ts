/**
 * Workers in headless Chromium, on esbuild bundles of the sources (random small weights):
 * - the page-thread API never falls back silently: tile workers whose script is missing
 *   fail init with BACKEND_UNAVAILABLE, a tile worker that never answers fails it with
 *   TIMEOUT (init's timeoutMs); served tile workers decode a multi-tile image to Node's pixels;
 * - nimg/worker: createDecoder decodes to Node's pixels (RGBA and ImageBitmap), its errors
 *   keep their NimgError codes, and a decoder whose worker script or assets are missing
 *   rejects `ready` with BACKEND_UNAVAILABLE; with `profiles: ['perimage']` it decodes a v2 file
 *   (the GPU fixture) to Node's pixels without ever requesting the weights, refuses a v1 file
 *   with NOT_INITIALIZED, and bad `profiles` reject `ready` with BAD_INPUT.
 * Skipped (with a message) without Chromium (apt-get install -y chromium, or CHROMIUM_BIN).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NimgCodec } from '../src/codec.js';
import { makeRandomWeights } from './fixtures/random-weights.js';
import { chromiumBin as chromium, runPageInChromium } from './browser-page.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const CORE = join(root, 'build', 'nimg-core.wasm');
if (!chromium) console.warn('[browser-workers] SKIPPED: no Chromium (apt-get install -y chromium, or set CHROMIUM_BIN)');
else if (!existsSync(CORE)) console.warn('[browser-workers] SKIPPED: build/nimg-core.wasm missing (npm run asbuild)');

// two tiles of 64 px in each direction: the tile workers get work
const W = 150, H = 120, TILE = 64;
function image(): { width: number; height: number; data: Uint8ClampedArray } {
  const data = new Uint8ClampedArray(W * H * 4);
  for (let i = 0; i < W * H; i++) {
    const x = i % W, y = Math.floor(i / W);
    data.set([128 + 100 * Math.sin(x / 7), 128 + 90 * Math.cos(y / 5), (x * 3 + y * 5) & 255, 255], 4 * i);
  }
  return { width: W, height: H, data };
}

const PAGE = `
import * as nimg from ${JSON.stringify(join(root, 'src/index.ts'))};
import { createDecoder } from ${JSON.stringify(join(root, 'src/worker/index.ts'))};
const log = {};
const code = (e) => (e instanceof nimg.NimgError ? e.code : 'not a NimgError: ' + String(e));
const timed = async (f) => { const t = performance.now(); try { await f(); return { ok: true, ms: performance.now() - t }; } catch (e) { return { code: code(e), message: String(e.message), ms: performance.now() - t }; } };
try {
  const [wasm, manifest, bin, file] = await Promise.all([
    WebAssembly.compileStreaming(fetch('/core.wasm')),
    fetch('/w.json').then((r) => r.text()),
    fetch('/w.bin').then((r) => r.arrayBuffer()),
    fetch('/node.nimg').then((r) => r.arrayBuffer()),
  ]);
  const base = { wasm, weights: { manifest, bin: new Uint8Array(bin) }, backend: 'wasm', wasmPaths: '/wasm/', tileSize: ${TILE} };
  log.missing = await timed(() => nimg.init({ ...base, threads: 2, workerUrl: '/no-such-worker.js' }));
  log.defaultMissing = await timed(() => nimg.init({ ...base, workerUrl: '/no-such-worker.js' }));
  log.silent = await timed(() => nimg.init({ ...base, threads: 2, workerUrl: '/silent-worker.js', timeoutMs: 1500 }));
  log.served = await timed(() => nimg.init({ ...base, threads: 2, workerUrl: '/wasm-worker.js' }));
  log.pagePixels = Array.from((await nimg.decode(new Uint8Array(file))).data);

  const settings = { workerUrl: '/decoder-worker.js', wasm: '/core.wasm', weights: { manifest: '/w.json', bin: '/w.bin' }, wasmPaths: '/wasm/', threads: 1 };
  const dec = createDecoder(settings);
  log.workerBackend = await dec.ready;
  log.workerPixels = Array.from((await dec.decode(new Uint8Array(file))).data);
  const bmp = await dec.decodeToBitmap(file);
  log.bitmap = [bmp.width, bmp.height];
  log.workerGarbage = await timed(() => dec.decode(new Uint8Array(100)));
  log.workerTruncated = await timed(() => dec.decode(new Uint8Array(file).subarray(0, 40)));
  dec.dispose();
  log.afterDispose = await timed(() => dec.decode(new Uint8Array(file)));
  log.noScript = await timed(() => createDecoder({ ...settings, workerUrl: '/no-such-worker.js' }).ready);
  log.noCore = await timed(() => createDecoder({ ...settings, wasm: '/no-such-core.wasm' }).ready);
  const pi = await fetch('/pi.nimg').then((r) => r.arrayBuffer());
  const piDec = createDecoder({ ...settings, weights: { manifest: '/w2.json', bin: '/w2.bin' }, profiles: ['perimage'] });
  log.piBackend = await piDec.ready;
  log.piPixels = Array.from((await piDec.decode(new Uint8Array(pi))).data);
  log.piV1 = await timed(() => piDec.decode(new Uint8Array(file)));
  piDec.dispose();
  log.badProfiles = await timed(() => createDecoder({ ...settings, profiles: ['nope'] }).ready);
} catch (e) {
  log.error = String((e && e.stack) || e);
}
await fetch('/result', { method: 'POST', body: JSON.stringify(log) });
`;

describe.skipIf(!chromium || !existsSync(CORE))('workers in headless Chromium', () => {
  it('page thread: missing or silent tile workers fail init with a code; nimg/worker decodes to Node pixels off the page', async () => {
    const rw = makeRandomWeights({ seed: 3 });
    const weights = { manifest: rw.manifestJson, bin: rw.bin };
    const codec = await NimgCodec.create({ wasm: new Uint8Array(readFileSync(CORE)), weights, backend: 'wasm', threads: 1, tileSize: TILE });
    const nodeBytes = await codec.encode(image(), { quality: 4 });
    const nodePixels = (await codec.decode(nodeBytes)).data;
    const piBytes = new Uint8Array(readFileSync(join(root, 'test/fixtures/perimage/gpu-img_001_00-64x48.nimg')));
    const piPixels = (await codec.decode(piBytes)).data;
    codec.dispose();

    const dir = mkdtempSync(join(tmpdir(), 'nimg-browser-workers-'));
    const esbuild = await import('esbuild');
    const common = { bundle: true, platform: 'browser' as const, format: 'esm' as const, target: 'es2022', logLevel: 'silent' as const };
    const bundle = async (contents: string | null, entry: string | null) =>
      (
        await esbuild.build({
          ...common,
          write: false,
          ...(contents ? { stdin: { contents, resolveDir: root, loader: 'js' as const } } : { entryPoints: [entry!] }),
          nodePaths: [join(root, 'node_modules')],
        })
      ).outputFiles[0].contents;
    const files: Record<string, [string, Uint8Array | string]> = {
      '/': ['text/html', '<!doctype html><script type="module" src="/bundle.js"></script>'],
      '/bundle.js': ['text/javascript', await bundle(PAGE, null)],
      '/wasm-worker.js': ['text/javascript', await bundle(null, join(root, 'src/backend/wasm-worker.ts'))],
      '/decoder-worker.js': ['text/javascript', await bundle(null, join(root, 'src/worker/decoder-worker.ts'))],
      '/silent-worker.js': ['text/javascript', '// a tile worker that never answers\n'],
      '/core.wasm': ['application/wasm', readFileSync(CORE)],
      '/w.json': ['application/json', rw.manifestJson],
      '/w.bin': ['application/octet-stream', rw.bin],
      '/node.nimg': ['application/octet-stream', nodeBytes],
      '/pi.nimg': ['application/octet-stream', piBytes],
      // the perimage-only decoder's weight URLs: served, but they must never be requested
      '/w2.json': ['application/json', rw.manifestJson],
      '/w2.bin': ['application/octet-stream', rw.bin],
    };
    const requested = new Set<string>();
    const wasmDir = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/');
    let log: Record<string, any>;
    try {
      log = await runPageInChromium({
        profileDir: join(dir, 'profile'),
        chromeArgs: ['--disable-gpu'],
        serve(u) {
          requested.add(u);
          if (files[u]) return files[u];
          const f = u.startsWith('/wasm/') ? join(wasmDir, u.slice(6)) : null;
          return f && existsSync(f) ? ['application/wasm', readFileSync(f)] : null;
        },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    console.log(`[browser-workers] ${JSON.stringify({ ...log, pagePixels: undefined, workerPixels: undefined, piPixels: undefined })}`);
    expect(log.error).toBeUndefined();
    // no silent main-thread fallback, asked for by number or by default
    expect(log.missing).toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    expect(log.missing.message).toMatch(/tile worker/);
    expect(log.defaultMissing).toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    expect(log.silent).toMatchObject({ code: 'TIMEOUT' });
    expect(log.silent.ms).toBeLessThan(15_000);
    expect(log.served).toMatchObject({ ok: true });
    expect(Buffer.compare(Buffer.from(log.pagePixels), Buffer.from(nodePixels)), 'page-thread API with tile workers vs Node').toBe(0);
    // nimg/worker
    expect(log.workerBackend).toBe('wasm');
    expect(Buffer.compare(Buffer.from(log.workerPixels), Buffer.from(nodePixels)), 'nimg/worker vs Node').toBe(0);
    expect(log.bitmap).toEqual([W, H]);
    expect(log.workerGarbage).toMatchObject({ code: 'BAD_SIGNATURE' });
    expect(log.workerTruncated).toMatchObject({ code: 'TRUNCATED' });
    expect(log.afterDispose).toMatchObject({ code: 'NOT_INITIALIZED' });
    expect(log.noScript).toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    expect(log.noCore).toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    expect(log.noCore.message).toMatch(/no-such-core\.wasm/);
    // profiles: ['perimage'] — the core alone
    expect(log.piBackend).toBe('wasm');
    expect(Buffer.compare(Buffer.from(log.piPixels), Buffer.from(piPixels)), 'perimage-only nimg/worker vs Node').toBe(0);
    expect(requested.has('/w2.json') || requested.has('/w2.bin'), 'a perimage-only decoder fetched the weights').toBe(false);
    expect(requested.has('/pi.nimg')).toBe(true);
    expect(log.piV1).toMatchObject({ code: 'NOT_INITIALIZED' });
    expect(log.piV1.message).toMatch(/profiles/);
    expect(log.badProfiles).toMatchObject({ code: 'BAD_INPUT' });
  }, 150_000);
});
