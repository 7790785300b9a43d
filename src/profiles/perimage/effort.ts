/**
 * `effort` of a perimage encode → optimisation steps. Effort is the share of the encoder's
 * default number of steps (DEFAULT_STEPS in encoder/index.ts, 8000 today: the setting its
 * time and rate figures are measured at), so rate-vs-time trade-offs read directly as
 * 25 / 50 / 100 % of it. The default is read from the encoder module when an encode runs, so
 * this file (which the dispatcher imports) pulls no tfjs into decode-only bundles.
 */
import { NimgError } from '../../errors.js';

export const DEFAULT_EFFORT = 1;

/** effort checked: undefined → 1; else a finite number in (0, 1] (BAD_INPUT otherwise). */
export function checkEffort(v: unknown): number {
  if (v === undefined) return DEFAULT_EFFORT;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 1) {
    throw new NimgError('BAD_INPUT', `effort must be a number in (0, 1] (the share of the default optimisation steps), got ${String(v)}`);
  }
  return v;
}

/** steps = max(1, round(effort × defaultSteps)) */
export function stepsOfEffort(effort: number, defaultSteps: number): number {
  return Math.max(1, Math.round(effort * defaultSteps));
}
