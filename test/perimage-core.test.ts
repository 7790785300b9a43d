/**
 * Per-image profile, decoder core (assembly/perimage/ through src/profiles/perimage/core.ts)
 * against the plain-TS reference: identical tables, ARM, latent symbols and synthesis; round
 * trips of params and latents on random models and grids.
 */
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createPerImageCore, macsOf, type PerImageCore } from '../src/profiles/perimage/core.js';
import { armFromParams, armRef, baseSetCdfs, chooseTable, latentSymbolsRef, laplaceTables, NS, S_BASE, synthesisRef, tableIndex, upsampleRef } from '../src/profiles/perimage/reference.js';
import { defaultArch, gridSize, type PerImageArch } from '../src/profiles/perimage/types.js';
import { makeRng, randomArch, randomGrids, randomParams } from './fixtures/perimage-random.js';
import { ransDecodeRef } from './fixtures/perimage-rans.js';

/**
 * SHA-256 of the base set's 640 cdfs (i32 LE, f-major, s = 16 … 95, n + 1 entries each,
 * concatenated): the value the format recorded before the full set existed; SPEC.md §1
 */
export const TABLES_SHA256 = 'cd8d81c7969f6486437b60b5a4cc5d819a08f6f61ca08d5ffd31e770a61f635a';
/** SHA-256 of all 768 cdfs (t = f·96 + s, s = 0 … 95), the FINE_SCALES set; SPEC.md §1 */
export const FULL_TABLES_SHA256 = '6be554f4872c49e8c88d8e8001f20a27126403bb6c658384b71d47f797162cb9';

let core: PerImageCore;
beforeAll(async () => {
  core = await createPerImageCore();
});

describe('Laplace tables', () => {
  it('the core builds exactly the reference tables, with the recorded SHA-256', () => {
    const ref = laplaceTables();
    const got = core.tables();
    expect(got.ptr).toEqual(ref.ptr);
    expect(got.cdf.length).toBe(ref.cdf.length);
    let diff = 0;
    for (let i = 0; i < ref.cdf.length; i++) if (got.cdf[i] !== ref.cdf[i]) diff++;
    expect(diff).toBe(0);
    const sha = (a: Int32Array) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
    // files without FINE_SCALES decode with the very tables of the first version of the format
    expect(sha(baseSetCdfs(ref))).toBe(TABLES_SHA256);
    expect(sha(ref.cdf)).toBe(FULL_TABLES_SHA256);
  });

  it('every table is valid (f_i >= 1, cdf 0 … 65536); the base set without the clamps (p_esc > 0, remainder >= 0)', () => {
    const ref = laplaceTables();
    const faults: string[] = [];
    let clamped = 0;
    for (let f = 0; f < 8; f++) {
      for (let s = 0; s < NS; s++) {
        const t = tableIndex(f, s);
        const a = ref.ptr[t];
        const b = ref.ptr[t + 1];
        if (ref.cdf[a] !== 0 || ref.cdf[b - 1] !== 65536 || ref.remainder[t] < 0) faults.push(`table ${t}`);
        if (s >= S_BASE && !(ref.pEsc[t] > 0)) faults.push(`base table ${t}: p_esc ${ref.pEsc[t]}`);
        if (!(ref.pEsc[t] > 0)) clamped++;
        for (let i = a + 1; i < b; i++) if (ref.cdf[i] <= ref.cdf[i - 1]) faults.push(`table ${t} symbol ${i - a - 1}`);
      }
    }
    expect(faults).toEqual([]);
    // the clamp of p_esc at 0 is live in the fine tables (b < 1/8: sum(p) can round to >= 1)
    expect(clamped).toBeGreaterThan(0);
  });

  it('the narrowest fine table codes a sure zero in ~0.00015 bits, the base set in 0.0266', () => {
    const ref = laplaceTables();
    const zeroBits = (s: number) => {
      const t = tableIndex(0, s);
      const a = ref.ptr[t];
      const R = -ref.offset[t];
      return -Math.log2((ref.cdf[a + R + 1] - ref.cdf[a + R]) / 65536);
    };
    expect(zeroBits(S_BASE)).toBeCloseTo(0.0266, 3);
    expect(zeroBits(0)).toBeLessThan(0.0002);
  });
});

