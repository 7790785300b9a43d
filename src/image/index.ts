/**
 * Input/output helpers for common image files, platform-neutral: PNG (any colour type, bit
 * depth, interlacing) and JPEG in, RGBA8 out; PNG out. Throw only NimgError.
 */
import { NimgError } from '../errors.js';
import { resolveLimits, type Limits } from '../limits.js';
import { describe } from '../validate.js';
import { decodeJpeg, isJpeg } from './jpeg.js';
import { decodePng, encodePng, isPng, type RgbaImage } from './png.js';

export { decodePng, encodePng, isPng, decodeJpeg, isJpeg };
export type { RgbaImage };

/**
 * Decode a PNG or JPEG file (sniffed from its first bytes) to RGBA8. `limits` are merged
 * over DEFAULT_LIMITS and validated (BAD_INPUT on a malformed one) like the codec's, and the
 * declared size (IHDR / SOF) is checked against them before anything is inflated or decoded.
 */
export async function decodeImageFile(bytes: Uint8Array, limits?: Partial<Limits> | null): Promise<RgbaImage> {
  if (!(bytes instanceof Uint8Array)) throw new NimgError('BAD_INPUT', `expected the file bytes as a Uint8Array, got ${describe(bytes)}`);
  const lim = resolveLimits(limits);
  if (isPng(bytes)) return decodePng(bytes, lim);
  if (isJpeg(bytes)) return decodeJpeg(bytes, lim);
  if (bytes.length === 0) throw new NimgError('BAD_INPUT', 'empty input file');
  throw new NimgError('BAD_INPUT', 'unsupported input: expected a PNG or JPEG file');
}
