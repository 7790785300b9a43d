/**
 * A streaming PNG writer for Node (issue 15: memory that grows with the tile, not the image,
 * on output paths). `encodePng` (src/image/png.ts, upng-js, platform-neutral, kept for
 * browsers) builds the whole file in memory: for a 6000x4000 decode that is, besides the
 * 96 MB of RGBA, a filtered copy of the image per filter it tries and a deflate output per
 * try. This writer holds, beyond the caller's RGBA, two packed rows (RGB only), three reused
 * batches of filtered rows (~64 KB each), zlib's window and state (~260 KB at the default
 * settings) and its output chunks (64 KB each, until collected), and one reused IDAT buffer.
 *
 * Output: IHDR, sRGB (as upng-js writes), IDAT chunks as the deflater produces them, IEND.
 * 8-bit RGB when every alpha is 255, else 8-bit RGBA; never interlaced. (upng-js also writes
 * a palette image when the image has at most 256 colours; decoded photographs do not, and
 * the pixels read back are the same either way.) Each row gets the filter with the least sum
 * of absolute differences (the heuristic libpng and the PNG spec suggest).
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { constants as Z, createDeflate } from 'node:zlib';
import { NimgError } from '../errors.js';
import { crc32 } from '../format/crc32.js';
import { PNG_SIGNATURE } from '../image/png.js';

export interface PngImage {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel, rows top to bottom */
  data: Uint8Array | Uint8ClampedArray;
}

export interface PngWriteOptions {
  /** zlib level 0…9 (default 6, zlib's and upng-js' default) */
  level?: number;
  /** 'adaptive' (default): the minimum-sum-of-absolute-differences filter per row; or one filter type 0…4 for every row */
  filter?: 'adaptive' | 0 | 1 | 2 | 3 | 4;
}

/** Bytes of filtered rows handed to the deflater at a time. */
const BATCH = 64 * 1024;
/** zlib's output chunk size, and so the largest IDAT chunk's data. */
const IDAT_MAX = 64 * 1024;

function chunk(type: string, data: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(12 + data.length);
  b.writeUInt32BE(data.length, 0);
  b.write(type, 4, 'latin1');
  b.set(data, 8);
  b.writeUInt32BE(crc32(b, 4, 8 + data.length), 8 + data.length);
  return b;
}

function checkImage(image: PngImage): void {
  const ok =
    image != null &&
    typeof image === 'object' &&
    Number.isSafeInteger(image.width) &&
    Number.isSafeInteger(image.height) &&
    image.width > 0 &&
    image.height > 0 &&
    image.width <= 0x7fffffff &&
    image.height <= 0x7fffffff &&
    (image.data instanceof Uint8Array || image.data instanceof Uint8ClampedArray);
  if (!ok) throw new NimgError('BAD_INPUT', 'PNG write: expected {width, height, data} with positive integer sizes and RGBA bytes');
  if (image.data.length !== image.width * image.height * 4) {
    throw new NimgError('BAD_INPUT', `PNG write: ${image.data.length} bytes for ${image.width}x${image.height} RGBA`);
  }
}

/** True when every alpha byte is 255 (the file can be RGB). */
function opaque(d: Uint8Array | Uint8ClampedArray): boolean {
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 255) return false;
  return true;
}

/**
 * Filter `cur` (the row's `bpl` bytes) against `prev` (the previous row, zeros for the
 * first) into out[o] (filter byte) and out[o+1 … o+bpl]. `type` < 0: choose per row.
 */
