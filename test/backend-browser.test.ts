/**
 * The browser path, end to end in headless Chromium: a bundle (esbuild, platform=browser)
 * of weights.ts + transforms.ts, weights fetched and verified with WebCrypto, the WASM
 * backend loaded through `wasmPaths`, tiles on 2 module Web Workers — output identical to
 * 1 thread and to Node; and WebGPU in the browser on SwiftShader (auto refuses it, a forced
 * webgpu matches Node). Skipped (with a message) when no Chromium is installed
 * (`apt-get install -y chromium`, or set CHROMIUM_BIN).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseWeights } from '../src/model/weights.js';
import { createTransforms } from '../src/model/transforms.js';
import { makeTestWeights } from './model-reference.js';
import { chromiumBin as chromium, runPageInChromium } from './browser-page.js';

if (!chromium) console.warn('[backend-browser] SKIPPED: no Chromium found (apt-get install -y chromium, or set CHROMIUM_BIN)');

const root = fileURLToPath(new URL('..', import.meta.url));
const src = (p: string) => JSON.stringify(join(root, p));

const PAGE = `
import { parseWeights } from ${src('src/model/weights.ts')};
import { createTransforms } from ${src('src/model/transforms.ts')};
const log = {};
try {
  const [man, bin] = await Promise.all([fetch('/w.json').then((r) => r.text()), fetch('/w.bin').then((r) => r.arrayBuffer())]);
  const w = await parseWeights(man, new Uint8Array(bin));
  log.hash = w.hash;
  const one = await createTransforms(w, { backend: 'wasm', threads: 1, tileSize: 64, wasmPaths: '/wasm/' });
  const two = await createTransforms(w, { backend: 'wasm', threads: 2, tileSize: 64, wasmPaths: '/wasm/' });
  await two.ready();
  log.threads = [one.threads, two.threads];
  const H = 128, W = 192;
  const x = new Float32Array(3 * H * W);
  for (let i = 0; i < x.length; i++) x[i] = 0.5 + 0.4 * Math.sin(i * 0.01);
  const a = await one.analysis(x, H, W);
  const b = await two.analysis(x, H, W);
  const s1 = await one.synthesis(a, H / 16, W / 16);
  const s2 = await two.synthesis(a, H / 16, W / 16);
  log.analysisEqual = a.every((v, i) => v === b[i]);
  log.synthesisEqual = s1.every((v, i) => v === s2[i]);
  log.a = Array.from(a.subarray(0, 64));
  log.s = Array.from(s1.subarray(0, 64));
  one.dispose();
  two.dispose();
} catch (e) {
  log.error = String((e && e.stack) || e);
}
await fetch('/result', { method: 'POST', body: JSON.stringify(log) });
`;

const PAGE_WEBGPU = `
import { parseWeights } from ${src('src/model/weights.ts')};
import { createTransforms } from ${src('src/model/transforms.ts')};
import { probeWebGpuAdapter, probeBackends } from ${src('src/backend/index.ts')};
const log = {};
try {
  log.adapter = await probeWebGpuAdapter();
  log.autoWebgpu = (await probeBackends()).find((b) => b.name === 'webgpu').available;
  const [man, bin] = await Promise.all([fetch('/w.json').then((r) => r.text()), fetch('/w.bin').then((r) => r.arrayBuffer())]);
  const w = await parseWeights(man, new Uint8Array(bin));
  const t = await createTransforms(w, { backend: 'webgpu' });
  log.backend = t.backend;
  const H = 128, W = 192;
  const x = new Float32Array(3 * H * W);
  for (let i = 0; i < x.length; i++) x[i] = 0.5 + 0.4 * Math.sin(i * 0.01);
  const a = await t.analysis(x, H, W);
  const s = await t.synthesis(a, H / 16, W / 16);
  log.a = Array.from(a.subarray(0, 64));
  log.s = Array.from(s.subarray(0, 64));
  t.dispose();
} catch (e) {
  log.error = String((e && e.stack) || e);
}
await fetch('/result', { method: 'POST', body: JSON.stringify(log) });
`;

const WEIGHTS = makeTestWeights({ seed: 7, N: 16, M: 24, Nz: 16 });

/** Node's own (WASM, 1 thread) result for the pages' image. */
async function nodeReference(): Promise<{ hash: string; a: number[]; s: number[] }> {
  const w = await parseWeights(WEIGHTS.manifestJson, WEIGHTS.bin);
  const t = await createTransforms(w, { backend: 'wasm', threads: 1, tileSize: 64 });
  const H = 128, W = 192;
  const x = new Float32Array(3 * H * W);
  for (let i = 0; i < x.length; i++) x[i] = 0.5 + 0.4 * Math.sin(i * 0.01);
  const a = await t.analysis(x, H, W);
  const s = await t.synthesis(a, H / 16, W / 16);
  t.dispose();
  return { hash: w.hash, a: Array.from(a.subarray(0, 64)), s: Array.from(s.subarray(0, 64)) };
}

