/**
 * rANS entropy coder of the WASM core: exact round trips under random tables, escapes,
 * garbage / truncated input → NimgError in bounded time (never a trap or RangeError).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createNodeCore } from '../src/core/node-loader.js';
import type { WasmCore } from '../src/core/index.js';
import type { CoreModel } from '../src/core/types.js';
import { makeRng, randomCoreModel, randomTable, tables, withTables, type TableKind, codeOf } from './fixtures/core-model.js';

let core: WasmCore;
let base: CoreModel;

beforeAll(async () => {
  core = await createNodeCore();
  base = await randomCoreModel({ seed: 1 });
});

const KINDS: TableKind[] = ['flat', 'skewed', 'random', 'escape-only', 'peaked'];

/** random table set: sizes from 1 to a few thousand, one flat 2^16-symbol table sometimes */
function randomTableSet(rng: () => number, T: number, big: boolean) {
  const list = [];
  for (let t = 0; t < T; t++) {
    const kind = KINDS[Math.floor(rng() * KINDS.length)];
    const n = 1 + Math.floor(rng() ** 2 * (rng() < 0.1 ? 3000 : 60));
    list.push(randomTable(rng, n, kind));
  }
  if (big) list.push(randomTable(rng, 1 << 16, 'flat')); // every frequency is 1
  return tables(list);
}

/** values drawn from each symbol's own table (inverse CDF), with a share of escapes */
function drawValues(rng: () => number, g: { cdf: Int32Array; ptr: Int32Array; offset: Int32Array }, idx: Int32Array, escShare: number): Int32Array {
  const k = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const t = idx[i];
    const a = g.ptr[t];
    const n = g.ptr[t + 1] - a - 1;
    const lo = g.offset[t];
    const hi = lo + n - 2;
    if (rng() < escShare) {
      const r = rng();
      if (r < 0.3) k[i] = rng() < 0.5 ? lo - 1 : hi + 1; // just outside
      else if (r < 0.5) k[i] = rng() < 0.5 ? lo - 2 - Math.floor(rng() * 5) : hi + 2 + Math.floor(rng() * 5);
      else if (r < 0.7) k[i] = rng() < 0.5 ? 1 << 24 : -(1 << 24); // extremes
      else k[i] = Math.round((rng() - 0.5) * 2 ** 25);
    } else {
      const slot = Math.floor(rng() * 65536);
      let s = 0;
      while (g.cdf[a + s + 1] <= slot) s++;
      k[i] = s === n - 1 ? hi + 1 : lo + s;
    }
  }
  return k;
}

