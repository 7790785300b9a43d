/**
 * Structure-aware mutations of .nimg files (FORMAT.md): each mutates one part of the file and
 * then repairs the stream lengths and both CRCs, so the input passes the container checks
 * and reaches the entropy decoder, h_s and the synthesis network. One mutator ('raw') leaves
 * the CRCs alone, so the checks themselves are exercised too.
 */
import { HEADER_SIZE } from '../src/format/container.js';
import { havoc, resealCrcs, splitSections } from './bytes.js';
import type { Mutator } from './mutator.js';
import type { Rng } from './rng.js';

interface Parts {
  header: Uint8Array;
  z: Uint8Array;
  y: Uint8Array;
  alpha: Uint8Array;
}

/** Split a well-formed .nimg (a seed) into its header and streams (lengths at 48, 52, 56). */
export function splitNimg(input: Uint8Array): Parts {
  const { header, sections: [z, y, alpha] } = splitSections(input, HEADER_SIZE, [48, 52, 56]);
  return { header, z, y, alpha };
}

/** Reassemble: lengths from the streams, alpha flag from the alpha stream, both CRCs recomputed. */
export function joinNimg(p: Parts, opts: { keepFlags?: boolean; keepLengths?: boolean } = {}): Uint8Array {
  const n = HEADER_SIZE + p.z.length + p.y.length + p.alpha.length;
  const o = new Uint8Array(n);
  o.set(p.header.subarray(0, HEADER_SIZE));
  const dv = new DataView(o.buffer);
  if (!opts.keepLengths) {
    dv.setUint32(48, p.z.length, true);
    dv.setUint32(52, p.y.length, true);
    dv.setUint32(56, p.alpha.length, true);
  }
  if (!opts.keepFlags) o[9] = (o[9] & ~1) | (p.alpha.length > 0 ? 1 : 0);
  o.set(p.z, HEADER_SIZE);
  o.set(p.y, HEADER_SIZE + p.z.length);
  o.set(p.alpha, HEADER_SIZE + p.z.length + p.y.length);
  return reseal(o);
}

/** Recompute the payload (@60) and header (@64) CRCs of a file (whatever its fields say). */
export const reseal = (o: Uint8Array): Uint8Array => resealCrcs(o, HEADER_SIZE, 60, 64);

/** Small and edge values for the header's u32 size fields. */
function dimValue(rng: Rng): number {
  return rng.pick([
    () => 1 + rng.int(16),
    () => 1 + rng.int(256),
    () => 16 * (1 + rng.int(16)),
    () => 64 * (1 + rng.int(8)) + rng.pick([-1, 0, 1]),
    () => rng.pick([0, 1, 63, 64, 65, 4096, 16384, 16385, 0xffff, 0x7fffffff, 0xffffffff]),
  ])();
}

export const NIMG_MUTATORS: Mutator[] = [
  {
    // the entropy decoder on damaged y data (the largest stream, the one most often corrupted)
    name: 'y-havoc',
    weight: 4,
    apply(seed, rng) {
      const p = splitNimg(seed);
      p.y = havoc(p.y, rng, 4, rng.chance(0.5));
      return joinNimg(p);
    },
  },
  {
    name: 'z-havoc',
    weight: 3,
    apply(seed, rng) {
      const p = splitNimg(seed);
      p.z = havoc(p.z, rng, 3, rng.chance(0.5));
      return joinNimg(p);
    },
  },
  {
    // the zlib alpha stream (opaque seeds get one made of garbage)
    name: 'alpha-havoc',
    weight: 1,
    apply(seed, rng) {
      const p = splitNimg(seed);
      p.alpha = p.alpha.length ? havoc(p.alpha, rng) : Uint8Array.from({ length: 1 + rng.int(64) }, () => rng.int(256));
      return joinNimg(p);
    },
  },
  {
    // streams that fit another geometry: a size the streams were not coded for
    name: 'dims',
    weight: 3,
    apply(seed, rng) {
      const p = splitNimg(seed);
      const dv = new DataView(p.header.buffer);
      if (rng.chance(0.7)) dv.setUint32(36, dimValue(rng), true);
      if (rng.chance(0.7)) dv.setUint32(40, dimValue(rng), true);
      return joinNimg(p);
    },
  },
  {
    // any header field (quality, flags, reserved, model id, lengths), header CRC fixed
    name: 'header-field',
    weight: 2,
    apply(seed, rng) {
      const p = splitNimg(seed);
      const o = seed.slice();
      const dv = new DataView(o.buffer);
      const f = rng.int(7);
      if (f === 0) dv.setUint16(44, rng.pick([0, 255, 256, 257, 2048, 2049, rng.int(65536)]), true);
      else if (f === 1) o[9] = rng.int(256);
      else if (f === 2) o[10 + rng.int(2)] = rng.int(256);
      else if (f === 3) o[12 + rng.int(16)] = rng.pick([0, 0x20, 0x7e, 0x7f, rng.int(256)]);
      else if (f === 4) dv.setUint32(48 + 4 * rng.int(3), rng.pick([0, 1, p.z.length + 1, p.y.length, 0xffffffff, rng.int(1 << 20)]), true);
      else if (f === 5) o[28 + rng.int(8)] ^= 1 << rng.int(8); // another weight set
      else dv.setUint16(46, rng.int(65536), true);
      return reseal(o);
    },
  },
  {
    // the z and y streams exchanged, or one of them emptied
    name: 'streams-swap',
    weight: 1,
    apply(seed, rng) {
      const p = splitNimg(seed);
      const r = rng.int(3);
      if (r === 0) [p.z, p.y] = [p.y, p.z];
      else if (r === 1) p.z = new Uint8Array(0);
      else p.y = p.y.subarray(0, rng.int(p.y.length + 1));
      return joinNimg(p);
    },
  },
  {
    // streams of another seed (other size, quality or alpha) under this header
    name: 'crossover',
    weight: 2,
    apply(seed, rng, other) {
      const p = splitNimg(seed);
      const q = splitNimg(other);
      const r = rng.int(3);
      if (r === 0) p.z = q.z;
      else if (r === 1) p.y = q.y;
      else p.alpha = q.alpha;
      return joinNimg(p);
    },
  },
  {
    // no repair: the signature, version, CRC and truncation checks
    name: 'raw',
    weight: 1,
    apply(seed, rng) {
      return havoc(seed, rng);
    },
  },
];
