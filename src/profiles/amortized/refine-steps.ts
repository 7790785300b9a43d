/** The amortized profile's encoder effort, `refine`: its bound and its split in two phases. */
import { NimgError } from '../../errors.js';

/** Largest `refine` accepted: a bound on encode time (on Kodak, 300 steps of y alone bought only 0.1% over 150). */
export const MAX_REFINE = 2000;

/**
 * Steps of refinement's second phase (y alone) out of `refine`: a third; the joint y and z
 * phase takes the rest (train/refine.py: 2/3 joint then 1/3 y gave 10.8% over the plain
 * encoder at 150 steps, against 10.3% all joint and 8.6% y alone).
 */
export function refineYSteps(refine: number): number {
  return Math.round(refine / 3);
}

/** `refine` checked: undefined → 0, else an integer in [0, MAX_REFINE] (BAD_INPUT otherwise). */
export function checkRefine(v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_REFINE) {
    throw new NimgError('BAD_INPUT', `refine must be an integer from 0 to ${MAX_REFINE}, got ${String(v)}`);
  }
  return v;
}
