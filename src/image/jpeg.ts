/**
 * JPEG → RGBA8 via jpeg-js (baseline and progressive; greyscale, YCbCr, CMYK/YCCK).
 * Platform-neutral. The frame size is read from the SOF marker and checked against the
 * limits before jpeg-js allocates anything. Throws only NimgError.
 */
import jpeg from 'jpeg-js';
import { NimgError } from '../errors.js';
import { checkDimensions, resolveLimits, type Limits } from '../limits.js';
import { describe } from '../validate.js';
import type { RgbaImage } from './png.js';

export function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

/** Width and height from the first SOFn marker, or null when none is found. */
export function jpegSize(b: Uint8Array): { width: number; height: number } | null {
  let p = 2;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) {
      p++;
      continue;
    }
    const m = b[p + 1];
    if (m === 0xff) {
      p++;
      continue;
    }
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      p += 2;
      continue;
    }
    if (m === 0xd9) return null;
    const len = (b[p + 2] << 8) | b[p + 3];
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (p + 9 > b.length) return null;
      return { height: (b[p + 5] << 8) | b[p + 6], width: (b[p + 7] << 8) | b[p + 8] };
    }
    if (m === 0xda) return null; // scan before frame header
    p += 2 + len;
  }
  return null;
}

/**
 * jpeg-js's memory budget for an image of `pixels` pixels, in MB, as jpeg-js counts it: its
 * coefficient blocks (an Int32Array of 64 per 8x8 block and component: 4 bytes a pixel per
 * component, 4 components for CMYK = 16), its component planes (1 byte a pixel each, ≤ 4)
 * and the RGBA output (4): ≤ 24 bytes a pixel, plus the file itself and 16 MB for tables and
 * the slack of subsampled MCU padding. A file cannot make jpeg-js count more than an image
 * of its declared size needs; before, the cap was 4096 MB whatever the limits.
 */
export function jpegMemoryBudgetMB(pixels: number, fileBytes: number): number {
  return Math.ceil((pixels * 24 + fileBytes) / 2 ** 20) + 16;
}

export function decodeJpeg(b: Uint8Array, limits?: Partial<Limits> | null): RgbaImage {
  if (!(b instanceof Uint8Array)) throw new NimgError('BAD_INPUT', `JPEG: expected the file bytes as a Uint8Array, got ${describe(b)}`);
  const lim = resolveLimits(limits);
  if (!isJpeg(b)) throw new NimgError('BAD_INPUT', 'JPEG: not a JPEG file');
  const size = jpegSize(b);
  if (!size) throw new NimgError('BAD_INPUT', 'JPEG: no frame header (SOF) found');
  if (size.width === 0 || size.height === 0) throw new NimgError('BAD_INPUT', `JPEG: empty image ${size.width}x${size.height}`);
  checkDimensions(size.width, size.height, lim, 'JPEG image');
  // the declared frame passed the limits: jpeg-js may use what an image of that size needs
  // (a second SOF, or one jpegSize did not see, is held to the same budget)
  const pixels = size.width * size.height;
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(b, {
      useTArray: true,
      formatAsRGBA: true,
      tolerantDecoding: true,
      maxResolutionInMP: Math.ceil(pixels / 1e6),
      maxMemoryUsageInMB: jpegMemoryBudgetMB(pixels, b.length),
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/maxMemoryUsageInMB|maxResolutionInMP|allocate enough memory/.test(msg)) {
      throw new NimgError('LIMIT_EXCEEDED', `JPEG: the decoder needs more memory than a ${size.width}x${size.height} image may (${msg})`, {
        cause: e,
        limit: 'maxPixels',
        value: pixels,
      });
    }
    throw new NimgError('BAD_INPUT', `JPEG: cannot decode (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  if (!img || img.width !== size.width || img.height !== size.height || img.data.length !== img.width * img.height * 4) {
    throw new NimgError('BAD_INPUT', 'JPEG: decoder returned an inconsistent image');
  }
  return { width: img.width, height: img.height, data: new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length) };
}
