import { describe, expect, it } from 'vitest';
import { coarseScale, haloCells, haloSides, opLayers, planTiles, receptiveField, extractNHWC, placeNHWC } from '../src/model/tiling.js';

describe('receptive fields and halos (from the layer stacks)', () => {
  it('g_a: 61 px field, 2-latent halo; g_s and h_a: 2-cell halos', () => {
    expect(receptiveField(opLayers('analysis'))).toMatchObject({ rf: 61, jump: 16, badLeft: 2, badRight: 1 });
    expect(receptiveField(opLayers('synthesis'))).toMatchObject({ rf: 5, badLeft: 30, badRight: 30 });
    expect(receptiveField(opLayers('hyper'))).toMatchObject({ rf: 15, jump: 4, badLeft: 2, badRight: 1 });
    expect(haloCells('analysis')).toBe(2); // 32 px
    expect(haloCells('synthesis')).toBe(2); // 2 latent = 32 output px >= 30 contaminated
    expect(haloCells('hyper')).toBe(2); // 8 latent px
    expect(coarseScale('analysis')).toEqual({ sIn: 16, sOut: 1 });
    expect(haloSides('analysis')).toEqual({ before: 2, after: 1 });
    expect(haloSides('hyper')).toEqual({ before: 2, after: 1 });
    expect(haloSides('synthesis')).toEqual({ before: 2, after: 2 });
  });

  it('planTiles covers the grid exactly once, balanced, halos clipped at the border', () => {
    const tiles = planTiles(33, 50, 16, 2);
    const seen = new Uint8Array(33 * 50);
    for (const t of tiles) {
      expect(t.y1 - t.y0).toBeLessThanOrEqual(16);
      expect(t.x1 - t.x0).toBeLessThanOrEqual(16);
      expect(t.ey0).toBe(Math.max(0, t.y0 - 2));
      expect(t.ex1).toBe(Math.min(50, t.x1 + 2));
      for (let y = t.y0; y < t.y1; y++) for (let x = t.x0; x < t.x1; x++) seen[y * 50 + x]++;
    }
    expect(seen.every((v) => v === 1)).toBe(true);
    expect(tiles.length).toBe(3 * 4);
    expect(planTiles(10, 10, 1000, 2)).toEqual([{ y0: 0, y1: 10, x0: 0, x1: 10, ey0: 0, ey1: 10, ex0: 0, ex1: 10 }]);
  });

  it('extractNHWC / placeNHWC round-trip a window', () => {
    const C = 3, H = 5, W = 7;
    const src = Float32Array.from({ length: C * H * W }, (_, i) => i);
    const tile = extractNHWC(src, C, H, W, 1, 4, 2, 6); // 3x4
    expect(tile[0]).toBe(src[0 * H * W + 1 * W + 2]);
    expect(tile[1]).toBe(src[1 * H * W + 1 * W + 2]);
    const dst = new Float32Array(C * H * W);
    placeNHWC(tile, 3, 4, C, 0, 0, 3, 4, dst, H, W, 1, 2);
    for (let c = 0; c < C; c++) for (let y = 1; y < 4; y++) for (let x = 2; x < 6; x++) expect(dst[(c * H + y) * W + x]).toBe(src[(c * H + y) * W + x]);
  });
});
