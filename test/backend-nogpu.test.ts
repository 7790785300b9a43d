/**
 * On a Linux machine with no GPU device node and no Vulkan driver list in the environment,
 * `auto` must not load Dawn at all: its probe prints Vulkan errors on stderr (seen in the
 * CLI and `npm start`), and it can only find a software adapter that `auto` refuses anyway.
 */
import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { probeBackends } from '../src/backend/index.js';

const gpuNode = existsSync('/dev/nvidia0') || existsSync('/dev/kfd') || (existsSync('/dev/dri') && readdirSync('/dev/dri').some((n) => n.startsWith('renderD')));
const applies = process.platform === 'linux' && !gpuNode;

describe.skipIf(!applies)('auto on a GPU-less Linux machine', () => {
  it('skips the Dawn probe and reports why', async () => {
    const saved = { a: process.env.VK_ICD_FILENAMES, b: process.env.VK_DRIVER_FILES };
    delete process.env.VK_ICD_FILENAMES;
    delete process.env.VK_DRIVER_FILES;
    try {
      const webgpu = (await probeBackends()).find((b) => b.name === 'webgpu')!;
      expect(webgpu.available).toBe(false);
      expect(webgpu.reason).toMatch(/Dawn not probed/);
      expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBeUndefined();
    } finally {
      if (saved.a !== undefined) process.env.VK_ICD_FILENAMES = saved.a;
      if (saved.b !== undefined) process.env.VK_DRIVER_FILES = saved.b;
    }
  });
});
