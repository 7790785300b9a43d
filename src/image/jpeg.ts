/**
 * JPEG → RGBA8 via jpeg-js (baseline and progressive; greyscale, YCbCr, CMYK/YCCK).
 * Platform-neutral. The frame size is read from the SOF marker and checked against the
 * limits before jpeg-js allocates anything. Throws only NimgError.
 */
import jpeg from 'jpeg-js';
import { NimgError } from '../errors.js';
import { DEFAULT_LIMITS, checkDimensions, type Limits } from '../limits.js';
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

export function decodeJpeg(b: Uint8Array, limits: Readonly<Limits> = DEFAULT_LIMITS): RgbaImage {
  if (!isJpeg(b)) throw new NimgError('BAD_INPUT', 'JPEG: not a JPEG file');
  const size = jpegSize(b);
  if (!size) throw new NimgError('BAD_INPUT', 'JPEG: no frame header (SOF) found');
  if (size.width === 0 || size.height === 0) throw new NimgError('BAD_INPUT', `JPEG: empty image ${size.width}x${size.height}`);
  checkDimensions(size.width, size.height, limits, 'JPEG image');
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(b, {
      useTArray: true,
      formatAsRGBA: true,
      tolerantDecoding: true,
      maxResolutionInMP: Math.ceil(Math.min(limits.maxPixels, 2 ** 40) / 1e6) + 1,
      maxMemoryUsageInMB: 4096,
    });
  } catch (e) {
    throw new NimgError('BAD_INPUT', `JPEG: cannot decode (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  if (!img || img.width !== size.width || img.height !== size.height || img.data.length !== img.width * img.height * 4) {
    throw new NimgError('BAD_INPUT', 'JPEG: decoder returned an inconsistent image');
  }
  return { width: img.width, height: img.height, data: new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length) };
}