describe('ARM', () => {
  it('core equals the reference for every (N, D, Wh), extreme weights and contexts', () => {
    const rng = makeRng(7);
    for (const N of [8, 16, 24]) {
      for (let D = 0; D <= 3; D++) {
        for (const Wh of [8, 16, 24, 32]) {
          const arch: PerImageArch = { ...defaultArch(), N, D, Wh };
          for (const extreme of [false, true]) {
            const params = randomParams(rng, arch, { extreme, armScale: 300 });
            const arm = armFromParams(params);
            const ctxs: Int32Array[] = [];
            for (let i = 0; i < 40; i++) {
              const c = new Int32Array(N);
              const mode = i % 4;
              for (let j = 0; j < N; j++) c[j] = mode === 0 ? 127 : mode === 1 ? -127 : mode === 2 ? (rng() < 0.5 ? 127 : -127) : Math.round((rng() * 2 - 1) * 127);
              ctxs.push(c);
            }
            const got = core.armEval(params, ctxs);
            ctxs.forEach((c, i) => expect(got[i], `N=${N} D=${D} Wh=${Wh} extreme=${extreme} ctx ${i}`).toEqual(armRef(arm, c)));
          }
        }
      }
    }
  });

  it('table choice follows SPEC §1 (rounding to eighths, floor on negatives, s clamp per scale set)', () => {
    expect(chooseTable(0, 0)).toEqual({ c: 0, f: 0, s: 40, t: 40 });
    expect(chooseTable(0, 0, true)).toEqual({ c: 0, f: 0, s: 40, t: 40 });
    expect(chooseTable(-17, -32768)).toMatchObject({ c: -1, f: 7, s: 16, t: 7 * 96 + 16 });
    expect(chooseTable(-17, -32768, true)).toMatchObject({ c: -1, f: 7, s: 0, t: 7 * 96 });
    // log2 b = -3 (ls = -768) is s = 16 in both sets; one eighth below it only the fine set goes
    expect(chooseTable(0, -768).s).toBe(16);
    expect(chooseTable(0, -800).s).toBe(16);
    expect(chooseTable(0, -800, true).s).toBe(15);
    expect(chooseTable(0, -1280, true).s).toBe(0);
    expect(chooseTable(255 - 16, 32767)).toMatchObject({ c: 0, f: 7, s: 95 });
    expect(chooseTable(256 - 16, 0)).toMatchObject({ c: 1, f: 0 });
  });
});

describe('params section', () => {
  it('round trips random architectures and parameters', () => {
    const rng = makeRng(11);
    for (let i = 0; i < 60; i++) {
      const arch = i === 0 ? defaultArch() : randomArch(rng);
      if (macsOf(arch) > 4096) continue;
      const params = randomParams(rng, arch, { extreme: i % 3 === 0 });
      const bytes = core.encodeParams(params);
      const back = core.decodeParams(bytes);
      expect(back.arch).toEqual(arch);
      expect(back.tensors.length).toBe(params.tensors.length);
      back.tensors.forEach((t, j) => {
        expect(t.e).toBe(params.tensors[j].e);
        expect(t.s).toBe(params.tensors[j].s);
        expect(t.k).toEqual(params.tensors[j].k);
      });
    }
  });

  it('the stream decodes (plain-TS rANS) to the tensor integers with the tables T[0][s_t]', () => {
    const rng = makeRng(12);
    const params = randomParams(rng, defaultArch());
    const bytes = core.encodeParams(params);
    const S = params.arch.synthesis.length;
    const hl = 5 + 4 * S + 2 * params.tensors.length;
    const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(hl, true);
    expect(hl + 4 + len).toBe(bytes.length);
    const owner: number[] = [];
    params.tensors.forEach((t) => t.k.forEach(() => owner.push(tableIndex(0, S_BASE + t.s))));
    const vals = ransDecodeRef(bytes.subarray(hl + 4), owner.length, laplaceTables(), (i) => owner[i]);
    expect(vals).toEqual(params.tensors.flatMap((t) => Array.from(t.k)));
  });
});

