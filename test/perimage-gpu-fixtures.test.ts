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
import { readdirSync, readFileSync } from 'node:fs';
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

/**
 * The bench's Kodak files at the default effort with the FINE_SCALES table set (recipe r4),
 * encoded on an NVIDIA H100 (bench/perimage-gpu.ts `jobs`): each row holds the SHA-256 of the
 * grids the encoder chose there. Decoded here, the latents must hash the same: the fine
 * tables' integer path agrees across machines on real photos, not only on the fixtures above.
 */
describe('Kodak files of the bench, FINE_SCALES, made on an H100', () => {
  const rowsDir = new URL('../bench/results/perimage-rows/', import.meta.url);
  const filesDir = new URL('../bench/results/files/perimage/', import.meta.url);
  const rows = readdirSync(rowsDir).filter((n) => /-s8000-r4\.json$/.test(n)).map(
    (n) => JSON.parse(readFileSync(new URL(n, rowsDir), 'utf8')) as { name: string; file?: string; width: number; height: number; gridsSha256: string; fineScales: boolean; gpu: string },
  );
  it('there are the twelve of kodim01 and kodim04', () => {
    expect(rows.filter((r) => /^kodim0[14]-/.test(r.name)).length).toBe(12);
  });
  it.each(rows.map((r) => [r.name, r] as const))('%s decodes to the encoder\'s latents', (_n, r) => {
    expect(r.fineScales).toBe(true);
    expect(r.gpu).toMatch(/H100|H200/);
    const f = parsePerImageContainer(new Uint8Array(readFileSync(new URL(r.file ?? `${r.name}.nimg`, filesDir))));
    expect(f.header.fineScales).toBe(true);
    const grids = core.decodeLatents(core.decodeFileParams(f), f.latents, r.width, r.height);
    expect(gridsSha256(grids)).toBe(r.gridsSha256);
  });
});
