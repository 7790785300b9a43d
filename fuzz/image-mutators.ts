/**
 * Structure-aware mutations of PNG and JPEG input. PNG: chunk by chunk, with the chunk CRC
 * recomputed, and IDAT data inflated, mutated as filtered rows and deflated again, so the
 * mutations reach the unfilter and pixel conversion, not just the CRC check. JPEG: segment by
 * segment (tables, frame and scan headers) and inside the entropy-coded scan data.
 */
import { deflateSync, inflateSync } from 'node:zlib';
import { crc32 } from '../src/format/crc32.js';
import { havoc } from './bytes.js';
import type { Mutator } from './mutator.js';
import type { Rng } from './rng.js';

// ---------------------------------------------------------------------------------- PNG

export interface PngChunk {
  type: string;
  data: Uint8Array;
}

const PNG_SIG = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/** The chunks of a well-formed PNG (a seed). */
export function pngChunks(b: Uint8Array): PngChunk[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: PngChunk[] = [];
  for (let p = 8; p + 12 <= b.length; ) {
    const len = dv.getUint32(p);
    const type = String.fromCharCode(...b.subarray(p + 4, p + 8));
    out.push({ type, data: b.slice(p + 8, p + 8 + len) });
    p += 12 + len;
  }
  return out;
}

/** Serialise chunks with correct lengths and CRCs. */
export function pngFile(chunks: PngChunk[]): Uint8Array {
  const n = 8 + chunks.reduce((s, c) => s + 12 + c.data.length, 0);
  const o = new Uint8Array(n);
  const dv = new DataView(o.buffer);
  o.set(PNG_SIG);
  let p = 8;
  for (const c of chunks) {
    dv.setUint32(p, c.data.length);
    for (let i = 0; i < 4; i++) o[p + 4 + i] = c.type.charCodeAt(i) & 255;
    o.set(c.data, p + 8);
    dv.setUint32(p + 8 + c.data.length, crc32(o, p + 4, p + 8 + c.data.length));
    p += 12 + c.data.length;
  }
  return o;
}

/** The IDAT data of chunks, concatenated. */
function idatOf(chunks: PngChunk[]): Uint8Array {
  const parts = chunks.filter((c) => c.type === 'IDAT').map((c) => c.data);
  const o = new Uint8Array(parts.reduce((s, c) => s + c.length, 0));
  let p = 0;
  for (const c of parts) {
    o.set(c, p);
    p += c.length;
  }
  return o;
}

/** Replace the IDAT chunks by `z`, split into chunks of random sizes. */
function withIdat(chunks: PngChunk[], z: Uint8Array, rng: Rng): PngChunk[] {
  const first = chunks.findIndex((c) => c.type === 'IDAT');
  const rest = chunks.filter((c) => c.type !== 'IDAT');
  const parts: PngChunk[] = [];
  for (let p = 0; p < z.length || parts.length === 0; ) {
    const n = rng.chance(0.5) ? z.length : 1 + rng.int(Math.max(1, z.length));
    parts.push({ type: 'IDAT', data: z.slice(p, p + n) });
    p += n;
  }
  const at = first < 0 ? rest.length - 1 : first;
  return [...rest.slice(0, at), ...parts, ...rest.slice(at)];
}

export const PNG_MUTATORS: Mutator[] = [
  {
    // filtered rows damaged (filter bytes, samples, length), then deflated again
    name: 'png-rows',
    weight: 4,
    apply(seed, rng) {
      const chunks = pngChunks(seed);
      let raw: Uint8Array;
      try {
        raw = new Uint8Array(inflateSync(idatOf(chunks)));
      } catch {
        raw = new Uint8Array(0);
      }
      const m = havoc(raw, rng, 4, rng.chance(0.6));
      return pngFile(withIdat(chunks, new Uint8Array(deflateSync(m, { level: 1 })), rng));
    },
  },
  {
    // IHDR fields: size, bit depth, colour type, interlace (CRC fixed)
    name: 'png-ihdr',
    weight: 3,
    apply(seed, rng) {
      const chunks = pngChunks(seed);
      const h = chunks[0].data.slice();
      const dv = new DataView(h.buffer);
      const f = rng.int(5);
      if (f === 0) dv.setUint32(0, rng.pick([0, 1, 2, 7, 8, 9, 33, 64, 200, 0x7fffffff, 0xffffffff, rng.int(1024)]));
      else if (f === 1) dv.setUint32(4, rng.pick([0, 1, 2, 7, 8, 9, 33, 64, 200, 0x7fffffff, 0xffffffff, rng.int(1024)]));
      else if (f === 2) h[8] = rng.pick([0, 1, 2, 3, 4, 5, 8, 16, 32]);
      else if (f === 3) h[9] = rng.pick([0, 1, 2, 3, 4, 5, 6, 7]);
      else h[10 + rng.int(3)] = rng.pick([0, 1, 2]);
      chunks[0] = { type: 'IHDR', data: h };
      return pngFile(chunks);
    },
  },
  {
    // any chunk's data (PLTE, tRNS, IDAT as compressed bytes, ancillary), CRC fixed
    name: 'png-chunk',
    weight: 2,
    apply(seed, rng) {
      const chunks = pngChunks(seed);
      const i = rng.int(chunks.length);
      chunks[i] = { type: chunks[i].type, data: havoc(chunks[i].data, rng) };
      return pngFile(chunks);
    },
  },
  {
    // chunk order and presence: dropped, duplicated, moved, unknown critical/ancillary chunks
    name: 'png-layout',
    weight: 2,
    apply(seed, rng) {
      const chunks = pngChunks(seed);
      const r = rng.int(5);
      const i = rng.int(chunks.length);
      if (r === 0) chunks.splice(i, 1);
      else if (r === 1) chunks.splice(i, 0, { ...chunks[rng.int(chunks.length)] });
      else if (r === 2) {
        const [c] = chunks.splice(i, 1);
        chunks.splice(rng.int(chunks.length + 1), 0, c);
      } else if (r === 3) chunks.splice(i, 0, { type: rng.pick(['PLTE', 'tRNS', 'abCD', 'ABCD', 'acTL', 'fdAT']), data: Uint8Array.from({ length: rng.int(40) }, () => rng.int(256)) });
      else chunks.splice(Math.min(i, chunks.length - 1), 0, { type: 'IDAT', data: new Uint8Array(0) });
      return pngFile(chunks);
    },
  },
  {
    // no repair: signature, chunk CRCs, truncation
    name: 'png-raw',
    weight: 1,
    apply(seed, rng) {
      return havoc(seed, rng);
    },
  },
];