describe('latents', () => {
  it('round trip on random models and grids; the stream holds the reference symbols', () => {
    const rng = makeRng(21);
    for (let i = 0; i < 12; i++) {
      const arch = i < 2 ? defaultArch() : randomArch(rng);
      // every other model codes with the full scale set (FINE_SCALES)
      const params = { ...randomParams(rng, arch, { extreme: i % 4 === 3, armScale: 20 + 100 * rng() }), fineScales: i % 2 === 1 };
      const width = 1 + Math.floor(rng() * 40);
      const height = 1 + Math.floor(rng() * 30);
      const grids = randomGrids(rng, arch.L, width, height, i % 2 ? 127 : 6, 0.5 + rng() * 8);
      const bytes = core.encodeLatents(params, grids, width, height);
      expect(core.decodeLatents(params, bytes, width, height)).toEqual(grids);
      const ref = latentSymbolsRef(params, grids, width, height);
      const vals = ransDecodeRef(bytes, ref.t.length, laplaceTables(), (j) => ref.t[j]);
      expect(Int32Array.from(vals)).toEqual(ref.v);
      const bits = core.latentBits(params, grids, width, height);
      expect(bits.total).toBe(bytes.length * 8);
      expect(bits.perGrid.length).toBe(arch.L);
      expect(bits.perGrid.reduce((a, b) => a + b, 0)).toBe(bits.total);
    }
  });

  it('decoding uses the causal context only: the reference decoder (table per symbol from decoded values) agrees', () => {
    const rng = makeRng(22);
    const params = randomParams(rng, defaultArch(), { armScale: 60 });
    const width = 23;
    const height = 17;
    const grids = randomGrids(rng, 7, width, height, 40, 3);
    const bytes = core.encodeLatents(params, grids, width, height);
    const arm = armFromParams(params);
    // sequential plain-TS decode: fill grids as symbols come
    const dec = grids.map((g) => new Int16Array(g.length));
    const order: Array<[number, number, number]> = [];
    for (let k = 6; k >= 0; k--) {
      const { w, h } = gridSize(width, height, k);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) order.push([k, y, x]);
    }
    let centre = 0;
    const last: number[] = [];
    const vals = ransDecodeRef(bytes, order.length, laplaceTables(), (i, done) => {
      if (i > 0) {
        const [k, y, x] = order[i - 1];
        dec[k][y * gridSize(width, height, k).w + x] = centre + done[i - 1];
      }
      const [k, y, x] = order[i];
      const { w, h } = gridSize(width, height, k);
      const ctx: number[] = [];
      const offs = [[0, -1], [-1, 0], [-1, -1], [-1, 1], [0, -2], [-2, 0], [-1, -2], [-1, 2], [-2, -1], [-2, 1], [0, -3], [-3, 0], [-2, -2], [-2, 2], [-1, -3], [-1, 3]];
      for (const [dy, dx] of offs) {
        const yy = y + dy;
        const xx = x + dx;
        ctx.push(yy >= 0 && xx >= 0 && xx < w && yy < h ? dec[k][yy * w + xx] : 0);
      }
      const [mu, ls] = armRef(arm, ctx);
      const ch = chooseTable(mu, ls);
      centre = ch.c;
      return ch.t;
    });
    last.push(vals[vals.length - 1]);
    const [k, y, x] = order[order.length - 1];
    dec[k][y * gridSize(width, height, k).w + x] = centre + last[0];
    expect(dec).toEqual(grids);
  });
});

