/** Software-adapter detection with mocked `navigator.gpu` (this file's process only). */
import { vi, describe, expect, it, beforeAll } from 'vitest';

// generous: CI machines here are small and shared
vi.setConfig({ testTimeout: 30_000 });

let current: unknown = null;
beforeAll(() => {
  const gpu = { requestAdapter: async () => current };
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: 'test' }, configurable: true });
});

describe('probeWebGpuAdapter classifies adapters', () => {
  it.each([
    ['SwiftShader (info)', { info: { vendor: 'google', architecture: 'swiftshader', description: '' } }, true],
    ['llvmpipe (description)', { info: { vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' } }, true],
    ['fallback flag on info', { info: { vendor: 'x', isFallbackAdapter: true } }, true],
    ['fallback flag on adapter (older API)', { isFallbackAdapter: true, requestAdapterInfo: async () => ({ vendor: 'x' }) }, true],
    ['older API, SwiftShader via requestAdapterInfo', { requestAdapterInfo: async () => ({ vendor: 'google', architecture: 'swiftshader' }) }, true],
    ['hardware', { info: { vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA GeForce RTX 3080' } }, false],
  ])('%s', async (_name, adapter, software) => {
    const { probeWebGpuAdapter, probeBackends } = await import('../src/backend/index.js');
    current = adapter;
    const r = await probeWebGpuAdapter();
    expect(r.found).toBe(true);
    expect(r.software).toBe(software);
    const webgpu = (await probeBackends()).find((b) => b.name === 'webgpu')!;
    expect(webgpu.available).toBe(!software);
  });

  it('no adapter → not found, auto takes wasm', async () => {
    const { probeWebGpuAdapter, initBackend } = await import('../src/backend/index.js');
    current = null;
    expect((await probeWebGpuAdapter()).found).toBe(false);
    expect(await initBackend('auto')).toBe('wasm');
    await expect(initBackend('webgpu')).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
  });
});
