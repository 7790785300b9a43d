/**
 * Integer h_s: the WASM core is bit-identical to the plain TS reference (src/core/reference.ts)
 * on random weights and inputs, and both match a hand-computed tiny case.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { WasmCore } from '../src/core/index.js';
import { createNodeCore } from '../src/core/node-loader.js';
import { hyperSynthesisRef, requant } from '../src/core/reference.js';
import type { CoreModel, HsLayer } from '../src/core/types.js';
import { makeRng, randomCoreModel, randomTable, tables } from './fixtures/core-model.js';

let core: WasmCore;
beforeAll(async () => {
  core = await createNodeCore();
});

function diffCount(a: Int32Array, b: Int32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) d++;
  return d + Math.abs(a.length - b.length);
}

function randomZ(rng: () => number, n: number, spread: number): Int32Array {
  return Int32Array.from({ length: n }, () => Math.round((rng() * 2 - 1) * spread));
}

describe('integer h_s: WASM == reference', () => {
  const archs = [
    { seed: 1 }, // default small arch
    { seed: 2, M: 6, Nz: 5, hsHidden: [3, 7] as [number, number] }, // channel counts not multiples of 8
    { seed: 3, M: 10, Nz: 9, hsHidden: [12, 5] as [number, number] },
  ];
  const shapes: [number, number][] = [
    [1, 1],
    [1, 5],
    [3, 1],
    [2, 2],
    [4, 6],
    [7, 3],
  ];

  for (const arch of archs) {
    it(`arch ${JSON.stringify(arch)}`, async () => {
      const model = await randomCoreModel(arch);
      core.setModel(model);
      const rng = makeRng(arch.seed * 17);
      for (const [hz, wz] of shapes) {
        const z = randomZ(rng, model.Nz * hz * wz, 6);
        const got = core.hyperSynthesis(z, hz, wz);
        const ref = hyperSynthesisRef(model, z, hz, wz);
        expect(got.muQ.length).toBe(model.M * 16 * hz * wz);
        expect(diffCount(got.muQ, ref.muQ), `muQ ${hz}x${wz}`).toBe(0);
        expect(diffCount(got.idx, ref.idx), `idx ${hz}x${wz}`).toBe(0);
      }
      // outputs actually spread (the test would be weak if everything were clamped)
      const z = randomZ(rng, model.Nz * 4 * 4, 4);
      const { muQ, idx } = core.hyperSynthesis(z, 4, 4);
      expect(new Set(muQ).size).toBeGreaterThan(20);
      expect(new Set(idx).size).toBeGreaterThan(10);
    });
  }

  it('zhat beyond ±255 is clamped (same as the reference)', async () => {
    const model = await randomCoreModel({ seed: 4 });
    core.setModel(model);
    const rng = makeRng(4);
    const z = Int32Array.from({ length: model.Nz * 3 * 4 }, () => [-(2 ** 31), 2 ** 31 - 1, -1000, 1000, 256, -256, 255, -255][Math.floor(rng() * 8)]);
    const got = core.hyperSynthesis(z, 3, 4);
    const clamped = Int32Array.from(z, (v) => Math.max(-255, Math.min(255, v)));
    const ref = hyperSynthesisRef(model, clamped, 3, 4);
    expect(diffCount(got.muQ, ref.muQ)).toBe(0);
    expect(diffCount(got.idx, ref.idx)).toBe(0);
  });

  it('extreme integer parameters (m up to 2^16-1, sh 1..40, int8 -128..127, large biases)', async () => {
    const base = await randomCoreModel({ seed: 5, M: 8, Nz: 6, hsHidden: [4, 4] });
    const rng = makeRng(55);
    const stress = (L: HsLayer): HsLayer => {
      const fan = L.cin * L.k * L.k;
      const w = Int8Array.from({ length: L.w.length }, () => Math.floor(rng() * 256) - 128);
      const b = new Int32Array(L.cout);
      const m = new Int32Array(L.cout);
      const sh = new Int32Array(L.cout);
      for (let o = 0; o < L.cout; o++) {
        let s = 0;
        for (let i = 0; i < fan; i++) s += Math.abs(w[o * fan + i]);
        const room = 2 ** 31 - 1 - 255 * s;
        b[o] = Math.round((rng() * 2 - 1) * room);
        m[o] = [1, 65535, 1 + Math.floor(rng() * 65535)][o % 3];
        sh[o] = [1, 40, 1 + Math.floor(rng() * 40)][(o + 1) % 3];
      }
      return { ...L, w, b, m, sh };
    };
    const model: CoreModel = { ...base, hs: base.hs.map(stress) };
    core.setModel(model);
    for (const [hz, wz] of [
      [1, 1],
      [3, 5],
    ] as [number, number][]) {
      const z = randomZ(rng, model.Nz * hz * wz, 255);
      const got = core.hyperSynthesis(z, hz, wz);
      const ref = hyperSynthesisRef(model, z, hz, wz);
      expect(diffCount(got.muQ, ref.muQ)).toBe(0);
      expect(diffCount(got.idx, ref.idx)).toBe(0);
    }
  });

  it('biases near ±2^31 are exact too (added in i64), same as the reference', async () => {
    const base = await randomCoreModel({ seed: 6 });
    const rng = makeRng(6);
    const big = (L: HsLayer): HsLayer => ({ ...L, b: L.b.map((_, o) => [2 ** 31 - 1, -(2 ** 31), L.b[o]][o % 3]) });
    const model: CoreModel = { ...base, hs: base.hs.map(big) };
    core.setModel(model);
    const z = randomZ(rng, model.Nz * 2 * 3, 8);
    const got = core.hyperSynthesis(z, 2, 3);
    const ref = hyperSynthesisRef(model, z, 2, 3);
    expect(diffCount(got.muQ, ref.muQ)).toBe(0);
    expect(diffCount(got.idx, ref.idx)).toBe(0);
    expect(new Set(got.muQ).size).toBeGreaterThan(3);
  });
});

describe('integer h_s: hand-computed tiny case', () => {
  // Nz = H0 = H1 = M = 1, 16 scale tables; zhat = [[3]] (1x1). See the comments for the arithmetic.
  const z = (l: HsLayer['k'], cin: number, cout: number, taps: number[][], b: number[], m: number[], sh: number[]): HsLayer => {
    const w = new Int8Array(cout * cin * l * l);
    taps.forEach((t, o) => t.forEach((v, j) => (w[o * cin * l * l + j] = v)));
    return { cin, cout, k: l, w, b: Int32Array.from(b), m: Int32Array.from(m), sh: Int32Array.from(sh) };
  };
  const C = [0, 0, 0, 0, 1, 0, 0, 0, 0]; // centre tap
  const hs0 = z(3, 1, 4, [C.map((v) => v * 1), C.map((v) => v * 2), C.map((v) => v * 3), C.map((v) => v * 4)], [0, 1, 2, -5], [1, 1, 1, 1], [1, 1, 1, 1]);
  // acc = (o+1)*3 + b = [3, 7, 11, 7] → floor((acc+1)/2) = [2, 4, 6, 4] → shuffle: [[2, 4], [6, 4]]
  const hs1 = z(
    3,
    1,
    4,
    [
      [1, 1, 1, 1, 1, 1, 1, 1, 1], // sum of the 3x3 window = 16 everywhere → 8
      C, // identity → floor((3a+2)/4): [[2,3],[5,3]]
      [0, 0, 0, 0, 0, 1, 0, 0, 0], // right neighbour: [[4,0],[4,0]] → [[2,0],[2,0]]
      [-1, 0, 0, 0, 0, 0, 0, 0, 0], // -(top-left neighbour) + 10: [[10,10],[10,8]] → [[5,5],[5,4]]
    ],
    [0, 0, 0, 10],
    [1, 3, 1, 1],
    [1, 2, 1, 1],
  );
  const hs2 = z(1, 1, 2, [[-100], [5]], [300, 0], [1, 1], [1, 1]);
  // act2 (4x4) = 8 2 8 3 / 2 5 0 5 / 8 5 8 3 / 2 5 0 4
  // mu = floor((300 - 100a + 1)/2), idx = min(15, floor((5a + 1)/2))
  const expectMu = [-250, 50, -250, 0, 50, -100, 150, -100, -250, -100, -250, 0, 50, -100, 150, -50];
  const expectIdx = [15, 5, 15, 8, 5, 13, 0, 13, 15, 13, 15, 8, 5, 13, 0, 10];

  it('WASM and reference both give the hand-computed values', async () => {
    const base = await randomCoreModel({ seed: 1 });
    const rng = makeRng(1);
    const g = tables(Array.from({ length: 16 }, () => randomTable(rng, 5, 'random')));
    const zt = tables([randomTable(rng, 9, 'random')]);
    const model: CoreModel = { M: 1, Nz: 1, numScales: 16, meanFracBits: 4, hs: [hs0, hs1, hs2], gauss: g, z: zt };
    const zhat = Int32Array.from([3]);
    const ref = hyperSynthesisRef(model, zhat, 1, 1);
    expect(Array.from(ref.muQ)).toEqual(expectMu);
    expect(Array.from(ref.idx)).toEqual(expectIdx);
    core.setModel(model);
    const got = core.hyperSynthesis(zhat, 1, 1);
    expect(Array.from(got.muQ)).toEqual(expectMu);
    expect(Array.from(got.idx)).toEqual(expectIdx);
    void base;
  });

  it('requant rounds half up then floors (negative values too)', () => {
    expect(requant(3, 1, 1)).toBe(2); // (3+1)/2
    expect(requant(-3, 1, 1)).toBe(-1); // floor(-2/2)
    expect(requant(-4, 1, 1)).toBe(-2); // floor(-3/2)
    expect(requant(2 ** 31 - 1, 65535, 40)).toBe(Math.floor(((2 ** 31 - 1) * 65535 + 2 ** 39) / 2 ** 40));
  });
});
