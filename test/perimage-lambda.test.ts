/** quality ↔ λ of the per-image encoder: lambdaToQuality inverts qualityToLambda on [1, 8] and clamps outside. */
import { describe, expect, it } from 'vitest';
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
