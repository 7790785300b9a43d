/** quality ↔ λ of the per-image encoder: lambdaToQuality inverts qualityToLambda on [1, 8] and clamps outside. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { LAMBDA_TABLE, lambdaToQuality, qualityToLambda } from '../src/profiles/perimage/encoder/lambda.js';

describe('lambdaToQuality', () => {
  it('inverts qualityToLambda', () => {
    for (let q = 1; q <= 8; q += 0.125) expect(lambdaToQuality(qualityToLambda(q))).toBeCloseTo(q, 9);
  });
  it('clamps to [1, 8] and rejects non-positive λ', () => {
    expect(lambdaToQuality(LAMBDA_TABLE[0] * 3)).toBe(1);
    expect(lambdaToQuality(LAMBDA_TABLE[7] / 3)).toBe(8);
    expect(() => lambdaToQuality(0)).toThrow();
    expect(() => lambdaToQuality(Number.NaN)).toThrow();
  });
});

describe('the quality scale', () => {
  // bench/perimage-calibrate.ts on the committed calibration rows (training photos, never Kodak)
  const cal = JSON.parse(readFileSync(new URL('../bench/results/perimage-calibration.json', import.meta.url), 'utf8')) as {
    table: number[]; table_in_use: number[]; amortized_bpp: number[]; perimage_bpp_at_table_in_use: number[];
  };
  it('is the calibrated table', () => {
    expect([...LAMBDA_TABLE]).toEqual(cal.table);
    // the calibration was re-run with this table in place, so its bpp columns describe it
    expect(cal.table_in_use).toEqual([...LAMBDA_TABLE]);
  });
  it('gives about the amortized profile\'s bpp at every integer quality (calibration photos)', () => {
    for (let q = 0; q < 8; q++) {
      const ratio = cal.perimage_bpp_at_table_in_use[q] / cal.amortized_bpp[q];
      expect(ratio).toBeGreaterThan(0.9);
      expect(ratio).toBeLessThan(1.1);
    }
  });
});
