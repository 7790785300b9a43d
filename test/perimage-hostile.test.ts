/**
 * Per-image decoder on hostile input: truncated / oversized / malformed params sections,
 * architectures out of range, extreme weights, grids that disagree with the header, flipped
 * bits in the latent stream. Each must end in a NimgError (or, for a flip that still makes a
 * valid stream, a result) in bounded time, never a trap, TypeError or RangeError.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { NimgError } from '../src/errors.js';
import { createPerImageCore, type PerImageCore } from '../src/profiles/perimage/core.js';
import { defaultArch, type PerImageParams } from '../src/profiles/perimage/types.js';
import { makeRng, randomGrids, randomParams } from './fixtures/perimage-random.js';

let core: PerImageCore;
let params: PerImageParams;
let pBytes: Uint8Array;
const W = 33;
const H = 21;
let lBytes: Uint8Array;

beforeAll(async () => {
  core = await createPerImageCore();
  const rng = makeRng(5);
  params = randomParams(rng, defaultArch(), { armScale: 30, armBias: 200 });
  pBytes = core.encodeParams(params);
  lBytes = core.encodeLatents(params, randomGrids(rng, 7, W, H, 20, 2), W, H);
});

/** the error code of fn(), or 'OK'; anything but a NimgError fails the test */
function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'OK';
  } catch (e) {
    if (!(e instanceof NimgError)) throw e;
    return e.code;
  }
}

/** the architecture bytes of the default model with byte i set to v */
function patched(i: number, v: number): Uint8Array {
  const b = pBytes.slice();
  b[i] = v;
  return b;
}

describe('params section', () => {
  it('every truncation → TRUNCATED or CORRUPT_STREAM', () => {
    for (let n = 0; n < pBytes.length; n++) {
      const c = codeOf(() => core.decodeParams(pBytes.subarray(0, n)));
      expect(['TRUNCATED', 'CORRUPT_STREAM'], `length ${n}`).toContain(c);
    }
  });

  it('trailing bytes → CORRUPT_STREAM', () => {
    const b = new Uint8Array(pBytes.length + 3);
    b.set(pBytes);
    expect(codeOf(() => core.decodeParams(b))).toBe('CORRUPT_STREAM');
  });

  it('architecture bytes out of range → CORRUPT_STREAM', () => {
    const S = 5;
    const cases: Array<[number, number]> = [
      [0, 0], [0, 9], [1, 7], [1, 32], [2, 4], [3, 12], [3, 64], [4, 0], [4, 9],
      [5, 2], // kind
      [6, 0], [6, 65], // out
      [7, 2], // act
      [8, 2], // residual flag
      [5 + 4 * 2 + 1, 4], // last layer out != 3 … and next layer's in
      [5 + 4 * 4 + 1, 4], // last out != 3
      [5 + 4 * 0 + 3, 1], // residual with in (7) != out (24)
      [5 + 4 * S, 9], // ARM exponent > 8
      [5 + 4 * S + 1, 80], // table index
      [5 + 4 * S + 2 * 6, 25], // float exponent > 24
    ];
    for (const [i, v] of cases) expect(codeOf(() => core.decodeParams(patched(i, v))), `byte ${i} = ${v}`).toBe('CORRUPT_STREAM');
  });

  it('limits: parameter count and MAC/px checked from the header alone', () => {
    // 8 layers 1x1 64 → 64: 8·64·64 params > 65536 and MACs > 4096, with a tiny stream
    const S = 8;
    const T = 2 * 3 + 1 + 2 * S;
    const b = new Uint8Array(5 + 4 * S + 2 * T + 4 + 8);
    b.set([7, 16, 2, 16, S]);
    for (let i = 0; i < S; i++) b.set([0, i === S - 1 ? 3 : 64, 1, 0], 5 + 4 * i);
    b[5 + 4 * S + 2 * T] = 8;
    expect(codeOf(() => core.decodeParams(b))).toBe('CORRUPT_STREAM');
    // within the format but above the caller's limits
    expect(codeOf(() => core.decodeParams(pBytes, { maxParams: 100 }))).toBe('LIMIT_EXCEEDED');
    expect(codeOf(() => core.decodeParams(pBytes, { maxMacsPerPixel: 1000 }))).toBe('LIMIT_EXCEEDED');
  });

  it('weights beyond their bounds → CORRUPT_STREAM (decode) / BAD_INPUT (encode)', () => {
    const S = 5;
    // ARM layer-1 weights: exponent 8 makes |k|·256 > 1023 for any |k| >= 4
    expect(Math.max(...params.tensors[0].k.map(Math.abs))).toBeGreaterThan(3);
    expect(codeOf(() => core.decodeParams(patched(5 + 4 * S, 8)))).toBe('CORRUPT_STREAM');
    const bad = structuredClone(params);
    bad.tensors[0].k[3] = 1024;
    expect(codeOf(() => core.encodeParams(bad))).toBe('BAD_INPUT');
    const bad2 = structuredClone(params);
    bad2.tensors[1].k[0] = 2 ** 20 + 1;
    expect(codeOf(() => core.encodeParams(bad2))).toBe('BAD_INPUT');
    const bad3 = structuredClone(params);
    bad3.tensors[8].k[0] = -(2 ** 20) - 1;
    expect(codeOf(() => core.encodeParams(bad3))).toBe('BAD_INPUT');
    // at the bounds: fine
    const ok = structuredClone(params);
    ok.tensors[0].k[3] = 1023;
    ok.tensors[0].e = 0;
    ok.tensors[1].k[0] = -(2 ** 20);
    ok.tensors[1].e = 0;
    expect(core.decodeParams(core.encodeParams(ok)).tensors[1].k[0]).toBe(-(2 ** 20));
  });

  it('malformed params objects → BAD_INPUT, never a TypeError', () => {
    const cases: unknown[] = [null, {}, { arch: defaultArch() }, { arch: { ...defaultArch(), L: 0 }, tensors: params.tensors }, { arch: defaultArch(), tensors: params.tensors.slice(1) }, { arch: defaultArch(), tensors: params.tensors.map((t) => ({ ...t, k: Array.from(t.k) })) }, { arch: { ...defaultArch(), synthesis: [] }, tensors: [] }];
    for (const c of cases) expect(codeOf(() => core.encodeParams(c as PerImageParams))).toBe('BAD_INPUT');
  });

  it('random garbage and random byte flips → NimgError or a valid decode, quickly', () => {
    const rng = makeRng(9);
    const t0 = performance.now();
    const seen = new Set<string>();
    for (let i = 0; i < 400; i++) {
      let b: Uint8Array;
      if (i < 100) b = Uint8Array.from({ length: Math.floor(rng() * 200) }, () => Math.floor(rng() * 256));
      else {
        b = pBytes.slice();
        for (let j = 0; j < 1 + (i % 4); j++) b[Math.floor(rng() * b.length)] ^= 1 << Math.floor(rng() * 8);
      }
      seen.add(codeOf(() => core.decodeParams(b)));
    }
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(seen.has('CORRUPT_STREAM')).toBe(true);
  });
});