// ---------------------------------------------------------------------------------- JPEG

/** Marker segments of a JPEG up to and including SOS, and the rest (scan data, EOI). */
export function jpegSegments(b: Uint8Array): { segments: { marker: number; data: Uint8Array }[]; scan: Uint8Array } {
  const segments: { marker: number; data: Uint8Array }[] = [];
  let p = 2;
  while (p + 4 <= b.length && b[p] === 0xff) {
    const marker = b[p + 1];
    const len = (b[p + 2] << 8) | b[p + 3];
    segments.push({ marker, data: b.slice(p + 4, p + 2 + len) });
    p += 2 + len;
    if (marker === 0xda) break;
  }
  return { segments, scan: b.slice(p) };
}

export function jpegFile(segments: { marker: number; data: Uint8Array }[], scan: Uint8Array): Uint8Array {
  const n = 2 + segments.reduce((s, x) => s + 4 + x.data.length, 0) + scan.length;
  const o = new Uint8Array(n);
  o[0] = 0xff;
  o[1] = 0xd8;
  let p = 2;
  for (const s of segments) {
    const len = Math.min(0xffff, s.data.length + 2);
    o[p] = 0xff;
    o[p + 1] = s.marker;
    o[p + 2] = len >> 8;
    o[p + 3] = len & 255;
    o.set(s.data, p + 4);
    p += 4 + s.data.length;
  }
  o.set(scan, p);
  return o;
}

const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

export const JPEG_MUTATORS: Mutator[] = [
  {
    // entropy-coded data: the Huffman decoder and the IDCT on damaged coefficients
    name: 'jpeg-scan',
    weight: 4,
    apply(seed, rng) {
      const { segments, scan } = jpegSegments(seed);
      const body = scan.subarray(0, Math.max(0, scan.length - 2));
      return jpegFile(segments, Uint8Array.from([...havoc(body, rng, 4, rng.chance(0.5)), 0xff, 0xd9]));
    },
  },
  {
    // tables and headers: DQT, DHT, SOF, SOS, DRI, APPn (lengths stay consistent)
    name: 'jpeg-segment',
    weight: 3,
    apply(seed, rng) {
      const { segments, scan } = jpegSegments(seed);
      const i = rng.int(segments.length);
      segments[i] = { marker: segments[i].marker, data: havoc(segments[i].data, rng, 3, rng.chance(0.5)) };
      return jpegFile(segments, scan);
    },
  },
  {
    // the frame size and sampling factors (small sizes: the work stays bounded)
    name: 'jpeg-sof',
    weight: 2,
    apply(seed, rng) {
      const { segments, scan } = jpegSegments(seed);
      const sof = segments.find((s) => isSof(s.marker));
      if (sof && sof.data.length >= 6) {
        const d = sof.data;
        const r = rng.int(4);
        if (r === 0) {
          d[1] = 0; d[2] = rng.pick([0, 1, 7, 8, 9, 17, 64, 200]); // height
        } else if (r === 1) {
          d[3] = 0; d[4] = rng.pick([0, 1, 7, 8, 9, 17, 64, 200]); // width
        } else if (r === 2 && d.length >= 8) d[7 + 3 * rng.int(Math.max(1, d[5]))] = rng.pick([0x11, 0x12, 0x21, 0x22, 0x44, 0x00, 0x41, 0xff]);
        else d[0] = rng.pick([8, 12, 16, 0]);
        sof.marker = rng.chance(0.1) ? rng.pick([0xc0, 0xc1, 0xc2, 0xc3]) : sof.marker;
      }
      return jpegFile(segments, scan);
    },
  },
  {
    name: 'jpeg-layout',
    weight: 1,
    apply(seed, rng) {
      const { segments, scan } = jpegSegments(seed);
      const i = rng.int(segments.length);
      const r = rng.int(3);
      if (r === 0) segments.splice(i, 1);
      else if (r === 1) segments.splice(i, 0, { ...segments[rng.int(segments.length)] });
      else segments.splice(i, 0, { marker: rng.pick([0xdd, 0xee, 0xfe, 0xc4, 0xdb]), data: Uint8Array.from({ length: rng.int(70) }, () => rng.int(256)) });
      return jpegFile(segments, scan);
    },
  },
  {
    name: 'jpeg-raw',
    weight: 1,
    apply(seed, rng) {
      return havoc(seed, rng);
    },
  },
];
