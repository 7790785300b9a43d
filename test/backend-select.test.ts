import { vi, describe, expect, it } from 'vitest';

// generous: CI machines here are small and shared
vi.setConfig({ testTimeout: 30_000 });
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, probeBackends, probeWebGpuAdapter, defaultTileSize } from '../src/backend/index.js';
import { parseWeights } from '../src/model/weights.js';
import { createTransforms } from '../src/model/transforms.js';
import { makeTestWeights } from './model-reference.js';

describe('backend registry', () => {
  it('lists backends by priority; auto never offers cpu', async () => {
    const p = await probeBackends();
    expect(p.map((b) => b.name)).toEqual(['webgpu', 'wasm', 'cpu']);
    expect(p.find((b) => b.name === 'cpu')!.available).toBe(false);
    expect(p.find((b) => b.name === 'wasm')!.available).toBe(true);
  });

  it('auto picks webgpu only for a hardware adapter, else wasm (never cpu)', async () => {
    const a = await probeWebGpuAdapter();
    const got = await initBackend('auto');
    expect(got).toBe(a.found && !a.software ? 'webgpu' : 'wasm');
    expect(tf.getBackend()).toBe(got);
  });

  it('cpu only when asked for by name', async () => {
    expect(await initBackend('cpu')).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await initBackend('wasm')).toBe('wasm');
  });

  it('a forced webgpu takes any adapter, or fails with BACKEND_UNAVAILABLE (no silent fallback)', async () => {
    const a = await probeWebGpuAdapter();
    if (a.found) {
      expect(await initBackend('webgpu')).toBe('webgpu');
      await initBackend('wasm');
    } else {
      await expect(initBackend('webgpu')).rejects.toMatchObject({ name: 'NimgError', code: 'BACKEND_UNAVAILABLE' });
      expect(tf.getBackend()).not.toBe('cpu');
    }
  });

  it('createTransforms reports its backend and the per-backend tile size', async () => {
    const { manifestJson, bin } = makeTestWeights({ seed: 1 });
    const w = await parseWeights(manifestJson, bin);
    const t = await createTransforms(w, { backend: 'wasm', threads: 1 });
    expect(t.backend).toBe('wasm');
    expect(t.tileSize).toBe(defaultTileSize('wasm'));
    t.dispose();
    const t2 = await createTransforms(w, { backend: 'wasm', threads: 1, tileSize: 200 });
    expect(t2.tileSize).toBe(192);
    t2.dispose();
    await expect(createTransforms(w, { backend: 'nope' as 'wasm' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(createTransforms(w, { backend: 'wasm', threads: 0 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});
