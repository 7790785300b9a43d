import { describe, expect, it } from 'vitest';
import { NimgError, type NimgErrorCode } from '../src/errors.js';
import { crc32 } from '../src/format/crc32.js';
import {
  HEADER_SIZE,
  SIGNATURE,
  latentGeometry,
  parseContainer,
  parseHeader,
  quantizeQuality,
  writeContainer,
  type WriteFields,
} from '../src/format/container.js';
import { decodeAlpha, encodeAlpha } from '../src/format/alpha.js';
import { resolveLimits } from '../src/limits.js';

function fields(over: Partial<WriteFields> = {}): WriteFields {
  const z = new Uint8Array(23).map((_, i) => (i * 37 + 11) & 0xff);
  const y = new Uint8Array(71).map((_, i) => (i * 101 + 5) & 0xff);
  return { width: 100, height: 61, quality: 5.25, modelId: 'nimg-mshp-1', weightsHash: '0123456789abcdef', z, y, alpha: null, ...over };
}

/** Run f; it must throw a NimgError with one of `codes` (never TypeError/RangeError). */
function expectCode(f: () => unknown, ...codes: NimgErrorCode[]): NimgError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, 'should throw').toBeDefined();
  if (!(err instanceof NimgError)) throw new Error(`expected NimgError, got ${String(err)}`);
  expect(codes).toContain(err.code);
  return err;
}

/** Re-seal the header CRC after editing header bytes. */
function reseal(b: Uint8Array): Uint8Array {
  new DataView(b.buffer, b.byteOffset).setUint32(64, crc32(b, 0, 64), true);
  return b;
}

