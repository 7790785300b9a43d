/**
 * PNG → RGBA8 and RGBA8 → PNG, platform-neutral (no Node module).
 *
 * Decoding is our own: upng-js 2.1's decoder mis-reads sub-byte greyscale rows (it ignores
 * the per-row padding, so 1/2/4-bit grey images wider than a byte are garbled), mis-places
 * pixels of interlaced 1-bit images, does not bounds-check chunks (truncated files throw
 * strings or return garbage), and has been seen to throw on small 4-bit palette files. This
 * decoder handles every PNG colour type and bit depth (1/2/4/8/16; grey, grey+alpha,
 * palette, RGB, RGBA), tRNS transparency and Adam7 interlacing, verifies chunk CRCs, checks
 * the size limits from IHDR before inflating, and throws only NimgError('BAD_INPUT' /
 * 'LIMIT_EXCEEDED'). Inflate: the platform's DecompressionStream.
 * Encoding: upng-js (lossless RGBA/RGB, its own choice of colour type).
 * APNG: the default image (first frame) is decoded.
 */
import UPNG from 'upng-js';
import { NimgError } from '../errors.js';
import { crc32 } from '../format/crc32.js';
import { checkDimensions, resolveLimits, type Limits } from '../limits.js';
import { describe } from '../validate.js';

export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

export function isPng(b: Uint8Array): boolean {
  if (b.length < 8) return false;
  for (let i = 0; i < 8; i++) if (b[i] !== PNG_SIGNATURE[i]) return false;
  return true;
}

