/**
 * Container version 2 of the per-image profile: round trip, and the checks of FORMAT.md §4 in
 * their order (every truncation, every single-bit flip, field values, limits).
 */
import { describe, expect, it } from 'vitest';
import { NimgError } from '../src/errors.js';
import { crc32 } from '../src/format/crc32.js';
import { PERIMAGE_HEADER_SIZE, parsePerImageContainer, writePerImageContainer } from '../src/profiles/perimage/container.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'OK';
  } catch (e) {
    if (!(e instanceof NimgError)) throw e;
    return e.code;
  }
}

const params = Uint8Array.from({ length: 40 }, (_, i) => i * 7);
const latents = Uint8Array.from({ length: 30 }, (_, i) => 255 - i);
const file = writePerImageContainer({ width: 300, height: 200, quality: 3.5, params, latents, alpha: null });

/** rewrite the header CRC after editing header bytes */
function reCrc(b: Uint8Array): Uint8Array {
  new DataView(b.buffer).setUint32(44, crc32(b, 0, 44), true);
  return b;
}

describe('container v2', () => {
  it('round trips, with and without alpha', () => {
    const f = parsePerImageContainer(file);
    expect(f.header).toMatchObject({ version: 2, width: 300, height: 200, quality: 3.5, paramsLength: 40, latentLength: 30, alphaLength: 0, hasAlpha: false });
    expect(f.params).toEqual(params);
    expect(f.latents).toEqual(latents);
    expect(f.alpha).toBeNull();
    expect(f.header.fineScales).toBe(false);
    expect(file[9]).toBe(0);
    expect(file.length).toBe(PERIMAGE_HEADER_SIZE + 70);
    const fine = writePerImageContainer({ width: 300, height: 200, quality: 3.5, params, latents, alpha: Uint8Array.of(4), fineScales: true });
    expect(fine[9]).toBe(3);
    expect(parsePerImageContainer(fine).header).toMatchObject({ fineScales: true, hasAlpha: true });
    const a = writePerImageContainer({ width: 1, height: 1, quality: 1, params, latents, alpha: Uint8Array.of(1, 2, 3) });
    expect(parsePerImageContainer(a).alpha).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('every truncation → TRUNCATED; trailing data → CORRUPT_STREAM', () => {
    for (let n = 0; n < file.length; n++) expect(codeOf(() => parsePerImageContainer(file.subarray(0, n))), `length ${n}`).toBe('TRUNCATED');
    const longer = new Uint8Array(file.length + 1);
    longer.set(file);
    expect(codeOf(() => parsePerImageContainer(longer))).toBe('CORRUPT_STREAM');
  });

  it('every single-bit flip → BAD_SIGNATURE / UNSUPPORTED_VERSION / CHECKSUM_MISMATCH', () => {
    for (let i = 0; i < file.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const b = file.slice();
        b[i] ^= 1 << bit;
        const want = i < 8 ? 'BAD_SIGNATURE' : i === 8 ? 'UNSUPPORTED_VERSION' : 'CHECKSUM_MISMATCH';
        expect(codeOf(() => parsePerImageContainer(b)), `byte ${i} bit ${bit}`).toBe(want);
      }
    }
  });

  it('field values and limits, checked in order', () => {
    const edit = (f: (dv: DataView, b: Uint8Array) => void) => {
      const b = file.slice();
      f(new DataView(b.buffer), b);
      return reCrc(b);
    };
    // bit 1 is FINE_SCALES; bits 2-7 are reserved: a reader must refuse what it cannot decode
    for (let bit = 2; bit < 8; bit++) expect(codeOf(() => parsePerImageContainer(edit((_, b) => (b[9] = 1 << bit))))).toBe('UNSUPPORTED_VERSION');
    expect(parsePerImageContainer(edit((_, b) => (b[9] = 2)))).toMatchObject({ header: { fineScales: true, hasAlpha: false } });
    expect(codeOf(() => parsePerImageContainer(edit((_, b) => (b[10] = 0xff))))).toBe('OK');
    expect(codeOf(() => parsePerImageContainer(edit((dv) => dv.setUint32(12, 0, true))))).toBe('CORRUPT_STREAM');
    expect(codeOf(() => parsePerImageContainer(edit((dv) => dv.setUint16(20, 255, true))))).toBe('CORRUPT_STREAM');
    expect(codeOf(() => parsePerImageContainer(edit((dv) => dv.setUint16(20, 2049, true))))).toBe('CORRUPT_STREAM');
    expect(codeOf(() => parsePerImageContainer(edit((dv) => dv.setUint32(32, 5, true))))).toBe('CORRUPT_STREAM');
    expect(codeOf(() => parsePerImageContainer(edit((dv) => dv.setUint32(24, 0, true))))).toBe('CORRUPT_STREAM');
    expect(codeOf(() => parsePerImageContainer(edit((dv) => dv.setUint32(12, 20000, true))))).toBe('LIMIT_EXCEEDED');
    expect(codeOf(() => parsePerImageContainer(edit((dv) => dv.setUint32(28, 0x7fffffff, true))))).toBe('LIMIT_EXCEEDED');
    expect(codeOf(() => parsePerImageContainer(file, { limits: { maxWidth: 100, maxHeight: 100, maxPixels: 1e4, maxFileBytes: 1e6 } }))).toBe('LIMIT_EXCEEDED');
    expect(codeOf(() => writePerImageContainer({ width: 0, height: 1, quality: 1, params, latents, alpha: null }))).toBe('BAD_INPUT');
    expect(codeOf(() => writePerImageContainer({ width: 1, height: 1, quality: 9, params, latents, alpha: null }))).toBe('BAD_INPUT');
  });
});
