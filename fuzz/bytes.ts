import { crc32 } from '../src/format/crc32.js';
/**
 * Format-blind byte mutations (the classic set: bit flips, interesting values, random runs,
 * insertions, deletions, truncation, duplication). The structure-aware mutators apply them
 * to one region of a file (a stream, a chunk, a segment) and then repair what the format
 * checks (lengths, CRCs), so that the mutated bytes reach the code behind the checks.
 */
import type { Rng } from './rng.js';

const INTERESTING = [0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, 0x10, 0x40];

export type ByteMutation = (b: Uint8Array, rng: Rng) => Uint8Array;

export const BYTE_MUTATIONS: Record<string, ByteMutation> = {
  flipBit(b, rng) {
    if (!b.length) return b;
    const o = b.slice();
    o[rng.int(o.length)] ^= 1 << rng.int(8);
    return o;
  },
  interesting(b, rng) {
    if (!b.length) return b;
    const o = b.slice();
    o[rng.int(o.length)] = rng.pick(INTERESTING);
    return o;
  },
  randomRun(b, rng) {
    if (!b.length) return b;
    const o = b.slice();
    const at = rng.int(o.length);
    const n = 1 + rng.int(Math.min(16, o.length - at));
    for (let i = 0; i < n; i++) o[at + i] = rng.int(256);
    return o;
  },
  fillRun(b, rng) {
    if (!b.length) return b;
    const o = b.slice();
    const at = rng.int(o.length);
    o.fill(rng.pick(INTERESTING), at, at + 1 + rng.int(Math.min(64, o.length - at)));
    return o;
  },
  insert(b, rng) {
    const at = rng.int(b.length + 1);
    const n = 1 + rng.int(8);
    const o = new Uint8Array(b.length + n);
    o.set(b.subarray(0, at));
    for (let i = 0; i < n; i++) o[at + i] = rng.int(256);
    o.set(b.subarray(at), at + n);
    return o;
  },
  remove(b, rng) {
    if (!b.length) return b;
    const at = rng.int(b.length);
    const n = 1 + rng.int(Math.min(8, b.length - at));
    const o = new Uint8Array(b.length - n);
    o.set(b.subarray(0, at));
    o.set(b.subarray(at + n), at);
    return o;
  },
  truncate(b, rng) {
    return b.slice(0, rng.int(b.length + 1));
  },
  duplicate(b, rng) {
    if (!b.length) return b;
    const at = rng.int(b.length);
    const n = 1 + rng.int(Math.min(32, b.length - at));
    const o = new Uint8Array(b.length + n);
    o.set(b.subarray(0, at + n));
    o.set(b.subarray(at), at + n);
    return o;
  },
  xorAll(b, rng) {
    const k = 1 + rng.int(255);
    return b.map((v) => v ^ k);
  },
};

const NAMES = Object.keys(BYTE_MUTATIONS);

/** One random byte mutation; `lengthPreserving` keeps the size (for fixed-size regions). */
export function mutateBytes(b: Uint8Array, rng: Rng, lengthPreserving = false): Uint8Array {
  const names = lengthPreserving ? ['flipBit', 'interesting', 'randomRun', 'fillRun', 'xorAll'] : NAMES;
  return BYTE_MUTATIONS[rng.pick(names)](b, rng);
}

/** 1..n stacked byte mutations. */
export function havoc(b: Uint8Array, rng: Rng, n = 4, lengthPreserving = false): Uint8Array {
  let o = b;
  for (let i = 0, k = 1 + rng.int(n); i < k; i++) o = mutateBytes(o, rng, lengthPreserving);
  return o;
}

/**
 * Split a container (a fixed header whose u32 LE words at `lengthAt` give the lengths of the
 * sections that follow it, in order) into a copy of the header and of each section. Tolerant
 * of a mutated file: a short header is zero-padded and each length is clamped to what is left.
 */
export function splitSections(input: Uint8Array, headerSize: number, lengthAt: number[]): { header: Uint8Array; sections: Uint8Array[] } {
  const b = input.length >= headerSize ? input : Uint8Array.from({ length: headerSize }, (_, i) => input[i] ?? 0);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = headerSize;
  const sections = lengthAt.map((off) => {
    const n = Math.min(dv.getUint32(off, true), b.length - at);
    const s = b.slice(at, at + n);
    at += n;
    return s;
  });
  return { header: b.slice(0, headerSize), sections };
}

/** Write both CRC-32s of a container (whatever its fields say): the payload's (over everything after the header) and the header's (over the bytes before its own field). */
export function resealCrcs(o: Uint8Array, headerSize: number, payloadCrcAt: number, headerCrcAt: number): Uint8Array {
  if (o.length < headerSize) return o;
  const dv = new DataView(o.buffer, o.byteOffset, o.byteLength);
  dv.setUint32(payloadCrcAt, crc32(o, headerSize, o.length), true);
  dv.setUint32(headerCrcAt, crc32(o, 0, headerCrcAt), true);
  return o;
}
