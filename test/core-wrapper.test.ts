/**
 * The TS wrapper of the WASM core: loading, model validation, input validation, error
 * mapping, trap recovery, and the weights → CoreModel conversion.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { coreModelFromWeights, createCore } from '../src/core/index.js';
import { createNodeCore, loadCoreWasm } from '../src/core/node-loader.js';
import type { CoreModel } from '../src/core/types.js';
import { NimgError } from '../src/errors.js';
import { parseWeights } from '../src/model/weights.js';
import { makeRng, randomCoreModel, codeOf } from './fixtures/core-model.js';
import { makeRandomWeights } from './fixtures/random-weights.js';

describe('createCore', () => {
  it('accepts a WebAssembly.Module, bytes, or nothing (Node default)', async () => {
    const bytes = await loadCoreWasm();
    const mod = await WebAssembly.compile(bytes);
    const model = await randomCoreModel({ seed: 1 });
    for (const c of [await createCore(mod), await createCore(bytes), await createCore()]) {
      c.setModel(model);
      const k = Int32Array.from([1, -2, 3]);
      const idx = Int32Array.from([10, 20, 30]);
      expect(c.decodeY(c.encodeY(k, idx), idx)).toEqual(k);
    }
  });
  it('rejects garbage sources', async () => {
    await expect(createCore(new Uint8Array([0, 1, 2, 3]))).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    await expect(createCore('nope' as unknown as BufferSource)).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
  it('src/core/index.ts imports no Node module statically', () => {
    const src = readFileSync(new URL('../src/core/index.ts', import.meta.url), 'utf8');
    expect(src).not.toMatch(/from\s+['"](node:|fs|path|url)/);
    expect(src).not.toMatch(/import\s*\(\s*['"]node:/);
  });
});

describe('trap recovery', () => {
  it('a trap becomes NimgError(INTERNAL) and the next call works with the model re-applied', async () => {
    const core = await createNodeCore();
    const model = await randomCoreModel({ seed: 2 });
    core.setModel(model);
    const rng = makeRng(2);
    const idx = Int32Array.from({ length: 1000 }, () => Math.floor(rng() * model.numScales));
    const k = Int32Array.from({ length: 1000 }, () => Math.round((rng() - 0.5) * 10));
    const before = core.encodeY(k, idx);
    const z = Int32Array.from({ length: model.Nz * 4 }, () => Math.round((rng() - 0.5) * 8));
    const hsBefore = core.hyperSynthesis(z, 2, 2);
    let err: unknown;
    try {
      core.debugTrap();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NimgError);
    expect((err as NimgError).code).toBe('INTERNAL');
    expect(core.encodeY(k, idx)).toEqual(before);
    expect(core.decodeY(before, idx)).toEqual(k);
    expect(core.hyperSynthesis(z, 2, 2)).toEqual(hsBefore);
    // repeatedly
    for (let i = 0; i < 3; i++) expect(codeOf(() => core.debugTrap())).toBe('INTERNAL');
    expect(core.decodeY(before, idx)).toEqual(k);
    // with time for the background re-instantiation
    expect(codeOf(() => core.debugTrap())).toBe('INTERNAL');
    await new Promise((r) => setTimeout(r, 50));
    expect(core.decodeY(before, idx)).toEqual(k);
    expect(core.hyperSynthesis(z, 2, 2)).toEqual(hsBefore);
  });
});

describe('fused encodeLatent / decodeLatent', () => {
  it('equal the unfused calls', async () => {
    const core = await createNodeCore();
    const model = await randomCoreModel({ seed: 9 });
    core.setModel(model);
    const rng = makeRng(9);
    const [hz, wz] = [2, 3];
    const zhat = Int32Array.from({ length: model.Nz * hz * wz }, () => Math.round((rng() - 0.5) * 8));
    const n = model.M * 16 * hz * wz;
    const ys = Float32Array.from({ length: n }, () => (rng() - 0.5) * 12);
    const g = Float32Array.from({ length: model.M }, () => 0.5 + rng());
    const { muQ, idx } = core.hyperSynthesis(zhat, hz, wz);
    const k = core.quantizeLatent(ys, muQ);
    const bytes = core.encodeY(k, idx);
    expect(core.encodeLatent(ys, zhat, hz, wz)).toEqual(bytes);
    expect(core.decodeLatent(bytes, zhat, hz, wz, g)).toEqual(core.dequantizeLatent(k, muQ, g, model.M, 16 * hz * wz));
    expect(codeOf(() => core.decodeLatent(bytes.subarray(0, bytes.length - 2), zhat, hz, wz, g))).toBe('TRUNCATED');
    expect(codeOf(() => core.encodeLatent(ys.subarray(1), zhat, hz, wz))).toBe('BAD_INPUT');
  });
});

describe('releaseMemory', () => {
  it('shrinks the memory back and keeps the model', async () => {
    const core = await createNodeCore();
    const model = await randomCoreModel({ seed: 8 });
    core.setModel(model);
    const n = 1_000_000;
    const idx = new Int32Array(n).fill(3);
    const k = new Int32Array(n);
    const bytes = core.encodeY(k, idx);
    expect(core.decodeY(bytes, idx).every((v) => v === 0)).toBe(true);
    const big = core.memoryInfo().size;
    expect(big).toBeGreaterThan(8 * n);
    await core.releaseMemory();
    expect(core.memoryInfo().size).toBeLessThan(big / 4);
    const small = Int32Array.from([1, 2, 3]);
    const si = Int32Array.from([60, 61, 62]);
    expect(core.decodeY(core.encodeY(small, si), si)).toEqual(small);
  });
});

describe('validation', () => {
  it('NOT_INITIALIZED before setModel (model-free ops work)', async () => {
    const core = await createNodeCore();
    expect(codeOf(() => core.encodeY(new Int32Array(1), new Int32Array(1)))).toBe('NOT_INITIALIZED');
    expect(codeOf(() => core.hyperSynthesis(new Int32Array(16), 1, 1))).toBe('NOT_INITIALIZED');
    expect(codeOf(() => core.quantizeLatent(new Float32Array(1), new Int32Array(1)))).toBe('NOT_INITIALIZED');
    expect(Array.from(core.quantizeZ(Float32Array.from([1.5])))).toEqual([2]);
  });

  it('input shapes and types → BAD_INPUT', async () => {
    const core = await createNodeCore();
    const model = await randomCoreModel({ seed: 3 });
    core.setModel(model);
    expect(codeOf(() => core.hyperSynthesis(new Int32Array(model.Nz * 2), 1, 1))).toBe('BAD_INPUT');
    expect(codeOf(() => core.hyperSynthesis(new Int32Array(0), 0, 1))).toBe('BAD_INPUT');
    expect(codeOf(() => core.hyperSynthesis(new Float32Array(model.Nz) as unknown as Int32Array, 1, 1))).toBe('BAD_INPUT');
    expect(codeOf(() => core.quantizeLatent(new Float32Array(3), new Int32Array(2)))).toBe('BAD_INPUT');
    expect(codeOf(() => core.dequantizeLatent(new Int32Array(6), new Int32Array(6), new Float32Array(3), 2, 3))).toBe('BAD_INPUT');
    expect(codeOf(() => core.decodeY([1, 2, 3] as unknown as Uint8Array, new Int32Array(1)))).toBe('BAD_INPUT');
    expect(codeOf(() => core.encodeZ(new Int32Array(model.Nz), -1))).toBe('BAD_INPUT');
    expect(codeOf(() => core.encodeZ(new Int32Array(model.Nz), 1.5))).toBe('BAD_INPUT');
    expect(codeOf(() => core.toPlanar(new Uint8Array(4), 1, 1, 4, 0, 1))).toBe('BAD_INPUT');
  });

  it('malformed models → BAD_INPUT; a rejected setModel leaves the previous model in place', async () => {
    const core = await createNodeCore();
    const good = await randomCoreModel({ seed: 4 });
    const bads: [string, (m: CoreModel) => CoreModel][] = [
      ['cdf not increasing', (m) => ({ ...m, gauss: { ...m.gauss, cdf: m.gauss.cdf.map((v, i) => (i === 2 ? m.gauss.cdf[1] : v)) } })],
      ['cdf end != 2^16', (m) => ({ ...m, z: { ...m.z, cdf: m.z.cdf.map((v, i) => (i === m.z.ptr[1] - 1 ? v - 1 : v)) } })],
      ['ptr beyond cdf', (m) => ({ ...m, gauss: { ...m.gauss, ptr: m.gauss.ptr.map((v, i) => (i === m.numScales ? v + 5 : v)) } })],
      ['table count', (m) => ({ ...m, numScales: m.numScales + 1 })],
      ['multiplier 0', (m) => ({ ...m, hs: [m.hs[0], { ...m.hs[1], m: m.hs[1].m.map(() => 0) }, m.hs[2]] })],
      ['shift 41', (m) => ({ ...m, hs: [{ ...m.hs[0], sh: m.hs[0].sh.map(() => 41) }, m.hs[1], m.hs[2]] })],
      ['chain', (m) => ({ ...m, M: m.M + 1 })],
      ['precision', (m) => ({ ...m, z: { ...m.z, precision: 15 } })],
    ];
    core.setModel(good);
    const k = Int32Array.from([0, 3, -2, 1]);
    const idx = Int32Array.from([5, 30, 40, 63]);
    const ref = core.encodeY(k, idx);
    for (const [name, f] of bads) {
      expect(codeOf(() => core.setModel(f(good))), name).toBe('BAD_INPUT');
      expect(core.encodeY(k, idx), name).toEqual(ref);
    }
    const fresh = await createNodeCore();
    expect(codeOf(() => fresh.setModel(bads[0][1](good)))).toBe('BAD_INPUT');
    expect(codeOf(() => fresh.encodeY(k, idx))).toBe('NOT_INITIALIZED');
  });

  it('the model is copied: mutating the caller arrays after setModel changes nothing', async () => {
    const core = await createNodeCore();
    const model = await randomCoreModel({ seed: 5 });
    core.setModel(model);
    const k = Int32Array.from([0, 1, 2, 3]);
    const idx = Int32Array.from([40, 41, 42, 43]);
    const a = core.encodeY(k, idx);
    model.gauss.cdf.fill(0);
    expect(codeOf(() => core.debugTrap())).toBe('INTERNAL'); // forces a rebuild from the snapshot
    expect(core.encodeY(k, idx)).toEqual(a);
  });
});

describe('coreModelFromWeights', () => {
  it('builds the CoreModel of a parsed weight set', async () => {
    const rw = makeRandomWeights({ seed: 6, M: 12, Nz: 8, hsHidden: [8, 4], int8Layers: ['ga.1', 'gs.2'] });
    const w = await parseWeights(rw.manifestJson, rw.bin);
    const m = coreModelFromWeights(w);
    expect(m.M).toBe(12);
    expect(m.Nz).toBe(8);
    expect(m.numScales).toBe(64);
    expect(m.meanFracBits).toBe(4);
    expect(m.hs.map((l) => [l.cin, l.cout, l.k])).toEqual([
      [8, 32, 3],
      [8, 16, 3],
      [4, 24, 1],
    ]);
    expect(m.gauss.ptr.length).toBe(65);
    expect(m.z.offset.length).toBe(8);
    // fixture tables: every Gaussian table has support ±ceil(7σ) (at least 1) + escape
    const scales = rw.manifest.entropy.scales;
    for (let t = 0; t < 64; t++) {
      const K = Math.max(1, Math.ceil(7 * scales[t]));
      expect(m.gauss.ptr[t + 1] - m.gauss.ptr[t]).toBe(2 * K + 2 + 1);
      expect(m.gauss.offset[t]).toBe(-K);
    }
  });
  it('missing or mis-shaped tensors → MODEL_MISMATCH', async () => {
    const rw = makeRandomWeights({ seed: 7 });
    const w = await parseWeights(rw.manifestJson, rw.bin);
    const t1 = new Map(w.tensors);
    t1.delete('hs.1.m');
    expect(() => coreModelFromWeights({ ...w, tensors: t1 })).toThrow(expect.objectContaining({ code: 'MODEL_MISMATCH' }));
    const t2 = new Map(w.tensors);
    const e = t2.get('ent.z.ptr')!;
    t2.set('ent.z.ptr', { ...e, shape: [e.shape[0] - 1], data: (e.data as Int32Array).slice(1) });
    expect(() => coreModelFromWeights({ ...w, tensors: t2 })).toThrow(expect.objectContaining({ code: 'MODEL_MISMATCH' }));
  });
});
