/**
 * The public API in a browser: src/index.ts bundled for the browser (esbuild), run in
 * headless Chromium with init({ wasm: Module, weights, backend: 'wasm', wasmPaths }), no
 * Node loader. The browser's .nimg bytes must equal Node's for the same image, and a file
 * made in Node must decode to the same pixels there. Also checks that errors cross the
 * bundle as NimgError with codes. Skipped (with a message) without Chromium
 * (apt-get install -y chromium, or CHROMIUM_BIN).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NimgCodec } from '../src/codec.js';
import { makeRandomWeights } from './fixtures/random-weights.js';
import { chromiumBin as chromium, runPageInChromium } from './browser-page.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const CORE = join(root, 'build', 'nimg-core.wasm');
if (!chromium) console.warn('[api-browser] SKIPPED: no Chromium (apt-get install -y chromium, or set CHROMIUM_BIN)');
else if (!existsSync(CORE)) console.warn('[api-browser] SKIPPED: build/nimg-core.wasm missing (npm run asbuild)');

const W = 100, H = 70, Q = 3.5;
function image(): { width: number; height: number; data: Uint8ClampedArray } {
  const data = new Uint8ClampedArray(W * H * 4);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const i = 4 * (y * W + x);
      data[i] = 128 + 100 * Math.sin(x / 9);
      data[i + 1] = 128 + 90 * Math.cos(y / 6);
      data[i + 2] = (x * 3 + y * 5) & 255;
      data[i + 3] = x < 10 && y < 10 ? 128 : 255; // a transparent corner: alpha stream
    }
  return { width: W, height: H, data };
}

const PAGE = `
import * as nimg from ${JSON.stringify(join(root, 'src/index.ts'))};
${image.toString()}
const W = ${W}, H = ${H};
const log = {};
try {
  const [wasm, man, bin, nodeFile] = await Promise.all([
    WebAssembly.compileStreaming(fetch('/core.wasm')),
    fetch('/w.json').then((r) => r.text()),
    fetch('/w.bin').then((r) => r.arrayBuffer()),
    fetch('/node.nimg').then((r) => r.arrayBuffer()),
  ]);
  try { await nimg.encode(image()); } catch (e) { log.noInit = e instanceof nimg.NimgError ? e.code : String(e); }
  log.backend = await nimg.init({ wasm, weights: { manifest: man, bin: new Uint8Array(bin) }, backend: 'wasm', threads: 1, wasmPaths: '/wasm/' });
  const bytes = await nimg.encode(image(), { quality: ${Q} });
  log.bytes = Array.from(bytes);
  log.probe = nimg.probe(bytes);
  const own = await nimg.decode(bytes);
  log.ownAlpha = Array.from(own.data.subarray(0, 4 * 12));
  const dec = await nimg.decode(new Uint8Array(nodeFile));
  log.isClamped = dec.data instanceof Uint8ClampedArray;
  log.pixels = Array.from(dec.data);
  try { await nimg.decode(new Uint8Array(80)); } catch (e) { log.garbage = e instanceof nimg.NimgError ? e.code : String(e); }
} catch (e) {
  log.error = String((e && e.stack) || e);
}
await fetch('/result', { method: 'POST', body: JSON.stringify(log) });
`;

describe.skipIf(!chromium || !existsSync(CORE))('public API in headless Chromium', () => {
  it('bundles, initialises from bytes, and is bit-identical to Node', async () => {
    const rw = makeRandomWeights({ seed: 5 });
    const weights = { manifest: rw.manifestJson, bin: rw.bin };
    const codec = await NimgCodec.create({ wasm: new Uint8Array(readFileSync(CORE)), weights, backend: 'wasm', threads: 1 });
    const img = image();
    const nodeBytes = await codec.encode(img, { quality: Q });
    const nodePixels = (await codec.decode(nodeBytes)).data;
    codec.dispose();

    const dir = mkdtempSync(join(tmpdir(), 'nimg-api-browser-'));
    const esbuild = await import('esbuild');
    writeFileSync(join(dir, 'page.js'), PAGE);
    await esbuild.build({ entryPoints: [join(dir, 'page.js')], outfile: join(dir, 'bundle.js'), bundle: true, platform: 'browser', format: 'esm', target: 'es2022', logLevel: 'silent', nodePaths: [join(root, 'node_modules')] });
    const files: Record<string, [string, Uint8Array | string]> = {
      '/': ['text/html', '<!doctype html><script type="module" src="/bundle.js"></script>'],
      '/bundle.js': ['text/javascript', readFileSync(join(dir, 'bundle.js'))],
      '/core.wasm': ['application/wasm', readFileSync(CORE)],
      '/w.json': ['application/json', rw.manifestJson],
      '/w.bin': ['application/octet-stream', rw.bin],
      '/node.nimg': ['application/octet-stream', nodeBytes],
    };
    const wasmDir = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/');
    let log: Record<string, unknown>;
    try {
      log = await runPageInChromium({
        profileDir: join(dir, 'profile'),
        chromeArgs: ['--disable-gpu'],
        serve(u) {
          if (files[u]) return files[u];
          const wasmFile = u.startsWith('/wasm/') ? join(wasmDir, u.slice(6)) : null;
          return wasmFile && existsSync(wasmFile) ? ['application/wasm', readFileSync(wasmFile)] : null;
        },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(log.error).toBeUndefined();
    expect(log.noInit).toBe('NOT_INITIALIZED');
    expect(log.backend).toBe('wasm');
    expect(log.garbage).toBe('BAD_SIGNATURE');
    expect(log.probe).toMatchObject({ width: W, height: H, quality: Q, hasAlpha: true });
    expect(Buffer.compare(Buffer.from(log.bytes as number[]), Buffer.from(nodeBytes)), 'browser and Node .nimg bytes').toBe(0);
    expect(log.isClamped).toBe(true);
    expect(Buffer.compare(Buffer.from(log.pixels as number[]), Buffer.from(nodePixels)), 'browser and Node decoded pixels').toBe(0);
    expect((log.ownAlpha as number[])[3]).toBe(128);
  }, 150_000);
});
