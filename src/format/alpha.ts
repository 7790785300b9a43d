/**
 * The alpha stream (FORMAT.md §Alpha): the alpha plane, row-major, each row filtered with the
 * PNG "Sub" filter (byte = a[x] - a[x-1] mod 256, a[-1] = 0), the whole plane compressed as one
 * zlib stream (RFC 1950). Lossless. Uses the platform's CompressionStream (browsers, Node >= 18,
 * Deno, Workers): no Node module, no dependency.
 */
import { NimgError } from '../errors.js';

/** true when every alpha byte of the RGBA data is 255 (or the data is RGB). */
export function isOpaque(data: Uint8Array | Uint8ClampedArray, channels: 3 | 4): boolean {
  if (channels === 3) return true;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return false;
  return true;
}

async function pump(input: Uint8Array, stream: CompressionStream | DecompressionStream, maxOut: number): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  // Write and close without awaiting: backpressure is handled by reading concurrently.
  const writing = writer.write(input as unknown as Uint8Array<ArrayBuffer>).then(() => writer.close());
  writing.catch(() => {}); // errors surface through the reader
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxOut) {
      await reader.cancel().catch(() => {});
      throw new NimgError('CORRUPT_STREAM', `alpha stream inflates to more than the ${maxOut} bytes of the alpha plane`);
    }
    chunks.push(value);
  }
  await writing;
  const out = new Uint8Array(total);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

/** Alpha plane of RGBA data → alpha stream bytes. */
export async function encodeAlpha(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Promise<Uint8Array> {
  if (typeof CompressionStream === 'undefined') {
    throw new NimgError('BAD_INPUT', 'this runtime has no CompressionStream: it cannot encode images with transparency');
  }
  const plane = new Uint8Array(width * height);
  for (let y = 0, i = 0; y < height; y++) {
    let prev = 0;
    for (let x = 0; x < width; x++, i++) {
      const a = rgba[4 * i + 3];
      plane[i] = (a - prev) & 0xff;
      prev = a;
    }
  }
  return pump(plane, new CompressionStream('deflate'), Infinity);
}

/** Alpha stream → alpha plane (width × height bytes). CORRUPT_STREAM if it is not exactly that. */
export async function decodeAlpha(stream: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  if (typeof DecompressionStream === 'undefined') {
    throw new NimgError('BACKEND_UNAVAILABLE', 'this runtime has no DecompressionStream: it cannot decode the alpha stream');
  }
  const n = width * height;
  let plane: Uint8Array;
  try {
    plane = await pump(stream, new DecompressionStream('deflate'), n);
  } catch (e) {
    if (e instanceof NimgError) throw e;
    throw new NimgError('CORRUPT_STREAM', `alpha stream is not a valid zlib stream (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  if (plane.length !== n) throw new NimgError('CORRUPT_STREAM', `alpha stream inflates to ${plane.length} bytes, expected ${n}`);
  for (let y = 0, i = 0; y < height; y++) {
    let prev = 0;
    for (let x = 0; x < width; x++, i++) {
      prev = (prev + plane[i]) & 0xff;
      plane[i] = prev;
    }
  }
  return plane;
}