/** Bundle `page`, serve it with the weights and the WASM files, run headless Chromium, return what the page posts. */
async function runPage(page: string, chromeArgs: string[], env: NodeJS.ProcessEnv = {}): Promise<Record<string, unknown>> {
  const esbuild = await import('esbuild');
  const dir = mkdtempSync(join(tmpdir(), 'nimg-browser-'));
  writeFileSync(join(dir, 'page.js'), page);
  const common = { bundle: true, platform: 'browser' as const, format: 'esm' as const, target: 'es2022', logLevel: 'silent' as const };
  await esbuild.build({ ...common, entryPoints: [join(dir, 'page.js')], outfile: join(dir, 'bundle.js'), nodePaths: [join(root, 'node_modules')] });
  // pool.ts starts workers at new URL('./wasm-worker.js', import.meta.url): serve the bundled worker there
  await esbuild.build({ ...common, entryPoints: [join(root, 'src/backend/wasm-worker.ts')], outfile: join(dir, 'worker.js') });
  writeFileSync(join(dir, 'w.json'), WEIGHTS.manifestJson);
  writeFileSync(join(dir, 'w.bin'), WEIGHTS.bin);
  writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="/bundle.js"></script>');

  const wasmDir = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/');
  const types: Record<string, string> = { js: 'text/javascript', ts: 'text/javascript', json: 'application/json', wasm: 'application/wasm', html: 'text/html' };
  return runPageInChromium({
    profileDir: join(dir, 'profile'),
    chromeArgs,
    env,
    serve(u) {
      const f = u === '/' ? join(dir, 'index.html') : u === '/wasm-worker.js' ? join(dir, 'worker.js') : u.startsWith('/wasm/') ? join(wasmDir, u.slice(6)) : join(dir, u.slice(1));
      return existsSync(f) ? [types[f.split('.').pop()!] ?? 'application/octet-stream', readFileSync(f)] : null;
    },
  });
}

describe.skipIf(!chromium)('browser (headless Chromium)', () => {
  it('WASM: WebCrypto weights, wasmPaths, Web Worker tiles identical to 1 thread and to Node', async () => {
    const log = await runPage(PAGE, ['--disable-gpu']);
    expect(log.error).toBeUndefined();
    const ref = await nodeReference();
    expect(log.hash).toBe(ref.hash);
    expect(log.threads).toEqual([1, 2]);
    expect(log.analysisEqual).toBe(true);
    expect(log.synthesisEqual).toBe(true);
    expect(log.a).toEqual(ref.a);
    expect(log.s).toEqual(ref.s);
  }, 150_000);

  const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
  it.skipIf(!existsSync(swiftshader))('WebGPU (SwiftShader): auto refuses the software adapter, a forced webgpu matches Node', async () => {
    const log = await runPage(
      PAGE_WEBGPU,
      ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--use-angle=swiftshader'],
      { VK_ICD_FILENAMES: swiftshader },
    );
    expect(log.error).toBeUndefined();
    expect(log.adapter).toMatchObject({ found: true, software: true });
    expect(log.autoWebgpu).toBe(false);
    expect(log.backend).toBe('webgpu');
    const ref = await nodeReference();
    const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) <= 1e-4 * (1 + Math.abs(b[i])));
    expect(close(log.a as number[], ref.a)).toBe(true);
    expect(close(log.s as number[], ref.s)).toBe(true);
  }, 150_000);
});
