import { describe, expect, it } from 'vitest';
import { parseWeights } from '../src/model/weights.js';
import { createTransforms } from '../src/model/transforms.js';
import { makeTestWeights, randomPlanar, testImage } from './model-reference.js';

describe('parallel WASM tile workers', () => {
  it('give output identical to single-thread (same tiles, same math)', async () => {
    const { manifestJson, bin } = makeTestWeights({ seed: 31, N: 16, M: 24, Nz: 16 });
    const w = await parseWeights(manifestJson, bin);
    const one = await createTransforms(w, { backend: 'wasm', threads: 1, tileSize: 64 });
    const two = await createTransforms(w, { backend: 'wasm', threads: 2, tileSize: 64 });
    await two.ready();
    try {
      expect(one.threads).toBe(1);
      expect(two.threads).toBe(2);
      const x = testImage(128, 192, 5);
      expect(Array.from(await two.analysis(x, 128, 192))).toEqual(Array.from(await one.analysis(x, 128, 192)));
      const ys = randomPlanar(24, 16, 16, 2, -3, 3);
      expect(Array.from(await two.hyperAnalysis(ys, 16, 16))).toEqual(Array.from(await one.hyperAnalysis(ys, 16, 16)));
      const yh = randomPlanar(24, 8, 12, 3, -2, 2);
      const [a, b] = await Promise.all([two.synthesis(yh, 8, 12), two.synthesis(yh, 8, 12)]); // concurrent calls share the pool
      const ref = await one.synthesis(yh, 8, 12);
      expect(Array.from(a)).toEqual(Array.from(ref));
      expect(Array.from(b)).toEqual(Array.from(ref));
    } finally {
      one.dispose();
      two.dispose();
    }
  }, 60_000);
});

describe('wasmPaths option', () => {
  it('is honoured by the WASM loader (checked in fresh worker engines)', async () => {
    const { manifestJson, bin } = makeTestWeights({ seed: 32 });
    const w = await parseWeights(manifestJson, bin);
    const dir = new URL('../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url).pathname;
    const ok = await createTransforms(w, { backend: 'wasm', threads: 2, wasmPaths: dir, tileSize: 64 });
    await ok.ready();
    expect(ok.threads).toBe(2);
    try {
      const x = testImage(64, 128, 1);
      const one = await createTransforms(w, { backend: 'wasm', threads: 1, tileSize: 64 });
      expect(Array.from(await ok.analysis(x, 64, 128))).toEqual(Array.from(await one.analysis(x, 64, 128)));
      one.dispose();
    } finally {
      ok.dispose();
    }
    const bad = await createTransforms(w, { backend: 'wasm', threads: 2, wasmPaths: '/nonexistent/wasm/', tileSize: 64 });
    await expect(bad.ready()).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    await expect(bad.analysis(testImage(64, 128, 1), 64, 128)).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    bad.dispose();
  }, 60_000);
});
