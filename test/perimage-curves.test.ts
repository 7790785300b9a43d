/**
 * bench/perimage-curves.ts recipeOf: the recipe a per-image row's recorded training settings
 * name (the RD report and the mid-rate set group Kodak rows into curves by it), r1 to r5.
 */
import { describe, expect, it } from 'vitest';
import { recipeOf } from '../bench/perimage-curves.js';

describe('perimage-curves recipeOf', () => {
  it('names r1 … r5 from the recorded settings', () => {
    const r4 = { bestEvery: 50, steLatentScale: 0, log2bGrad: 'inward', fineScales: true };
    expect(recipeOf({})).toBe('r1'); // rows made before the settings were recorded
    expect(recipeOf({ ...r4, bestEvery: 0 })).toBe('r1');
    expect(recipeOf({ ...r4, log2bGrad: 'clamp' })).toBe('r2');
    expect(recipeOf({ ...r4, fineScales: false })).toBe('r3');
    expect(recipeOf(r4)).toBe('r4');
    expect(recipeOf({ ...r4, soap: null })).toBe('r4'); // rows of the jobs bench record soap: null without it
    expect(recipeOf({ ...r4, soap: 'syn' })).toBe('r5');
    expect(recipeOf({ ...r4, fineScales: false, soap: 'syn' })).toBe('r3'); // SOAP names a curve of r4's settings only
  });
});