describe('synthesis', () => {
  it('core equals the float32 reference exactly (random models, odd sizes, several bands)', () => {
    const rng = makeRng(31);
    for (let i = 0; i < 8; i++) {
      const arch = i < 2 ? defaultArch() : randomArch(rng);
      const params = randomParams(rng, arch);
      const width = 1 + Math.floor(rng() * 45);
      const height = 1 + Math.floor(rng() * (i < 4 ? 70 : 20));
      const grids = randomGrids(rng, arch.L, width, height, 30, 4);
      core.setBandRows(i % 3 === 0 ? 0 : 1 + (i % 5)); // 0: automatic (one band here)
      const got = core.synthesize(params, grids, width, height);
      const want = synthesisRef(params, upsampleRef(params, grids, width, height), width, height);
      let diff = 0;
      for (let j = 0; j < want.length; j++) if (got[j] !== want[j]) diff++;
      expect(diff, `case ${i}: ${width}x${height} L=${arch.L}`).toBe(0);
    }
  });

  it('band height does not change the result', () => {
    const rng = makeRng(33);
    const params = randomParams(rng, defaultArch());
    const width = 19;
    const height = 41;
    const grids = randomGrids(rng, 7, width, height, 30, 4);
    core.setBandRows(0);
    const ref = core.synthesize(params, grids, width, height);
    for (const b of [1, 2, 3, 7, 16, 40, 41, 100]) {
      core.setBandRows(b);
      expect(core.synthesize(params, grids, width, height), `band ${b}`).toEqual(ref);
    }
    core.setBandRows(0);
  });

  it('decodePayload = decodeParams + decodeLatents + synthesize', () => {
    const rng = makeRng(32);
    const params = randomParams(rng, defaultArch());
    const width = 37;
    const height = 29;
    const grids = randomGrids(rng, 7, width, height, 20, 2);
    const p = core.encodeParams(params);
    const l = core.encodeLatents(params, grids, width, height);
    const out = core.decodePayload(p, l, width, height);
    expect(out.rgba).toEqual(core.synthesize(params, grids, width, height));
    expect(out.params.arch).toEqual(params.arch);
  });

  it('the scale set is part of the latent stream: FINE_SCALES files decode only with the flag', () => {
    const rng = makeRng(34);
    // an ARM sure of zero: mu = 0 and log2 b far below -3 everywhere (output layer: no weights,
    // biases 0 and -4000 in Q8), so the two sets choose different tables
    const params = randomParams(rng, defaultArch());
    const D = params.arch.D;
    params.tensors[2 * D].k.fill(0);
    params.tensors[2 * D].e = 0;
    params.tensors[2 * D + 1] = { k: Int32Array.of(0, -4000), e: 0, s: 79 };
    const width = 40;
    const height = 30;
    const grids = randomGrids(rng, 7, width, height, 0);
    grids[0][5] = 1;
    const p = core.encodeParams(params);
    const fine = { ...params, fineScales: true };
    const lf = core.encodeLatents(fine, grids, width, height);
    const lb = core.encodeLatents(params, grids, width, height);
    expect(lf.length).toBeLessThan(lb.length);
    expect(core.decodePayload(p, lf, width, height, { fineScales: true }).params.fineScales).toBe(true);
    expect(core.decodeLatents(fine, lf, width, height)).toEqual(grids);
    expect(core.decodeLatents(params, lb, width, height)).toEqual(grids);
    // the other set reads other symbols: a corrupt stream or other grids, never the same ones
    let same = false;
    try {
      same = JSON.stringify(core.decodeLatents(params, lf, width, height)) === JSON.stringify(grids);
    } catch (e) {
      expect(['CORRUPT_STREAM', 'TRUNCATED']).toContain((e as { code?: string }).code);
    }
    expect(same).toBe(false);
    // a call after a fine one gets the base set unless it asks (piInit resets the selection)
    expect(core.encodeLatents(params, grids, width, height)).toEqual(lb);
  });
});