describe('rANS round trip (y stream)', () => {
  it('is exact for random tables, lengths and seeds', () => {
    const lengths = [0, 1, 2, 3, 7, 64, 1000, 12345, 100_000];
    for (let seed = 1; seed <= 24; seed++) {
      const rng = makeRng(seed);
      const g = randomTableSet(rng, 1 + Math.floor(rng() * 40), seed % 4 === 0);
      const model = withTables(base, g);
      core.setModel(model);
      const T = g.offset.length;
      const n = lengths[seed % lengths.length];
      const idx = new Int32Array(n).map(() => Math.floor(rng() * T));
      const k = drawValues(rng, g, idx, seed % 3 === 0 ? 0.3 : 0.01);
      const bytes = core.encodeY(k, idx);
      expect(bytes.length).toBeGreaterThanOrEqual(8);
      expect(core.encodeY(k, idx)).toEqual(bytes); // deterministic
      const back = core.decodeY(bytes, idx);
      expect(back).toEqual(k);
    }
  });

  it('codes near the entropy on a skewed table (sanity of the model use)', () => {
    const rng = makeRng(99);
    const t = randomTable(rng, 20, 'skewed');
    const g = tables([t]);
    core.setModel(withTables(base, g));
    const n = 50_000;
    const idx = new Int32Array(n);
    const k = drawValues(rng, g, idx, 0);
    let bits = 0;
    for (let i = 0; i < n; i++) {
      const s = k[i] - t.offset;
      bits += -Math.log2((t.cdf[s + 1] - t.cdf[s]) / 65536);
    }
    const bytes = core.encodeY(k, idx);
    expect(bytes.length * 8).toBeLessThan(bits * 1.01 + 64);
    expect(bytes.length * 8).toBeGreaterThan(bits * 0.97);
    expect(core.decodeY(bytes, idx)).toEqual(k);
  });

  it('round-trips extreme values through the escape path', () => {
    const rng = makeRng(5);
    const g = tables([randomTable(rng, 5, 'random'), randomTable(rng, 1, 'escape-only'), randomTable(rng, 300, 'flat')]);
    core.setModel(withTables(base, g));
    const vals: number[] = [];
    for (let t = 0; t < 3; t++) {
      const lo = g.offset[t];
      const hi = lo + (g.ptr[t + 1] - g.ptr[t] - 1) - 2;
      vals.push(lo, hi, lo - 1, hi + 1, lo - 2, hi + 2, 0, 1, -1);
    }
    vals.push(1 << 24, -(1 << 24), (1 << 24) - 1, -(1 << 24) + 1, 2 ** 30, -(2 ** 30), 2 ** 31 - 1 - 2 ** 20, -(2 ** 31) + 2 ** 20);
    const k = Int32Array.from(vals.flatMap((v) => [v, v, v]));
    const idx = Int32Array.from(k, (_, i) => i % 3);
    const bytes = core.encodeY(k, idx);
    expect(core.decodeY(bytes, idx)).toEqual(k);
    // all-escape stream on the escape-only table
    const k2 = Int32Array.from({ length: 5000 }, () => Math.round((rng() - 0.5) * 2 ** 25));
    const i2 = new Int32Array(5000).fill(1);
    expect(core.decodeY(core.encodeY(k2, i2), i2)).toEqual(k2);
  });

  it('rejects values whose escape code needs more than 32 bits (BAD_INPUT), never mis-codes them', () => {
    const g = tables([{ cdf: Int32Array.from([0, 30000, 65536]), offset: 2 ** 30 - 10 }]);
    core.setModel(withTables(base, g));
    // e = 2*(lo - 1 - v) for v = -2^31 is about 3·2^31 > 2^32
    expect(codeOf(() => core.encodeY(Int32Array.from([-(2 ** 31)]), Int32Array.from([0])))).toBe('BAD_INPUT');
    const ok = Int32Array.from([-(1 << 24), 1 << 24, 2 ** 31 - 1]);
    expect(core.decodeY(core.encodeY(ok, new Int32Array(3)), new Int32Array(3))).toEqual(ok);
  });

  it('checks table indices', () => {
    core.setModel(base);
    const k = new Int32Array(4);
    expect(codeOf(() => core.encodeY(k, Int32Array.from([0, 1, base.numScales, 2])))).toBe('BAD_INPUT');
    expect(codeOf(() => core.encodeY(k, Int32Array.from([0, -1, 0, 2])))).toBe('BAD_INPUT');
    const bytes = core.encodeY(k, new Int32Array(4));
    expect(codeOf(() => core.decodeY(bytes, Int32Array.from([0, 0, 64, 0])))).toBe('BAD_INPUT');
    expect(codeOf(() => core.encodeY(k, new Int32Array(3)))).toBe('BAD_INPUT');
  });
});

describe('rANS round trip (z stream)', () => {
  it('is exact, channel-major with one table per channel, escapes included', () => {
    core.setModel(base);
    const rng = makeRng(3);
    for (const HW of [0, 1, 5, 96, 1000]) {
      const z = Int32Array.from({ length: base.Nz * HW }, () => (rng() < 0.05 ? Math.round((rng() - 0.5) * 510) : Math.round((rng() - 0.5) * 6)));
      if (z.length > 2) {
        z[0] = 255;
        z[1] = -255;
      }
      const bytes = core.encodeZ(z, HW);
      expect(core.decodeZ(bytes, HW)).toEqual(z);
    }
    expect(codeOf(() => core.encodeZ(new Int32Array(base.Nz * 3 + 1), 3))).toBe('BAD_INPUT');
  });

  it('uses the channel table: the same values cost differently per channel', () => {
    core.setModel(base);
    const HW = 2000;
    const z = new Int32Array(base.Nz * HW).fill(0);
    const a = core.encodeZ(z, HW);
    // decoding with a shifted channel grid (HW-1 per channel and one extra symbol) must not give back z
    const res = codeOf(() => {
      const d = core.decodeZ(a, HW - 1);
      if (d.every((v) => v === 0)) throw new Error('decoded the same zeros');
    });
    expect(res).not.toBe('OK');
  });
});