describe('latent stream and grids', () => {
  it('grids that disagree with the header → BAD_INPUT', () => {
    const rng = makeRng(6);
    const g = randomGrids(rng, 7, W, H, 5, 1);
    expect(codeOf(() => core.encodeLatents(params, g.slice(1), W, H))).toBe('BAD_INPUT');
    expect(codeOf(() => core.encodeLatents(params, g, W + 1, H))).toBe('BAD_INPUT');
    expect(codeOf(() => core.encodeLatents(params, g.map((x) => Int32Array.from(x)) as unknown as Int16Array[], W, H))).toBe('BAD_INPUT');
    const big = g.map((x) => x.slice());
    big[3][2] = 128;
    expect(codeOf(() => core.encodeLatents(params, big, W, H))).toBe('BAD_INPUT');
    expect(codeOf(() => core.synthesize(params, big, W, H))).toBe('BAD_INPUT');
    expect(codeOf(() => core.encodeLatents(params, g, 0, H))).toBe('BAD_INPUT');
  });

  it('every truncation → TRUNCATED / CORRUPT_STREAM (CORRUPT_STREAM inside a payload)', () => {
    for (let n = 0; n < lBytes.length; n += 1 + (n >> 4)) {
      const cut = lBytes.subarray(0, n);
      expect(['TRUNCATED', 'CORRUPT_STREAM'], `length ${n}`).toContain(codeOf(() => core.decodeLatents(params, cut, W, H)));
      expect(codeOf(() => core.decodePayload(pBytes, cut, W, H)), `length ${n}`).toBe('CORRUPT_STREAM');
    }
  });

  it('flipped bits → NimgError (or a valid decode) in bounded time; a wrong size too', () => {
    const rng = makeRng(8);
    const t0 = performance.now();
    let errors = 0;
    for (let i = 0; i < 300; i++) {
      const b = lBytes.slice();
      b[Math.floor(rng() * b.length)] ^= 1 << Math.floor(rng() * 8);
      const c = codeOf(() => core.decodePayload(pBytes, b, W, H));
      if (c !== 'OK') {
        expect(c).toBe('CORRUPT_STREAM');
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(250);
    expect(performance.now() - t0).toBeLessThan(30_000);
    // the stream of another size: fails, never a trap
    expect(codeOf(() => core.decodeLatents(params, lBytes, W * 2, H))).not.toBe('OK');
    // garbage streams for a large image end early (TRUNCATED) without decoding the whole grid
    const g = Uint8Array.from({ length: 64 }, () => Math.floor(rng() * 256));
    const t1 = performance.now();
    expect(['TRUNCATED', 'CORRUPT_STREAM']).toContain(codeOf(() => core.decodeLatents(params, g, 2000, 2000)));
    expect(performance.now() - t1).toBeLessThan(5000);
  });

  it('the core keeps working after every failure (no state leaks between calls)', () => {
    const g = core.decodeLatents(params, lBytes, W, H);
    expect(core.encodeLatents(params, g, W, H)).toEqual(lBytes);
  });
});
