/**
 * Cross-machine fixtures of the per-image profile: files encoded by the TypeScript encoder on
 * tfjs WebGPU on an NVIDIA H100 (Dawn/Vulkan; bench/perimage-gpu.ts `fixtures`, run by
 * bench/gpu/perimage-device.sh), with, from that same Node process on the device:
 *   gridsSha256  SHA-256 of the integer latent grids the encoder chose (finest first, int16 LE)
 *   rgbaSha256   SHA-256 of the RGBA that the core (WASM) decoded from the file there.
 * Here the file is decoded on this machine's CPU: its latents must hash to the encoder's
 * grids and its pixels to the device's decode. One integer of the context path (ARM,
 * tables, rANS) or of the synthesis that differs between machines fails this test.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createPerImageCore, type PerImageCore } from '../src/profiles/perimage/core.js';
import { parsePerImageContainer } from '../src/profiles/perimage/container.js';
import type { LatentGrids } from '../src/profiles/perimage/types.js';

interface GpuFixture {
  file: string;
  width: number;
  height: number;
  fileSha256: string;
  gridsSha256: string;
  rgbaSha256: string;
}

const dir = new URL('./fixtures/perimage/', import.meta.url);
const { fixtures } = JSON.parse(readFileSync(new URL('gpu-fixtures.json', dir), 'utf8')) as { fixtures: GpuFixture[] };

function gridsSha256(grids: LatentGrids): string {
  const h = createHash('sha256');
  for (const g of grids) {
    const b = Buffer.alloc(g.length * 2);
    for (let i = 0; i < g.length; i++) b.writeInt16LE(g[i], 2 * i);
    h.update(b);
  }
  return h.digest('hex');
}

let core: PerImageCore;
beforeAll(async () => {
  core = await createPerImageCore();
});

describe('GPU-made fixtures', () => {
  it('there are two', () => {
    expect(fixtures.length).toBe(2);
  });

  describe.each(fixtures)('$file', (fx) => {
    const bytes = new Uint8Array(readFileSync(new URL(fx.file, dir)));

    it('is the file the device wrote', () => {
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(fx.fileSha256);
    });

    it('decodes on the CPU to the latents the GPU encoder chose', () => {
      const f = parsePerImageContainer(bytes);
      expect([f.header.width, f.header.height]).toEqual([fx.width, fx.height]);
      const grids = core.decodeLatents(core.decodeFileParams(f), f.latents, fx.width, fx.height);
      expect(gridsSha256(grids)).toBe(fx.gridsSha256);
    });

    it('decodes on the CPU to the pixels the device decoded', () => {
      const f = parsePerImageContainer(bytes);
      const { rgba } = core.decodePayload(f.params, f.latents, fx.width, fx.height, { fineScales: f.header.fineScales });
      expect(createHash('sha256').update(rgba).digest('hex')).toBe(fx.rgbaSha256);
    });
  });
});
