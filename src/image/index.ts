/**
 * Input/output helpers for common image files, platform-neutral: PNG (any colour type, bit
 * depth, interlacing) and JPEG in, RGBA8 out; PNG out. Throw only NimgError.
 */
import { NimgError } from '../errors.js';
import { DEFAULT_LIMITS, type Limits } from '../limits.js';
import { decodeJpeg, isJpeg } from './jpeg.js';
import { decodePng, encodePng, isPng, type RgbaImage } from './png.js';

export { decodePng, encodePng, isPng, decodeJpeg, isJpeg };
export type { RgbaImage };

/** Decode a PNG or JPEG file (sniffed from its first bytes) to RGBA8. */
export async function decodeImageFile(bytes: Uint8Array, limits: Readonly<Limits> = DEFAULT_LIMITS): Promise<RgbaImage> {
  if (!(bytes instanceof Uint8Array)) throw new NimgError('BAD_INPUT', 'expected the file bytes as a Uint8Array');
  if (isPng(bytes)) return decodePng(bytes, limits);
  if (isJpeg(bytes)) return decodeJpeg(bytes, limits);
  if (bytes.length === 0) throw new NimgError('BAD_INPUT', 'empty input file');
  throw new NimgError('BAD_INPUT', 'unsupported input: expected a PNG or JPEG file');
}
