/**
 * Resource limits: checked from the header (decode), the image shape (encode) or the
 * PNG IHDR / JPEG SOF (image input) before any large allocation and before any work that
 * grows with the image. Exceeding one → NimgError('LIMIT_EXCEEDED') naming the limit
 * (`error.limit`) and the value that broke it (`error.value`). Defaults documented in
 * FORMAT.md §Limits and README.md.
 *
 * Why the defaults are what they are. The work of a decode is set by the *declared* size,
 * not by the file's bytes: flat content coded by nimg's own coder costs ~3.5 KB per
 * megapixel, and the synthesis transform runs ~7 µs per pixel on one 2-core CPU (WASM), so
 * a 348 KB file declaring 100 MP cost 503 s and 5.3 GB under the old default of 100 MP.
 * The defaults now bound what a web page or an edge worker can be made to do by a file
 * it did not choose; callers that decode camera originals raise them per codec or per call.
 */
import { NimgError } from './errors.js';

export interface Limits {
  /** largest accepted width in pixels (default 16384) */
  maxWidth: number;
  /** largest accepted height in pixels (default 16384) */
  maxHeight: number;
  /** largest accepted width × height (default 16 777 216 = 4096² = 16.7 MP) */
  maxPixels: number;
  /** largest accepted .nimg file in bytes, from the declared stream lengths (default 64 MiB) */
  maxFileBytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  // 16384: the largest canvas side of current browsers and a common WebGPU
  // maxTextureDimension2D; wider images cannot be shown there anyway. Panoramas up to that
  // side pass while maxPixels holds the area.
  maxWidth: 16384,
  maxHeight: 16384,
  // 4096² = 16 777 216: the largest canvas area iOS Safari allows (a bigger decode cannot be
  // drawn there), above every 12 MP phone photo and 8.3 MP 4K frame. Its cost is what a real
  // photo of that size costs: ~16 bytes a pixel of full-frame buffers (RGBA out + planar
  // float) ≈ 270 MB plus the tiles' working set, and about 2 minutes of a 2-core CPU on WASM
  // (~1 s on a GPU); bound the time with `signal` / `timeoutMs`. A 24 MP camera original needs
  // limits raised (bench/results/big-image.json: 6000x4000 decodes in ~1.7 GB).
  maxPixels: 4096 * 4096,
  // 64 MiB: a 16.7 MP file at quality 8 is ~3 MB (1.4 bpp) and even a noise alpha channel
  // adds only ~17 MB; 64 MiB leaves headroom without letting a header declare gigabytes.
  maxFileBytes: 64 * 1024 * 1024,
});

/** Hard ceilings of the format itself (u32 fields); limits above them are clamped. */
export const FORMAT_MAX_DIMENSION = 0xffffffff;

const LIMIT_KEYS = Object.keys(DEFAULT_LIMITS) as (keyof Limits)[];

/**
 * Merge user limits over `base` (the defaults); BAD_INPUT on anything but an object of known
 * keys whose values are positive integers or Infinity (a string, NaN, 0, an unknown key such
 * as a misspelt `maxPixel`, a throwing getter, null). `undefined` → `base`.
 */
export function resolveLimits(user?: Partial<Limits> | null, base: Readonly<Limits> = DEFAULT_LIMITS): Limits {
  const out: Limits = { ...base };
  if (user === undefined) return out;
  if (user === null || typeof user !== 'object' || Array.isArray(user)) {
    throw new NimgError('BAD_INPUT', `limits must be an object or undefined, got ${user === null ? 'null' : Array.isArray(user) ? 'an array' : typeof user}`);
  }
  let keys: string[];
  try {
    keys = Object.keys(user);
  } catch (e) {
    throw new NimgError('BAD_INPUT', 'limits cannot be read', { cause: e });
  }
  for (const k of keys) {
    if (!(LIMIT_KEYS as string[]).includes(k)) {
      throw new NimgError('BAD_INPUT', `unknown limit ${JSON.stringify(k)} (known: ${LIMIT_KEYS.join(', ')})`);
    }
  }
  for (const key of LIMIT_KEYS) {
    let v: unknown;
    try {
      v = (user as Record<string, unknown>)[key];
    } catch (e) {
      throw new NimgError('BAD_INPUT', `limits.${key} cannot be read`, { cause: e });
    }
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v === Infinity || (Number.isInteger(v) && v > 0))) {
      throw new NimgError('BAD_INPUT', `limits.${key} must be a positive integer or Infinity, got ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
    }
    out[key] = v;
  }
  return out;
}

/** LIMIT_EXCEEDED unless width × height is within the limits (error.limit / error.value say which). */
export function checkDimensions(width: number, height: number, limits: Readonly<Limits>, what = 'image'): void {
  if (width > limits.maxWidth) {
    throw new NimgError('LIMIT_EXCEEDED', `${what} is ${width}x${height}; its width ${width} exceeds limits.maxWidth = ${limits.maxWidth}`, {
      limit: 'maxWidth',
      value: width,
    });
  }
  if (height > limits.maxHeight) {
    throw new NimgError('LIMIT_EXCEEDED', `${what} is ${width}x${height}; its height ${height} exceeds limits.maxHeight = ${limits.maxHeight}`, {
      limit: 'maxHeight',
      value: height,
    });
  }
  if (width * height > limits.maxPixels) {
    throw new NimgError(
      'LIMIT_EXCEEDED',
      `${what} has ${width * height} pixels (${width}x${height}); that exceeds limits.maxPixels = ${limits.maxPixels}`,
      { limit: 'maxPixels', value: width * height },
    );
  }
}

/** LIMIT_EXCEEDED when a file declares more bytes than limits.maxFileBytes. */
export function checkFileBytes(n: number, limits: Readonly<Limits>, what = '.nimg file'): void {
  if (n > limits.maxFileBytes) {
    throw new NimgError('LIMIT_EXCEEDED', `${what} declares ${n} bytes; that exceeds limits.maxFileBytes = ${limits.maxFileBytes}`, {
      limit: 'maxFileBytes',
      value: n,
    });
  }
}