describe('rANS decoder on bad input', () => {
  it('truncated streams → TRUNCATED, every cut', () => {
    core.setModel(base);
    const rng = makeRng(11);
    const n = 3000;
    const idx = Int32Array.from({ length: n }, () => Math.floor(rng() * base.numScales));
    const k = drawValues(rng, base.gauss, idx, 0.02);
    const bytes = core.encodeY(k, idx);
    const cuts = new Set([0, 1, 4, 7, 8, 9, bytes.length - 1, bytes.length - 2, bytes.length - 3]);
    for (let i = 0; i < 40; i++) cuts.add(Math.floor(rng() * bytes.length));
    for (const c of cuts) expect(codeOf(() => core.decodeY(bytes.subarray(0, c), idx)), `cut at ${c}`).toBe('TRUNCATED');
    // trailing bytes → CORRUPT_STREAM
    const longer = new Uint8Array(bytes.length + 2);
    longer.set(bytes);
    expect(codeOf(() => core.decodeY(longer, idx))).toBe('CORRUPT_STREAM');
  });

  it('bit flips are detected (final-state check)', () => {
    core.setModel(base);
    const rng = makeRng(12);
    const n = 5000;
    const idx = Int32Array.from({ length: n }, () => Math.floor(rng() * base.numScales));
    const k = drawValues(rng, base.gauss, idx, 0.01);
    const bytes = core.encodeY(k, idx);
    for (let i = 0; i < 60; i++) {
      const b = bytes.slice();
      const pos = Math.floor(rng() * b.length);
      b[pos] ^= 1 << Math.floor(rng() * 8);
      expect(['CORRUPT_STREAM', 'TRUNCATED'], `flip at byte ${pos}`).toContain(codeOf(() => core.decodeY(b, idx)));
    }
  });

  it('random garbage → CORRUPT_STREAM / TRUNCATED in bounded time, never a trap', () => {
    const rng = makeRng(13);
    const g = randomTableSet(rng, 30, true);
    core.setModel(withTables(base, g));
    const T = g.offset.length;
    const t0 = performance.now();
    for (let i = 0; i < 300; i++) {
      const len = Math.floor(rng() ** 2 * 5000);
      const garbage = Uint8Array.from({ length: len }, () => Math.floor(rng() * 256));
      const n = Math.floor(rng() * 20000);
      const idx = Int32Array.from({ length: n }, () => Math.floor(rng() * T));
      const tStart = performance.now();
      const code = codeOf(() => core.decodeY(garbage, idx));
      expect(performance.now() - tStart).toBeLessThan(2000);
      expect(['CORRUPT_STREAM', 'TRUNCATED']).toContain(code);
    }
    // z stream decoder, same machinery with implicit tables
    core.setModel(base);
    for (let i = 0; i < 50; i++) {
      const garbage = Uint8Array.from({ length: Math.floor(rng() * 3000) }, () => Math.floor(rng() * 256));
      expect(['CORRUPT_STREAM', 'TRUNCATED']).toContain(codeOf(() => core.decodeZ(garbage, 1 + Math.floor(rng() * 500))));
    }
    core.setModel(withTables(base, g));
    expect(performance.now() - t0).toBeLessThan(30_000);
    // the core is still healthy
    const idx = Int32Array.from([0, 1, 2]);
    const k = Int32Array.from([0, 5, -7]);
    expect(core.decodeY(core.encodeY(k, idx), idx)).toEqual(k);
  });

  it('an endless escape prefix (> 31 zero bits) → CORRUPT_STREAM, not a hang', () => {
    // table 0 is escape-only: its symbol does not change the state; with state 2^16 and
    // zero words the bypass bits are all zero forever.
    const g = tables([{ cdf: Int32Array.from([0, 65536]), offset: 0 }]);
    core.setModel(withTables(base, g));
    const s = new Uint8Array(8 + 2 * 16);
    const dv = new DataView(s.buffer);
    dv.setUint32(0, 1 << 16, true);
    dv.setUint32(4, 1 << 16, true);
    expect(codeOf(() => core.decodeY(s, new Int32Array(1)))).toBe('CORRUPT_STREAM');
    // the same without the words runs out of input first
    expect(codeOf(() => core.decodeY(s.subarray(0, 8), new Int32Array(1)))).toBe('TRUNCATED');
  });

  it('initial states below 2^16 → CORRUPT_STREAM', () => {
    core.setModel(base);
    const s = new Uint8Array(8);
    expect(codeOf(() => core.decodeY(s, new Int32Array(0)))).toBe('CORRUPT_STREAM');
    const empty = core.encodeY(new Int32Array(0), new Int32Array(0));
    expect(empty.length).toBe(8);
    expect(core.decodeY(empty, new Int32Array(0))).toEqual(new Int32Array(0));
  });
});