function bad(msg: string): never {
  throw new NimgError('BAD_INPUT', `PNG: ${msg}`);
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

/**
 * Inflate the zlib stream made of `parts` (the IDAT chunks, in order) and hand the output to
 * `sink` as it comes; stop once the sink has all it needs (extra data after the image is
 * tolerated, as most decoders do). Memory: the stream's window and one chunk, never the
 * whole inflated image.
 */
async function inflateInto(parts: Uint8Array[], sink: { push(chunk: Uint8Array): void; readonly got: number; readonly need: number }): Promise<void> {
  if (typeof DecompressionStream === 'undefined') throw new NimgError('BACKEND_UNAVAILABLE', 'PNG: this runtime has no DecompressionStream');
  const ds = new DecompressionStream('deflate');
  const writer = ds.writable.getWriter();
  const reader = ds.readable.getReader();
  const writing = (async () => {
    for (const part of parts) await writer.write(part as unknown as Uint8Array<ArrayBuffer>);
    await writer.close();
  })();
  writing.catch(() => {});
  try {
    while (sink.got < sink.need) {
      const { done, value } = await reader.read();
      if (done) break;
      sink.push(value);
    }
    if (sink.got >= sink.need) {
      await reader.cancel().catch(() => {});
      await writer.abort().catch(() => {});
    } else {
      await writing;
    }
  } catch (e) {
    if (e instanceof NimgError) throw e;
    if (sink.got < sink.need) bad(`image data does not inflate (${e instanceof Error ? e.message : String(e)})`);
  }
  if (sink.got < sink.need) bad(`image data truncated: ${sink.got} of ${sink.need} bytes`);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  if (pb <= pc) return b;
  return c;
}

/**
 * Undo the filter of one row in place: `row` is the row's `bpl` data bytes (after its filter
 * byte `f`), `prev` the previous unfiltered row of the same pass (null for its first row).
 */
function unfilterRow(f: number, row: Uint8Array, prev: Uint8Array | null, bpl: number, bpp: number): void {
  switch (f) {
    case 0:
      return;
    case 1:
      for (let x = bpp; x < bpl; x++) row[x] = (row[x] + row[x - bpp]) & 255;
      return;
    case 2:
      if (prev) for (let x = 0; x < bpl; x++) row[x] = (row[x] + prev[x]) & 255;
      return;
    case 3:
      for (let x = 0; x < bpl; x++) {
        const a = x >= bpp ? row[x - bpp] : 0;
        const b = prev ? prev[x] : 0;
        row[x] = (row[x] + ((a + b) >> 1)) & 255;
      }
      return;
    case 4:
      for (let x = 0; x < bpl; x++) {
        const a = x >= bpp ? row[x - bpp] : 0;
        const b = prev ? prev[x] : 0;
        const c = x >= bpp && prev ? prev[x - bpp] : 0;
        row[x] = (row[x] + paeth(a, b, c)) & 255;
      }
      return;
    default:
      bad(`unknown filter type ${f}`);
  }
}

interface Ihdr {
  width: number;
  height: number;
  depth: number;
  ctype: number;
  interlace: number;
}

/** Convert `h` unfiltered rows of `w` pixels to RGBA8, writing pixel (x, y) at out[(y*ys + y0)*W + x*xs + x0]. */
function convertRows(
  rows: Uint8Array,
  w: number,
  h: number,
  hd: Ihdr,
  plte: Uint8Array | null,
  trns: Uint8Array | null,
  out: Uint8ClampedArray,
  W: number,
  x0: number,
  y0: number,
  xs: number,
  ys: number,
): void {
  const { depth, ctype } = hd;
  const nc = CHANNELS[ctype];
  const bpl = Math.ceil((w * nc * depth) / 8);
  const maxv = (1 << Math.min(depth, 8)) - 1;
  // sample c of pixel x in row r (raw value, 0 .. 2^depth-1)
  const sample = (r: number, x: number, c: number): number => {
    const base = r * bpl;
    if (depth === 8) return rows[base + x * nc + c];
    if (depth === 16) {
      const i = base + 2 * (x * nc + c);
      return (rows[i] << 8) | rows[i + 1];
    }
    const bit = (x * nc + c) * depth;
    return (rows[base + (bit >> 3)] >> (8 - depth - (bit & 7))) & maxv;
  };
  const to8 = (v: number): number => (depth === 16 ? Math.round(v / 257) : depth === 8 ? v : Math.round((v * 255) / maxv));
  const tr0 = trns && ctype === 0 && trns.length >= 2 ? (trns[0] << 8) | trns[1] : -1;
  const trRgb =
    trns && ctype === 2 && trns.length >= 6 ? [(trns[0] << 8) | trns[1], (trns[2] << 8) | trns[3], (trns[4] << 8) | trns[5]] : null;
  const nPal = plte ? plte.length / 3 : 0;
  for (let r = 0; r < h; r++) {
    for (let x = 0; x < w; x++) {
      const o = 4 * ((r * ys + y0) * W + x * xs + x0);
      switch (ctype) {
        case 0: {
          const v = sample(r, x, 0);
          const g = to8(v);
          out[o] = out[o + 1] = out[o + 2] = g;
          out[o + 3] = v === tr0 ? 0 : 255;
          break;
        }
        case 2: {
          const rr = sample(r, x, 0);
          const gg = sample(r, x, 1);
          const bb = sample(r, x, 2);
          out[o] = to8(rr);
          out[o + 1] = to8(gg);
          out[o + 2] = to8(bb);
          out[o + 3] = trRgb && rr === trRgb[0] && gg === trRgb[1] && bb === trRgb[2] ? 0 : 255;
          break;
        }
        case 3: {
          const i = sample(r, x, 0);
          if (i >= nPal) bad(`palette index ${i} outside the ${nPal}-entry palette`);
          out[o] = plte![3 * i];
          out[o + 1] = plte![3 * i + 1];
          out[o + 2] = plte![3 * i + 2];
          out[o + 3] = trns && i < trns.length ? trns[i] : 255;
          break;
        }
        case 4: {
          const g = to8(sample(r, x, 0));
          out[o] = out[o + 1] = out[o + 2] = g;
          out[o + 3] = to8(sample(r, x, 1));
          break;
        }
        case 6:
          out[o] = to8(sample(r, x, 0));
          out[o + 1] = to8(sample(r, x, 1));
          out[o + 2] = to8(sample(r, x, 2));
          out[o + 3] = to8(sample(r, x, 3));
          break;
      }
    }
  }
}

const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
]; // x0, y0, dx, dy

