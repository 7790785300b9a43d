/**
 * Helpers both profiles' pipelines use: the clock, the caller's image checked once, progress
 * reporting that a throwing callback cannot break, and the mapping of anything thrown inside
 * a pipeline to a NimgError. Kept apart from src/codec.ts so that the profiles need not
 * import the dispatcher that imports them.
 */
import { NimgError, isNimgError } from '../errors.js';
import { checkDimensions, type Limits } from '../limits.js';
import { readImage } from '../validate.js';

export const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** The caller's image after checkImage: a positive size within the limits, RGBA or RGB bytes. */
export interface CheckedImage {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
  channels: 3 | 4;
}

export function checkImage(image: unknown, limits: Limits): CheckedImage {
  const { width, height, data } = readImage(image) as { width: number; height: number; data: unknown };
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new NimgError('BAD_INPUT', `image width and height must be positive integers, got ${String(width)}x${String(height)}`);
  }
  checkDimensions(width, height, limits, 'image');
  if (!(data instanceof Uint8ClampedArray || data instanceof Uint8Array)) {
    throw new NimgError('BAD_INPUT', 'image.data must be a Uint8ClampedArray or Uint8Array (RGBA bytes)');
  }
  const n = width * height;
  let channels: 3 | 4;
  if (data.length === 4 * n) channels = 4;
  else if (data.length === 3 * n) channels = 3;
  else throw new NimgError('BAD_INPUT', `image.data has ${data.length} bytes; ${width}x${height} RGBA needs ${4 * n}`);
  return { width, height, data, channels };
}

/**
 * The caller's pixels are read only when the job leaves the codec's queue: a buffer detached
 * or resized meanwhile is the caller's error, not a trap in the core.
 */
export function checkUnchanged(img: CheckedImage): void {
  if (img.data.length !== img.width * img.height * img.channels) {
    throw new NimgError('BAD_INPUT', `image.data changed size (now ${img.data.length} bytes) between the encode call and its start`);
  }
}

/**
 * Convert anything thrown inside the pipeline into a NimgError. `streamStage`: the failure
 * happened while reading untrusted stream data (→ CORRUPT_STREAM rather than INTERNAL).
 */
export function toNimgError(e: unknown, context: string, streamStage = false): NimgError {
  if (isNimgError(e)) {
    // The container guarantees every declared stream is present: a stream decoder running
    // off its end is inconsistent data (FORMAT.md §3.1), not a short file.
    if (streamStage && e.code === 'TRUNCATED') {
      return new NimgError('CORRUPT_STREAM', `${context}: ${e.message}`, { cause: e });
    }
    return e;
  }
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof RangeError && /alloc|memory|invalid (typed )?array length|array buffer/i.test(msg)) {
    return new NimgError('LIMIT_EXCEEDED', `${context}: out of memory (${msg})`, { cause: e });
  }
  const trap = typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError;
  if (streamStage) return new NimgError('CORRUPT_STREAM', `${context}: ${trap ? 'WASM trap' : 'error'} on stream data (${msg})`, { cause: e });
  return new NimgError('INTERNAL', `${context}: ${trap ? 'WASM trap' : 'unexpected error'} (${msg})`, { cause: e });
}
