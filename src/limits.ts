/**
 * Resource limits: checked from the header (decode) or the image shape (encode) before any
 * large allocation. Exceeding one → NimgError('LIMIT_EXCEEDED'). Defaults documented in
 * FORMAT.md §Limits and README.md.
 */
import { NimgError } from './errors.js';

export interface Limits {
  /** largest accepted width in pixels (default 16384) */
  maxWidth: number;
  /** largest accepted height in pixels (default 16384) */
  maxHeight: number;
  /** largest accepted width × height (default 100 000 000 = 100 Mpx) */
  maxPixels: number;
  /** largest accepted .nimg file in bytes (default 256 MiB) */
  maxFileBytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxWidth: 16384,
  maxHeight: 16384,
  maxPixels: 100_000_000,
  maxFileBytes: 256 * 1024 * 1024,
});

/** Hard ceilings of the format itself (u32 fields); limits above them are clamped. */
export const FORMAT_MAX_DIMENSION = 0xffffffff;

/** Merge user limits over the defaults; BAD_INPUT on a non-positive or non-integer value. */
export function resolveLimits(user?: Partial<Limits> | null, base: Readonly<Limits> = DEFAULT_LIMITS): Limits {
  const out: Limits = { ...base };
  if (user == null) return out;
  if (typeof user !== 'object') throw new NimgError('BAD_INPUT', 'limits must be an object');
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) {
    const v = (user as Record<string, unknown>)[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v === Infinity || (Number.isInteger(v) && v > 0))) {
      throw new NimgError('BAD_INPUT', `limits.${key} must be a positive integer or Infinity, got ${String(v)}`);
    }
    out[key] = v;
  }
  return out;
}

/** LIMIT_EXCEEDED unless width × height is within the limits. */
export function checkDimensions(width: number, height: number, limits: Readonly<Limits>, what = 'image'): void {
  if (width > limits.maxWidth || height > limits.maxHeight) {
    throw new NimgError(
      'LIMIT_EXCEEDED',
      `${what} is ${width}x${height}; the limit is ${limits.maxWidth}x${limits.maxHeight} (limits.maxWidth/maxHeight)`,
    );
  }
  if (width * height > limits.maxPixels) {
    throw new NimgError(
      'LIMIT_EXCEEDED',
      `${what} has ${width * height} pixels (${width}x${height}); the limit is ${limits.maxPixels} (limits.maxPixels)`,
    );
  }
}