describe('crc32', () => {
  it('matches the check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe('container v1', () => {
  it('round-trips every field and stream', () => {
    const f = fields();
    const bytes = writeContainer(f);
    expect(bytes.length).toBe(HEADER_SIZE + 23 + 71);
    expect([...bytes.subarray(0, 8)]).toEqual([...SIGNATURE]);
    const p = parseContainer(bytes, { expect: { modelId: 'nimg-mshp-1', weightsHash: '0123456789ABCDEF' } });
    expect(p.header).toMatchObject({ version: 1, width: 100, height: 61, quality: 5.25, modelId: 'nimg-mshp-1', weightsHash: '0123456789abcdef', hasAlpha: false, zLength: 23, yLength: 71, alphaLength: 0 });
    expect([...p.z]).toEqual([...f.z]);
    expect([...p.y]).toEqual([...f.y]);
    expect(p.alpha).toBeNull();
  });

  it('round-trips an alpha stream and empty z/y streams', () => {
    const alpha = Uint8Array.of(1, 2, 3);
    const p = parseContainer(writeContainer(fields({ alpha, z: new Uint8Array(0), y: new Uint8Array(0) })));
    expect(p.header.hasAlpha).toBe(true);
    expect([...p.alpha!]).toEqual([1, 2, 3]);
    expect(p.z.length + p.y.length).toBe(0);
  });

  it('stores quality exactly in 1/256 steps', () => {
    expect(quantizeQuality(1)).toBe(1);
    expect(quantizeQuality(8)).toBe(8);
    expect(quantizeQuality(3.3)).toBe(845 / 256);
    const p = parseHeader(writeContainer(fields({ quality: 3.3 })));
    expect(p.quality).toBe(845 / 256);
    for (const q of [0, 0.99, 8.01, NaN, Infinity]) expectCode(() => quantizeQuality(q), 'BAD_INPUT');
  });

  it('derives the latent geometry from the stride 64', () => {
    expect(latentGeometry(100, 61)).toEqual({ padW: 128, padH: 64, w: 8, h: 4, wz: 2, hz: 1 });
    expect(latentGeometry(768, 512)).toEqual({ padW: 768, padH: 512, w: 48, h: 32, wz: 12, hz: 8 });
  });

  it('rejects bad writer fields', () => {
    expectCode(() => writeContainer(fields({ modelId: '' })), 'BAD_INPUT');
    expectCode(() => writeContainer(fields({ modelId: 'x'.repeat(17) })), 'BAD_INPUT');
    expectCode(() => writeContainer(fields({ weightsHash: 'xyz' })), 'BAD_INPUT');
    expectCode(() => writeContainer(fields({ width: 0 })), 'BAD_INPUT');
    expectCode(() => writeContainer(fields({ alpha: new Uint8Array(0) })), 'BAD_INPUT');
  });
});

describe('container v1: bad input', () => {
  const good = writeContainer(fields({ alpha: Uint8Array.of(9, 8, 7, 6) }));

  it('empty → TRUNCATED', () => {
    expectCode(() => parseContainer(new Uint8Array(0)), 'TRUNCATED');
  });

  it('wrong magic → BAD_SIGNATURE', () => {
    expectCode(() => parseContainer(new TextEncoder().encode('\x89PNG\r\n\x1a\n rest of a png')), 'BAD_SIGNATURE');
    expectCode(() => parseContainer(Uint8Array.of(0x4e, 0x49, 0x4d, 0x58)), 'BAD_SIGNATURE');
    const b = good.slice();
    b[6] = 0x0a; // CR-LF / high-bit guard mangled by a text transfer
    expectCode(() => parseContainer(b), 'BAD_SIGNATURE');
  });

  it('truncated at every offset → TRUNCATED', () => {
    for (let n = 0; n < good.length; n++) {
      expectCode(() => parseContainer(good.subarray(0, n)), 'TRUNCATED');
    }
  });

  it('trailing data → CORRUPT_STREAM', () => {
    const b = new Uint8Array(good.length + 1);
    b.set(good);
    expectCode(() => parseContainer(b), 'CORRUPT_STREAM');
  });

  it('every flipped bit → a NimgError (CHECKSUM_MISMATCH unless caught earlier)', () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < good.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const b = good.slice();
        b[i] ^= 1 << bit;
        const e = expectCode(() => parseContainer(b), 'CHECKSUM_MISMATCH', 'BAD_SIGNATURE', 'UNSUPPORTED_VERSION');
        seen.set(e.code, (seen.get(e.code) ?? 0) + 1);
        if (i >= 9) expect(e.code).toBe('CHECKSUM_MISMATCH');
      }
    }
    expect(seen.get('BAD_SIGNATURE')).toBe(64);
    expect(seen.get('UNSUPPORTED_VERSION')).toBe(8);
  });

  it('unknown version → UNSUPPORTED_VERSION; unknown required flag → UNSUPPORTED_VERSION; unknown optional flag is ignored', () => {
    const v2 = good.slice();
    v2[8] = 2;
    expect(expectCode(() => parseContainer(reseal(v2)), 'UNSUPPORTED_VERSION').message).toMatch(/version 2/);
    const rf = good.slice();
    rf[9] |= 0x80;
    expect(expectCode(() => parseContainer(reseal(rf)), 'UNSUPPORTED_VERSION').message).toMatch(/flags 0x80/);
    const of = good.slice();
    of[10] = 0xff;
    expect(parseContainer(reseal(of)).header.optionalFlags).toBe(0xff);
  });

  it('inconsistent fields → CORRUPT_STREAM', () => {
    const q = good.slice();
    new DataView(q.buffer).setUint16(44, 9 * 256, true);
    expectCode(() => parseContainer(reseal(q)), 'CORRUPT_STREAM');
    const w = good.slice();
    new DataView(w.buffer).setUint32(36, 0, true);
    expectCode(() => parseContainer(reseal(w)), 'CORRUPT_STREAM');
    const a = good.slice();
    a[9] = 0; // alpha flag cleared but an alpha length present
    expectCode(() => parseContainer(reseal(a)), 'CORRUPT_STREAM');
    const id = good.slice();
    id[12] = 0; // NUL then text
    expectCode(() => parseContainer(reseal(id)), 'CORRUPT_STREAM');
  });

  it('a header claiming 100000x100000 pixels → LIMIT_EXCEEDED at once', () => {
    const b = good.slice();
    const dv = new DataView(b.buffer);
    dv.setUint32(36, 100000, true);
    dv.setUint32(40, 100000, true);
    const t0 = performance.now();
    expectCode(() => parseContainer(reseal(b)), 'LIMIT_EXCEEDED');
    expectCode(() => parseHeader(b.subarray(0, HEADER_SIZE)), 'LIMIT_EXCEEDED');
    expect(performance.now() - t0).toBeLessThan(50);
    // within the default side limits but above the pixel limit
    dv.setUint32(36, 16384, true);
    dv.setUint32(40, 16384, true);
    expectCode(() => parseContainer(reseal(b)), 'LIMIT_EXCEEDED');
    // and accepted when the caller raises the limits
    expect(parseContainer(reseal(b), { limits: resolveLimits({ maxPixels: Infinity }) }).header.width).toBe(16384);
  });

  it('stream lengths claiming gigabytes → LIMIT_EXCEEDED or TRUNCATED without allocating', () => {
    const b = good.slice();
    new DataView(b.buffer).setUint32(52, 0xffffffff, true);
    expectCode(() => parseContainer(reseal(b)), 'LIMIT_EXCEEDED');
    expectCode(() => parseContainer(b, { limits: resolveLimits({ maxFileBytes: Infinity }) }), 'TRUNCATED');
  });

  it('another model → MODEL_MISMATCH', () => {
    expectCode(() => parseContainer(good, { expect: { modelId: 'nimg-mshp-2', weightsHash: '0123456789abcdef' } }), 'MODEL_MISMATCH');
    expectCode(() => parseContainer(good, { expect: { modelId: 'nimg-mshp-1', weightsHash: '0123456789abcdee' } }), 'MODEL_MISMATCH');
  });

  it('non-byte input → BAD_INPUT', () => {
    expectCode(() => parseContainer('NIMG' as unknown as Uint8Array), 'BAD_INPUT');
    expectCode(() => parseContainer(null as unknown as Uint8Array), 'BAD_INPUT');
  });
});

describe('alpha stream', () => {
  it('round-trips losslessly', async () => {
    const w = 37;
    const h = 19;
    const rgba = new Uint8Array(w * h * 4);
    for (let i = 0; i < w * h; i++) rgba[4 * i + 3] = (i * 7) % 3 === 0 ? 0 : (i * 13) & 0xff;
    const s = await encodeAlpha(rgba, w, h);
    const plane = await decodeAlpha(s, w, h);
    for (let i = 0; i < w * h; i++) expect(plane[i]).toBe(rgba[4 * i + 3]);
  });

  it('rejects garbage and wrong sizes with CORRUPT_STREAM', async () => {
    const s = await encodeAlpha(new Uint8Array(64 * 4).fill(128), 8, 8);
    await expect(decodeAlpha(Uint8Array.of(1, 2, 3, 4), 8, 8)).rejects.toMatchObject({ code: 'CORRUPT_STREAM' });
    await expect(decodeAlpha(s, 4, 8)).rejects.toMatchObject({ code: 'CORRUPT_STREAM' });
    await expect(decodeAlpha(s, 9, 8)).rejects.toMatchObject({ code: 'CORRUPT_STREAM' });
    await expect(decodeAlpha(s.subarray(0, s.length - 3), 8, 8)).rejects.toMatchObject({ code: 'CORRUPT_STREAM' });
  });
});
