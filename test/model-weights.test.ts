import { vi, describe, expect, it } from 'vitest';

// generous: CI machines here are small and shared
vi.setConfig({ testTimeout: 30_000 });
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWeights, floatTensor, halfToFloat } from '../src/model/weights.js';
import { loadWeightsFromFile } from '../src/model/node-weights.js';
import { makeTestWeights } from './model-reference.js';

const rehash = (m: Record<string, unknown>, bin: Uint8Array) => ({ ...m, sha256: createHash('sha256').update(bin).digest('hex') });

describe('parseWeights', () => {
  it('parses a valid set; hash = first 16 hex digits of sha256', async () => {
    const { manifestJson, bin, manifest } = makeTestWeights({ seed: 2 });
    const w = await parseWeights(manifestJson, bin);
    expect(w.hash).toBe((manifest.sha256 as string).slice(0, 16));
    expect(w.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(w.manifest.arch.N).toBe(8);
    const t = w.tensors.get('ga.0.w')!;
    expect(t.shape).toEqual([8, 3, 5, 5]);
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(w.tensors.get('hs.0.w')!.data).toBeInstanceOf(Int8Array);
    expect(w.tensors.get('hs.0.m')!.data).toBeInstanceOf(Int32Array);
    // also accepts the manifest as an object
    const w2 = await parseWeights(JSON.parse(manifestJson), bin);
    expect(w2.hash).toBe(w.hash);
  });

  it('accepts a .bin that is a view at an odd offset of a larger buffer', async () => {
    const { manifestJson, bin } = makeTestWeights({ seed: 2 });
    const big = new Uint8Array(bin.length + 3);
    big.set(bin, 3);
    const w = await parseWeights(manifestJson, big.subarray(3));
    const ref = await parseWeights(manifestJson, bin);
    expect(Array.from(w.tensors.get('gs.0.w')!.data)).toEqual(Array.from(ref.tensors.get('gs.0.w')!.data));
  });

  it('MODEL_MISMATCH on a hash difference', async () => {
    const { manifestJson, bin } = makeTestWeights({ seed: 2 });
    const bad = bin.slice();
    bad[100] ^= 1;
    await expect(parseWeights(manifestJson, bad)).rejects.toMatchObject({ name: 'NimgError', code: 'MODEL_MISMATCH' });
  });

  it('UNSUPPORTED_VERSION on another version; BAD_INPUT on a malformed manifest', async () => {
    const { manifest, bin } = makeTestWeights({ seed: 2 });
    await expect(parseWeights({ ...manifest, version: 2 }, bin)).rejects.toMatchObject({ code: 'UNSUPPORTED_VERSION' });
    await expect(parseWeights({ ...manifest, format: 'other' }, bin)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(parseWeights('{not json', bin)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(parseWeights({ ...manifest, arch: { ...(manifest.arch as object), N: -1 } }, bin)).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });

  it('bounds-checks every tensor range', async () => {
    const { manifest, bin } = makeTestWeights({ seed: 2 });
    const tensors = manifest.tensors as Record<string, { offset: number; length: number; shape: number[] }>;
    const past = { ...manifest, tensors: { ...tensors, 'ga.0.b': { ...tensors['ga.0.b'], offset: bin.length - 4 } } };
    await expect(parseWeights(rehash(past, bin), bin)).rejects.toMatchObject({ code: 'MODEL_MISMATCH' });
    const wrongLen = { ...manifest, tensors: { ...tensors, 'ga.0.b': { ...tensors['ga.0.b'], length: 4 } } };
    await expect(parseWeights(rehash(wrongLen, bin), bin)).rejects.toMatchObject({ code: 'MODEL_MISMATCH' });
    const negative = { ...manifest, tensors: { ...tensors, 'ga.0.b': { ...tensors['ga.0.b'], offset: -4 } } };
    await expect(parseWeights(rehash(negative, bin), bin)).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });

  it('widens float16 and dequantizes int8 with per-output-channel scales', async () => {
    const plain = await (async () => {
      const { manifestJson, bin } = makeTestWeights({ seed: 4 });
      return parseWeights(manifestJson, bin);
    })();
    const { manifestJson, bin } = makeTestWeights({ seed: 4, float16: ['ga.1.w'], int8: ['gs.2.w'] });
    const w = await parseWeights(manifestJson, bin);
    const f16 = w.tensors.get('ga.1.w')!;
    expect(f16.dtype).toBe('float32');
    expect(f16.data).toBeInstanceOf(Float32Array);
    const a = floatTensor(w, 'ga.1.w');
    const b = floatTensor(plain, 'ga.1.w');
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(Math.abs(b[i]) * 1e-3 + 1e-7);
    const q = floatTensor(w, 'gs.2.w');
    const r = floatTensor(plain, 'gs.2.w');
    const out = 32, per = q.length / out;
    for (let o = 0; o < out; o++) {
      let mx = 0;
      for (let i = 0; i < per; i++) mx = Math.max(mx, Math.abs(r[o * per + i]));
      for (let i = 0; i < per; i++) expect(Math.abs(q[o * per + i] - r[o * per + i])).toBeLessThanOrEqual(mx / 254 + 1e-7);
    }
    // an int8 float-layer tensor without its .scale is rejected
    const m = JSON.parse(manifestJson);
    delete m.tensors['gs.2.w.scale'];
    await expect(parseWeights(m, bin)).rejects.toMatchObject({ code: 'MODEL_MISMATCH' });
  });

  it('a .bin in a SharedArrayBuffer is accepted', async () => {
    const { manifestJson, bin } = makeTestWeights({ seed: 2 });
    const shared = new Uint8Array(new SharedArrayBuffer(bin.length));
    shared.set(bin);
    expect((await parseWeights(manifestJson, shared)).hash).toBe((await parseWeights(manifestJson, bin)).hash);
  });

  it('createTransforms: MODEL_MISMATCH on a missing or mis-shaped network tensor', async () => {
    const { createTransforms } = await import('../src/model/transforms.js');
    const { manifest, bin } = makeTestWeights({ seed: 2 });
    const tensors = { ...(manifest.tensors as Record<string, { shape: number[] }>) };
    delete tensors['gs.3.w'];
    const missing = await parseWeights({ ...manifest, tensors }, bin);
    await expect(createTransforms(missing, { backend: 'wasm', threads: 1 })).rejects.toMatchObject({ code: 'MODEL_MISMATCH' });
    const t2 = { ...(manifest.tensors as Record<string, { shape: number[]; length: number }>) };
    t2['ga.0.b'] = { ...t2['ga.0.b'], shape: [2, 4] }; // same byte length, wrong shape
    const misshaped = await parseWeights({ ...manifest, tensors: t2 }, bin);
    await expect(createTransforms(misshaped, { backend: 'wasm', threads: 1 })).rejects.toMatchObject({ code: 'MODEL_MISMATCH' });
  });

  it('halfToFloat', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(Number.isNaN(halfToFloat(0x7e00))).toBe(true);
  });

  it('loadWeightsFromFile (Node) reads manifest + .bin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nimg-w-'));
    const { manifestJson, bin, manifest } = makeTestWeights({ seed: 5 });
    writeFileSync(join(dir, 'x.json'), manifestJson);
    writeFileSync(join(dir, 'x.bin'), bin);
    const w = await loadWeightsFromFile(join(dir, 'x.json'));
    expect(w.hash).toBe((manifest.sha256 as string).slice(0, 16));
    await expect(loadWeightsFromFile(join(dir, 'missing.json'))).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});

describe('compatibility with the shared random-weights fixture', () => {
  it('parses makeRandomWeights output (incl. int8 layers) and runs the transforms', async () => {
    const { makeRandomWeights } = await import('./fixtures/random-weights.js');
    const { manifestJson, bin } = makeRandomWeights({ seed: 3, int8Layers: ['ga.1', 'gs.2'] });
    const w = await parseWeights(manifestJson, bin);
    const { createTransforms } = await import('../src/model/transforms.js');
    const t = await createTransforms(w, { backend: 'wasm', threads: 1 });
    try {
      const { M } = w.manifest.arch;
      const y = await t.analysis(new Float32Array(3 * 64 * 64).fill(0.5), 64, 64);
      expect(y.length).toBe(M * 16);
      expect(y.every(Number.isFinite)).toBe(true);
      const x = await t.synthesis(y, 4, 4);
      expect(x.length).toBe(3 * 64 * 64);
      expect(x.every(Number.isFinite)).toBe(true);
    } finally {
      t.dispose();
    }
  });
});