/** Decode a PNG to RGBA8. BAD_INPUT on anything malformed, LIMIT_EXCEEDED on huge sizes. */
export async function decodePng(input: Uint8Array, limits?: Partial<Limits> | null): Promise<RgbaImage> {
  if (!(input instanceof Uint8Array)) throw new NimgError('BAD_INPUT', `PNG: expected the file bytes as a Uint8Array, got ${describe(input)}`);
  const lim = resolveLimits(limits);
  const b = input;
  if (!isPng(b)) bad('not a PNG file (signature mismatch)');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = 8;
  let hd: Ihdr | null = null;
  let plte: Uint8Array | null = null;
  let trns: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (p < b.length) {
    if (p + 12 > b.length) bad(`truncated chunk header at byte ${p}`);
    const len = dv.getUint32(p);
    const type = String.fromCharCode(b[p + 4], b[p + 5], b[p + 6], b[p + 7]);
    if (len > 0x7fffffff || p + 12 + len > b.length) bad(`chunk ${JSON.stringify(type)} at byte ${p} is truncated`);
    const data = b.subarray(p + 8, p + 8 + len);
    const crc = dv.getUint32(p + 8 + len);
    if (crc32(b, p + 4, p + 8 + len) !== crc) bad(`CRC mismatch in chunk ${JSON.stringify(type)}`);
    p += 12 + len;
    if (!hd && type !== 'IHDR') bad('first chunk is not IHDR');
    if (type === 'IHDR') {
      if (hd) bad('two IHDR chunks');
      if (len !== 13) bad('bad IHDR length');
      const v = new DataView(data.buffer, data.byteOffset, 13);
      hd = { width: v.getUint32(0), height: v.getUint32(4), depth: data[8], ctype: data[9], interlace: data[12] };
      if (!(hd.ctype in CHANNELS) || !DEPTHS[hd.ctype].includes(hd.depth)) bad(`unsupported colour type ${hd.ctype} with bit depth ${hd.depth}`);
      if (data[10] !== 0 || data[11] !== 0 || hd.interlace > 1) bad('unknown compression, filter or interlace method');
      if (hd.width === 0 || hd.height === 0) bad(`empty image ${hd.width}x${hd.height}`);
      checkDimensions(hd.width, hd.height, lim, 'PNG image');
    } else if (type === 'PLTE') {
      if (len % 3 !== 0 || len === 0 || len > 768) bad('bad PLTE length');
      plte = data;
    } else if (type === 'tRNS') {
      trns = data;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      ended = true;
      break;
    } else if ((type.charCodeAt(0) & 0x20) === 0 && type !== 'acTL' && type !== 'fcTL' && type !== 'fdAT') {
      bad(`unknown critical chunk ${JSON.stringify(type)}`);
    }
  }
  if (!hd) bad('no IHDR');
  if (!idat.length) bad('no image data (IDAT)');
  if (!ended && p < b.length) bad('trailing garbage');
  if (hd.ctype === 3 && !plte) bad('palette image without PLTE');
  const nc = CHANNELS[hd.ctype];
  const bitsPP = nc * hd.depth;
  const bpp = Math.max(1, bitsPP >> 3);
  const { width: W, height: H } = hd;
  const passes = hd.interlace
    ? ADAM7.map(([x0, y0, dx, dy]) => ({ x0, y0, dx, dy, w: Math.ceil((W - x0) / dx), h: Math.ceil((H - y0) / dy) })).filter(
        (q) => q.w > 0 && q.h > 0,
      )
    : [{ x0: 0, y0: 0, dx: 1, dy: 1, w: W, h: H }];
  let expected = 0;
  for (const q of passes) expected += q.h * (1 + Math.ceil((q.w * bitsPP) / 8));
  // Rows are unfiltered and converted as they inflate: two rows of raw data live at a time
  // (a 10000x10000 16-bit RGBA image no longer holds 800 MB of raw rows twice, only its
  // 400 MB of RGBA output, and only after IHDR passed the limits).
  const out = new Uint8ClampedArray(W * H * 4);
  const hdr = hd;
  const maxBpl = Math.max(...passes.map((q) => Math.ceil((q.w * bitsPP) / 8)));
  let cur = new Uint8Array(maxBpl + 1);
  let prev = new Uint8Array(maxBpl + 1);
  let pass = 0;
  let row = 0;
  let fill = 0;
  const sink = {
    got: 0,
    need: expected,
    push(chunk: Uint8Array): void {
      let i = 0;
      while (i < chunk.length && pass < passes.length) {
        const q = passes[pass];
        const bpl = Math.ceil((q.w * bitsPP) / 8);
        const take = Math.min(bpl + 1 - fill, chunk.length - i);
        cur.set(chunk.subarray(i, i + take), fill);
        fill += take;
        i += take;
        if (fill < bpl + 1) break;
        const data = cur.subarray(1, bpl + 1);
        unfilterRow(cur[0], data, row > 0 ? prev.subarray(1, bpl + 1) : null, bpl, bpp);
        convertRows(data, q.w, 1, hdr, plte, trns, out, W, q.x0, q.y0 + row * q.dy, q.dx, 1);
        [cur, prev] = [prev, cur];
        fill = 0;
        if (++row === q.h) {
          row = 0;
          pass++;
        }
      }
      this.got += i;
    },
  };
  await inflateInto(idat, sink);
  return { width: W, height: H, data: out };
}

/** RGBA8 → PNG bytes (lossless; upng-js picks the colour type). */
export function encodePng(image: { width: number; height: number; data: Uint8Array | Uint8ClampedArray }): Uint8Array {
  const { width, height, data } = image;
  if (data.length !== width * height * 4) throw new NimgError('BAD_INPUT', `PNG encode: ${data.length} bytes for ${width}x${height} RGBA`);
  // upng-js takes whole ArrayBuffers and only reads them: copy only a view into a larger buffer
  // (a 16.7 MP image would otherwise hold a second 64 MB of pixels while it is written)
  const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
  const buf = whole ? (data.buffer as ArrayBuffer) : new Uint8Array(data).buffer;
  try {
    return new Uint8Array(UPNG.encode([buf], width, height, 0));
  } catch (e) {
    throw new NimgError('INTERNAL', `PNG encode failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
