/**
 * The module-level API (init/encode/decode/probe/lastTimings/dispose) with the Node loader:
 * weights from NIMG_WEIGHTS (random, written here), the core from build/.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as nimg from '../src/index.js';
import { makeRandomWeights } from './fixtures/random-weights.js';

const HAVE_CORE = existsSync(new URL('../build/nimg-core.wasm', import.meta.url)) && existsSync(new URL('../src/core/index.ts', import.meta.url));
if (!HAVE_CORE) console.warn('[api-default] SKIPPED: build/nimg-core.wasm missing (npm run asbuild)');

describe.skipIf(!HAVE_CORE)('module-level API with the Node loader', () => {
  let dir: string;
  const saved = process.env.NIMG_WEIGHTS;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'nimg-api-'));
    const rw = makeRandomWeights({ seed: 11, N: 8, M: 12, Nz: 8, hsHidden: [8, 8] });
    writeFileSync(path.join(dir, 'w.json'), rw.manifestJson);
    writeFileSync(path.join(dir, 'w.bin'), rw.bin);
    process.env.NIMG_WEIGHTS = path.join(dir, 'w.json');
  });
  afterAll(async () => {
    await nimg.dispose();
    if (saved === undefined) delete process.env.NIMG_WEIGHTS;
    else process.env.NIMG_WEIGHTS = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('encode/decode initialise lazily; init with a backend; stats and lastTimings', async () => {
    const w = 50, h = 30;
    const data = new Uint8ClampedArray(w * h * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 13) & 255));
    const bytes = await nimg.encode({ width: w, height: h, data }, { quality: 2 });
    expect(nimg.probe(bytes)).toMatchObject({ width: w, height: h, quality: 2, modelId: 'nimg-rand-11' });
    expect(await nimg.init({ backend: 'wasm', threads: 1 })).toBe('wasm');
    const t = nimg.lastTimings();
    expect(t.encode?.totalMs).toBeGreaterThan(0);
    const stats: Partial<nimg.DecodeStats> = {};
    const img = await nimg.decode(bytes, { backend: 'wasm', stats });
    expect([img.width, img.height, img.data.length]).toEqual([w, h, w * h * 4]);
    expect(stats.backend).toBe('wasm');
    expect(nimg.lastTimings().decode?.totalMs).toBe(stats.totalMs);
    const { bytes: b2, stats: es } = await nimg.encodeWithStats({ width: w, height: h, data }, { quality: 2, backend: 'wasm' });
    expect(Buffer.compare(Buffer.from(b2), Buffer.from(bytes))).toBe(0);
    expect(es.bpp).toBeCloseTo((bytes.length * 8) / (w * h), 10);
  }, 120_000);

  it('a backend that cannot start → BACKEND_UNAVAILABLE, and the codec keeps working', async () => {
    const r = await nimg.init({ backend: 'webgpu' }).then(
      () => 'OK',
      (e) => (e instanceof nimg.NimgError ? e.code : String(e)),
    );
    expect(['OK', 'BACKEND_UNAVAILABLE']).toContain(r);
    const img = await nimg.decode(await nimg.encode({ width: 8, height: 8, data: new Uint8Array(256).fill(255) }, { backend: 'wasm' }), { backend: 'wasm' });
    expect(img.width).toBe(8);
  }, 120_000);

  it('init with bad options → BAD_INPUT', async () => {
    await expect(nimg.init({ backend: 'tpu' as 'wasm' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(nimg.init({ limits: { maxWidth: 0 } })).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});