function filterRow(cur: Uint8Array, prev: Uint8Array, bpl: number, bpp: number, type: number, out: Uint8Array, o: number): void {
  let f = type;
  if (f < 0) {
    // sums of |filtered byte| read as signed, for None, Sub, Up, Average, Paeth
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0;
    for (let x = 0; x < bpl; x++) {
      const v = cur[x];
      const a = x >= bpp ? cur[x - bpp] : 0;
      const b = prev[x];
      const c = x >= bpp ? prev[x - bpp] : 0;
      const p = a + b - c;
      const pa = p > a ? p - a : a - p;
      const pb = p > b ? p - b : b - p;
      const pc = p > c ? p - c : c - p;
      const pr = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      let d = v;
      s0 += d < 128 ? d : 256 - d;
      d = (v - a) & 255;
      s1 += d < 128 ? d : 256 - d;
      d = (v - b) & 255;
      s2 += d < 128 ? d : 256 - d;
      d = (v - ((a + b) >> 1)) & 255;
      s3 += d < 128 ? d : 256 - d;
      d = (v - pr) & 255;
      s4 += d < 128 ? d : 256 - d;
    }
    f = 0;
    let best = s0;
    if (s1 < best) (f = 1), (best = s1);
    if (s2 < best) (f = 2), (best = s2);
    if (s3 < best) (f = 3), (best = s3);
    if (s4 < best) f = 4;
  }
  out[o++] = f;
  switch (f) {
    case 0:
      out.set(cur.subarray(0, bpl), o);
      return;
    case 1:
      for (let x = 0; x < bpl; x++) out[o + x] = cur[x] - (x >= bpp ? cur[x - bpp] : 0);
      return;
    case 2:
      for (let x = 0; x < bpl; x++) out[o + x] = cur[x] - prev[x];
      return;
    case 3:
      for (let x = 0; x < bpl; x++) out[o + x] = cur[x] - (((x >= bpp ? cur[x - bpp] : 0) + prev[x]) >> 1);
      return;
    default:
      for (let x = 0; x < bpl; x++) {
        const a = x >= bpp ? cur[x - bpp] : 0;
        const b = prev[x];
        const c = x >= bpp ? prev[x - bpp] : 0;
        const p = a + b - c;
        const pa = p > a ? p - a : a - p;
        const pb = p > b ? p - b : b - p;
        const pc = p > c ? p - c : c - p;
        out[o + x] = cur[x] - (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
  }
}

/**
 * The filtered scanlines (filter byte + row) in batches of about BATCH bytes: each call
 * fills `out` (at least batchBytes long) with the next rows and returns the bytes filled,
 * 0 after the last row.
 */
function scanlines(image: PngImage, rgb: boolean, type: number): { batchBytes: number; fill(out: Uint8Array): number } {
  const { width: w, height: h } = image;
  const src = image.data;
  const data = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  const bpp = rgb ? 3 : 4;
  const bpl = w * bpp;
  const rowsPerBatch = Math.max(1, Math.floor(BATCH / (bpl + 1)));
  // RGB: rows packed into two scratch rows; RGBA: views into the image itself
  let cur: Uint8Array = rgb ? new Uint8Array(bpl) : data.subarray(0, 0);
  let prev: Uint8Array = new Uint8Array(bpl); // zeros: the row above the first
  let y = 0;
  return {
    batchBytes: rowsPerBatch * (bpl + 1),
    fill(out) {
      const n = Math.min(rowsPerBatch, h - y);
      for (let i = 0; i < n; i++, y++) {
        if (rgb) {
          for (let x = 0, s = y * w * 4; x < bpl; x += 3, s += 4) {
            cur[x] = data[s];
            cur[x + 1] = data[s + 1];
            cur[x + 2] = data[s + 2];
          }
        } else {
          cur = data.subarray(y * bpl, (y + 1) * bpl);
        }
        filterRow(cur, prev, bpl, bpp, type, out, i * (bpl + 1));
        if (rgb) [cur, prev] = [prev, cur];
        else prev = cur;
      }
      return n * (bpl + 1);
    },
  };
}

/** Batch buffers in flight to the deflater (each reused once zlib has consumed it). */
const RING = 3;

/**
 * Write `image` as PNG through `write` (called with each piece in order; the next piece
 * waits for its promise, and the bytes may be reused after it resolves: copy them to keep
 * them). Resolves to the number of bytes written.
 *
 * Buffers are reused rather than allocated per batch or per chunk, so memory does not wait
 * for the garbage collector: RING batch buffers, one IDAT buffer, and zlib's own output.
 */
export async function writePng(image: PngImage, write: (bytes: Uint8Array) => Promise<void>, options: PngWriteOptions = {}): Promise<number> {
  checkImage(image);
  const level = options.level ?? 6;
  const filter = options.filter ?? 'adaptive';
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new NimgError('BAD_INPUT', `PNG write: level must be an integer 0…9, got ${String(level)}`);
  if (filter !== 'adaptive' && ![0, 1, 2, 3, 4].includes(filter)) throw new NimgError('BAD_INPUT', `PNG write: unknown filter ${String(filter)}`);
  const rgb = opaque(image.data);
  let total = 0;
  const put = async (b: Uint8Array) => {
    total += b.length;
    await write(b);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(image.width, 0);
  ihdr.writeUInt32BE(image.height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = rgb ? 2 : 6; // colour type: RGB or RGBA
  // compression, filter method, interlace: 0
  await put(Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('sRGB', Uint8Array.of(1))]));

  const z = createDeflate({ level, chunkSize: IDAT_MAX, strategy: Z.Z_DEFAULT_STRATEGY });
  // the consumer: deflate output gathered into one reused IDAT buffer, written when full
  const chunkBuf = Buffer.allocUnsafe(12 + IDAT_MAX);
  chunkBuf.write('IDAT', 4, 'latin1');
  let len = 0;
  const flush = async () => {
    if (len === 0) return;
    chunkBuf.writeUInt32BE(len, 0);
    chunkBuf.writeUInt32BE(crc32(chunkBuf, 4, 8 + len), 8 + len);
    const n = len;
    len = 0;
    await put(chunkBuf.subarray(0, 12 + n));
  };
  const consumer = (async () => {
    for await (const piece of z as AsyncIterable<Buffer>) {
      for (let o = 0; o < piece.length; ) {
        const take = Math.min(IDAT_MAX - len, piece.length - o);
        chunkBuf.set(piece.subarray(o, o + take), 8 + len);
        len += take;
        o += take;
        if (len === IDAT_MAX) await flush();
      }
    }
    await flush();
  })();
  let failed: unknown = null;
  const failure = consumer.then(
    () => new Promise<never>(() => {}),
    (e) => {
      failed = e;
      z.destroy();
      throw e;
    },
  );
  failure.catch(() => {});

  // the producer: filtered rows into RING reused buffers, each refilled once zlib consumed it
  const rows = scanlines(image, rgb, filter === 'adaptive' ? -1 : filter);
  const ring = Array.from({ length: RING }, () => Buffer.allocUnsafe(rows.batchBytes));
  const consumed: Promise<void>[] = Array.from({ length: RING }, () => Promise.resolve());
  try {
    for (let i = 0; ; i++) {
      const k = i % RING;
      await Promise.race([consumed[k], failure]);
      const n = rows.fill(ring[k]);
      if (n === 0) break;
      consumed[k] = new Promise<void>((resolve, reject) => {
        z.write(ring[k].subarray(0, n), (e) => (e ? reject(e) : resolve()));
      });
      consumed[k].catch(() => {});
    }
    await Promise.race([new Promise<void>((resolve) => z.end(resolve)), failure]);
    await consumer;
  } catch (e) {
    z.destroy();
    await consumer.catch(() => {});
    throw failed ?? e;
  }
  await put(chunk('IEND', new Uint8Array(0)));
  return total;
}

const errno = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/**
 * Write `image` as a PNG file, through a temporary file in the same folder that is renamed
 * at the end: a file at `file` is always complete. Resolves to the bytes written. A write
 * that fails (folder missing, disk full) throws NimgError('BAD_INPUT', 'cannot write …')
 * and leaves no temporary file.
 */
export async function writePngFile(file: string, image: PngImage, options: PngWriteOptions = {}): Promise<number> {
  checkImage(image);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(tmp, 'w');
    const h = fh;
    const n = await writePng(
      image,
      async (b) => {
        for (let o = 0; o < b.length; ) o += (await h.write(b, o, b.length - o)).bytesWritten;
      },
      options,
    );
    await fh.close();
    fh = undefined;
    await rename(tmp, file);
    return n;
  } catch (e) {
    await fh?.close().catch(() => {});
    await rm(tmp, { force: true }).catch(() => {});
    if (e instanceof NimgError) throw e;
    throw new NimgError('BAD_INPUT', `cannot write ${file}: ${errno(e)}`, { cause: e });
  }
}

/** Write `image` as PNG to a writable stream (stdout) as it is made; resolves to the bytes written. */
export async function writePngStream(stream: NodeJS.WritableStream, image: PngImage, options: PngWriteOptions = {}): Promise<number> {
  return writePng(
    image,
    (b) =>
      new Promise<void>((resolve, reject) => {
        stream.write(b, (e?: Error | null) => (e ? reject(e) : resolve()));
      }),
    options,
  );
}
