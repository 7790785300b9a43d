/**
 * Issue 14, in headless Chromium: the example pages (examples/vite built with Vite,
 * examples/esbuild with esbuild, both against the package as `npm run build` emits it),
 * served on 127.0.0.1 with and without COOP/COEP. A decode through nimg/worker completes,
 * its pixels equal Node's decode of the same file, and no long task on the page's thread
 * exceeds 100 ms meanwhile. <nimg-img>: a screenshot of the element equals the reference
 * decode pixel for pixel (device scale factor 1, sRGB); alt, sizing, lazy loading,
 * fallback and error events. Skipped (with a message) without Chromium
 * (apt-get install -y chromium, or CHROMIUM_BIN).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'puppeteer-core';
import { NimgCodec } from '../src/codec.js';
import { decodeImageFile, decodePng } from '../src/image/index.js';
import { chromiumBin as chromium } from './browser-page.js';
import { serveStatic, type StaticServer } from './static-server.js';

if (!chromium) console.warn('[examples-browser] SKIPPED: no Chromium (apt-get install -y chromium, or set CHROMIUM_BIN)');

const root = fileURLToPath(new URL('..', import.meta.url));
const LONG_TASK_LIMIT_MS = 100;

interface DemoResult {
  ok: boolean;
  error?: string;
  backend?: string;
  threads?: number;
  crossOriginIsolated: boolean;
  width?: number;
  height?: number;
  loadMs?: number;
  decodeMs?: number;
  stats?: { totalMs: number };
  longTasks: { start: number; duration: number }[];
  loadLongTasks: { start: number; duration: number }[];
}

describe.skipIf(!chromium)('examples (Vite, esbuild) and <nimg-img> in headless Chromium', () => {
  let dir = '';
  let browser: Browser;
  let ref: { width: number; height: number; data: Uint8ClampedArray };
  const built: Record<'vite' | 'esbuild', string> = { vite: '', esbuild: '' };
  const servers: StaticServer[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nimg-examples-'));
    // the package as published: dist/ mirroring src/, worker scripts and assets beside it
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
    // the test file: the sample photo encoded with the shipped weights, and Node's decode of it
    const codec = await NimgCodec.create({ backend: 'wasm', threads: 1 });
    // NIMG_EXAMPLE_IMAGE: another PNG/JPEG for measuring (e.g. a 768x512 Kodak image)
    const png = readFileSync(process.env.NIMG_EXAMPLE_IMAGE ?? join(root, 'src/node/sample.png'));
    const bytes = await codec.encode(await decodeImageFile(new Uint8Array(png)), { quality: 5 });
    ref = await codec.decode(bytes);
    codec.dispose();
    const files = join(dir, 'files');
    execFileSync('mkdir', ['-p', files]);
    writeFileSync(join(files, 'sample.nimg'), bytes);
    writeFileSync(join(files, 'lazy.nimg'), bytes);
    writeFileSync(join(files, 'sample.png'), png);

    const vite = await import('vite');
    built.vite = join(dir, 'vite');
    await vite.build({ configFile: join(root, 'examples/vite/vite.config.ts'), logLevel: 'warn', build: { outDir: built.vite, emptyOutDir: true } });
    const { buildExample } = (await import(join(root, 'examples/esbuild/build.mjs'))) as { buildExample(out: string): Promise<string> };
    built.esbuild = await buildExample(join(dir, 'esbuild'));

    const puppeteer = await import('puppeteer-core');
    browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      userDataDir: join(dir, 'profile'),
      // no GPU: nimg runs tfjs WASM in its worker; sRGB and scale 1: screenshot pixels are the canvas's
      args: ['--no-sandbox', '--disable-gpu', '--force-color-profile=srgb', '--force-device-scale-factor=1'],
    });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(servers.map((s) => s.close()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function open(bundler: 'vite' | 'esbuild', page: string, isolated: boolean): Promise<{ page: Page; server: StaticServer; errors: string[] }> {
    const server = await serveStatic([built[bundler], join(dir, 'files')], { isolated });
    servers.push(server);
    const p = await browser.newPage();
    await p.setViewport({ width: 800, height: 600, deviceScaleFactor: 1 });
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(String(e)));
    p.on('console', (m) => {
      // failed requests are reported with their URL below
      if ((m.type() === 'error' || m.type() === 'warn') && !m.text().startsWith('Failed to load resource')) errors.push(`${m.type()}: ${m.text()}`);
    });
    p.on('response', (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) errors.push(`HTTP ${r.status()} ${r.url()}`);
    });
    // the element's load/error events (they do not bubble: listen in the capture phase)
    await p.evaluateOnNewDocument(() => {
      const seen: [string, string, string | null][] = [];
      (window as unknown as { nimgEvents: typeof seen }).nimgEvents = seen;
      for (const type of ['load', 'error'])
        document.addEventListener(
          type,
          (e) => {
            const t = e.target as HTMLElement;
            if (t.tagName === 'NIMG-IMG') seen.push([t.id, type, (e as CustomEvent).detail?.code ?? null]);
          },
          true,
        );
    });
    await p.goto(server.url + page);
    return { page: p, server, errors };
  }

  it('the long-task observer of this Chromium sees a 150 ms task (the 100 ms checks below can fail)', async () => {
    const { page } = await open('vite', 'index.html', false);
    const seen = await page.evaluate(
      () =>
        new Promise<number[]>((resolve) => {
          const d: number[] = [];
          new PerformanceObserver((l) => d.push(...l.getEntries().map((e) => e.duration))).observe({ type: 'longtask' });
          setTimeout(() => {
            const t = performance.now();
            while (performance.now() - t < 150);
            setTimeout(() => resolve(d), 200);
          }, 0);
        }),
    );
    await page.close();
    expect(Math.max(0, ...seen)).toBeGreaterThanOrEqual(150);
  }, 60_000);

  for (const bundler of ['vite', 'esbuild'] as const) {
    for (const isolated of [false, true]) {
      it(`${bundler}${isolated ? ', COOP/COEP' : ''}: decodes in the worker, pixels equal Node's, no long task over ${LONG_TASK_LIMIT_MS} ms`, async () => {
        const { page, errors } = await open(bundler, 'index.html', isolated);
        await page.waitForFunction(() => 'nimgDemo' in window, { timeout: 120_000 });
        const r = (await page.evaluate(() => (window as unknown as { nimgDemo: unknown }).nimgDemo)) as DemoResult;
        const cores = await page.evaluate(() => navigator.hardwareConcurrency);
        // read after the measurement (a base64 of the pixels is a long task of its own)
        const rgba = await page.evaluate(() => {
          const px = (window as unknown as { nimgPixels?: Uint8Array }).nimgPixels;
          if (!px) return '';
          let s = '';
          for (let i = 0; i < px.length; i += 0x8000) s += String.fromCharCode(...px.subarray(i, i + 0x8000));
          return btoa(s);
        });
        await page.close();
        console.log(`[examples-browser] ${bundler}${isolated ? ' COOP/COEP' : ''}: ${JSON.stringify({ ...r, stats: r.stats && { totalMs: Math.round(r.stats.totalMs) } })}`);
        expect(r.error, errors.join('\n')).toBeUndefined();
        expect(r.ok).toBe(true);
        expect(r.crossOriginIsolated).toBe(isolated);
        expect(r.backend).toBe('wasm');
        // the tile workers started from inside the decoder worker (the bundled wasm-worker.js
        // was found): as many as the default, cores up to 4
        expect(r.threads).toBe(Math.min(4, cores));
        expect([r.width, r.height]).toEqual([ref.width, ref.height]);
        const px = Buffer.from(rgba, 'base64');
        expect(px.length).toBe(ref.data.length);
        expect(Buffer.compare(px, Buffer.from(ref.data)), 'pixels of the worker decode vs Node').toBe(0);
        // the page's thread during the decode call (loading before it is reported, not checked:
        // it includes the page's own start-up)
        expect(Math.max(0, ...r.longTasks.map((t) => t.duration))).toBeLessThanOrEqual(LONG_TASK_LIMIT_MS);
        expect(errors).toEqual([]);
      }, 150_000);
    }
  }

  for (const bundler of ['vite', 'esbuild'] as const) {
    it(`<nimg-img> (${bundler}): the screenshot equals the reference decode; alt, width, lazy, fallback, error`, async () => {
      const { page, server } = await open(bundler, 'element.html', false);
      const events = () => page.evaluate(() => (window as unknown as { nimgEvents: [string, string, string | null][] }).nimgEvents);
      await page.waitForFunction(() => (window as unknown as { nimgEvents: unknown[] }).nimgEvents.length >= 4, { timeout: 120_000 });
      const ev = await events();
      expect(ev).toContainEqual(['photo', 'load', null]);
      expect(ev).toContainEqual(['sized', 'load', null]);
      expect(ev).toContainEqual(['fallback', 'load', null]);
      expect(ev).toContainEqual(['broken', 'error', 'BAD_INPUT']);
      const info = await page.evaluate(() => {
        const q = (id: string) => document.getElementById(id) as HTMLElement & { naturalWidth: number; naturalHeight: number; currentSrc: string; error: { code: string } | null };
        const box = (id: string) => {
          const r = q(id).getBoundingClientRect();
          return { x: r.x, y: r.y, width: r.width, height: r.height };
        };
        return {
          photo: { box: box('photo'), role: q('photo').getAttribute('role'), label: q('photo').getAttribute('aria-label'), natural: [q('photo').naturalWidth, q('photo').naturalHeight] },
          sized: box('sized'),
          fallback: { src: q('fallback').currentSrc, code: q('fallback').error?.code },
        };
      });
      expect(info.photo.role).toBe('img');
      expect(info.photo.label).toBe('A sample photograph');
      expect(info.photo.natural).toEqual([ref.width, ref.height]);
      expect(info.photo.box).toEqual({ x: 0, y: 0, width: ref.width, height: ref.height });
      // width alone keeps the aspect ratio, as for <img>
      expect(info.sized.width).toBe(120);
      expect(info.sized.height).toBeCloseTo((120 * ref.height) / ref.width, 5);
      expect(info.fallback.src.endsWith('/sample.png')).toBe(true);
      expect(info.fallback.code).toBe('BAD_INPUT');
      const ax = await page.accessibility.snapshot();
      expect(JSON.stringify(ax)).toContain('A sample photograph');

      const shot = await page.screenshot({ type: 'png', clip: { x: 0, y: 0, width: ref.width, height: ref.height } });
      const img = await decodePng(new Uint8Array(shot));
      expect([img.width, img.height]).toEqual([ref.width, ref.height]);
      let diff = 0;
      for (let i = 0; i < ref.data.length; i++) if (img.data[i] !== ref.data[i]) diff++;
      expect(diff, 'screenshot bytes that differ from the reference decode').toBe(0);

      // lazy: nothing fetched until it nears the viewport
      expect(server.requests).not.toContain('/lazy.nimg');
      await page.evaluate(() => document.getElementById('lazy')!.scrollIntoView());
      await page.waitForFunction(() => (window as unknown as { nimgEvents: [string, string][] }).nimgEvents.some((e) => e[0] === 'lazy'), { timeout: 60_000 });
      expect(await events()).toContainEqual(['lazy', 'load', null]);
      expect(server.requests).toContain('/lazy.nimg');
      await page.close();
    }, 150_000);
  }
});
